"""Pauses, the weekly schedule, maintenance and halts (spec 10) without sockets: the engine's
pause rules, `simulator.ops` on a venue with a fake simulator around it, and `next_window`
across both DST changes of 2026 (March 8 and November 1)."""
from __future__ import annotations

import math
import random
from datetime import datetime, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from kalshi_fixsim.simulator import ops
from kalshi_fixsim.simulator.config import MarketMakerConfig
from kalshi_fixsim.simulator.engine.exchange import Exchange, Pause
from kalshi_fixsim.simulator.engine.types import (MONEY_SCALE, Canceled, CancelReason, CxlReject, Market, MarketStatus, Reject,
                                    Rejected, Side, Traded)
from kalshi_fixsim.simulator.gateway import GATES
from kalshi_fixsim.simulator.gateway.pauses import guard_logons, pause_gate
from kalshi_fixsim.simulator.gateway.reports import ReportFlags
from kalshi_fixsim.simulator.gateway.venue import Venue
from kalshi_fixsim.simulator.marketmaker import MarketMaker
from tests.unit.engine_helpers import TICKER, kinds, req

NY = ZoneInfo("America/New_York")
UTC = timezone.utc
T0 = datetime(2026, 11, 19, 12, 0, tzinfo=NY).timestamp()  # a Thursday, noon ET


def utc(*args) -> float:
    return datetime(*args, tzinfo=UTC).timestamp()


def et(*args) -> float:
    return datetime(*args, tzinfo=NY).timestamp()


# --- next_window: DST-correct (spec 10 §1) ------------------------------------------------------

@pytest.mark.parametrize("now, start, end", [
    # spring forward on Sunday 2026-03-08: 03:00 EST is 08:00 UTC, 03:00 EDT is 07:00 UTC
    (utc(2026, 3, 2, 12), utc(2026, 3, 5, 8), utc(2026, 3, 5, 10)),
    (utc(2026, 3, 5, 9), utc(2026, 3, 5, 8), utc(2026, 3, 5, 10)),      # inside: the current window
    (utc(2026, 3, 5, 10), utc(2026, 3, 12, 7), utc(2026, 3, 12, 9)),    # at its end: next week's, in EDT
    (utc(2026, 3, 6, 0), utc(2026, 3, 12, 7), utc(2026, 3, 12, 9)),
    # fall back on Sunday 2026-11-01: 03:00 EDT is 07:00 UTC, 03:00 EST is 08:00 UTC
    (utc(2026, 10, 29, 6, 59), utc(2026, 10, 29, 7), utc(2026, 10, 29, 9)),
    (utc(2026, 10, 30, 0), utc(2026, 11, 5, 8), utc(2026, 11, 5, 10)),
    (utc(2026, 11, 5, 9, 59, 59), utc(2026, 11, 5, 8), utc(2026, 11, 5, 10)),
])
def test_next_window_is_thursday_03_to_05_new_york_time_across_both_dst_changes(now, start, end):
    assert ops.next_window(now) == (start, end)
    assert ops.THURSDAY.next_window(now) == (start, end)


def test_next_window_of_a_window_crossing_midnight_includes_the_next_morning():
    sched = ops.Schedule(weekday=6, start="23:00", end="01:00")
    assert sched.next_window(et(2026, 11, 23, 0, 30)) == (et(2026, 11, 22, 23), et(2026, 11, 23, 1))
    assert sched.next_window(et(2026, 11, 23, 1)) == (et(2026, 11, 29, 23), et(2026, 11, 30, 1))


def test_next_window_at_a_local_time_skipped_by_dst_uses_the_offset_before_the_change():
    sched = ops.Schedule(weekday=6, start="02:30", end="04:00")  # 02:30 does not exist on 2026-03-08
    start, end = sched.next_window(utc(2026, 3, 7, 12))
    assert start == utc(2026, 3, 8, 7, 30) and end == utc(2026, 3, 8, 8)  # 03:30 EDT .. 04:00 EDT


