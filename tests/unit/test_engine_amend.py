"""Cancel (spec 02 §7), cancel/replace (§6), mass cancel (§11), cancel on disconnect, expiry (§4)."""
from __future__ import annotations

import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kalshi_fixsim.simulator.engine.exchange import Exchange
from kalshi_fixsim.simulator.engine.types import (MONEY_SCALE, CancelReason, CxlReject, Market, MarketStatus, OrderStatus,
                                    Replaced, Side, TimeInForce, Traded)
from tests.unit.engine_helpers import req, kinds

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=NY).timestamp()
TICKER = "KXTEST-26NOV20"
DOLLARS = MONEY_SCALE


def make_exchange() -> Exchange:
    ex = Exchange(rng=random.Random(11))
    ex.add_market(Market(TICKER))
    ex.add_market(Market("KXOTHER", exchange_index=1))
    for name in ("alice", "bob", "carol"):
        ex.add_account(name, 1_000 * DOLLARS)
    return ex


def state(ex: Exchange) -> tuple:
    books = {m.ticker: (ex.book(m.ticker).levels(Side.BUY), ex.book(m.ticker).levels(Side.SELL))
             for m in ex.markets()}
    money = {a: (ex.balance(a), ex.reserved(a), ex.positions(a)) for a in ex.accounts()}
    orders = sorted((o.order_id, o.client_order_id, o.price, o.qty, o.leaves, o.priority, o.reserved, o.status)
                    for o in ex._orders.values())
    return books, money, orders, dict(ex._eids.clocks)


def cancel(ex, account, orig, request_id, side=Side.BUY, symbol=TICKER, **kw):
    return ex.cancel_order(account, orig, request_id, side=side, symbol=symbol, now=kw.pop("now", T0 + 5), **kw)


def replace(ex, account, orig, new_id, qty, price=None, side=Side.BUY, symbol=TICKER, **kw):
    return ex.replace_order(account, orig, new_id, qty=round(qty * 100),
                            price=None if price is None else round(price * 100), side=side, symbol=symbol,
                            now=kw.pop("now", T0 + 5), **kw)


# --- cancel ----------------------------------------------------------------------------------

def test_cancel_releases_collateral_and_renames_the_order_to_the_request_id():
    ex = make_exchange()
    order = ex.new_order(req("alice", "a1", Side.BUY, 40, 10), T0)[0].order
    assert ex.available("alice") == 1_000 * DOLLARS - 4 * DOLLARS
    events = cancel(ex, "alice", "a1", "a1-cxl")
    assert kinds(events) == ["Canceled:USER:a1-cxl"]
    ev = events[0]
    assert ev.request_id == "a1-cxl" and ev.orig_client_order_id == "a1" and ev.exec_id == "2;1"
    assert ev.order.status is OrderStatus.CANCELED and ev.order.leaves == 0 and ev.order.order_id == order.order_id
    assert ex.available("alice") == 1_000 * DOLLARS and ex.reserved("alice") == 0
    assert ex.book(TICKER).levels(Side.BUY) == []
    assert ex.order_by_client_id("alice", "a1-cxl").order_id == order.order_id
    assert ex.order_by_client_id("alice", "a1") is None
    ex.check_invariants()


def test_cancel_of_a_partly_filled_order_reports_its_fills():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 40, 10), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 40, 3), T0)
    ev = cancel(ex, "alice", "a1", "x1")[0]
    assert ev.order.cum == 300 and ev.order.leaves == 0 and ev.order.qty == 1000
    assert ex.reserved("alice") == 0 and ex.position("alice", TICKER) == 300
    ex.check_invariants()


