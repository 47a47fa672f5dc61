"""New orders (spec 02 §1, §3-§5, §8.2, §9): validation, matching, TIFs, features, events."""
from __future__ import annotations

import random
import re
import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from kalshi_fixsim.simulator.engine.exchange import Exchange
from kalshi_fixsim.simulator.engine.types import (MONEY_SCALE, STP, Accepted, Market, MarketStatus, OrderRequest,
                                    OrderStatus, Reject, Rejected, Side, TimeInForce, Traded)
from tests.unit.engine_helpers import req, kinds

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=NY).timestamp()
TICKER = "KXTEST-26NOV20"
DOLLARS = MONEY_SCALE


def make_exchange(seed: int = 7, **kwargs) -> Exchange:
    ex = Exchange(rng=random.Random(seed), **kwargs)
    ex.add_market(Market(TICKER))
    ex.add_market(Market("KXDECI", price_structure="tapered_deci_cent", fractional=True))
    for name in ("alice", "bob", "carol"):
        ex.add_account(name, 1_000 * DOLLARS)
    return ex


def state(ex: Exchange) -> tuple:
    """Everything a rejected request must leave as it was."""
    books = {m.ticker: (ex.book(m.ticker).levels(Side.BUY), ex.book(m.ticker).levels(Side.SELL))
             for m in ex.markets()}
    money = {a: (ex.balance(a), ex.reserved(a), ex.positions(a)) for a in ex.accounts()}
    opened = sorted((o.order_id, o.client_order_id, o.leaves, o.reserved) for o in ex.open_orders())
    return books, money, opened, dict(ex._eids.clocks)


# --- validation: each reject leaves everything unchanged -----------------------------------

def seeded_exchange() -> Exchange:
    """Some resting orders and positions so that 'unchanged' means something."""
    ex = make_exchange(max_open_orders=3)
    ex.new_order(req("alice", "a-rest", Side.BUY, 40, 10), T0)
    ex.new_order(req("bob", "b-rest", Side.SELL, 60, 10), T0)
    ex.new_order(req("carol", "c-take", Side.SELL, 40, 4), T0)  # trades 4 with alice
    ex.new_order(req("carol", "c-1", Side.SELL, 70, 1), T0)
    ex.new_order(req("carol", "c-2", Side.SELL, 71, 1), T0)
    ex.new_order(req("carol", "c-3", Side.SELL, 72, 1), T0)      # carol now has 3 open orders
    ex.add_market(Market("KXINIT", status=MarketStatus.INITIALIZED))
    ex.add_market(Market("KXHALT", status=MarketStatus.HALTED))
    ex.add_market(Market("KXCLOSED", status=MarketStatus.CLOSED))
    ex.add_market(Market("KXSETTLED", status=MarketStatus.SETTLED))
    ex.add_account("poor", 5 * DOLLARS)
    return ex


REJECT_CASES = [
    ("unknown_account", dict(account="mallory"), Reject.CUSTOMER_ACCOUNT_NOT_FOUND),
    ("subaccount_64", dict(subaccount=64), Reject.CUSTOMER_ACCOUNT_NOT_FOUND),
    ("subaccount_negative", dict(subaccount=-1), Reject.CUSTOMER_ACCOUNT_NOT_FOUND),
    ("unknown_symbol", dict(symbol="KXNOPE"), Reject.MARKET_NOT_FOUND),
    ("initialized_market", dict(symbol="KXINIT"), Reject.MARKET_INACTIVE),
    ("halted_market", dict(symbol="KXHALT"), Reject.MARKET_INACTIVE),
    ("closed_market", dict(symbol="KXCLOSED"), Reject.MARKET_ALREADY_CLOSED),
    ("settled_market", dict(symbol="KXSETTLED"), Reject.MARKET_ALREADY_CLOSED),
    ("zero_qty", dict(qty=0), Reject.INCORRECT_QUANTITY),
    ("negative_qty", dict(qty=-100), Reject.INCORRECT_QUANTITY),
    ("fractional_qty_on_whole_market", dict(qty=150), Reject.INCORRECT_QUANTITY),
    ("off_grid_price", dict(price=5050), Reject.INVALID_PRICE),
    ("zero_price", dict(price=0), Reject.INVALID_PRICE),
    ("one_dollar", dict(price=10_000), Reject.INVALID_PRICE),
    ("gtd_without_expire_time", dict(tif=TimeInForce.GTD), Reject.INVALID_ORDER),
    ("clordid_of_an_open_order", dict(client_order_id="a-rest"), Reject.ORDER_ALREADY_EXISTS),
    ("unknown_group", dict(order_group="no-such-group"), Reject.ORDER_GROUP_NOT_FOUND),
    ("too_many_open_orders", dict(account="carol"), Reject.TOO_MANY_OPEN_ORDERS),
    ("insufficient_balance", dict(account="poor", qty=1100), Reject.INSUFFICIENT_BALANCE),  # $5.50 > $5
]