@pytest.mark.parametrize("kwargs, problem", [
    ({"weekday": 7}, "weekday"), ({"start": "3:00"}, "start"), ({"end": "24:00"}, "end"),
    ({"start": "05:00", "end": "05:00"}, "differ"), ({"kind": "lunch"}, "trading"),
    ({"timezone": "Mars/Base"}, "timezone"),
])
def test_schedule_with_bad_fields_is_an_ops_error_naming_the_field(kwargs, problem):
    with pytest.raises(ops.OpsError, match=problem):
        ops.Schedule(**kwargs)


# --- the engine's pause rules (spec 10 §2, §3) --------------------------------------------------

def make_exchange() -> Exchange:
    ex = Exchange(rng=random.Random(5))
    ex.add_market(Market(TICKER))
    for name in ("alice", "bob"):
        ex.add_account(name, 1_000 * MONEY_SCALE)
    return ex


def rest(ex, clid, cancel_on_pause=False, side=Side.BUY, cents=40, account="alice", session="S1"):
    return ex.new_order(req(account, clid, side, cents, 10, cancel_on_pause=cancel_on_pause, session=session), T0)


@pytest.mark.parametrize("kind, reason", [(Pause.TRADING, CancelReason.TRADING_PAUSE),
                                          (Pause.EXCHANGE, CancelReason.EXCHANGE_PAUSE)])
def test_pause_start_cancels_only_cancel_order_on_pause_orders_in_time_priority(kind, reason):
    ex = make_exchange()
    rest(ex, "y1", True)
    rest(ex, "n1", False)
    rest(ex, "y2", True, cents=41)
    events = ex.set_pause(kind, T0 + 1)
    assert kinds(events) == [f"Canceled:{reason.name}:y1", f"Canceled:{reason.name}:y2"]
    assert events[0].reason.text == kind.reject.text  # TRADING_PAUSED / EXCHANGE_PAUSED
    assert [o.client_order_id for o in ex.open_orders()] == ["n1"]
    assert ex.set_pause(kind, T0 + 2) == []  # already paused: nothing more
    ex.check_invariants()


@pytest.mark.parametrize("kind", list(Pause))
def test_new_orders_and_amends_are_refused_in_both_pauses_with_the_pause_text(kind):
    ex = make_exchange()
    rest(ex, "n1")
    ex.set_pause(kind, T0)
    (rejected,) = ex.new_order(req("alice", "o2", Side.BUY, 40, 1), T0)
    assert isinstance(rejected, Rejected) and rejected.reason is kind.reject and rejected.reason.code == 2
    assert ex.replace_order("alice", "n1", "n1-r", qty=500, side=Side.BUY, symbol=TICKER, now=T0) is kind.cxl_reject
    assert kind.cxl_reject.code == 99
    ex.check_invariants()


def test_cancels_pass_a_trading_pause_and_are_refused_in_an_exchange_pause():
    ex = make_exchange()
    rest(ex, "n1")
    rest(ex, "n2")
    ex.set_pause(Pause.TRADING, T0)
    assert kinds(ex.cancel_order("alice", "n1", "c1", side=Side.BUY, symbol=TICKER, now=T0)) == ["Canceled:USER:c1"]
    ex.set_pause(Pause.EXCHANGE, T0)
    assert ex.cancel_order("alice", "n2", "c2", side=Side.BUY, symbol=TICKER, now=T0) is CxlReject.EXCHANGE_PAUSED
    assert [o.client_order_id for o in ex.open_orders()] == ["n2"]


def test_system_cancels_still_run_in_an_exchange_pause():
    ex = make_exchange()
    rest(ex, "n1")
    ex.set_pause(Pause.EXCHANGE, T0)
    assert kinds(ex.cancel_session_orders("S1", T0)) == ["Canceled:DISCONNECT:n1"]
    ex.check_invariants()


def test_orders_left_resting_trade_again_after_the_pause():
    ex = make_exchange()
    rest(ex, "n1")
    ex.set_pause(Pause.TRADING, T0)
    assert ex.set_pause(None, T0 + 1) == [] and ex.paused is None
    events = ex.new_order(req("bob", "b1", Side.SELL, 40, 10), T0 + 2)
    assert [type(e).__name__ for e in events] == ["Accepted", "Traded", "Traded"]
    assert isinstance(events[2], Traded) and events[2].order.client_order_id == "n1"
    ex.check_invariants()


# --- ops on a venue -------------------------------------------------------------------------------

