"""Session and venue faults at the wire (issue 12 §5): a raw peer observes each effect."""
from __future__ import annotations

import time

import pytest

from kalshi_fixsim.fixproto.codec import parse_utc
from kalshi_fixsim.simulator.faults import RuleError
from tests.conformance.test_faults_wire import A, Peer
from tests.wire import run
from kalshi_fixsim.client import LogonOptions

OPTS_RT = LogonOptions(skip_pending_exec_reports=True)


def marks(fx) -> list[str]:
    return [m["fault"] for m in fx.control.messages(200) if m.get("fault")]


# --- session faults -------------------------------------------------------------------------

def test_skip_seq_leaves_a_gap_in_the_venue_sequence(fix_exchange):
    fix_exchange.faults.add(fault="skip_seq", count=3, session="NR", direction="inbound",
                            match={"35": "1", "112": "T1"})

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        beat = await peer.expect("0")
        assert beat.get(34) == "5"  # 2, 3 and 4 were skipped
    run(go())


def test_skip_seq_on_rt_is_gap_filled_when_the_client_asks(fix_exchange):
    fix_exchange.faults.add(fault="skip_seq", count=2, session="RT", direction="inbound",
                            match={"35": "1", "112": "T1"})

    async def go():
        peer = await Peer.open(fix_exchange, session="RT")
        peer.test_request("T1")
        assert (await peer.expect("0")).get(34) == "4"
        peer.send("2", [(7, 2), (16, 3)])
        fill = await peer.expect("4")
        assert (fill.get(34), fill.get(123), fill.get(36), fill.get(43)) == ("2", "Y", "4", "Y")
    run(go())


def test_resend_now_repeats_earlier_messages_with_possdup_and_origsendingtime(fix_exchange):
    async def go():
        peer = await Peer.open(fix_exchange)
        peer.order("o1")
        report = await peer.expect("8")
        fix_exchange.faults.add(fault="resend", now=True, session="NR")
        again = await peer.expect("8")
        assert again.get(43) == "Y" and again.get(122) == report.get(52) and again.get(34) == report.get(34)
        assert again.get(11) == "o1"
    run(go())


def test_test_request_now_is_sent_on_every_selected_session(fix_exchange):
    async def go():
        peer = await Peer.open(fix_exchange)
        rule = fix_exchange.faults.add(fault="test_request", test_req_id="ARE-YOU-THERE", now=True, session="NR")
        probe = await peer.expect("1")
        assert probe.get(112) == "ARE-YOU-THERE"
        assert rule.hits == 1 and not rule.active  # spent once applied
    run(go())


def test_resend_request_now_asks_the_client_for_a_range(fix_exchange):
    async def go():
        peer = await Peer.open(fix_exchange, session="RT")
        fix_exchange.faults.add(fault="resend_request", begin=1, end=0, now=True, session="RT")
        ask = await peer.expect("2")
        assert (ask.get(7), ask.get(16)) == ("1", "0")
    run(go())


@pytest.mark.parametrize("gap_fill", [True, False])
def test_sequence_reset_now_moves_the_venue_sequence(fix_exchange, gap_fill):
    async def go():
        peer = await Peer.open(fix_exchange, session="RT")
        fix_exchange.faults.add(fault="sequence_reset", new_seq=50, gap_fill=gap_fill, now=True, session="RT")
        reset = await peer.expect("4")
        assert reset.get(36) == "50" and (reset.get(123) == "Y") == gap_fill
        peer.test_request("T1")
        assert (await peer.expect("0")).get(34) == "50"
    run(go())


@pytest.mark.parametrize("offset,seq", [(4, "5"), (-1, "1")])
def test_logon_seq_answers_the_logon_with_another_msgseqnum(fix_exchange, offset, seq):
    fix_exchange.faults.add(fault="logon_seq", offset=offset, session="NR")

    async def go():
        peer = await Peer.open(fix_exchange)
        assert peer.logon_reply.get(34) == seq
    run(go())


def test_logon_seq_selects_by_account_once_the_logon_is_authenticated(fix_exchange):
    """The selector sees who logs on (as refuse_logon does): bob's Logon is answered as usual,
    alice's with the offset."""
    rule = fix_exchange.faults.add(fault="logon_seq", offset=4, session="NR", account="alice")

    async def go():
        bob = await Peer.open(fix_exchange, account="bob")
        alice = await Peer.open(fix_exchange, account="alice")
        return bob.logon_reply.get(34), alice.logon_reply.get(34)
    assert run(go()) == ("1", "5") and rule.hits == 1