@pytest.mark.parametrize("name,change,reason", REJECT_CASES, ids=[c[0] for c in REJECT_CASES])
def test_each_validation_reject_is_one_rejected_event_and_changes_nothing(name, change, reason):
    ex = seeded_exchange()
    before = state(ex)
    fields = dict(account="alice", client_order_id="new-1", symbol=TICKER, side=Side.BUY, price=5000, qty=1000)
    fields.update(change)
    events = ex.new_order(OrderRequest(**fields), T0 + 1)
    assert len(events) == 1 and isinstance(events[0], Rejected)
    ev = events[0]
    assert ev.reason is reason
    assert ev.exec_id == ""  # the gateway renders -1;-1 (spec 02 §8.2)
    assert ev.order.status is OrderStatus.REJECTED and ev.order.leaves == 0 and ev.order.cum == 0
    assert ev.order.client_order_id == fields["client_order_id"] and ev.time == T0 + 1
    assert state(ex) == before
    if fields["account"] in ex.accounts():  # a rejected ClOrdID is not "seen"
        assert ex.order_by_client_id(fields["account"], "new-1") is None
    ex.check_invariants()


def test_group_rejects_other_owner_other_subaccount_and_triggered():
    ex = make_exchange()
    group = ex.create_group("alice", 2, 5, T0)
    before = state(ex)
    assert ex.new_order(req("bob", "b1", Side.BUY, 50, 1, order_group=group.group_id), T0)[0].reason \
        is Reject.ORDER_GROUP_NOT_FOUND
    assert ex.new_order(req("alice", "a1", Side.BUY, 50, 1, order_group=group.group_id), T0)[0].reason \
        is Reject.ORDER_GROUP_NOT_FOUND  # sub-account 0 does not own it (spec 03 §1)
    ex.trigger_group("alice", 2, group.group_id, T0)
    assert ex.new_order(req("alice", "a2", Side.BUY, 50, 1, order_group=group.group_id, subaccount=2), T0)[0] \
        .reason is Reject.EXCEEDED_ORDER_GROUP_RISK_LIMIT
    assert state(ex)[:3] == before[:3]
    ex.check_invariants()


def test_validation_order_first_failing_rule_wins():
    ex = seeded_exchange()
    both = dict(account="alice", client_order_id="x", side=Side.BUY)
    cases = [
        (dict(symbol="KXNOPE", price=5050, qty=0, subaccount=99), Reject.CUSTOMER_ACCOUNT_NOT_FOUND),
        (dict(symbol="KXNOPE", price=5050, qty=0), Reject.MARKET_NOT_FOUND),
        (dict(symbol="KXHALT", price=5050, qty=0), Reject.MARKET_INACTIVE),
        (dict(symbol=TICKER, price=5050, qty=0), Reject.INCORRECT_QUANTITY),
        (dict(symbol=TICKER, price=5050, qty=100, tif=TimeInForce.GTD), Reject.INVALID_PRICE),
        (dict(symbol=TICKER, price=5000, qty=100, tif=TimeInForce.GTD, client_order_id="a-rest"),
         Reject.INVALID_ORDER),
        (dict(symbol=TICKER, price=5000, qty=100, client_order_id="a-rest", order_group="nope"),
         Reject.ORDER_ALREADY_EXISTS),
        (dict(symbol=TICKER, price=5000, qty=10**9, order_group="nope"), Reject.ORDER_GROUP_NOT_FOUND),
    ]
    for change, reason in cases:
        fields = {**both, **change}
        assert ex.new_order(OrderRequest(**fields), T0)[0].reason is reason, change
    ex.check_invariants()


def test_balance_check_is_exact_to_the_micro_dollar():
    ex = make_exchange()
    ex.add_account("dave", 5_500_000)  # $5.50: exactly 10 YES at 55¢
    assert ex.new_order(req("dave", "d1", Side.BUY, 55, 10.01, symbol="KXDECI"), T0)[0].reason \
        is Reject.INSUFFICIENT_BALANCE
    assert isinstance(ex.new_order(req("dave", "d2", Side.BUY, 55, 10), T0)[0], Accepted)
    assert ex.available("dave") == 0 and ex.reserved("dave") == 5_500_000
    ex.check_invariants()


