"""Pauses, maintenance and market halts over TLS with the reference client (spec 10, spec 01
§5.1, spec 07 §6): every row of the pause table in both pause types, CancelOrderOnPause, the
Thursday schedule (driven by a stopped clock and Simulator.tick, never by waiting), maintenance
in both sequence modes, halts with SecurityStatus, and Day expiry at 23:59:59.999 ET."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kalshi_fixsim.client import LogonError, LogonOptions
from kalshi_fixsim.client.orderbook import security_status_request
from kalshi_fixsim.client.orders import CancelReject, ExecutionReport, cancel_order, mass_cancel, new_order, order_group, \
    replace_order
from kalshi_fixsim.client.rfq import accept_by_order, accept_quote, quote, quote_cancel, quote_confirm, quote_request, rfq_cancel
from kalshi_fixsim.simulator import ops
from kalshi_fixsim.simulator.config import MarketMakerConfig
from kalshi_fixsim.simulator.marketmaker import MM_ACCOUNT
from tests.wire import run

A = "KXTEST-26JAN01-A"
B = "KXTEST-26JAN01-B"
NY = ZoneInfo("America/New_York")
NO_PENDING = LogonOptions(skip_pending_exec_reports=True)
LISTENER = LogonOptions(listener_session=True, skip_pending_exec_reports=True)
TEXT = {"trading": "TRADING_PAUSED", "exchange": "EXCHANGE_PAUSED"}
KINDS = list(TEXT)


class StoppedClock:
    """The simulator's clock, set by the test (sessions keep the real one for SendingTime)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def et(*args) -> float:
    return datetime(*args, tzinfo=NY).timestamp()


def reports(messages) -> list[ExecutionReport]:
    return [ExecutionReport(m) for m in messages if m.get(35) == "8"]


def kinds(messages) -> list[tuple[str, str]]:
    return [r.kinds for r in reports(messages)]


async def fields(fix, msg_type: str, *tags: int) -> list:
    """The next message of a type, as the values of `tags`."""
    msg = await fix.expect(msg_type)
    return [msg.get(t) for t in tags]


def of_type(messages, msg_type: str) -> list:
    return [m for m in messages if m.get(35) == msg_type]


async def place(fix, *args, **kwargs) -> list:
    fix.send("D", new_order(*args, **kwargs))
    return await fix.collect()


def pause(fx, kind: str) -> dict:
    return fx.call(lambda: ops.pause(fx.sim, kind, fx.sim.clock.now()))


def resume(fx) -> None:
    fx.call(lambda: ops.resume(fx.sim, fx.sim.clock.now()))


def open_orders(fx, account: str = "alice") -> list[str]:
    return fx.call(lambda: sorted(o.client_order_id for o in fx.sim.venues["prediction"].exchange.open_orders(account)))


def use_clock(fx, t: float) -> StoppedClock:
    clock = StoppedClock(t)
    fx.call(lambda: setattr(fx.sim, "clock", clock))
    return clock


def at(fx, clock: StoppedClock, t: float) -> float:
    """Move the stopped clock to t and run the simulator's clock work (Simulator.tick) there."""
    def step():
        clock.t = t
        return fx.sim.tick()
    return fx.call(step)


# --- spec 10 §2 and §3: the pause table, in both pause types ---------------------------------------

@pytest.mark.parametrize("kind", KINDS)
def test_pause_start_cancels_cancel_order_on_pause_orders_with_the_pause_text_and_keeps_the_rest(fix_exchange, kind):
    fx = fix_exchange

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix, fx.client("alice_listener", options=LISTENER) as lis:
            await place(fix, "y1", A, "buy", 40, 10, cancel_on_pause=True)
            await place(fix, "n1", A, "buy", 41, 10, cancel_on_pause=False)
            await place(fix, "a1", A, "buy", 42, 10)
            await lis.collect()
            assert pause(fx, kind) == {"prediction": 1, "margin": 0}
            for session in (fix, lis):  # spec 02 §9 #18: the order's session and the account's listeners
                (cancel,) = reports(await session.collect())
                assert (cancel.cl_ord_id, cancel.kinds, cancel.leaves_qty, cancel.text) == ("y1", ("4", "4"), 0,
                                                                                           TEXT[kind])
        assert open_orders(fx) == ["a1", "n1"]
    run(scenario())


