"""The gateway over TLS: the reference client on every endpoint, and every bad-input case
of spec 01 §2.3 / §11 answered as documented without disturbing anyone else."""
from __future__ import annotations

import asyncio
import ssl
import time

import pytest

from kalshi_fixsim.fixproto.kalshi import DEFAULT_PORTS
from tests.wire import RawConnection, logon, message, run, DropFirst

ENDPOINTS = [(product, code) for product, ports in DEFAULT_PORTS.items() for code in ports]


async def logged_on(fx, account, product="prediction", session="NR", **kw) -> RawConnection:
    conn = await RawConnection.open(fx, product, session)
    target = fx.endpoint(product, session).comp_id
    conn.send(logon(account, target, **kw))
    reply = await conn.read()
    assert reply is not None and reply.get(35) == "A", reply
    return conn


async def refused(fx, frames: list[bytes], product="prediction", session="NR") -> list:
    conn = await RawConnection.open(fx, product, session)
    for frame in frames:
        conn.send(frame)
    return await conn.read_until_closed()


async def still_alive(conn: RawConnection, account, target: str, seq: int) -> None:
    conn.send(message(account, target, "1", seq, [(112, "alive?")]))
    beat = await conn.expect("0")
    assert beat.get(112) == "alive?"


@pytest.mark.parametrize("product,session", ENDPOINTS)
def test_reference_client_logs_on_and_off_every_endpoint(fix_exchange, product, session):
    async def scenario():
        fix = fix_exchange.client("alice", product, session)
        reply = await fix.connect()
        assert reply.get(49) == fix_exchange.endpoint(product, session).comp_id
        assert reply.get(141) == "Y" and reply.get(1137) == "9"
        closed = await fix.logout()
        assert closed.reason == "logout"
    run(scenario())


def test_garbage_before_logon_is_ignored_and_logon_still_succeeds(fix_exchange):
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await RawConnection.open(fix_exchange, "prediction", "NR")
        conn.send(b"\x00\xffGET / HTTP/1.1\r\n\r\n" + logon(alice, "KalshiNR"))
        assert (await conn.read()).get(35) == "A"
        await still_alive(conn, alice, "KalshiNR", 2)
    run(scenario())


def test_frames_with_wrong_body_length_or_checksum_are_dropped_without_consuming_a_seq(fix_exchange):
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice)
        good = message(alice, "KalshiNR", "1", 2, [(112, "after-garbage")])
        bad_checksum = good[:-4] + b"%03d\x01" % ((int(good[-4:-1]) + 1) % 256)
        bad_length = good.replace(b"\x019=", b"\x019=1", 1)
        conn.send(b"garbage\x01\x01" + bad_checksum + bad_length + good)
        beat = await conn.expect("0")
        assert beat.get(112) == "after-garbage"  # seq 2 was still expected: nothing was consumed
    run(scenario())


def test_first_message_other_than_logon_gets_logout_with_text(fix_exchange):
    alice = fix_exchange.accounts["alice"]
    out = run(refused(fix_exchange, [message(alice, "KalshiNR", "0", 1)]))
    assert [m.get(35) for m in out] == ["5"]
    assert out[0].get(58) == "First message must be Logon (35=A), received 35=0"


def test_logon_signed_with_another_key_is_refused_by_a_logout_alone_with_signature_text(fix_exchange):
    alice, bob = fix_exchange.accounts["alice"], fix_exchange.accounts["bob"]
    out = run(refused(fix_exchange, [logon(alice, "KalshiNR", key_path=bob.private_key_path)]))
    assert [m.get(35) for m in out] == ["5"] and out[0].get(58).startswith("Invalid signature")


def test_logon_with_sending_time_restamped_after_signing_is_refused(fix_exchange):
    alice = fix_exchange.accounts["alice"]
    from kalshi_fixsim.fixproto.codec import format_utc
    now = time.time()
    out = run(refused(fix_exchange, [logon(alice, "KalshiNR", now=now, signed_time=format_utc(now - 0.001))]))
    assert out[-1].get(35) == "5" and "exact SendingTime(52)" in out[-1].get(58)


def test_unknown_api_key_is_refused_by_a_logout_alone_whose_text_says_why(fix_exchange):
    alice = fix_exchange.accounts["alice"]
    stranger = type(alice)("x", "00000000-0000-4000-8000-000000000000", alice.private_key_path, alice.config)
    out = run(refused(fix_exchange, [logon(stranger, "KalshiNR")]))
    assert [m.get(35) for m in out] == ["5"]  # spec 01 §11, 09 §6: no session Reject first
    assert "Unknown API key" in out[0].get(58)


