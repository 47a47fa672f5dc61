"""Issue 11 §1-§3 over TLS against the simulator: message structure, in-session reset, the RT
stall, bounded numbers. FIX Session Layer Test Case ids (FIX Trading Community) are named where
one applies."""
from __future__ import annotations

import time

import pytest

from kalshi_fixsim.fixproto.codec import encode, format_utc
from tests.conformance.test_gateway_session import logged_on, refused, still_alive
from tests.wire import logon, message, run

ORDER = [(11, "c-1"), (38, 1), (40, 2), (44, 40), (54, 1), (55, "KXTEST-26JAN01-A"), (59, 1)]


def framed(body: bytes) -> bytes:
    head = b"8=FIXT.1.1\x019=%d\x01" % len(body)
    return head + body + b"10=%03d\x01" % (sum(head + body) % 256)


def test_frame_with_msgtype_not_third_is_ignored_and_its_seq_not_consumed(fix_exchange):
    """FIX session test case 2d: 8, 9, 35 must come first; otherwise garbled and ignored."""
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice)
        bad = encode([(34, 2), (35, "1"), (49, alice.api_key), (56, "KalshiNR"), (52, format_utc(time.time())),
                      (112, "garbled")])
        conn.send(bad)
        await still_alive(conn, alice, "KalshiNR", 2)  # 2 is still the expected number
    run(scenario())


@pytest.mark.parametrize("late", [34, 49, 52, 56])
def test_order_with_header_fields_after_its_body_is_rejected_14_and_not_booked(fix_exchange, late):
    """FIX session test case 14h: Reject 373=14 naming the first header tag after the body."""
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice)
        header = {49: alice.api_key, 56: "KalshiNR", 34: 2, 52: format_utc(time.time())}
        fields = [(35, "D")] + [(t, v) for t, v in header.items() if t != late] + ORDER + [(late, header[late])]
        conn.send(encode(fields))
        reject = await conn.expect("3")
        assert (reject.get(45), reject.get(371), reject.get(373)) == ("2", str(late), "14")
        conn.send(message(alice, "KalshiNR", "1", 3, [(112, "after")]))
        nxt = await conn.read()
        assert nxt.get(35) == "0" and nxt.get(112) == "after"  # no ExecutionReport came first
    run(scenario())


@pytest.mark.parametrize("target,reason", [(None, "1"), ("", "4")])
def test_missing_or_empty_target_comp_id_is_rejected_and_the_session_goes_on(fix_exchange, target, reason):
    """Missing 56 -> Reject 373=1, empty -> 373=4, RefTagID 56; not a CompID mismatch."""
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice)
        header = [(49, alice.api_key)] + ([] if target is None else [(56, target)])
        conn.send(encode([(35, "1")] + header + [(34, 2), (52, format_utc(time.time())), (112, "x")]))
        reject = await conn.expect("3")
        assert (reject.get(371), reject.get(373)) == ("56", reason)
        await still_alive(conn, alice, "KalshiNR", 3)
    run(scenario())


def test_wrong_target_comp_id_after_logon_is_reject_9_and_logout(fix_exchange):
    """FIX session test case 2i."""
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice)
        conn.send(message(alice, "KalshiRT", "1", 2, [(112, "x")]))
        out = await conn.read_until_closed()
        assert [(m.get(35), m.get(373)) for m in out] == [("3", "9"), ("5", None)]
    run(scenario())


@pytest.mark.parametrize("tag_text", ["0", "-1"])
def test_invalid_tag_number_reject_names_the_tag_as_sent(fix_exchange, tag_text):
    """FIX session test case 14a: Reject 373=0 with RefTagID = the tag as sent."""
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice)
        body = b"35=1\x0149=%s\x0156=KalshiNR\x0134=2\x0152=%s\x01112=x\x01%s=y\x01" % (
            alice.api_key.encode(), format_utc(time.time()).encode(), tag_text.encode())
        conn.send(framed(body))
        reject = await conn.expect("3")
        assert (reject.get(371), reject.get(373)) == (tag_text, "0")
        await still_alive(conn, alice, "KalshiNR", 3)
    run(scenario())