@pytest.mark.parametrize("change", [
    dict(orig="zzz"), dict(side=Side.SELL), dict(symbol="KXOTHER"), dict(subaccount=1), dict(party_id="p-other"),
    dict(order_id="not-the-order-id"), dict(account="bob"), dict(account="nobody"),
], ids=["unknown_clordid", "side", "symbol", "subaccount", "party", "order_id", "other_account", "no_account"])
def test_cancel_that_does_not_match_the_order_is_unknown_order_and_changes_nothing(change):
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 40, 10), T0)
    before = state(ex)
    args = dict(account="alice", orig="a1", request_id="x1", side=Side.BUY, symbol=TICKER)
    args.update(change)
    account, orig, request_id = args.pop("account"), args.pop("orig"), args.pop("request_id")
    assert ex.cancel_order(account, orig, request_id, now=T0, **args) is CxlReject.UNKNOWN_ORDER
    assert state(ex) == before
    ex.check_invariants()


def test_cancel_matching_order_id_and_party_succeeds():
    ex = make_exchange()
    order = ex.new_order(req("alice", "a1", Side.SELL, 60, 1, subaccount=3, party_id="cust-9"), T0)[0].order
    events = cancel(ex, "alice", "a1", "x1", side=Side.SELL, order_id=order.order_id, subaccount=3, party_id="cust-9")
    assert kinds(events) == ["Canceled:USER:x1"]
    ex.check_invariants()


def test_cancel_after_a_replace_must_use_the_new_clordid():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 40, 10), T0)
    replace(ex, "alice", "a1", "a2", 5)
    assert cancel(ex, "alice", "a1", "x1") is CxlReject.UNKNOWN_ORDER
    assert kinds(cancel(ex, "alice", "a2", "x2")) == ["Canceled:USER:x2"]
    ex.check_invariants()


def test_cancel_of_a_final_order_is_too_late():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 40, 1), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 40, 1), T0)  # fills a1
    before = state(ex)
    assert cancel(ex, "alice", "a1", "x1") is CxlReject.TOO_LATE_TO_CANCEL
    ex.new_order(req("alice", "a2", Side.BUY, 40, 1), T0)
    cancel(ex, "alice", "a2", "x2")
    assert cancel(ex, "alice", "x2", "x3") is CxlReject.TOO_LATE_TO_CANCEL  # already cancelled
    assert state(ex)[0] == before[0]
    ex.check_invariants()


def test_cancel_request_id_must_be_new_for_the_account():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 40, 1), T0)
    ex.new_order(req("alice", "old", Side.BUY, 40, 1, tif=TimeInForce.IOC), T0)  # dead, but seen
    ex.new_order(req("bob", "bob-id", Side.BUY, 30, 1), T0)
    before = state(ex)
    for reused in ("a1", "old"):
        assert cancel(ex, "alice", "a1", reused) is CxlReject.ORDER_ALREADY_EXISTS
    assert state(ex) == before
    assert kinds(cancel(ex, "alice", "a1", "bob-id")) == ["Canceled:USER:bob-id"]  # another account's id is fine
    ex.check_invariants()


# --- replace ---------------------------------------------------------------------------------

def test_replace_changes_clordid_qty_and_price_and_reports_the_previous_clordid():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 40, 10), T0)
    events = replace(ex, "alice", "a1", "a2", 12, 42)
    assert kinds(events) == ["Replaced:a2"]
    ev = events[0]
    assert isinstance(ev, Replaced) and ev.orig_client_order_id == "a1" and ev.exec_id == "2;1"
    assert (ev.order.qty, ev.order.price, ev.order.leaves, ev.order.original_qty) == (1200, 4200, 1200, 1000)
    assert ev.order.status is OrderStatus.NEW
    assert ex.reserved("alice") == 12 * 420_000
    assert ex.book(TICKER).levels(Side.BUY) == [(4200, 1200, 1)]
    assert ex.order_by_client_id("alice", "a2") is not None and ex.order_by_client_id("alice", "a1") is None
    ex.check_invariants()


def test_replace_without_price_keeps_the_price():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.SELL, 60, 10), T0)
    ev = replace(ex, "alice", "a1", "a2", 4, side=Side.SELL)[0]
    assert ev.order.price == 6000 and ev.order.qty == 400
    assert ex.reserved("alice") == 4 * 400_000  # a SELL at 60¢ reserves 40¢ a contract
    ex.check_invariants()