def test_second_connection_for_a_key_gets_already_exists_and_the_first_is_untouched(fix_exchange):
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        first = await logged_on(fix_exchange, alice, "prediction", "NR")
        second = await RawConnection.open(fix_exchange, "prediction", "MD")
        second.send(logon(alice, "KalshiMD"))
        out = await second.read_until_closed()
        assert [(m.get(35), m.get(58)) for m in out] == [("5", "already exists")]
        await still_alive(first, alice, "KalshiNR", 2)
    run(scenario())


def test_a_logon_replayed_after_the_first_session_logged_out_is_refused_with_a_logout_text(fix_exchange):
    alice = fix_exchange.accounts["alice"]
    frame = logon(alice, "KalshiNR")

    async def scenario():
        conn = await RawConnection.open(fix_exchange, "prediction", "NR")
        conn.send(frame)
        assert (await conn.read()).get(35) == "A"
        conn.send(message(alice, "KalshiNR", "5", 2))
        assert (await conn.expect("5")).get(35) == "5"
        await conn.read_until_closed()
        out = await refused(fix_exchange, [frame])  # the very same bytes, well within 30 s
        assert [m.get(35) for m in out] == ["5"]
        assert out[0].get(58).startswith("Logon replay: this RawData(96) signature was already used")
        conn = await logged_on(fix_exchange, alice)  # a freshly signed Logon is fine
        conn.close()
    run(scenario())


def test_one_connection_per_key_is_scoped_per_product_by_default(fix_exchange):
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        prediction = await logged_on(fix_exchange, alice, "prediction", "NR")
        margin = await logged_on(fix_exchange, alice, "margin", "NR")  # the margin venue is separate
        out = await refused(fix_exchange, [logon(alice, "KalshiRT")], "margin", "RT")
        assert [(m.get(35), m.get(58)) for m in out] == [("5", "already exists")]
        await still_alive(prediction, alice, "KalshiNR", 2)
        await still_alive(margin, alice, "KalshiNR", 2)
    run(scenario())


def test_one_connection_per_key_across_products_when_configured(fix_exchange_factory):
    import dataclasses
    from kalshi_fixsim.simulator.config import SessionSettings
    fx = fix_exchange_factory(session=dataclasses.replace(SessionSettings(), one_connection_scope="key"))
    alice = fx.accounts["alice"]

    async def scenario():
        prediction = await logged_on(fx, alice, "prediction", "NR")
        out = await refused(fx, [logon(alice, "KalshiNR")], "margin", "NR")
        assert [(m.get(35), m.get(58)) for m in out] == [("5", "already exists")]
        await still_alive(prediction, alice, "KalshiNR", 2)
    run(scenario())


@pytest.mark.parametrize("hb", [0, 3, -5])
def test_prediction_heartbeat_interval_must_be_greater_than_3(fix_exchange, hb):
    alice = fix_exchange.accounts["alice"]
    out = run(refused(fix_exchange, [logon(alice, "KalshiNR", hb=hb)]))
    assert out[-1].get(35) == "5" and "HeartBtInt(108)" in out[-1].get(58)


def test_margin_accepts_heartbeat_interval_3_and_defaults_a_missing_one_to_30(fix_exchange):
    alice, bob = fix_exchange.accounts["alice"], fix_exchange.accounts["bob"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice, "margin", "NR", hb=3)
        conn.close()
        conn = await RawConnection.open(fix_exchange, "margin", "NR")
        conn.send(logon(bob, "KalshiNR", hb=None))
        reply = await conn.read()
        assert reply.get(35) == "A" and reply.get(108) == "30"
    run(scenario())


def test_logon_missing_a_required_tag_is_refused_naming_the_tag(fix_exchange):
    alice = fix_exchange.accounts["alice"]
    out = run(refused(fix_exchange, [logon(alice, "KalshiNR", drop=(98,))]))
    assert out[-1].get(35) == "5" and out[-1].get(58) == "Invalid Logon: Required tag missing: EncryptMethod(98)"


@pytest.mark.parametrize("session", ["NR", "DC", "RFQ", "MD"])
def test_logon_without_reset_flag_is_refused_where_reset_is_mandatory(fix_exchange, session):
    alice = fix_exchange.accounts["alice"]
    out = run(refused(fix_exchange, [logon(alice, f"Kalshi{session}", reset=False)], session=session))
    assert out[-1].get(58) == f"ResetSeqNumFlag(141)=Y is required on Kalshi{session}"


def test_target_comp_id_that_does_not_match_the_port_is_refused(fix_exchange):
    alice = fix_exchange.accounts["alice"]
    out = run(refused(fix_exchange, [logon(alice, "KalshiRT")], session="NR"))
    assert [m.get(35) for m in out] == ["5"]
    assert "does not match this port" in out[0].get(58)