def test_fractional_market_takes_hundredths_and_sub_cent_prices_on_its_grid():
    ex = make_exchange()
    events = ex.new_order(req("alice", "a1", Side.BUY, 95.5, 1.25, symbol="KXDECI"), T0)
    assert isinstance(events[0], Accepted) and events[0].order.qty == 125 and events[0].order.price == 9550
    assert ex.new_order(req("alice", "a2", Side.BUY, 50.5, 1, symbol="KXDECI"), T0)[0].reason is Reject.INVALID_PRICE
    ex.check_invariants()


def test_a_clordid_of_a_dead_order_may_be_used_again():
    ex = make_exchange()
    ex.new_order(req("alice", "same", Side.BUY, 50, 1, tif=TimeInForce.IOC), T0)  # cancelled at once
    events = ex.new_order(req("alice", "same", Side.BUY, 50, 1), T0)
    assert isinstance(events[0], Accepted)
    assert ex.order_by_client_id("alice", "same").order_id == events[0].order.order_id
    ex.check_invariants()


# --- matching (spec 02 §1) -------------------------------------------------------------------

def test_yes_buyer_and_no_buyer_match_at_the_resting_price():
    ex = make_exchange()
    resting = ex.new_order(req("alice", "a1", Side.BUY, 55, 10), T0)
    events = ex.new_order(req("bob", "b1", Side.SELL, 50, 10), T0 + 1)  # buy NO at 50¢ = sell YES at 50¢
    assert kinds(events) == ["Accepted:b1", "Traded:b1", "Traded:a1"]
    taker, maker = events[1], events[2]
    assert taker.fill.price == maker.fill.price == 5500  # the resting order's price
    assert taker.fill.qty == maker.fill.qty == 1000
    assert taker.fill.trade_id == maker.fill.trade_id
    assert taker.fill.aggressor and not maker.fill.aggressor
    assert not taker.rested and maker.rested and events[0].rests is False
    assert taker.order.status is OrderStatus.FILLED and maker.order.status is OrderStatus.FILLED
    assert (taker.fill.long_qty, taker.fill.short_qty) == (0, 1000)   # bob: net 10 NO
    assert (maker.fill.long_qty, maker.fill.short_qty) == (1000, 0)   # alice: net 10 YES
    assert taker.fill.balance_change == -4_500_000 and maker.fill.balance_change == -5_500_000
    assert ex.position("alice", TICKER) == 1000 and ex.position("bob", TICKER) == -1000
    assert resting[0].order.order_id == maker.order.order_id
    assert ex.book(TICKER).levels(Side.BUY) == [] and ex.book(TICKER).levels(Side.SELL) == []
    ex.check_invariants()


def test_a_buy_crosses_resting_asks_at_or_below_its_price_and_pays_the_ask():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.SELL, 45, 5), T0)
    events = ex.new_order(req("alice", "a1", Side.BUY, 60, 5), T0)
    assert [e.fill.price for e in events if isinstance(e, Traded)] == [4500, 4500]
    assert ex.new_order(req("bob", "b2", Side.SELL, 61, 5), T0)[0].rests is True  # above the bid: rests
    ex.check_invariants()


def test_partial_fill_leaves_the_maker_at_the_head_of_its_level():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 50, 10), T0)
    ex.new_order(req("carol", "c1", Side.BUY, 50, 3), T0)
    events = ex.new_order(req("bob", "b1", Side.SELL, 50, 4), T0)
    maker = events[2]
    assert maker.order.client_order_id == "a1" and maker.order.status is OrderStatus.PARTIALLY_FILLED
    assert maker.order.leaves == 600 and maker.order.cum == 400
    assert ex.book(TICKER).levels(Side.BUY) == [(5000, 900, 2)]
    assert [o.client_order_id for o in ex.book(TICKER).resting(Side.BUY)] == ["a1", "c1"]
    ex.new_order(req("bob", "b2", Side.SELL, 50, 7), T0)  # takes a1's 6, then 1 of c1
    assert ex.order_by_client_id("alice", "a1").status is OrderStatus.FILLED
    assert ex.order_by_client_id("carol", "c1").leaves == 200
    ex.check_invariants()


def test_taker_partially_filled_rests_its_remainder_at_its_own_price():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.SELL, 50, 3), T0)
    events = ex.new_order(req("alice", "a1", Side.BUY, 52, 10), T0)
    assert kinds(events) == ["Accepted:a1", "Traded:a1", "Traded:b1"]
    assert events[0].rests is False and events[1].order.status is OrderStatus.PARTIALLY_FILLED
    assert ex.book(TICKER).levels(Side.BUY) == [(5200, 700, 1)]
    assert ex.order_by_client_id("alice", "a1").leaves == 700
    ex.check_invariants()