@pytest.mark.parametrize("kind", KINDS)
def test_new_order_in_a_pause_is_rejected_103_2_with_the_pause_text(fix_exchange, kind):
    fx = fix_exchange

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            pause(fx, kind)
            (rej,) = reports(await place(fix, "o1", A, "buy", 40, 10))
            assert rej.kinds == ("8", "8") and rej.msg.get(103) == "2" and rej.text == TEXT[kind]
        assert open_orders(fx) == []
    run(scenario())


@pytest.mark.parametrize("kind", KINDS)
def test_amend_in_a_pause_gets_order_cancel_reject_102_99_and_the_order_is_unchanged(fix_exchange, kind):
    fx = fix_exchange

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            await place(fix, "o1", A, "buy", 40, 10)
            pause(fx, kind)
            fix.send("G", replace_order("o1-r", "o1", A, "buy", 5, price=41))
            (msg,) = await fix.collect()
            rej = CancelReject(msg)
            assert (msg.get(35), rej.reason, rej.text, rej.response_to, rej.ord_status) == ("9", 99, TEXT[kind], "2",
                                                                                             "0")
        ex = fx.sim.venues["prediction"].exchange
        assert fx.call(lambda: [(o.client_order_id, o.price, o.qty) for o in ex.open_orders("alice")]) == \
            [("o1", 4000, 1000)]
    run(scenario())


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_is_done_in_a_trading_pause_and_refused_102_99_in_an_exchange_pause(fix_exchange, kind):
    fx = fix_exchange

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            await place(fix, "o1", A, "buy", 40, 10)
            pause(fx, kind)
            fix.send("F", cancel_order("o1-c", "o1", A, "buy"))
            out = await fix.collect()
            if kind == "trading":
                assert kinds(out) == [("4", "4")] and reports(out)[0].cl_ord_id == "o1-c"
                assert open_orders(fx) == []
            else:
                (msg,) = out
                rej = CancelReject(msg)
                assert (msg.get(35), rej.reason, rej.text, rej.response_to) == ("9", 99, "EXCHANGE_PAUSED", "1")
                assert open_orders(fx) == ["o1"]
    run(scenario())


@pytest.mark.parametrize("kind", KINDS)
def test_mass_cancel_is_done_in_a_trading_pause_and_refused_531_0_in_an_exchange_pause(fix_exchange, kind):
    fx = fix_exchange

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            await place(fix, "o1", A, "buy", 40, 10)
            await place(fix, "o2", B, "sell", 60, 10)
            pause(fx, kind)
            fix.send("q", mass_cancel("mc-1"))
            out = await fix.collect()
            (report,) = of_type(out, "r")
            if kind == "trading":
                assert report.get(531) == "6" and kinds(out) == [("4", "4"), ("4", "4")]
                assert open_orders(fx) == []
            else:
                # spec 12: r carries no Text; MassCancelRejectReason 99 (Other) says why it failed
                assert [report.get(t) for t in (11, 37, 531, 532, 58)] == ["mc-1", "NONE", "0", "99", None]
                assert fix.rejects == []  # valid for the reference client's dictionary
                assert reports(out) == [] and open_orders(fx) == ["o1", "o2"]
    run(scenario())


@pytest.mark.parametrize("kind", KINDS)
def test_orders_left_resting_trade_again_after_the_pause_ends(fix_exchange, kind):
    fx = fix_exchange

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix, fx.client("bob", options=NO_PENDING) as bob:
            await place(fix, "n1", A, "buy", 40, 10, cancel_on_pause=False)
            pause(fx, kind)
            assert reports(await place(bob, "b1", A, "sell", 40, 4))[0].text == TEXT[kind]
            assert reports(await fix.collect()) == []
            resume(fx)
            assert kinds(await place(bob, "b2", A, "sell", 40, 4)) == [("F", "2")]
            (fill,) = reports(await fix.collect())
            assert (fill.cl_ord_id, fill.kinds, fill.last_qty, fill.leaves_qty) == ("n1", ("F", "1"), 4, 6)
    run(scenario())


@pytest.mark.parametrize("kind", KINDS)
def test_order_group_actions_in_a_pause_are_refused_380_4_except_delete_in_a_trading_pause(fix_exchange, kind):
    fx = fix_exchange

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            fix.send("UOG", order_group("create", limit=10))
            group = (await fix.expect("UOH")).get(20130)
            pause(fx, kind)
            fix.send("UOG", order_group("create", limit=5))
            fix.send("UOG", order_group("update", group_id=group, limit=20))
            fix.send("UOG", order_group("delete", group_id=group))
            out = await fix.collect()
            refusals = [(m.get(372), m.get(380), m.get(58)) for m in of_type(out, "j")]
            expected = 2 if kind == "trading" else 3
            assert refusals == [("UOG", "4", TEXT[kind])] * expected
            assert [m.get(20130) for m in of_type(out, "UOH")] == ([group] if kind == "trading" else [])
    run(scenario())