@pytest.mark.parametrize("case", ["hb0", "no_reset", "retention", "no_hb", "listener_rules", "signature", "target"])
def test_every_refused_logon_but_sending_time_gets_a_logout_alone_whose_text_says_why(fix_exchange, case):
    alice, bob = fix_exchange.accounts["alice"], fix_exchange.accounts["bob"]
    frame, session, why = {  # spec 01 §11, 09 §6; behaviour.md "Logon failure answer"
        "hb0": (logon(alice, "KalshiNR", hb=0), "NR", "HeartBtInt(108)=0 is invalid"),
        "no_reset": (logon(alice, "KalshiNR", reset=False), "NR", "ResetSeqNumFlag(141)=Y is required"),
        "retention": (logon(alice, "KalshiRT", extra=((20200, 73),)), "RT", "MessageRetentionPeriod(20200)=73"),
        "no_hb": (logon(alice, "KalshiNR", hb=None), "NR", "HeartBtInt(108)"),
        "listener_rules": (logon(alice, "KalshiNR", extra=((20126, "Y"),)), "NR", "ListenerSession(20126)=Y requires"),
        "signature": (logon(alice, "KalshiNR", key_path=bob.private_key_path), "NR", "Invalid signature"),
        "target": (logon(alice, "KalshiMD"), "NR", "does not match this port"),
    }[case]
    out = run(refused(fix_exchange, [frame], session=session))
    assert [m.get(35) for m in out] == ["5"] and why in out[0].get(58)


def test_logon_sending_time_more_than_30s_off_gets_reject_10_then_logout(fix_exchange):
    alice = fix_exchange.accounts["alice"]
    out = run(refused(fix_exchange, [logon(alice, "KalshiNR", now=time.time() - 45)]))
    assert [(m.get(35), m.get(373)) for m in out] == [("3", "10"), ("5", None)]


def test_msg_seq_num_lower_than_expected_logs_out_with_expected_number(fix_exchange):
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice)
        conn.send(message(alice, "KalshiNR", "0", 2))
        conn.send(message(alice, "KalshiNR", "0", 2))
        out = await conn.read_until_closed()
        assert out[-1].get(35) == "5" and out[-1].get(58) == "MsgSeqNum too low, expecting 3 but received 2"
    run(scenario())


def test_gap_on_a_session_without_retransmission_logs_out_with_reset_advice(fix_exchange):
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice)
        conn.send(message(alice, "KalshiNR", "0", 5))
        out = await conn.read_until_closed()
        assert out[-1].get(58) == ("MsgSeqNum too high, expecting 2 but received 5; KalshiNR has no "
                                   "retransmission: reconnect with ResetSeqNumFlag=Y")
    run(scenario())


def test_resend_request_on_a_session_without_retransmission_is_rejected_373_11(fix_exchange):
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice)
        conn.send(message(alice, "KalshiNR", "2", 2, [(7, 1), (16, 0)]))
        reject = await conn.expect("3")
        assert (reject.get(45), reject.get(373), reject.get(372)) == ("2", "11", "2")
        await still_alive(conn, alice, "KalshiNR", 3)
    run(scenario())


def test_gap_on_rt_makes_the_gateway_ask_for_a_resend(fix_exchange):
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice, "prediction", "RT")
        conn.send(message(alice, "KalshiRT", "0", 4))
        request = await conn.expect("2")
        assert (request.get(7), request.get(16)) == ("2", "0")
    run(scenario())


def test_rt_resend_replays_application_messages_with_possdup_to_the_reference_client(fix_exchange):

    async def scenario():
        fix = fix_exchange.client("alice", "prediction", "RT", interceptor=DropFirst("8"))
        await fix.connect()
        fix.send("D", [(11, "o-1"), (38, 1), (40, 2), (44, 50), (54, 1), (55, "TICKER")])
        fix.send("D", [(11, "o-2"), (38, 1), (40, 2), (44, 50), (54, 1), (55, "TICKER")])
        first, second = await fix.expect("8"), await fix.expect("8")
        assert (first.get(11), first.get(43), first.get(122) is not None) == ("o-1", "Y", True)
        assert second.get(11) == "o-2"
        await fix.logout()
    run(scenario())


def test_rt_keeps_sequence_numbers_across_reconnects_without_reset(fix_exchange):
    async def scenario():
        fix = fix_exchange.client("alice", "prediction", "RT")
        await fix.connect()
        fix.send("D", [(11, "o-1"), (38, 1), (40, 2), (44, 50), (54, 1), (55, "TICKER")])
        await fix.expect("8")
        await fix.logout()
        out_before, in_before = fix.store.next_sender_seq, fix.store.next_target_seq
        reply = await fix.connect()  # the second Logon of this client resumes (spec 01 §5.1)
        assert reply.get(141) is None and int(reply.get(34)) == in_before
        assert fix.store.next_sender_seq == out_before + 1
        await fix.logout()
    run(scenario())