def test_sweep_of_several_levels_in_price_then_time_order():
    ex = make_exchange()
    ex.new_order(req("bob", "b52", Side.SELL, 52, 5), T0)
    ex.new_order(req("bob", "b50", Side.SELL, 50, 10), T0)
    ex.new_order(req("carol", "c51", Side.SELL, 51, 5), T0)
    ex.new_order(req("carol", "c50", Side.SELL, 50, 2), T0)  # same price as b50, later
    events = ex.new_order(req("alice", "a1", Side.BUY, 52, 20), T0)
    assert kinds(events) == ["Accepted:a1", "Traded:a1", "Traded:b50", "Traded:a1", "Traded:c50", "Traded:a1",
                             "Traded:c51", "Traded:a1", "Traded:b52"]
    fills = [(e.fill.price, e.fill.qty) for e in events[1::2]]
    assert fills == [(5000, 1000), (5000, 200), (5100, 500), (5200, 300)]
    assert [e.order.status for e in events[1::2]] == [OrderStatus.PARTIALLY_FILLED] * 3 + [OrderStatus.FILLED]
    assert [e.order.cum for e in events[1::2]] == [1000, 1200, 1700, 2000]
    assert events[-2].order.notional == 5000 * 1200 + 5100 * 500 + 5200 * 300
    assert events[-2].order.avg_price == 5055  # (50x12 + 51x5 + 52x3) / 20 = 50.55¢
    assert ex.book(TICKER).levels(Side.SELL) == [(5200, 200, 1)]
    ex.check_invariants()


def test_trade_ids_are_shared_by_both_sides_and_unique_per_match():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.SELL, 50, 1), T0)
    ex.new_order(req("carol", "c1", Side.SELL, 51, 1), T0)
    events = ex.new_order(req("alice", "a1", Side.BUY, 51, 2), T0)
    trades = [e for e in events if isinstance(e, Traded)]
    assert trades[0].fill.trade_id == trades[1].fill.trade_id != trades[2].fill.trade_id == trades[3].fill.trade_id
    ex.check_invariants()


# --- time in force (spec 02 §4) --------------------------------------------------------------

def test_ioc_fills_what_it_can_and_cancels_the_rest():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.SELL, 50, 3), T0)
    events = ex.new_order(req("alice", "a1", Side.BUY, 50, 10, tif=TimeInForce.IOC), T0)
    assert kinds(events) == ["Accepted:a1", "Traded:a1", "Traded:b1", "Canceled:IOC:a1"]
    last = events[-1].order
    assert last.status is OrderStatus.CANCELED and last.cum == 300 and last.leaves == 0 and last.reserved == 0
    assert events[-1].reason.text == "IMMEDIATE_OR_CANCELLED"
    assert ex.reserved("alice") == 0 and ex.open_orders() == []
    ex.check_invariants()


def test_ioc_without_a_cross_is_accepted_and_cancelled_without_resting():
    ex = make_exchange()
    events = ex.new_order(req("alice", "a1", Side.BUY, 50, 10, tif=TimeInForce.IOC), T0)
    assert kinds(events) == ["Accepted:a1", "Canceled:IOC:a1"]
    assert events[0].rests is False  # the gateway sends no New for it (spec 02 §9 #7)
    assert ex.book(TICKER).levels(Side.BUY) == [] and ex.reserved("alice") == 0
    ex.check_invariants()


def test_fok_that_cannot_fill_is_a_single_cancel_with_no_fills():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.SELL, 50, 3), T0)
    ex.new_order(req("bob", "b2", Side.SELL, 53, 5), T0)
    before = state(ex)
    events = ex.new_order(req("alice", "a1", Side.BUY, 52, 5, tif=TimeInForce.FOK), T0)
    assert kinds(events) == ["Canceled:FOK:a1"]
    assert events[0].reason.text == "FOK_INSUFFICIENT_VOLUME"
    assert events[0].order.cum == 0 and events[0].order.status is OrderStatus.CANCELED
    assert state(ex)[:3] == before[:3]
    ex.check_invariants()


def test_fok_that_can_fill_trades_completely():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.SELL, 50, 3), T0)
    ex.new_order(req("carol", "c1", Side.SELL, 52, 5), T0)
    events = ex.new_order(req("alice", "a1", Side.BUY, 52, 5, tif=TimeInForce.FOK), T0)
    assert kinds(events) == ["Accepted:a1", "Traded:a1", "Traded:b1", "Traded:a1", "Traded:c1"]
    assert events[-2].order.status is OrderStatus.FILLED
    ex.check_invariants()