class Sink:
    flags = ReportFlags()

    def __init__(self) -> None:
        self.sent: list[tuple[str, list]] = []

    def deliver(self, msg_type, body) -> None:
        self.sent.append((msg_type, body))


class FakeDriver:
    def __init__(self) -> None:
        self.session = SimpleNamespace(is_active=True)
        self.logouts: list[str] = []

    def logout(self, text: str) -> None:
        self.logouts.append(text)
        self.session.is_active = False


def fake_sim(**kw):
    venues = {"prediction": Venue("prediction", make_exchange()), "margin": Venue("margin", make_exchange())}
    return SimpleNamespace(venues=venues, connections=set(), clock_tasks=[], market_makers={}, auth=None, **kw)


class FakeConn:
    def __init__(self, product, code) -> None:
        self.product, self.session_code, self.driver = product, code, FakeDriver()


conn = FakeConn


def test_install_is_idempotent_and_registers_one_clock_task_and_the_gate():
    sim = fake_sim()
    first = ops.install(sim)
    assert ops.install(sim) is first and sim.ops is first and sim.clock_tasks == [first.tick]
    assert first.schedule is None  # off unless asked for (the pytest fixture, unit tests)
    ops.install(sim, schedule=ops.THURSDAY)
    assert first.schedule is ops.THURSDAY and GATES.count(pause_gate) == 1


def test_pause_dispatches_the_cancel_on_pause_reports_and_sets_every_product():
    sim = fake_sim()
    venue = sim.venues["prediction"]
    sink = Sink()
    venue.attach("S1", "alice", sink, listener=False)
    rest(venue.exchange, "y1", True)
    assert ops.pause(sim, "trading", T0) == {"prediction": 1, "margin": 0}
    (msg_type, body), = sink.sent
    assert msg_type == "8" and (150, "4") in body and (58, "TRADING_PAUSED") in body
    assert {p: sim.ops.state(p) for p in sim.venues} == {"prediction": ops.TRADING_PAUSED, "margin": ops.TRADING_PAUSED}
    ops.pause(sim, "exchange", T0 + 1, products=["margin"])
    assert sim.ops.state("margin") == ops.EXCHANGE_PAUSED and venue.exchange.paused is Pause.TRADING
    assert ops.resume(sim, T0 + 2) == ["prediction", "margin"]
    assert all(v.exchange.paused is None for v in sim.venues.values())


@pytest.mark.parametrize("call, problem", [
    (lambda sim: ops.resume(sim, T0), "no product is paused"),
    (lambda sim: ops.resume(sim, T0, products=["prediction"]), "not paused"),
    (lambda sim: ops.pause(sim, "nap", T0), "trading' or 'exchange"),
    (lambda sim: ops.pause(sim, "trading", T0, products=["crypto"]), "unknown product"),
    (lambda sim: ops.pause(sim, "trading", T0, until=T0), "until > now"),
    (lambda sim: ops.maintenance(sim, T0, mode="partial"), "continuity, reset"),
    (lambda sim: ops.maintenance(sim, T0, ["XX"]), "unknown session types"),
    (lambda sim: ops.maintenance(sim, T0, duration=0), "more than 0"),
    (lambda sim: ops.end_maintenance(sim, T0), "no maintenance"),
])
def test_operator_mistakes_are_ops_errors_with_a_clear_message(call, problem):
    sim = fake_sim()
    with pytest.raises(ops.OpsError, match=problem):
        call(sim)
    assert isinstance(ops.OpsError("x"), ValueError)


def test_scheduled_pause_starts_and_ends_with_the_window_and_reports_when_it_is_next_due():
    sim = fake_sim()
    task = ops.install(sim, schedule=ops.THURSDAY).tick
    start, end = utc(2026, 3, 12, 7), utc(2026, 3, 12, 9)  # the first Thursday in EDT
    assert task(start - 60) == start and sim.ops.state("prediction") == ops.OPEN
    assert task(start) == end
    assert sim.ops.state("prediction") == ops.TRADING_PAUSED and sim.ops.pauses["margin"].source == "schedule"
    assert task(end - 1) == end and sim.ops.state("prediction") == ops.TRADING_PAUSED
    assert task(end) == utc(2026, 3, 19, 7)
    assert sim.ops.state("prediction") == ops.OPEN and sim.venues["margin"].exchange.paused is None