@pytest.mark.parametrize("product,session", [("prediction", "RT"), ("prediction", "NR"), ("margin", "RT")])
def test_logon_with_reset_flag_on_a_logged_on_session_resets_both_directions(fix_exchange, product, session):
    """FIXT.1.1 in-session reset, allowed on every session type (spec 01 §2.2): Logon 141=Y is
    answered by Logon 141=Y with MsgSeqNum 1, and both sides go on from 2."""
    alice = fix_exchange.accounts["alice"]
    target = f"Kalshi{session}"

    async def scenario():
        conn = await logged_on(fix_exchange, alice, product, session)
        for seq in (2, 3):
            conn.send(message(alice, target, "1", seq, [(112, f"t{seq}")]))
            await conn.expect("0")
        conn.send(logon(alice, target, seq=1, reset=True))
        answer = await conn.expect("A")
        assert (answer.get(34), answer.get(141)) == ("1", "Y")
        conn.send(message(alice, target, "1", 2, [(112, "after reset")]))
        beat = await conn.expect("0")
        assert (beat.get(34), beat.get(112)) == ("2", "after reset")
    run(scenario())


def test_rt_gap_after_a_gap_filled_bogus_message_is_still_resent_and_never_stalls(fix_exchange):
    """The RT stall (issue 11 §2): a bogus too-high MsgSeqNum is queued, the client gap-fills what it
    really sent; a later genuine gap still gets a ResendRequest and TestRequests are answered."""
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice, "prediction", "RT")
        conn.send(message(alice, "KalshiRT", "0", 500))  # bogus: really at 2
        request = await conn.expect("2")
        assert (request.get(7), request.get(16)) == ("2", "0")
        now = format_utc(time.time())
        conn.send(encode([(35, "4"), (49, alice.api_key), (56, "KalshiRT"), (34, 2), (43, "Y"), (52, now),
                          (122, now), (123, "Y"), (36, 3)]))
        await still_alive(conn, alice, "KalshiRT", 3)
        conn.send(message(alice, "KalshiRT", "1", 6, [(112, "above a new gap")]))  # 4, 5 are missing
        answered = {m.get(35): m for m in [await conn.read(), await conn.read()]}
        assert answered["0"].get(112) == "above a new gap"
        assert (answered["2"].get(7), answered["2"].get(16)) == ("4", "0")
    run(scenario())


def test_legacy_21003_on_logon_is_accepted_as_skip_pending_exec_reports(fix_exchange):
    """spec 01 §2.2: 21003 was SkipPendingExecReports before v1.0.17; typed per MsgType."""
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice, extra=[(21003, "Y")])
        conn.send(message(alice, "KalshiNR", "D", 2, ORDER))
        report = await conn.expect("8")
        assert report.get(150) == "0"  # no Pending New (A) first: 21003=Y took effect
    run(scenario())


@pytest.mark.parametrize("hb", ["9" * 400, "99999999999999999999", "²", "301"])
def test_huge_or_unicode_heartbeat_interval_is_refused_with_a_logout_text(fix_exchange, hb):
    alice = fix_exchange.accounts["alice"]
    out = run(refused(fix_exchange, [logon(alice, "KalshiNR", hb=hb)]))
    assert out and out[-1].get(35) == "5" and "HeartBtInt(108)" in out[-1].get(58)


@pytest.mark.parametrize("value", ["99999999999999999999", "²", "0"])
def test_message_retention_period_out_of_range_is_refused_with_a_logout_text(fix_exchange, value):
    alice = fix_exchange.accounts["alice"]
    out = run(refused(fix_exchange, [logon(alice, "KalshiRT", reset=False, extra=[(20200, value)])], session="RT"))
    assert out and out[-1].get(35) == "5" and "MessageRetentionPeriod(20200)" in out[-1].get(58)


