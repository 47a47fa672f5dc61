"""What a correct client does with each fault (issue 12 §5), shown by the reference client.

One test per documented fault condition (spec 09 §7) and per session fault: the fault is
scripted through fix_exchange.faults, the reference client recovers, and the venue's
transcript shows what the client sent.
"""
from __future__ import annotations

import asyncio
from decimal import Decimal

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.orders import ExecutionReport, new_order
from kalshi_fixsim.client.resolve import OrderOutcome, submit_order
from tests.wire import run

A = "KXTEST-26JAN01-A"
OPTS = LogonOptions(skip_pending_exec_reports=True)


def sent_by_client(fx, session: str | None = None) -> list[str]:
    """The frames the venue received, newest last, as text."""
    return [m["frame"] for m in fx.control.messages(500) if m["direction"] == "in" and not m.get("fault")
            and (session is None or m["endpoint"].endswith(session))]


def test_rt_gap_is_recovered_with_a_resend_request(fix_exchange):
    fix_exchange.faults.add(fault="drop", session="RT", match={"35": "8"}, times=1)

    async def go():
        async with fix_exchange.client("alice", session="RT", options=OPTS) as fix:
            fix.send("D", new_order("o1", A, "buy", 40, 1))
            # The next message (the sync's Heartbeat) shows the gap; the client asks for a resend
            # and gets the report again with PossDup before the Heartbeat is processed.
            (report,) = [ExecutionReport(m) for m in await fix.collect()]
            assert report.cl_ord_id == "o1" and report.msg.get(43) == "Y"
            assert fix.is_active
    run(go())
    assert any("|35=2|" in f and "|7=2|" in f for f in sent_by_client(fix_exchange, "RT"))


def test_rt_skipped_sequence_numbers_are_gap_filled_and_the_session_goes_on(fix_exchange):
    fix_exchange.faults.add(fault="skip_seq", count=5, session="RT", match={"35": "8"}, times=1)

    async def go():
        async with fix_exchange.client("alice", session="RT", options=OPTS) as fix:
            fix.send("D", new_order("o1", A, "buy", 40, 1))
            fix.send("D", new_order("o2", A, "buy", 41, 1))
            got = [ExecutionReport(await fix.expect("8")) for _ in range(2)]
            assert [r.cl_ord_id for r in got] == ["o1", "o2"]
            await fix.sync()
            assert fix.is_active
    run(go())
    assert any("|35=2|" in f for f in sent_by_client(fix_exchange, "RT"))


def test_nr_gap_ends_the_session_and_the_client_reconnects_with_reset(fix_exchange):
    fix_exchange.faults.add(fault="skip_seq", count=1, session="NR", match={"35": "8"}, times=1)

    async def go():
        fix = fix_exchange.client("alice", options=OPTS, reconnect=True, backoff_base=0.05, backoff_cap=0.2)
        await fix.connect()
        fix.send("D", new_order("o1", A, "buy", 40, 1))
        await fix.expect("8")                     # the report itself arrived; the next message has a gap
        fix.driver.session.test_request(fix.clock.now(), "after-gap")
        fix.driver.pump()
        await fix.wait_closed(5)
        await fix.wait_connected(5)
        assert fix.disconnects[0].reason == "seq_gap" and fix.logons == 2 and fix.logon_reply.get(141) == "Y"
        await fix.close()
    run(go())


def test_possdup_duplicates_are_discarded(fix_exchange):
    async def go():
        async with fix_exchange.client("alice", session="RT", options=OPTS) as fix:
            fix.send("D", new_order("o1", A, "buy", 40, 1))
            await fix.expect("8")
            fix_exchange.faults.add(fault="resend", count=1, now=True, session="RT")
            assert [m.msg_type for m in await fix.collect()] == []  # the PossDup copy was dropped
    run(go())


def test_a_possdup_duplicate_on_nr_is_discarded_too(fix_exchange):
    async def go():
        async with fix_exchange.client("alice", options=OPTS) as fix:
            fix.send("D", new_order("o1", A, "buy", 40, 1))
            await fix.expect("8")
            fix_exchange.faults.add(fault="resend", count=1, now=True, session="NR")
            assert await fix.collect() == [] and fix.is_active
    run(go())