def priority_book(ex: Exchange) -> None:
    ex.new_order(req("alice", "a1", Side.BUY, 50, 10), T0)
    ex.new_order(req("carol", "c1", Side.BUY, 50, 10), T0)


def first_filled(ex: Exchange) -> str:
    events = ex.new_order(req("bob", "hit", Side.SELL, 50, 1), T0 + 10)
    return [e.order.client_order_id for e in events if isinstance(e, Traded) and not e.fill.aggressor][0]


def test_replace_down_at_the_same_price_keeps_priority():
    ex = make_exchange()
    priority_book(ex)
    replace(ex, "alice", "a1", "a2", 5, 50)
    assert first_filled(ex) == "a2"
    assert ex.book(TICKER).levels(Side.BUY) == [(5000, 1400, 2)]
    ex.check_invariants()


def test_replace_with_same_qty_and_price_keeps_priority():
    ex = make_exchange()
    priority_book(ex)
    replace(ex, "alice", "a1", "a2", 10)
    assert first_filled(ex) == "a2"
    ex.check_invariants()


def test_replace_up_at_the_same_price_loses_priority():
    ex = make_exchange()
    priority_book(ex)
    replace(ex, "alice", "a1", "a2", 11, 50)
    assert first_filled(ex) == "c1"
    ex.check_invariants()


def test_replace_to_another_price_and_back_loses_priority():
    ex = make_exchange()
    priority_book(ex)
    replace(ex, "alice", "a1", "a2", 10, 49)
    replace(ex, "alice", "a2", "a3", 10, 50)
    assert first_filled(ex) == "c1"
    ex.check_invariants()


def test_replace_of_a_partly_filled_order_sets_the_total_quantity():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 50, 10), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 50, 4), T0)
    ev = replace(ex, "alice", "a1", "a2", 7)[0]
    assert (ev.order.qty, ev.order.cum, ev.order.leaves) == (700, 400, 300)
    assert ev.order.status is OrderStatus.PARTIALLY_FILLED
    assert ex.reserved("alice") == 3 * 500_000
    ex.check_invariants()


def test_replace_to_the_filled_quantity_cancels_the_order():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 50, 10), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 50, 4), T0)
    events = replace(ex, "alice", "a1", "a2", 4)
    assert kinds(events) == ["Canceled:REPLACED_TO_FILLED:a2"]
    ev = events[0]
    assert ev.request_id == "a2" and ev.orig_client_order_id == "a1"
    assert ev.order.status is OrderStatus.CANCELED and ev.order.cum == 400 and ev.order.leaves == 0
    assert ex.reserved("alice") == 0 and ex.book(TICKER).levels(Side.BUY) == []
    ex.check_invariants()


def test_replace_that_crosses_trades_after_the_replaced_report_and_rests_the_rest():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.SELL, 52, 3), T0)
    ex.new_order(req("alice", "a1", Side.BUY, 50, 10), T0)
    events = replace(ex, "alice", "a1", "a2", 10, 53)
    assert kinds(events) == ["Replaced:a2", "Traded:a2", "Traded:b1"]
    assert events[1].fill.price == 5200 and events[1].rested  # it was acknowledged before
    assert events[1].fill.aggressor
    assert ex.book(TICKER).levels(Side.BUY) == [(5300, 700, 1)]
    assert ex.reserved("alice") == 7 * 530_000
    ex.check_invariants()


CXL_CASES = [
    ("unknown", dict(orig="zzz"), CxlReject.UNKNOWN_ORDER),
    ("side_mismatch", dict(side=Side.SELL), CxlReject.UNKNOWN_ORDER),
    ("symbol_mismatch", dict(symbol="KXOTHER"), CxlReject.UNKNOWN_ORDER),
    ("subaccount_mismatch", dict(subaccount=2), CxlReject.UNKNOWN_ORDER),
    ("order_id_mismatch", dict(order_id="x"), CxlReject.UNKNOWN_ORDER),
    ("duplicate_new_clordid", dict(new_id="c-other"), CxlReject.ORDER_ALREADY_EXISTS),
    ("off_grid_price", dict(price=50.5), CxlReject.INVALID_PRICE),
    ("zero_price", dict(price=0), CxlReject.INVALID_PRICE),
    ("qty_below_filled", dict(qty=3), CxlReject.INVALID_AMEND_QTY),
    ("fractional_qty", dict(qty=5.5), CxlReject.INVALID_AMEND_QTY),
    ("self_cross", dict(price=61), CxlReject.SELF_CROSS_ATTEMPT),
    ("insufficient_balance", dict(qty=2000), CxlReject.INSUFFICIENT_BALANCE),
]