@pytest.mark.parametrize("seq", ["²", "9" * 5000])
def test_unusable_msgseqnum_before_authentication_is_a_logout_with_text(fix_exchange, seq):
    alice = fix_exchange.accounts["alice"]
    frame = logon(alice, "KalshiNR").replace(b"\x0134=1\x01", b"\x0134=" + seq.encode("utf-8") + b"\x01")
    frame = framed(frame[frame.index(b"35="):frame.rindex(b"10=")])
    out = run(refused(fix_exchange, [frame]))
    assert [m.get(35) for m in out] == ["5"] and "MsgSeqNum(34)" in out[0].get(58)


@pytest.mark.parametrize("tag,value", [(100, "9" * 400), (79, "99999999999"), (44, "9" * 5000),
                                       (38, "²"), (453, "9" * 400)])
def test_huge_or_unicode_numbers_in_an_order_are_rejected_naming_the_tag(fix_exchange, tag, value):
    """Out of range -> Reject 373=5, not a number -> 373=6, with RefTagID; never an exception."""
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice)
        body = dict(ORDER)
        body[tag] = value
        conn.send(message(alice, "KalshiNR", "D", 2, list(body.items())))
        reject = await conn.expect("3")
        assert reject.get(371) == str(tag) and reject.get(373) in ("5", "6")
        await still_alive(conn, alice, "KalshiNR", 3)
    run(scenario())


def test_exception_in_a_gateway_handler_is_logged_once_and_answered_with_bmr(fix_exchange, monkeypatch, caplog):
    """Last line of defence (issue 11 §3): a bug in the business layer is BMR 380=0 with a Text,
    logged once with the session id; the session goes on."""
    from kalshi_fixsim.simulator import gateway

    def broken(conn, msg):
        raise ZeroDivisionError("bug")

    monkeypatch.setitem(gateway.HANDLERS, ("NR", "D"), broken)
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice)
        conn.send(message(alice, "KalshiNR", "D", 2, ORDER))
        bmr = await conn.expect("j")
        assert (bmr.get(45), bmr.get(372), bmr.get(380)) == ("2", "D", "0")
        assert bmr.get(58).startswith("Internal error while handling NewOrderSingle(35=D)")
        await still_alive(conn, alice, "KalshiNR", 3)

    with caplog.at_level("ERROR", logger="kalshi_fixsim"):
        run(scenario())
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and f"prediction/NR/{alice.api_key}" in errors[0].getMessage()


def test_exception_in_logon_handling_is_answered_with_a_logout_text(fix_exchange, monkeypatch):
    alice = fix_exchange.accounts["alice"]

    def broken(*args, **kwargs):
        raise RuntimeError("auth bug")

    monkeypatch.setattr(fix_exchange.sim.auth, "check", broken)
    out = run(refused(fix_exchange, [logon(alice, "KalshiNR")]))
    assert [m.get(35) for m in out] == ["5"] and out[0].get(58).startswith("Internal error")


def test_an_exception_in_clock_work_is_logged_and_the_clock_keeps_running(fix_exchange, caplog):
    import threading

    calls = []
    ran_again = threading.Event()

    def task(now):
        calls.append(now)
        if len(calls) == 1:
            raise RuntimeError("clock task bug")
        ran_again.set()
        return now + 0.01

    with caplog.at_level("ERROR", logger="kalshi_fixsim"):
        fix_exchange.call(fix_exchange.sim.clock_tasks.append, task)
        assert ran_again.wait(5.0), "the clock stopped after the exception"
    assert any("clock work" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("body,tag,reason", [([(7, "²"), (16, 0)], "7", "6"), ([(7, 2), (16, "9" * 400)], "16", "5")])
def test_rt_resend_request_numbers_are_validated_before_use(fix_exchange, body, tag, reason):
    alice = fix_exchange.accounts["alice"]

    async def scenario():
        conn = await logged_on(fix_exchange, alice, "prediction", "RT")
        conn.send(message(alice, "KalshiRT", "2", 2, body))
        reject = await conn.expect("3")
        assert (reject.get(371), reject.get(373)) == (tag, reason)
        await still_alive(conn, alice, "KalshiRT", 3)
    run(scenario())