def test_a_manual_resume_inside_the_window_is_not_undone_by_the_schedule():
    sim = fake_sim()
    task = ops.install(sim, schedule=ops.Schedule(kind="exchange")).tick
    start = utc(2026, 11, 5, 8)
    task(start + 1)
    assert sim.ops.state("prediction") == ops.EXCHANGE_PAUSED
    ops.resume(sim, start + 2)
    task(start + 3)
    assert sim.ops.state("prediction") == ops.OPEN


def test_schedule_does_not_override_a_pause_already_in_force():
    sim = fake_sim()
    ops.pause(sim, "exchange", utc(2026, 11, 5, 7))
    sim.ops.schedule = ops.THURSDAY
    sim.ops.tick(utc(2026, 11, 5, 8))
    assert sim.ops.pauses["prediction"].source == "manual" and sim.ops.state("prediction") == ops.EXCHANGE_PAUSED
    assert sim.ops.tick(utc(2026, 11, 5, 10)) == utc(2026, 11, 12, 8)  # the manual pause stays
    assert sim.ops.state("prediction") == ops.EXCHANGE_PAUSED


def test_paused_market_maker_places_nothing_until_the_pause_ends():
    sim = fake_sim()
    ex = sim.venues["prediction"].exchange
    maker = MarketMaker(ex, MarketMakerConfig(enabled=True), random.Random(1))
    sim.market_makers["prediction"] = maker
    maker.refresh(T0)
    quotes = len(ex.open_orders())
    ops.pause(sim, "exchange", T0 + 1)
    assert maker.next_refresh == math.inf  # Simulator.tick never refreshes it in the pause
    ops.resume(sim, T0 + 2)
    assert maker.next_refresh == T0 + 2
    maker.refresh(T0 + 2)
    assert len(ex.open_orders()) == quotes
    ex.check_invariants()


# --- maintenance ----------------------------------------------------------------------------------

def test_maintenance_logs_out_the_sessions_in_scope_with_a_reconnect_time():
    sim = fake_sim()
    rt, nr, margin_rt = conn("prediction", "RT"), conn("prediction", "NR"), conn("margin", "RT")
    sim.connections |= {rt, nr, margin_rt}
    window = ops.maintenance(sim, et(2026, 11, 19, 3), ["RT"], products=["prediction"], duration=7200)
    assert window.disconnected == 1 and window.until == et(2026, 11, 19, 5)
    assert rt.driver.logouts == ["Scheduled maintenance: disconnected by the exchange; "
                                 "reconnect after 2026-11-19 05:00:00 EST"]
    assert nr.driver.logouts == [] and margin_rt.driver.logouts == []
    assert sim.ops.status(et(2026, 11, 19, 4))["maintenance"]["sessions"] == ("RT",)


def test_logons_in_scope_are_refused_until_the_window_ends_then_accepted():
    sim = fake_sim()
    ops.maintenance(sim, T0, duration=600, pause="trading")
    refusal = sim.ops.logon_refusal
    assert refusal("prediction", "NR", "k1", True, T0 + 1) == \
        "Scheduled maintenance in progress: reconnect after 2026-11-19 12:10:00 EST"
    assert sim.ops.tick(T0 + 1) == T0 + 600
    sim.ops.tick(T0 + 600)
    assert refusal("prediction", "NR", "k1", True, T0 + 600) is None and sim.ops.window is None
    assert sim.ops.state("prediction") == ops.OPEN  # the maintenance pause ended with the window


def test_end_maintenance_reopens_logons_and_ends_its_pause_but_not_a_manual_one():
    sim = fake_sim()
    ops.pause(sim, "trading", T0, products=["margin"])
    ops.maintenance(sim, T0, pause="exchange", duration=3600, products=["prediction"])
    ops.end_maintenance(sim, T0 + 5)
    assert sim.ops.state("prediction") == ops.OPEN and sim.ops.state("margin") == ops.TRADING_PAUSED
    assert sim.ops.logon_refusal("prediction", "RT", "k1", False, T0 + 6) is None