def test_fok_blocked_by_own_order_under_stp_taker_cannot_fill():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.SELL, 50, 3), T0)
    ex.new_order(req("alice", "a-own", Side.SELL, 51, 5), T0)
    ex.new_order(req("carol", "c1", Side.SELL, 52, 5), T0)
    events = ex.new_order(req("alice", "a1", Side.BUY, 52, 5, tif=TimeInForce.FOK), T0)
    assert kinds(events) == ["Canceled:FOK:a1"]
    assert ex.order_by_client_id("alice", "a-own").status is OrderStatus.NEW  # untouched: nothing happened
    events = ex.new_order(req("alice", "a2", Side.BUY, 52, 5, tif=TimeInForce.FOK, stp=STP.MAKER), T0)
    assert kinds(events) == ["Accepted:a2", "Traded:a2", "Traded:b1", "Canceled:STP_MAKER:a-own", "Traded:a2",
                             "Traded:c1"]
    ex.check_invariants()


def test_gtd_already_expired_behaves_as_ioc():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.SELL, 50, 3), T0)
    events = ex.new_order(req("alice", "a1", Side.BUY, 50, 10, tif=TimeInForce.GTD, expire_time=T0 - 1), T0)
    assert kinds(events) == ["Accepted:a1", "Traded:a1", "Traded:b1", "Canceled:IOC:a1"]
    events = ex.new_order(req("alice", "a2", Side.BUY, 50, 10, tif=TimeInForce.GTD, expire_time=T0), T0)
    assert kinds(events) == ["Accepted:a2", "Canceled:IOC:a2"]  # expire_time <= now
    ex.check_invariants()


def test_gtd_in_the_future_rests_until_its_expire_time():
    ex = make_exchange()
    events = ex.new_order(req("alice", "a1", Side.BUY, 50, 10, tif=TimeInForce.GTD, expire_time=T0 + 60), T0)
    assert events[0].rests and events[0].order.expire_time == T0 + 60
    assert ex.next_expiry() == T0 + 60
    assert ex.expire_orders(T0 + 59.999) == []
    expired = ex.expire_orders(T0 + 60)
    assert kinds(expired) == ["Canceled:EXPIRY:a1"] and expired[0].reason.expiry_style
    assert ex.next_expiry() is None and ex.reserved("alice") == 0
    ex.check_invariants()


def utc(*args) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("entered,expected", [
    # the day before spring forward: EST, UTC-5
    (datetime(2026, 3, 7, 9, 30, tzinfo=NY), utc(2026, 3, 8, 4, 59, 59, 999_000)),
    # 2026-03-08: 02:00 EST -> 03:00 EDT; the day ends in EDT, UTC-4
    (datetime(2026, 3, 8, 0, 30, tzinfo=NY), utc(2026, 3, 9, 3, 59, 59, 999_000)),
    (datetime(2026, 3, 8, 15, 0, tzinfo=NY), utc(2026, 3, 9, 3, 59, 59, 999_000)),
    # 2026-10-31: still EDT
    (datetime(2026, 10, 31, 22, 0, tzinfo=NY), utc(2026, 11, 1, 3, 59, 59, 999_000)),
    # 2026-11-01: 02:00 EDT -> 01:00 EST; both 01:30s end the same day, in EST (UTC-5)
    (datetime(2026, 11, 1, 1, 30, fold=0, tzinfo=NY), utc(2026, 11, 2, 4, 59, 59, 999_000)),
    (datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY), utc(2026, 11, 2, 4, 59, 59, 999_000)),
    (datetime(2026, 11, 1, 23, 59, 59, tzinfo=NY), utc(2026, 11, 2, 4, 59, 59, 999_000)),
])
def test_day_orders_expire_at_235959999_new_york_time_across_dst(entered, expected):
    ex = make_exchange()
    now = entered.timestamp()
    events = ex.new_order(req("alice", "a1", Side.BUY, 50, 1, tif=TimeInForce.DAY), now)
    assert events[0].order.expire_time == pytest.approx(expected, abs=1e-6)
    assert datetime.fromtimestamp(events[0].order.expire_time, NY).strftime("%H:%M:%S.%f") == "23:59:59.999000"
    assert ex.next_expiry() == events[0].order.expire_time
    assert ex.expire_orders(expected - 0.01) == []
    assert kinds(ex.expire_orders(expected)) == ["Canceled:EXPIRY:a1"]
    ex.check_invariants()


def test_day_expiry_cache_moves_to_the_next_day():
    ex = make_exchange()
    day1 = ex.new_order(req("alice", "a1", Side.BUY, 50, 1, tif=TimeInForce.DAY),
                        datetime(2026, 3, 7, 23, 59, tzinfo=NY).timestamp())[0].order.expire_time
    day2 = ex.new_order(req("alice", "a2", Side.BUY, 50, 1, tif=TimeInForce.DAY),
                        datetime(2026, 3, 8, 0, 0, 1, tzinfo=NY).timestamp())[0].order.expire_time
    assert day2 - day1 == 23 * 3600  # the DST day is 23 hours long
    assert kinds(ex.expire_orders(day2)) == ["Canceled:EXPIRY:a1", "Canceled:EXPIRY:a2"]
    ex.check_invariants()