@pytest.mark.parametrize("kind", KINDS)
def test_rfq_actions_in_a_pause_get_their_own_rejects_except_cancels_in_a_trading_pause(fix_exchange, kind):
    fx = fix_exchange
    text = TEXT[kind]

    async def scenario():
        async with fx.client("alice", session="RT", options=NO_PENDING) as rt, fx.client("bob", session="RFQ") as mm:
            rt.send("R", quote_request("cr-1", A, 40))
            rfq_id = (await rt.expect("b")).get(21023)
            await mm.expect("R")
            mm.send("S", quote("q-1", rfq_id, A, yes=75, no=25))
            assert (await mm.expect("AI")).get(297) == "10"
            await rt.expect("S")
            pause(fx, kind)
            rt.send("R", quote_request("cr-2", B, 10))
            assert await fields(rt, "AG", 131, 658, 58) == ["cr-2", "99", text]
            rt.send("UA", accept_quote("q-1", 1, rfq_id=rfq_id, cl_ord_id="acc-1"))
            assert await fields(rt, "UC", 117, 21025, 11, 58) == ["q-1", "1", "acc-1", text]
            rt.send("D", accept_by_order("acc-2", "q-1", A, 1, 75, 40, rfq_id=rfq_id))
            rej = ExecutionReport(await rt.expect("8"))
            assert (rej.cl_ord_id, rej.kinds, rej.msg.get(103), rej.text) == ("acc-2", ("8", "8"), "2", text)
            mm.send("S", quote("q-2", rfq_id, A, yes=70, no=30))
            assert await fields(mm, "AI", 117, 297, 58) == ["q-2", "5", text]
            mm.send("U7", quote_confirm("q-1", rfq_id))
            assert await fields(mm, "U8", 117, 21010, 58) == ["q-1", "1", text]
            mm.send("Z", quote_cancel("q-1", rfq_id))
            u9 = await mm.expect("U9")
            rt.send("UE", rfq_cancel("cr-1", rfq_id))
            ub = await rt.expect("UB")
            if kind == "trading":  # cancels pass a trading pause
                assert (u9.get(298), ub.get(21013)) == ("0", "0")
            else:
                assert (u9.get(298), u9.get(58), ub.get(21013), ub.get(58)) == ("1", text, "1", text)
    run(scenario())