def test_the_venues_test_request_is_answered_with_its_id(fix_exchange):
    async def go():
        async with fix_exchange.client("alice") as fix:
            fix_exchange.faults.add(fault="test_request", test_req_id="PING-7", now=True, session="NR")
            await fix.sync()
    run(go())
    assert any("|35=0|" in f and "|112=PING-7|" in f for f in sent_by_client(fix_exchange, "NR"))


def test_the_venues_resend_request_is_answered_by_replay_and_gap_fill(fix_exchange):
    async def go():
        async with fix_exchange.client("alice", session="RT", options=OPTS) as fix:
            fix.send("D", new_order("o1", A, "buy", 40, 1))
            await fix.expect("8")
            fix_exchange.faults.add(fault="resend_request", begin=1, end=0, now=True, session="RT")
            await fix.sync()
    run(go())
    frames = sent_by_client(fix_exchange, "RT")
    replayed = [f for f in frames if "|35=D|" in f and "|43=Y|" in f]
    assert replayed and "|122=" in replayed[0] and "|11=o1|" in replayed[0]  # the order again, PossDup
    assert any("|35=4|" in f and "|123=Y|" in f for f in frames)            # admin messages gap-filled


def test_a_venue_sequence_reset_gap_fill_moves_the_expected_number(fix_exchange):
    async def go():
        async with fix_exchange.client("alice", session="RT") as fix:
            fix_exchange.faults.add(fault="sequence_reset", new_seq=40, now=True, session="RT")
            await fix.sync()
            assert fix.store.next_target_seq == 41 and fix.is_active
    run(go())


def test_tcp_reset_is_survived_by_reconnecting_with_backoff(fix_exchange):
    async def go():
        fix = fix_exchange.client("alice", reconnect=True, backoff_base=0.05, backoff_cap=0.2)
        await fix.connect()
        first = fix.driver
        fix_exchange.faults.add(fault="reset", now=True, session="NR")
        await asyncio.wait_for(asyncio.shield(first.closed), 5)
        await fix.wait_connected(5)
        assert fix.disconnects[0].reason == "connection_lost" and fix.logons == 2
        await fix.close()
    run(go())


def test_refused_connections_are_retried_with_backoff_not_in_a_storm(fix_exchange):
    rule = fix_exchange.faults.add(fault="refuse_connections", session="NR", times=3)

    async def go():
        fix = fix_exchange.client("alice", reconnect=True, backoff_base=0.02, backoff_cap=0.1)
        await fix.connect_with_retry()
        assert fix.is_active and fix.connect_attempts == 4
        await fix.close()
    run(go())
    assert rule.hits == 3


def test_exchange_unavailable_not_booked_is_resolved_by_resending_the_same_clordid(fix_exchange):
    fix_exchange.faults.add(fault="exchange_unavailable", booked=False, session="NR", times=1)

    async def go():
        async with fix_exchange.client("alice", options=OPTS) as fix:
            outcome = await submit_order(fix, new_order("o1", A, "buy", 40, 1))
            assert outcome.state == OrderOutcome.ACCEPTED and outcome.attempts == 2
            assert outcome.report.exec_type == "0"
    run(go())
    assert [o["cl_ord_id"] for o in fix_exchange.control.orders()] == ["o1"]


def test_exchange_unavailable_booked_is_resolved_as_existing(fix_exchange):
    fix_exchange.faults.add(fault="exchange_unavailable", booked=True, session="NR", times=1)

    async def go():
        async with fix_exchange.client("alice", options=OPTS) as fix:
            outcome = await submit_order(fix, new_order("o1", A, "buy", 40, 1))
            assert outcome.state == OrderOutcome.EXISTS and outcome.attempts == 2
    run(go())
    assert [o["cl_ord_id"] for o in fix_exchange.control.orders()] == ["o1"]  # booked once only