def test_known_message_not_offered_on_the_session_gets_bmr_380_3(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", "prediction", "NR") as fix:
            fix.send("U1", [(21001, "1;1")])
            bmr = await fix.expect("j")
            assert (bmr.get(380), bmr.get(372)) == ("3", "U1") and "KalshiNR" in bmr.get(58)
    run(scenario())


@pytest.mark.parametrize("account,product,session,flags,text", [
    ("restricted", "prediction", "RT", (), "Sub-account-restricted API key may not open KalshiRT"),
    ("margin_only", "prediction", "NR", (), "API key is not enabled for the prediction product"),
    ("no_rt", "prediction", "RT", (), "API key is not enabled for KalshiRT"),
    ("readonly", "prediction", "NR", (), "Read-only API key may only open listener sessions"),
    ("alice", "prediction", "NR", ((20126, "Y"),), "ListenerSession(20126)=Y requires SkipPendingExecReports"),
    ("alice", "prediction", "NR", ((20126, "Y"), (21011, "Y"), (8013, "Y")), "incompatible with CancelOrders"),
    ("alice", "prediction", "MD", ((20126, "Y"), (21011, "Y")), "only allowed on KalshiNR and KalshiRT"),
    ("alice", "prediction", "RT", ((20200, 73),), "MessageRetentionPeriod(20200)=73"),
])
def test_logon_permission_rules_refuse_with_a_clear_text(fix_exchange, account, product, session, flags, text):
    acct = fix_exchange.accounts[account]
    frame = logon(acct, f"Kalshi{session}", extra=flags)
    out = run(refused(fix_exchange, [frame], product, session))
    assert out[-1].get(35) == "5" and text in out[-1].get(58)


def test_listener_session_logon_with_skip_pending_is_accepted_for_a_read_only_key(fix_exchange):
    acct = fix_exchange.accounts["readonly"]

    async def scenario():
        conn = await logged_on(fix_exchange, acct, "prediction", "NR", extra=((21011, "Y"), (20126, "Y")))
        conn.close()
    run(scenario())


def test_bad_input_on_one_connection_never_disturbs_another(fix_exchange):
    alice, bob = fix_exchange.accounts["alice"], fix_exchange.accounts["bob"]

    async def scenario():
        steady = await logged_on(fix_exchange, bob, "prediction", "NR")
        for junk in (b"\xff" * 5000, b"8=FIXT.1.1\x019=99999999\x01", logon(alice, "KalshiNR", hb=0),
                     message(alice, "KalshiNR", "D", 1)):
            conn = await RawConnection.open(fix_exchange, "prediction", "NR")
            conn.send(junk)
            conn.writer.write_eof() if conn.writer.can_write_eof() else None
            conn.close()
        await still_alive(steady, bob, "KalshiNR", 2)
    run(scenario())


def test_plain_tcp_to_a_tls_port_is_refused_and_the_server_keeps_serving(fix_exchange):
    alice = fix_exchange.accounts["alice"]
    ep = fix_exchange.endpoint("prediction", "NR")

    async def scenario():
        reader, writer = await asyncio.open_connection(ep.host, ep.port)
        writer.write(logon(alice, "KalshiNR"))
        assert await asyncio.wait_for(reader.read(), 5) == b""  # no FIX answer over plain TCP
        writer.close()
        conn = await logged_on(fix_exchange, alice)
        conn.close()
    run(scenario())


def test_client_reconnects_with_backoff_after_the_gateway_drops_it(fix_exchange):
    async def scenario():
        fix = fix_exchange.client("alice", "prediction", "RT", reconnect=True, backoff_base=0.05)
        await fix.connect()
        fix_exchange.call(lambda: [c.driver.abort() for c in list(fix_exchange.sim.connections)])
        await fix.wait_closed()
        await fix.wait_connected(timeout=10)
        assert fix.logons == 2 and fix.disconnects[0].reason == "connection_lost"
        await fix.logout()
    run(scenario())


def test_logon_is_refused_when_tls_trust_does_not_match(fix_exchange):
    ep = fix_exchange.endpoint("prediction", "NR")

    async def scenario():
        with pytest.raises(ssl.SSLError):
            await asyncio.open_connection(ep.host, ep.port, ssl=ssl.create_default_context(),
                                          server_hostname="localhost")
    run(scenario())