@pytest.mark.parametrize("name,change,reason", CXL_CASES, ids=[c[0] for c in CXL_CASES])
def test_every_refused_replace_is_a_cxl_reject_and_changes_nothing(name, change, reason):
    ex = make_exchange()
    ex.new_order(req("alice", "c-other", Side.BUY, 30, 1), T0)
    ex.new_order(req("alice", "a1", Side.BUY, 50, 10), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 50, 4), T0)           # a1 is 4 filled
    ex.new_order(req("alice", "a-ask", Side.SELL, 60, 1, subaccount=5), T0)  # alice's own ask
    before = state(ex)
    args = dict(account="alice", orig="a1", new_id="a2", qty=8, price=None, side=Side.BUY, symbol=TICKER)
    args.update(change)
    result = replace(ex, args.pop("account"), args.pop("orig"), args.pop("new_id"), args.pop("qty"), **args)
    assert result is reason
    assert state(ex) == before
    ex.check_invariants()


def test_replace_of_a_filled_order_and_of_a_cancelled_one():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 50, 1), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 50, 1), T0)
    assert replace(ex, "alice", "a1", "a2", 2) is CxlReject.CANNOT_UPDATE_FILLED_ORDER
    ex.new_order(req("alice", "a3", Side.BUY, 50, 1), T0)
    cancel(ex, "alice", "a3", "a3-x")
    assert replace(ex, "alice", "a3-x", "a4", 2) is CxlReject.TOO_LATE_TO_CANCEL
    ex.check_invariants()


def test_replace_of_a_post_only_order_that_would_cross_is_refused():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.SELL, 55, 1), T0)
    ex.new_order(req("alice", "a1", Side.BUY, 50, 1, post_only=True), T0)
    before = state(ex)
    assert replace(ex, "alice", "a1", "a2", 1, 55) is CxlReject.POST_ONLY_CROSS
    assert state(ex) == before
    assert kinds(replace(ex, "alice", "a1", "a2", 1, 54)) == ["Replaced:a2"]
    ex.check_invariants()


def test_replace_in_a_closed_market_is_refused():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 50, 1), T0)
    ex.market(TICKER).status = MarketStatus.CLOSED
    assert replace(ex, "alice", "a1", "a2", 2) is CxlReject.MARKET_CLOSED
    assert kinds(cancel(ex, "alice", "a1", "a3")) == ["Canceled:USER:a3"]  # cancels still work
    ex.check_invariants()


def test_replace_down_never_needs_balance():
    ex = make_exchange()
    ex.add_account("dave", 5 * DOLLARS)
    ex.new_order(req("dave", "d1", Side.BUY, 50, 10), T0)  # reserves all $5
    assert ex.available("dave") == 0
    assert kinds(replace(ex, "dave", "d1", "d2", 9, 55)) == ["Replaced:d2"]  # 9 x 55¢ = $4.95
    assert ex.available("dave") == 50_000
    assert replace(ex, "dave", "d2", "d3", 10, 55) is CxlReject.INSUFFICIENT_BALANCE
    ex.check_invariants()


# --- mass cancel and cancel on disconnect (spec 02 §11, spec 01 §7) ----------------------------

def session_book(ex: Exchange) -> None:
    ex.new_order(req("alice", "a1", Side.BUY, 40, 1, session="S1"), T0)
    ex.new_order(req("alice", "a2", Side.BUY, 41, 1, session="S2"), T0)
    ex.new_order(req("alice", "a3", Side.SELL, 70, 1, session="S1", symbol="KXOTHER"), T0)
    ex.new_order(req("bob", "b1", Side.BUY, 42, 1, session="S1"), T0)
    ex.new_order(req("bob", "b2", Side.BUY, 43, 1), T0)