def test_internal_error_is_final_and_not_retried(fix_exchange):
    fix_exchange.faults.add(fault="internal_error", session="NR", times=1)

    async def go():
        async with fix_exchange.client("alice", options=OPTS) as fix:
            outcome = await submit_order(fix, new_order("o1", A, "buy", 40, 1))
            assert outcome.state == OrderOutcome.REJECTED and outcome.attempts == 1
            assert outcome.report.text == "INTERNAL_ERROR"
    run(go())
    assert fix_exchange.control.orders() == []


def test_a_late_execution_report_is_waited_for(fix_exchange):
    fix_exchange.faults.add(fault="er_delay", ms=300, session="NR", match={"35": "8"}, times=1)

    async def go():
        async with fix_exchange.client("alice", options=OPTS) as fix:
            outcome = await submit_order(fix, new_order("o1", A, "buy", 40, 1), timeout=5)
            assert outcome.state == OrderOutcome.ACCEPTED and outcome.attempts == 1
    run(go())


def test_a_duplicate_report_with_possresend_is_dropped_by_its_execid(fix_exchange):
    fix_exchange.faults.add(fault="er_duplicate", session="NR", match={"35": "8"}, times=1)

    async def go():
        async with fix_exchange.client("alice", options=OPTS) as fix:
            fix.send("D", new_order("o1", A, "buy", 40, 1))
            assert [m.get(11) for m in await fix.collect()] == ["o1"]  # the 97=Y copy was not delivered
            assert fix.possresend_dropped == 1
    run(go())


def test_rate_limit_rejects_are_retried_after_backoff(fix_exchange):
    fix_exchange.faults.add(fault="rate_limit", session="NR", times=2)

    async def go():
        async with fix_exchange.client("alice", options=OPTS) as fix:
            outcome = await submit_order(fix, new_order("o1", A, "buy", 40, 1), backoff=0.02)
            assert outcome.state == OrderOutcome.ACCEPTED and outcome.attempts == 3
    run(go())


def test_sending_time_skew_beyond_tolerance_is_rejected_by_the_client(fix_exchange):
    async def go():
        async with fix_exchange.client("alice") as fix:
            skew = fix_exchange.faults.add(fault="sending_time_skew", seconds=120, now=True, session="NR")
            fix_exchange.faults.add(fault="test_request", test_req_id="SKEWED", now=True, session="NR")
            skew.remove()  # the SendingTime is right again: the sync below is answered normally
            await fix.sync()
    run(go())
    frames = sent_by_client(fix_exchange, "NR")
    assert any("|35=3|" in f and "|373=10|" in f for f in frames)  # spec 01 §1.1: SendingTime accuracy



def test_a_logon_answer_with_a_higher_msgseqnum_on_rt_is_recovered_by_resend_request(fix_exchange):
    fix_exchange.faults.add(fault="logon_seq", offset=3, session="RT", times=1)

    async def go():
        async with fix_exchange.client("alice", session="RT") as fix:
            await fix.sync()
            assert fix.is_active and fix.store.next_target_seq >= 5
    run(go())
    assert any("|35=2|" in f and "|7=1|" in f for f in sent_by_client(fix_exchange, "RT"))


def test_a_logon_answer_with_a_lower_msgseqnum_on_rt_is_refused_by_the_client(fix_exchange):
    async def go():
        fix = fix_exchange.client("alice", session="RT")
        await fix.connect()
        await fix.sync()
        await fix.logout()
        fix_exchange.faults.add(fault="logon_seq", offset=-2, session="RT", times=1)
        try:
            await fix.connect()
        except Exception:
            pass
        closed = await fix.wait_closed(5)
        assert closed.reason == "seq_too_low" and "MsgSeqNum too low" in closed.text
    run(go())


def test_the_same_seed_drops_the_same_frames_run_after_run(fix_exchange_factory):
    from tests.conformance.test_faults_wire import Peer

    def one_run() -> list[str]:
        fx = fix_exchange_factory(seed=1234)
        fx.faults.add(fault="drop", session="NR", match={"35": "0"}, match_regex={"112": "^T"}, probability=0.3)

        async def go() -> list[str]:
            peer = await Peer.open(fx)
            for i in range(30):
                peer.test_request(f"T{i}")
            peer.test_request("END")
            got = []
            while (m := await peer.expect("0")).get(112) != "END":
                got.append(m.get(112))
            return got
        answered = run(go())
        return answered

    first, second = one_run(), one_run()
    assert first == second and 10 <= len(first) <= 29