def test_logout_now_carries_the_text(fix_exchange):
    async def go():
        peer = await Peer.open(fix_exchange)
        fix_exchange.faults.add(fault="logout", text="Going down for a test", now=True, session="NR")
        bye = await peer.expect("5")
        assert bye.get(58) == "Going down for a test"
    run(go())


def test_refuse_logon_refuses_the_next_logons_with_the_text(fix_exchange):
    rule = fix_exchange.faults.add(fault="refuse_logon", text="Try later", account="alice", times=1)

    async def go():
        from tests.wire import RawConnection, logon
        conn = await RawConnection.open(fix_exchange, "prediction", "NR")
        conn.send(logon(fix_exchange.accounts["alice"], "KalshiNR"))
        got = await conn.read_until_closed()
        assert [(m.get(35), m.get(58)) for m in got] == [("5", "Try later")]
        await Peer.open(fix_exchange)  # once only; and the key's slot was released
    run(go())
    assert rule.hits == 1


def test_silence_sends_no_heartbeat_or_answer_for_its_time(fix_exchange):
    async def go():
        peer = await Peer.open(fix_exchange)
        started = time.monotonic()
        fix_exchange.faults.add(fault="silence", ms=1500, now=True, session="NR")
        peer.test_request("T1")
        assert await peer.silent_for(0.5) == []  # no answer inside the silence
        await peer.silent_for(1.6 - (time.monotonic() - started))  # let the silence end
        peer.test_request("T2")
        assert (await peer.expect("0")).get(112) == "T2"
    run(go())


def test_sending_time_skew_shifts_sendingtime_while_the_rule_lasts(fix_exchange):
    async def go():
        peer = await Peer.open(fix_exchange)
        rule = fix_exchange.faults.add(fault="sending_time_skew", seconds=90, direction="inbound", session="NR")
        peer.test_request("T1")
        beat = await peer.expect("0")
        assert 85 < parse_utc(beat.get(52)) - time.time() < 95
        rule.remove()
        peer.test_request("T2")
        beat = await peer.expect("0")
        assert abs(parse_utc(beat.get(52)) - time.time()) < 5
    run(go())