def test_listener_writes_in_a_pause_still_get_not_authorized(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with fx.client("alice_listener", options=LISTENER) as lis:
            pause(fx, "exchange")
            lis.send("UOG", order_group("create", limit=5))
            (j,) = await lis.collect()
            assert (j.get(35), j.get(380)) == ("j", "6")
    run(scenario())


def test_background_market_maker_places_no_orders_during_a_pause_and_quotes_again_after(fix_exchange_factory):
    fx = fix_exchange_factory(market_maker=MarketMakerConfig(enabled=True, refresh_seconds=1.0))
    ex = fx.sim.venues["prediction"].exchange

    def quotes():
        return sorted(o.order_id for o in ex.open_orders(MM_ACCOUNT))

    def paused_ticks():
        ops.pause(fx.sim, "exchange", fx.sim.clock.now())
        before = quotes()
        delays = [fx.sim.tick() for _ in range(3)]
        return before, delays, quotes()

    before, delays, during = fx.call(paused_ticks)
    assert before and during == before and all(0 < d <= 1.0 for d in delays)
    after = fx.call(lambda: (ops.resume(fx.sim, fx.sim.clock.now()), fx.sim.tick(), quotes())[2])
    assert len(after) == len(before) and set(after).isdisjoint(before)  # refreshed at the first tick
    fx.call(ex.check_invariants)


# --- spec 10 §1: the Thursday schedule -------------------------------------------------------------

def test_schedule_starts_the_trading_pause_at_03_00_et_thursday_and_ends_it_at_05_00(fix_exchange):
    fx = fix_exchange
    before, start, end = et(2026, 11, 5, 2, 59, 59), et(2026, 11, 5, 3), et(2026, 11, 5, 5)  # first week of EST

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            clock = use_clock(fx, before)
            fx.call(lambda: ops.install(fx.sim, schedule=ops.THURSDAY))
            assert at(fx, clock, before) == pytest.approx(1.0)  # the window is 1 s away; TICK caps at 1 s
            assert kinds(await place(fix, "y1", A, "buy", 40, 10, cancel_on_pause=True)) == [("0", "0")]
            assert kinds(await place(fix, "n1", A, "buy", 41, 10)) == [("0", "0")]
            at(fx, clock, start)
            (cancel,) = reports(await fix.collect())
            assert (cancel.cl_ord_id, cancel.kinds, cancel.text) == ("y1", ("4", "4"), "TRADING_PAUSED")
            state = fx.call(lambda: ops.status(fx.sim, clock.t))["products"]["prediction"]
            assert state == {"state": "trading_paused", "since": start, "until": end, "source": "schedule"}
            assert reports(await place(fix, "o2", A, "buy", 40, 1))[0].text == "TRADING_PAUSED"
            at(fx, clock, end - 0.001)
            assert reports(await place(fix, "o3", A, "buy", 40, 1))[0].text == "TRADING_PAUSED"
            at(fx, clock, end)
            assert kinds(await place(fix, "o4", A, "buy", 40, 1)) == [("0", "0")]
            assert fx.call(lambda: ops.status(fx.sim, clock.t)["schedule"]["next_window"]) == \
                [et(2026, 11, 12, 3), et(2026, 11, 12, 5)]
        assert open_orders(fx) == ["n1", "o4"]
    run(scenario())


# --- spec 10 §1, spec 01 §5.1: maintenance in both sequence modes -----------------------------------

def test_maintenance_continuity_rt_client_reconnects_and_recovers_missed_reports_by_resend(fix_exchange):
    fx = fix_exchange
    opts = LogonOptions(skip_pending_exec_reports=True, cancel_orders_on_disconnect=True)

    async def scenario():
        async with fx.client("alice", session="RT", options=opts, reconnect=True, backoff_base=0.02,
                             backoff_cap=0.1, max_reconnects=500) as fix:
            assert kinds(await place(fix, "o1", A, "buy", 40, 10)) == [("0", "0")]
            window = fx.call(lambda: ops.maintenance(fx.sim, fx.sim.clock.now(), ["RT"], duration=3600))
            assert window.disconnected == 1 and window.mode == "continuity"
            gone = await fix.wait_closed()
            assert gone.text.startswith("Scheduled maintenance: disconnected by the exchange; reconnect after ")
            fx.call(lambda: ops.end_maintenance(fx.sim, fx.sim.clock.now()))
            await fix.wait_connected(10)
            assert fix.logon_reply.get(141) is None  # no reset: sequence numbers continue
            out = await fix.collect()
            # CancelOrdersOnDisconnect ran while the session was gone: the report was stored and resent.
            (cancel,) = reports(out)
            assert (cancel.cl_ord_id, cancel.kinds, cancel.msg.get(43)) == ("o1", ("4", "4"), "Y")
        assert open_orders(fx) == []
    run(scenario())


def test_logons_in_a_maintenance_window_are_refused_with_the_reconnect_time_until_it_ends(fix_exchange):
    fx = fix_exchange

    async def scenario():
        fx.call(lambda: ops.maintenance(fx.sim, fx.sim.clock.now(), ["NR"], duration=600))
        fix = fx.client("bob")
        with pytest.raises(LogonError) as refused:
            await fix.connect()
        assert refused.value.text.startswith("Scheduled maintenance in progress: reconnect after ")
        async with fx.client("bob", session="RT"):  # out of scope: accepted
            pass
        fx.call(lambda: ops.end_maintenance(fx.sim, fx.sim.clock.now()))
        async with fx.client("bob") as ok:
            assert ok.is_active
    run(scenario())


def test_maintenance_reset_mode_refuses_a_logon_without_141_y_and_accepts_one_with_it(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with fx.client("alice", session="RT", options=NO_PENDING) as fix:
            await place(fix, "o1", A, "buy", 40, 10)
            window = fx.call(lambda: ops.maintenance(fx.sim, fx.sim.clock.now(), mode="reset", pause="trading"))
            assert window.pause == "trading" and window.until is None
            gone = await fix.wait_closed()
            assert gone.text == ("Scheduled maintenance: disconnected by the exchange; reconnect now; sequence "
                                 "numbers were reset: log on with ResetSeqNumFlag(141)=Y")
            stale = fx.client("alice", session="RT", options=NO_PENDING, reset=False, store=fix.store)
            with pytest.raises(LogonError) as refused:
                await stale.connect()  # the client's own sequence numbers, no 141
            assert refused.value.text == "Maintenance reset sequence numbers: log on with ResetSeqNumFlag(141)=Y"
            await fix.connect()  # the reference client read the Logout's Text: its next Logon resets
            assert (fix.logon_reply.get(141), fix.logon_reply.get(34)) == ("Y", "1")
            await fix.logout()
        async with fx.client("alice", session="RT", options=NO_PENDING, reset=True) as fresh:
            assert (fresh.logon_reply.get(141), fresh.logon_reply.get(34)) == ("Y", "1")
            assert reports(await place(fresh, "o2", A, "buy", 40, 1))[0].text == "TRADING_PAUSED"
            await fresh.logout()
            await fresh.connect()  # reset once: continuity again on the next logon
            assert fresh.logon_reply.get(141) is None
        assert open_orders(fx) == ["o1"]  # no CancelOrdersOnDisconnect asked for: it stayed
        resume(fx)
    run(scenario())


# --- spec 10 §4, spec 07 §6: market halts ------------------------------------------------------------

def test_halt_sends_security_status_2_and_rejects_orders_and_resume_sends_3(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with fx.client("carol", session="MD") as md, fx.client("alice", options=NO_PENDING) as fix:
            md.send("e", security_status_request(A))
            await md.collect()
            await place(fix, "y1", A, "buy", 40, 10, cancel_on_pause=True)
            fx.call(lambda: ops.halt(fx.sim, A))
            assert [(m.get(55), m.get(326)) for m in of_type(await md.collect(), "f")] == [(A, "2")]
            assert reports(await fix.collect()) == []  # CancelOrderOnPause does not apply to halts
            (rej,) = reports(await place(fix, "o1", A, "buy", 40, 1))
            assert (rej.kinds, rej.msg.get(103), rej.text) == (("8", "8"), "2", "MARKET_INACTIVE")
            fix.send("G", replace_order("y2", "y1", A, "buy", 10, price=41))  # amends too: inactive, not closed
            (cxl,) = [CancelReject(m) for m in await fix.collect() if m.get(35) == "9"]
            assert (cxl.msg.get(102), cxl.text) == ("99", "MARKET_INACTIVE")
            fx.call(lambda: ops.resume_market(fx.sim, A))
            assert [(m.get(55), m.get(326)) for m in of_type(await md.collect(), "f")] == [(A, "3")]
            assert kinds(await place(fix, "o2", A, "buy", 40, 1)) == [("0", "0")]
        assert open_orders(fx) == ["o2", "y1"]
    run(scenario())


def test_resuming_a_market_that_is_not_halted_is_an_error(fix_exchange):
    fx = fix_exchange
    with pytest.raises(ops.OpsError, match="cannot resume KXTEST-26JAN01-A: it is open, not halted"):
        fx.call(lambda: ops.resume_market(fx.sim, A))
    with pytest.raises(ValueError, match="only an open market can be halted"):
        fx.call(lambda: ops.halt(fx.sim, "KXCLOSED-26JAN01-T1"))


# --- spec 02 §4, §9 #16: Day expiry through the simulator's clock work ------------------------------

@pytest.mark.parametrize("placed, expires, transact, expired_status", [
    (et(2026, 3, 7, 12), et(2026, 3, 7, 23, 59, 59, 999_000), "20260308-04:59:59.999", False),  # EST, UTC-5
    (et(2026, 3, 8, 12), et(2026, 3, 8, 23, 59, 59, 999_000), "20260309-03:59:59.999", True),   # EDT, UTC-4
])
def test_day_order_expires_at_23_59_59_999_et_via_the_simulator_tick(fix_exchange, placed, expires, transact,
                                                                     expired_status):
    fx = fix_exchange
    opts = LogonOptions(skip_pending_exec_reports=True, use_expired_ord_status=expired_status or None)

    async def scenario():
        async with fx.client("alice", options=opts) as fix:
            clock = use_clock(fx, placed)
            assert kinds(await place(fix, "d1", A, "buy", 40, 10, tif="day")) == [("0", "0")]
            at(fx, clock, expires - 0.001)
            assert reports(await fix.collect()) == []
            at(fx, clock, expires)
            (done,) = reports(await fix.collect())
            assert done.kinds == (("C", "C") if expired_status else ("4", "4"))
            assert (done.cl_ord_id, done.msg.get(60), done.leaves_qty) == ("d1", transact, 0)
        assert open_orders(fx) == []
    run(scenario())