def test_a_venue_logout_is_answered_and_the_reconnect_waits_for_its_backoff(fix_exchange):
    import random
    import time

    async def go():
        fix = fix_exchange.client("alice", reconnect=True, backoff_base=0.2, backoff_cap=1.0, rng=random.Random(5))
        await fix.connect()
        first = fix.driver
        started = time.monotonic()
        fix_exchange.faults.add(fault="logout", text="Bye for now", now=True, session="NR")
        closed = await asyncio.wait_for(asyncio.shield(first.closed), 5)
        assert (closed.reason, closed.text) == ("peer_logout", "Bye for now")
        await fix.wait_connected(5)
        assert time.monotonic() - started >= random.Random(5).uniform(0, 0.2) - 0.01  # the drawn backoff
        await fix.close()
    run(go())
    frames = sent_by_client(fix_exchange, "NR")
    assert sum("|35=5|" in f for f in frames) >= 1 and sum("|35=A|" in f for f in frames) == 2


def test_refused_logons_are_retried_with_growing_backoff(fix_exchange):
    import random
    import time

    fix_exchange.faults.add(fault="refuse_logon", text="Come back later", times=3)

    async def go():
        fix = fix_exchange.client("alice", backoff_base=0.05, backoff_cap=0.4, rng=random.Random(9))
        started = time.monotonic()
        await fix.connect_with_retry(attempts=6)
        draws = random.Random(9)
        least = sum(draws.uniform(0, min(0.4, 0.05 * 2 ** a)) for a in range(3))
        assert fix.connect_attempts == 4 and time.monotonic() - started >= least - 0.01
        await fix.close()
    run(go())


def test_a_silent_venue_is_probed_with_a_test_request_then_dropped(fix_exchange):
    async def go():
        fix = fix_exchange.client("alice", "margin", "NR", heartbeat=3)  # margin allows 3 s (spec 01 §2.1)
        await fix.connect()
        fix_exchange.faults.add(fault="silence", ms=20_000, now=True, product="margin", session="NR")
        closed = await fix.wait_closed(timeout=15)
        assert closed.reason == "heartbeat_timeout"
    run(go(), timeout=30)
    frames = sent_by_client(fix_exchange, "NR")
    assert any("|35=1|" in f for f in frames)  # it asked before giving up (spec 01 §4)


def test_an_md_gap_ends_the_session_and_the_client_resubscribes_on_a_fresh_one(fix_exchange):
    from kalshi_fixsim.client.orderbook import MarketDataBooks, subscribe
    from kalshi_fixsim.simulator.engine.types import OrderRequest, Side

    fix_exchange.faults.add(fault="skip_seq", count=1, session="MD", match={"35": "W"}, times=1)

    async def go():
        fix = fix_exchange.client("alice", session="MD", reconnect=True, backoff_base=0.05, backoff_cap=0.2)
        fix.on_logon.append(lambda c: c.send("V", subscribe([A])))  # every Logon: subscribe again
        await fix.connect()
        first = fix.driver
        books = MarketDataBooks()
        books.apply(await fix.expect("W"))            # the snapshot; the gap follows it
        venue = fix_exchange.sim.venues["prediction"]
        fix_exchange.call(lambda: venue.dispatch(venue.exchange.new_order(OrderRequest(
            account="bob", client_order_id="b1", symbol=A, side=Side.BUY, price=4000, qty=300), 0.0)))
        closed = await asyncio.wait_for(asyncio.shield(first.closed), 5)
        assert closed.reason == "seq_gap"               # spec 09 §7: MD is unusable after a gap
        await fix.wait_connected(5)
        snapshot = await fix.expect("W")               # the fresh subscription's snapshot
        books.apply(snapshot)
        assert fix.logons == 2 and fix.logon_reply.get(141) == "Y"
        assert books[A].bids == [(Decimal("0.4"), Decimal("3"))]  # the fresh snapshot replaced the book
        await fix.close()
    run(go())