def test_mass_cancel_cancels_the_accounts_orders_entered_on_that_session_in_every_market():
    ex = make_exchange()
    session_book(ex)
    events = ex.mass_cancel("alice", "S1", T0 + 1)
    assert kinds(events) == ["Canceled:MASS_CANCEL:a1", "Canceled:MASS_CANCEL:a3"]
    assert [e.exec_id for e in events] == ["5;1", "2;1;1"]  # index 0: 4 calls before; index 1: 1
    assert sorted(o.client_order_id for o in ex.open_orders()) == ["a2", "b1", "b2"]
    assert ex.mass_cancel("alice", "S1", T0 + 2) == []
    ex.check_invariants()


def test_cancel_session_orders_cancels_every_account_on_that_session():
    ex = make_exchange()
    session_book(ex)
    events = ex.cancel_session_orders("S1", T0 + 1)
    assert kinds(events) == ["Canceled:DISCONNECT:a1", "Canceled:DISCONNECT:a3", "Canceled:DISCONNECT:b1"]
    assert sorted(o.client_order_id for o in ex.open_orders()) == ["a2", "b2"]
    events = ex.cancel_session_orders("S2", T0 + 2, reason=CancelReason.TRADING_PAUSE)
    assert kinds(events) == ["Canceled:TRADING_PAUSE:a2"]
    assert ex.cancel_session_orders("nope", T0) == []
    ex.check_invariants()


def test_mass_cancel_orders_replaced_keep_their_session():
    ex = make_exchange()
    session_book(ex)
    replace(ex, "alice", "a1", "a1b", 1, 39)
    assert kinds(ex.mass_cancel("alice", "S1", T0 + 1)) == ["Canceled:MASS_CANCEL:a3", "Canceled:MASS_CANCEL:a1b"]
    ex.check_invariants()


# --- expiry (spec 02 §4) ---------------------------------------------------------------------

def test_expire_orders_cancels_due_day_and_gtd_orders_earliest_first_and_skips_dead_ones():
    ex = make_exchange()
    ex.new_order(req("alice", "g2", Side.BUY, 40, 1, tif=TimeInForce.GTD, expire_time=T0 + 20), T0)
    ex.new_order(req("alice", "g1", Side.BUY, 40, 1, tif=TimeInForce.GTD, expire_time=T0 + 10), T0)
    ex.new_order(req("alice", "g3", Side.BUY, 40, 1, tif=TimeInForce.GTD, expire_time=T0 + 30), T0)
    ex.new_order(req("alice", "day", Side.BUY, 40, 1, tif=TimeInForce.DAY), T0)
    ex.new_order(req("alice", "gtc", Side.BUY, 40, 1), T0)
    cancel(ex, "alice", "g3", "g3-x")
    replace(ex, "alice", "g1", "g1b", 2, 41)  # keeps its expire time
    assert ex.next_expiry() == T0 + 10
    assert kinds(ex.expire_orders(T0 + 25)) == ["Canceled:EXPIRY:g1b", "Canceled:EXPIRY:g2"]
    day_end = datetime(2026, 11, 20, 23, 59, 59, 999_000, tzinfo=NY).timestamp()
    assert ex.next_expiry() == pytest.approx(day_end)
    assert kinds(ex.expire_orders(day_end + 1)) == ["Canceled:EXPIRY:day"]
    assert ex.next_expiry() is None
    assert [o.client_order_id for o in ex.open_orders()] == ["gtc"]
    ex.check_invariants()


def test_a_filled_gtd_order_does_not_expire():
    ex = make_exchange()
    ex.new_order(req("alice", "g1", Side.BUY, 40, 1, tif=TimeInForce.GTD, expire_time=T0 + 10), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 40, 1), T0)
    assert ex.expire_orders(T0 + 10) == [] and ex.next_expiry() is None
    ex.check_invariants()