# --- post-only, MaxExecutionCost (spec 02 §5.1, §5.3) ----------------------------------------

def test_post_only_that_would_cross_is_cancelled_not_rested():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.SELL, 50, 3), T0)
    before = state(ex)
    events = ex.new_order(req("alice", "a1", Side.BUY, 50, 1, post_only=True), T0)
    assert kinds(events) == ["Canceled:POST_ONLY:a1"]
    assert events[0].reason.text == "POST_ONLY_CROSS"
    assert events[0].order.status is OrderStatus.CANCELED and events[0].order.cum == 0
    assert state(ex)[:3] == before[:3]
    events = ex.new_order(req("alice", "a2", Side.BUY, 49, 1, post_only=True), T0)
    assert kinds(events) == ["Accepted:a2"] and events[0].rests
    ex.check_invariants()


def test_max_execution_cost_met_executes_the_order():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.SELL, 50, 5), T0)
    ex.new_order(req("carol", "c1", Side.SELL, 52, 5), T0)
    # 5 x 0.50 + 5 x 0.52 = $5.10, fees excluded (spec 02 §5.3)
    events = ex.new_order(req("alice", "a1", Side.BUY, 55, 10, max_cost=5_100_000), T0)
    assert events[-2].order.status is OrderStatus.FILLED
    ex.check_invariants()


def test_max_execution_cost_not_met_cancels_with_no_fills():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.SELL, 50, 5), T0)
    ex.new_order(req("carol", "c1", Side.SELL, 52, 5), T0)
    before = state(ex)
    events = ex.new_order(req("alice", "a1", Side.BUY, 55, 10, max_cost=5_099_999), T0)
    assert kinds(events) == ["Canceled:MAX_COST:a1"]
    assert events[0].reason.text == "FOK_INSUFFICIENT_VOLUME"
    events = ex.new_order(req("alice", "a2", Side.BUY, 55, 11, max_cost=10 * DOLLARS), T0)
    assert kinds(events) == ["Canceled:MAX_COST:a2"]  # not enough volume within its price
    assert state(ex)[:3] == before[:3]
    ex.check_invariants()


def test_max_execution_cost_of_a_no_buyer_counts_the_no_price():
    ex = make_exchange()
    ex.new_order(req("bob", "b1", Side.BUY, 60, 5), T0)
    # selling YES at 60¢ = buying NO at 40¢: 5 x $0.40 = $2.00
    assert kinds(ex.new_order(req("alice", "a1", Side.SELL, 55, 5, max_cost=1_999_999), T0)) == \
        ["Canceled:MAX_COST:a1"]
    assert kinds(ex.new_order(req("alice", "a2", Side.SELL, 55, 5, max_cost=2_000_000), T0)) == \
        ["Accepted:a2", "Traded:a2", "Traded:b1"]
    ex.check_invariants()


# --- self-trade prevention (spec 02 §5.2) ----------------------------------------------------

def stp_book(ex: Exchange) -> None:
    ex.new_order(req("carol", "c50", Side.SELL, 50, 5), T0)
    ex.new_order(req("alice", "a51", Side.SELL, 51, 5, subaccount=1), T0)  # alice's own ask, another sub-account
    ex.new_order(req("bob", "b52", Side.SELL, 52, 5), T0)


def test_stp_taker_cancels_the_taker_at_the_cross_and_keeps_earlier_fills():
    ex = make_exchange()
    stp_book(ex)
    events = ex.new_order(req("alice", "a1", Side.BUY, 52, 15), T0)
    assert kinds(events) == ["Accepted:a1", "Traded:a1", "Traded:c50", "Canceled:STP_TAKER:a1"]
    assert events[-1].reason.text == "TAKER_CANCEL_FOR_SELF_TRADE_PREVENTION"
    assert events[-1].order.cum == 500 and events[-1].order.leaves == 0
    assert ex.order_by_client_id("alice", "a51").status is OrderStatus.NEW
    assert ex.book(TICKER).levels(Side.SELL) == [(5100, 500, 1), (5200, 500, 1)]
    assert ex.position("alice", TICKER) == 500
    ex.check_invariants()