def test_reset_mode_requires_141_y_once_per_rt_pt_key_and_continuity_mode_never():
    sim = fake_sim()
    rt = conn("prediction", "RT")
    sim.connections.add(rt)
    ops.maintenance(sim, T0, mode="continuity")
    refusal = sim.ops.logon_refusal
    assert refusal("prediction", "RT", "k1", False, T0) is None
    rt.driver = FakeDriver()  # logged on again
    ops.maintenance(sim, T0 + 1, mode="reset")
    assert rt.driver.logouts[-1].endswith("sequence numbers were reset: log on with ResetSeqNumFlag(141)=Y")
    text = "Maintenance reset sequence numbers: log on with ResetSeqNumFlag(141)=Y"
    assert refusal("prediction", "RT", "k1", False, T0 + 2) == text
    assert refusal("prediction", "PT", "k2", False, T0 + 2) == text
    assert refusal("prediction", "NR", "k1", False, T0 + 2) is None  # not ours: NR always needs 141=Y
    assert refusal("prediction", "RT", "k1", True, T0 + 3) is None
    assert refusal("prediction", "RT", "k1", False, T0 + 4) is None  # reset once: continuity again
    assert refusal("margin", "RT", "k2", False, T0 + 4) == text


def test_logon_guard_refuses_an_accepted_logon_and_frees_its_connection_slot():
    from kalshi_fixsim.simulator.auth import LogonDecision

    released = []
    account = SimpleNamespace(api_key="k1")
    auth = SimpleNamespace(check=lambda product, st, logon, now, owner: LogonDecision(True, account=account,
                                                                                      slot="k1"),
                           release=lambda slot, owner: released.append((slot, owner)))
    guard_logons(auth, lambda product, code, key, reset, now: None if reset else "log on with 141=Y")
    guard_logons(auth, lambda *a: None)  # once only
    st = SimpleNamespace(code="RT")
    refused = auth.check("prediction", st, {141: "N"}, T0, "owner")
    assert not refused.ok and refused.text == "log on with 141=Y" and refused.reject_reason is None
    assert released == [("k1", "owner")]
    assert auth.check("prediction", st, {141: "Y"}, T0, "owner").ok


# --- market lifecycle (spec 10 §4) ----------------------------------------------------------------

def test_halt_makes_orders_market_inactive_keeps_resting_orders_and_resume_reopens():
    sim = fake_sim()
    ex = sim.venues["prediction"].exchange
    rest(ex, "y1", True)
    ops.halt(sim, TICKER)
    assert ex.market(TICKER).status is MarketStatus.HALTED
    assert ex.new_order(req("bob", "b1", Side.SELL, 40, 1), T0)[0].reason is Reject.MARKET_INACTIVE
    assert [o.client_order_id for o in ex.open_orders()] == ["y1"]  # CancelOrderOnPause is not for halts
    ops.resume_market(sim, TICKER)
    assert ex.market(TICKER).status is MarketStatus.OPEN
    assert isinstance(ex.new_order(req("bob", "b1", Side.SELL, 40, 1), T0)[1], Traded)


@pytest.mark.parametrize("call, problem", [
    (lambda sim: ops.resume_market(sim, TICKER), "not halted"),
    (lambda sim: ops.halt(sim, "KXNOPE"), "unknown market"),
    (lambda sim: (ops.halt(sim, TICKER), ops.halt(sim, TICKER)), "it is halted"),
    (lambda sim: ops.halt(sim, TICKER, product="perps"), "unknown product"),
])
def test_halt_and_resume_mistakes_are_ops_errors(call, problem):
    with pytest.raises(ops.OpsError, match=problem):
        call(fake_sim())


def test_close_wrapper_cancels_resting_orders_and_halted_markets_can_close():
    sim = fake_sim()
    ex = sim.venues["prediction"].exchange
    rest(ex, "n1")
    ops.halt(sim, TICKER)
    events = ops.close_market(sim, TICKER, T0)
    assert kinds(events) == ["Canceled:CLOSE:n1"] and isinstance(events[0], Canceled)
    assert ex.market(TICKER).status is MarketStatus.CLOSED
    with pytest.raises(ops.OpsError, match="it is closed"):
        ops.halt(sim, TICKER)