def test_reject_inbound_answers_the_next_message_with_a_session_reject(fix_exchange):
    fix_exchange.faults.add(fault="reject_inbound", reason=5, text="Value is incorrect (fault)", session="NR",
                            match={"35": "1"}, times=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        reject = await peer.expect("3")
        assert (reject.get(45), reject.get(373), reject.get(58)) == ("2", "5", "Value is incorrect (fault)")
        peer.test_request("T2")
        assert (await peer.expect("0")).get(112) == "T2"
    run(go())


# --- venue faults ---------------------------------------------------------------------------

def test_er_delay_sends_the_report_late_and_the_order_is_booked_at_once(fix_exchange):
    fix_exchange.faults.add(fault="er_delay", ms=300, session="NR", match={"35": "8", "150": "0"})

    async def go():
        peer = await Peer.open(fix_exchange)
        started = time.monotonic()
        peer.order("o1")
        peer.test_request("T1")
        beat = await peer.expect("0")       # the heartbeat overtakes the late report
        assert beat.get(112) == "T1" and [o["cl_ord_id"] for o in fix_exchange.control.orders()] == ["o1"]
        report = await peer.expect("8")
        assert time.monotonic() - started >= 0.29 and report.get(11) == "o1"
        assert int(report.get(34)) > int(beat.get(34))  # sent late: a later MsgSeqNum, no gap
    run(go())


def test_er_drop_never_sends_the_report_but_the_order_rests(fix_exchange):
    fix_exchange.faults.add(fault="er_drop", session="NR", match={"35": "8", "11": "o1"})

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.order("o1")
        peer.test_request("T1")
        got = [await peer.read()]
        assert [m.get(35) for m in got] == ["0"] and got[0].get(34) == "2"  # no sequence gap either
    run(go())
    assert [o["cl_ord_id"] for o in fix_exchange.control.orders()] == ["o1"]


def test_er_duplicate_sends_a_copy_with_possresend(fix_exchange):
    fix_exchange.faults.add(fault="er_duplicate", session="NR", match={"35": "8"}, times=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.order("o1")
        first, copy = await peer.expect("8"), await peer.expect("8")
        assert first.get(97) is None and copy.get(97) == "Y"
        assert first.get(17) == copy.get(17) and int(copy.get(34)) == int(first.get(34)) + 1
    run(go())


def test_exchange_unavailable_not_booked_then_the_resend_is_accepted(fix_exchange):
    fix_exchange.faults.add(fault="exchange_unavailable", booked=False, session="NR", times=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.order("o1")
        reject = await peer.expect("8")
        assert (reject.get(150), reject.get(39), reject.get(103), reject.get(58)) == ("8", "8", "99",
                                                                                      "EXCHANGE_UNAVAILABLE")
        assert fix_exchange.control.orders() == []
        peer.order("o1")                  # spec 09 §7: resend with the same ClOrdID
        assert (await peer.expect("8")).get(150) == "0"
    run(go())


def test_exchange_unavailable_booked_then_the_resend_meets_the_open_order(fix_exchange):
    fix_exchange.faults.add(fault="exchange_unavailable", booked=True, session="NR", times=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.order("o1")
        reject = await peer.expect("8")
        assert (reject.get(39), reject.get(103), reject.get(58)) == ("8", "99", "EXCHANGE_UNAVAILABLE")
        assert [o["cl_ord_id"] for o in fix_exchange.control.orders()] == ["o1"]  # the exchange took it
        peer.order("o1")                  # the resend: the order exists (spec 02 §12: 103=6)
        dup = await peer.expect("8")
        assert (dup.get(39), dup.get(103), dup.get(58)) == ("8", "6", "ORDER_ALREADY_EXISTS")
    run(go())


def test_internal_error_rejects_and_books_nothing(fix_exchange):
    fix_exchange.faults.add(fault="internal_error", session="NR", times=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.order("o1")
        reject = await peer.expect("8")
        assert (reject.get(103), reject.get(58)) == ("99", "INTERNAL_ERROR")
    run(go())
    assert fix_exchange.control.orders() == []


def test_unsolicited_cancel_now_cancels_a_resting_order(fix_exchange):
    async def go():
        peer = await Peer.open(fix_exchange)
        peer.order("o1")
        await peer.expect("8")
        fix_exchange.faults.add(fault="unsolicited_cancel", now=True, session="NR", account="alice")
        cancel = await peer.expect("8")
        assert (cancel.get(150), cancel.get(39), cancel.get(11)) == ("4", "4", "o1")
    run(go())
    assert fix_exchange.control.orders() == []


def test_rate_limit_answers_the_next_n_messages_with_380_8(fix_exchange):
    fix_exchange.faults.add(fault="rate_limit", session="NR", times=2)

    async def go():
        peer = await Peer.open(fix_exchange)
        for cl in ("o1", "o2", "o3"):
            peer.order(cl)
        got = [await peer.read() for _ in range(3)]
        assert [(m.get(35), m.get(380)) for m in got] == [("j", "8"), ("j", "8"), ("8", None)]
        assert got[0].get(379) == "o1"
    run(go())


def test_control_halts_the_market_when_the_third_order_arrives(fix_exchange):
    fix_exchange.faults.add(fault="control", op="halt", session="NR", match={"35": "D"}, nth=3)

    async def go():
        peer = await Peer.open(fix_exchange)
        for i, cl in enumerate(("o1", "o2", "o3")):
            peer.order(cl, price=30 + i)
        got = [await peer.expect("8") for _ in range(3)]
        assert [m.get(39) for m in got] == ["0", "0", "8"]  # the 3rd met the halt it triggered
    run(go())


# --- the selector ---------------------------------------------------------------------------

def test_rules_select_by_account_so_other_accounts_are_untouched(fix_exchange):
    fix_exchange.faults.add(fault="drop", session="NR", account="bob", match={"35": "0"})

    async def go():
        peer = await Peer.open(fix_exchange)           # alice
        peer.test_request("T1")
        assert (await peer.expect("0")).get(112) == "T1"
    run(go())


def test_a_bad_rule_is_refused_naming_the_field_and_nothing_is_installed(fix_exchange):
    with pytest.raises(RuleError, match="^msg_type: 35=W is never sent outbound on prediction NR"):
        fix_exchange.faults.add(fault="drop", product="prediction", session="NR", match={"35": "W"})
    with pytest.raises(RuleError, match="^account: unknown account 'mallory'"):
        fix_exchange.faults.add(fault="drop", account="mallory")
    assert fix_exchange.faults.list() == []


def test_rate_limit_on_drop_copy_answers_with_event_resend_reject_21004_1(fix_exchange):
    from kalshi_fixsim.client.dropcopy import event_resend_request

    fix_exchange.faults.add(fault="rate_limit", session="DC", times=1)

    async def go():
        async with fix_exchange.client("alice", session="DC") as fix:
            fix.send("U1", event_resend_request("1;1"))
            reject = await fix.expect("U3")
            assert reject.get(21004) == "1"  # spec 04 §5: too many requests
    run(go())


def test_skip_seq_hold_numbers_and_stores_messages_without_sending_them(fix_exchange):
    fix_exchange.faults.add(fault="skip_seq", how="hold", count=2, session="RT", direction="inbound",
                            match={"35": "D"}, times=1)

    async def go():
        peer = await Peer.open(fix_exchange, session="RT")
        peer.order("o1")           # its report (seq 2) is held back
        await peer.conn.writer.drain()
        await peer.silent_for(0.1)  # T1 comes in another read: the spent rule's hold still counts
        peer.test_request("T1")    # and the Heartbeat answer (seq 3)
        peer.test_request("T2")
        beat = await peer.expect("0")
        assert (beat.get(112), beat.get(34)) == ("T2", "4")
        peer.send("2", [(7, 2), (16, 3)])
        replay, fill = await peer.read(), await peer.read()
        assert (replay.get(35), replay.get(34), replay.get(43), replay.get(11)) == ("8", "2", "Y", "o1")
        assert (fill.get(35), fill.get(34), fill.get(36)) == ("4", "3", "4")  # the Heartbeat: gap-filled
    run(go())


def test_the_reject_report_is_laid_out_like_the_gateways_own_in_dollars_too(fix_exchange):
    fix_exchange.faults.add(fault="internal_error", session="NR", match={"11": "o1"})

    async def go():
        peer = await Peer.open(fix_exchange, extra=[(21011, "Y"), (21005, "Y")])  # UseDollars
        peer.send("D", [(11, "o1"), (38, 2), (40, 2), (44, "0.40"), (54, 1), (55, A), (59, 1)])
        faulted = await peer.expect("8")
        peer.send("D", [(11, "o2"), (38, 2), (40, 2), (44, "0.40"), (54, 1), (55, "KXCLOSED-26JAN01-T1"), (59, 1)])
        genuine = await peer.expect("8")  # the gateway's own reject (a closed market)
        tags = lambda m: [t for t, _ in m.pairs if t not in (10, 9)]
        assert tags(faulted) == tags(genuine) and faulted.get(44) == genuine.get(44) == "0.4000"
        assert (faulted.get(103), faulted.get(58)) == ("99", "INTERNAL_ERROR")
    run(go())


def test_a_now_rule_with_after_s_acts_when_that_time_comes(fix_exchange):
    async def go():
        peer = await Peer.open(fix_exchange)
        started = time.monotonic()
        rule = fix_exchange.faults.add(fault="test_request", test_req_id="LATER", now=True, after_s=0.3, session="NR")
        assert rule.hits == 0
        probe = await peer.expect("1", timeout=5)
        assert probe.get(112) == "LATER" and time.monotonic() - started >= 0.29
    run(go())


def test_unsolicited_cancel_right_after_the_order_is_acknowledged(fix_exchange):
    fix_exchange.faults.add(fault="unsolicited_cancel", session="NR", match={"35": "8", "150": "0"}, times=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.order("o1")
        new, cancel = await peer.expect("8"), await peer.expect("8")
        assert (new.get(150), cancel.get(150), cancel.get(11)) == ("0", "4", "o1")
    run(go())
    assert fix_exchange.control.orders() == []


def test_a_control_action_triggered_by_an_outbound_report_runs_after_it_is_sent(fix_exchange):
    fix_exchange.faults.add(fault="control", op="pause", kind="trading", direction="outbound", session="NR",
                            match={"35": "8", "11": "o1"}, times=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.order("o1")
        assert (await peer.expect("8")).get(39) == "0"   # o1 was booked before the pause began
        peer.order("o2")
        refused = await peer.expect("8")
        assert (refused.get(39), refused.get(58)) == ("8", "TRADING_PAUSED")
    run(go())


def test_rfq_roll_makes_pending_quotes_vanish_and_accept_quote_gets_not_found(fix_exchange):
    from tests.conformance.test_rfq import accept_quote, creator, maker, make_quote, open_rfq

    async def go():
        async with maker(fix_exchange) as mm, creator(fix_exchange, options=OPTS_RT) as rt:
            rfq_id = await open_rfq(rt, [mm])
            await make_quote(mm, rt, "q-1", rfq_id, yes=75, no=25)
            rule = fix_exchange.faults.add(fault="rfq_roll", now=True)
            assert rule.hits == 1
            rt.send("UA", accept_quote("q-1", 1, rfq_id=rfq_id, cl_ord_id="acc-1"))
            uc = await rt.expect("UC")
            assert (uc.get(117), uc.get(21025), uc.get(58)) == ("q-1", "1", "NOT_FOUND")
            assert [m.get(35) for m in await mm.collect()] == []  # the maker was told nothing
    run(go())