def test_stp_maker_cancels_own_resting_orders_and_keeps_matching():
    ex = make_exchange()
    stp_book(ex)
    events = ex.new_order(req("alice", "a1", Side.BUY, 52, 15, stp=STP.MAKER), T0)
    assert kinds(events) == ["Accepted:a1", "Traded:a1", "Traded:c50", "Canceled:STP_MAKER:a51", "Traded:a1",
                             "Traded:b52"]
    assert events[3].reason.text == "MAKER_CANCEL_FOR_SELF_TRADE_PREVENTION"
    assert events[3].order.status is OrderStatus.CANCELED and events[3].order.reserved == 0
    assert ex.order_by_client_id("alice", "a1").leaves == 500  # the rest rests at 52
    assert ex.book(TICKER).levels(Side.BUY) == [(5200, 500, 1)] and ex.book(TICKER).levels(Side.SELL) == []
    ex.check_invariants()


def test_stp_taker_with_no_fill_before_the_cross_is_one_cancel_after_accepted():
    ex = make_exchange()
    ex.new_order(req("alice", "a-own", Side.SELL, 50, 5), T0)
    events = ex.new_order(req("alice", "a1", Side.BUY, 50, 5), T0)
    assert kinds(events) == ["Accepted:a1", "Canceled:STP_TAKER:a1"]
    assert events[0].rests is False
    ex.check_invariants()


# --- events: snapshots, ExecIDs, ids (spec 02 §8.2, spec 00 §6) --------------------------------

def test_event_orders_are_snapshots_not_live_objects():
    ex = make_exchange()
    accepted = ex.new_order(req("alice", "a1", Side.BUY, 50, 10), T0)[0]
    first = ex.new_order(req("bob", "b1", Side.SELL, 50, 4), T0 + 1)
    ex.new_order(req("bob", "b2", Side.SELL, 50, 6), T0 + 2)
    assert accepted.order.leaves == 1000 and accepted.order.status is OrderStatus.NEW
    assert first[2].order.leaves == 600 and first[2].order.status is OrderStatus.PARTIALLY_FILLED
    live = ex.order_by_client_id("alice", "a1")
    assert live.status is OrderStatus.FILLED and live is not first[2].order
    assert first[2].time == T0 + 1
    ex.check_invariants()


def test_exec_ids_count_calls_per_exchange_index_and_events_within_a_call():
    ex = make_exchange()
    ex.add_market(Market("KXCOMBO", exchange_index=1))
    assert [e.exec_id for e in ex.new_order(req("alice", "a1", Side.BUY, 50, 1), T0)] == ["1;1"]
    assert [e.exec_id for e in ex.new_order(req("bob", "b1", Side.SELL, 50, 1), T0)] == ["2;1", "2;2", "2;3"]
    assert ex.new_order(req("bob", "bad", Side.SELL, 50.5, 1), T0)[0].exec_id == ""  # no clock tick
    assert [e.exec_id for e in ex.new_order(req("bob", "b2", Side.SELL, 60, 1, symbol="KXCOMBO"), T0)] == ["1;1;1"]
    assert [e.exec_id for e in ex.new_order(req("bob", "b3", Side.SELL, 60, 1), T0)] == ["3;1"]
    # one call touching two indexes: each index's clock moves once
    events = ex.mass_cancel("bob", None, T0)
    assert sorted(e.exec_id for e in events) == ["2;1;1", "4;1"]
    ex.check_invariants()


def test_order_and_trade_ids_are_uuid4_from_the_injected_rng_and_deterministic():
    def run(seed):
        ex = make_exchange(seed=seed)
        ex.new_order(req("alice", "a1", Side.BUY, 50, 1), T0)
        return ex.new_order(req("bob", "b1", Side.SELL, 50, 1), T0)
    a, b, c = run(1), run(1), run(2)
    ids = [a[0].order.order_id, a[1].fill.trade_id]
    assert ids == [b[0].order.order_id, b[1].fill.trade_id] != [c[0].order.order_id, c[1].fill.trade_id]
    for value in ids:
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", value)
        assert uuid.UUID(value).version == 4


def test_uuid_text_is_what_the_uuid_module_makes_of_the_same_bits():
    from kalshi_fixsim.simulator.engine.ids import new_uuid
    rng, twin = random.Random(3), random.Random(3)
    for _ in range(200):
        assert new_uuid(rng) == str(uuid.UUID(int=twin.getrandbits(128), version=4))


def test_order_and_trade_ids_are_unique_version_4_uuids_that_do_not_look_sequential():
    from kalshi_fixsim.simulator.engine.ids import Uuids
    ids = Uuids(random.Random(5))
    made = [ids() for _ in range(50_000)]
    assert len(set(made)) == len(made)
    pattern = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
    assert all(pattern.fullmatch(value) and uuid.UUID(value).version == 4 for value in made[:1000])
    tails = [int(value[-12:], 16) for value in made[:100]]
    assert sorted(tails) != tails and len({t >> 40 for t in tails}) > 50  # spread over the whole range
    assert [Uuids(random.Random(5))() for _ in range(1)] == made[:1]  # deterministic for a seed
    forked = [Uuids(random.Random(5)).fork("clocks") for _ in range(2)]
    first = [forked[0]() for _ in range(1000)]
    assert first == [forked[1]() for _ in range(1000)] and not set(first) & set(made)  # a restart: new ids


def test_lookups_by_id_client_id_and_open_orders_filters():
    ex = make_exchange()
    a1 = ex.new_order(req("alice", "a1", Side.BUY, 50, 1, session="S1"), T0)[0].order
    ex.new_order(req("alice", "a2", Side.BUY, 50, 1, symbol="KXDECI", session="S2"), T0)
    ex.new_order(req("bob", "b1", Side.BUY, 49, 1, session="S1"), T0)
    assert ex.order(a1.order_id).client_order_id == "a1" and ex.order("nope") is None
    assert ex.order_by_client_id("alice", "a1").order_id == a1.order_id
    assert ex.order_by_client_id("bob", "a1") is None and ex.order_by_client_id("nobody", "a1") is None
    assert [o.client_order_id for o in ex.open_orders(account="alice")] == ["a1", "a2"]
    assert [o.client_order_id for o in ex.open_orders(symbol=TICKER)] == ["a1", "b1"]
    assert [o.client_order_id for o in ex.open_orders(session="S1")] == ["a1", "b1"]
    assert [o.client_order_id for o in ex.open_orders(account="bob", session="S2")] == []
    ex.check_invariants()


def test_ended_orders_are_forgotten_after_the_cutoff_and_working_ones_never():
    from kalshi_fixsim.simulator.engine.types import CxlReject
    ex = make_exchange()
    old_fill = ex.new_order(req("alice", "f1", Side.BUY, 50, 1), T0)[0].order.order_id
    ex.new_order(req("bob", "f2", Side.SELL, 50, 1), T0)                      # fills f1 at T0
    old_cxl = ex.new_order(req("alice", "c1", Side.BUY, 40, 1), T0)[0].order.order_id
    ex.cancel_order("alice", "c1", "c1-x", side=Side.BUY, symbol=TICKER, now=T0 + 1)
    resting = ex.new_order(req("alice", "r1", Side.BUY, 30, 1), T0)[0].order.order_id    # still working
    late = ex.new_order(req("carol", "l1", Side.BUY, 20, 1), T0 + 100)[0].order.order_id
    ex.cancel_order("carol", "l1", "l1-x", side=Side.BUY, symbol=TICKER, now=T0 + 101)  # ended after the cutoff

    assert ex.forget_final_orders(T0 + 50) == 3  # f1, f2, c1
    assert ex.order(old_fill) is None and ex.order(old_cxl) is None
    assert ex.order(resting) is not None and ex.order(late) is not None
    assert ex.order_by_client_id("alice", "r1") is not None and ex.order_by_client_id("carol", "l1-x") is not None
    # a forgotten order is unknown to cancels, and its ClOrdIDs may be used again
    assert ex.cancel_order("alice", "c1-x", "c1-y", side=Side.BUY, symbol=TICKER, now=T0 + 200) \
        is CxlReject.UNKNOWN_ORDER
    assert ex.cancel_order("carol", "l1-x", "l1-y", side=Side.BUY, symbol=TICKER, now=T0 + 200) \
        is CxlReject.TOO_LATE_TO_CANCEL  # not forgotten yet: still "too late"
    assert isinstance(ex.new_order(req("alice", "c1-x", Side.BUY, 41, 1), T0 + 200)[0], Accepted)
    ex.check_invariants()


def test_forgetting_keeps_memory_bounded_over_a_long_flow():
    ex = make_exchange()
    ex.deposit("alice", 10_000 * DOLLARS)
    ex.deposit("bob", 10_000 * DOLLARS)
    now = T0
    sizes = []
    for i in range(3_000):
        now += 10.0
        ex.new_order(req("alice", f"a{i}", Side.BUY, 50, 1), now)
        ex.new_order(req("bob", f"b{i}", Side.SELL, 50, 1), now)  # both fill at once
        if i % 100 == 99:
            ex.forget_final_orders(now - 3_600)  # an hour of memory: 360 pairs of orders
            sizes.append(len(ex._orders))
    assert max(sizes[5:]) <= 2 * 370 and sizes[-1] == sizes[10] > 0  # flat, not growing with the flow
    assert len(ex._ledger.accounts["alice"].clids) == sizes[-1] // 2
    ex.check_invariants()
