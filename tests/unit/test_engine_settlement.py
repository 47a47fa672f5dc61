"""Market close and settlement in the engine, to the micro-dollar (spec 05 §2, spec 02 §4, §9 #16).

$1 = 1,000,000 µ$; 1 contract = 100 hundredths; a price of p cents = 100 p pips.
"""
from __future__ import annotations

import random
from decimal import Decimal

import pytest

from kalshi_fixsim.simulator.engine.accounts import FeeSchedule
from kalshi_fixsim.simulator.engine.exchange import Exchange
from kalshi_fixsim.simulator.engine.settlement import CENT, SettleReject, Settlement, SettlementEntry, settlement_value
from kalshi_fixsim.simulator.engine.types import (MONEY_SCALE, Canceled, CancelReason, Market, MarketStatus, Reject, Rejected,
                                    Side, TimeInForce)
from tests.unit.engine_helpers import TICKER, req

T0 = 1_780_000_000.0
START = 100 * MONEY_SCALE  # $100 each
OTHER = "KXOTHER-26NOV20"
FRAC = "KXFRAC-26NOV20"


def make_exchange(fees: FeeSchedule | None = None) -> Exchange:
    ex = Exchange(rng=random.Random(7), fees=fees)
    ex.add_market(Market(TICKER))
    ex.add_market(Market(OTHER))
    ex.add_market(Market(FRAC, fractional=True, price_structure="deci_cent"))
    for name in ("alice", "bob", "carol"):
        ex.add_account(name, START)
    return ex


def trade(ex: Exchange, buyer: str, seller: str, cents, contracts, symbol=TICKER, *, buyer_sub=0, seller_sub=0,
          tag="") -> None:
    """`seller` rests a sell, `buyer` takes it in full: buyer + YES, seller + NO."""
    ex.new_order(req(seller, f"s{tag}{buyer}{seller}{contracts}{symbol}", Side.SELL, cents, contracts,
                     symbol=symbol, subaccount=seller_sub), T0)
    events = ex.new_order(req(buyer, f"b{tag}{buyer}{seller}{contracts}{symbol}", Side.BUY, cents, contracts,
                              symbol=symbol, subaccount=buyer_sub), T0)
    assert events[-1].order.status.value == "2", events


# --- close (spec 02 §4 CloseCancel, §9 #16) -----------------------------------------------------

def test_close_cancels_every_resting_order_of_the_market_with_reason_close_in_time_priority():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 40, 10), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 60, 5), T0)
    ex.new_order(req("alice", "a2", Side.BUY, 41, 1, tif=TimeInForce.DAY), T0)
    ex.new_order(req("carol", "c1", Side.BUY, 40, 3, symbol=OTHER), T0)
    events = ex.close_market(TICKER, T0 + 1)
    assert [(type(e), e.reason, e.order.client_order_id) for e in events] == [
        (Canceled, CancelReason.CLOSE, "a1"), (Canceled, CancelReason.CLOSE, "b1"),
        (Canceled, CancelReason.CLOSE, "a2")]
    assert all(e.reason.expiry_style and e.order.leaves == 0 for e in events)
    assert ex.market(TICKER).status is MarketStatus.CLOSED
    assert ex.reserved("alice") == 0 and ex.reserved("bob") == 0
    assert ex.reserved("carol") == 3 * 100 * 4000  # other markets untouched
    assert [o.client_order_id for o in ex.open_orders()] == ["c1"]
    ex.check_invariants()


def test_close_releases_collateral_including_the_worst_case_fee():
    ex = make_exchange(FeeSchedule(taker_rate=Decimal("0.07")))
    ex.new_order(req("alice", "a1", Side.BUY, 55, 10), T0)
    assert ex.reserved("alice") > 0
    ex.close_market(TICKER, T0)
    assert (ex.reserved("alice"), ex.balance("alice"), ex.available("alice")) == (0, START, START)
    ex.check_invariants()


def test_orders_into_a_closed_market_are_rejected_market_already_closed():
    ex = make_exchange()
    ex.close_market(TICKER, T0)
    (event,) = ex.new_order(req("alice", "a1", Side.BUY, 40, 1), T0)
    assert isinstance(event, Rejected) and event.reason is Reject.MARKET_ALREADY_CLOSED
    assert event.reason.code == 2


def test_closing_twice_is_a_no_op_and_an_unknown_market_is_a_code():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 40, 1), T0)
    assert len(ex.close_market(TICKER, T0)) == 1
    assert ex.close_market(TICKER, T0) == []
    assert ex.close_market("NOPE", T0) is SettleReject.MARKET_NOT_FOUND


def test_close_of_a_halted_market_cancels_its_orders_too():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 40, 1), T0)
    ex.market(TICKER).status = MarketStatus.HALTED
    assert [e.reason for e in ex.close_market(TICKER, T0)] == [CancelReason.CLOSE]
    assert ex.market(TICKER).status is MarketStatus.CLOSED
    ex.check_invariants()


# --- settlement economics (spec 05 §2) -----------------------------------------------------------

def test_yes_result_pays_yes_holders_one_dollar_per_contract_and_no_holders_nothing():
    ex = make_exchange()
    trade(ex, "alice", "bob", 40, 10)  # alice pays $4.00 for 10 YES, bob $6.00 for 10 NO
    assert (ex.balance("alice"), ex.balance("bob")) == (96_000_000, 94_000_000)
    s = ex.settle_market(TICKER, "yes", None, T0 + 5)
    assert isinstance(s, Settlement)
    assert (s.ticker, s.result, s.price, s.time) == (TICKER, "yes", Decimal("100.00"), T0 + 5)
    assert s.entries == [SettlementEntry("alice", 0, 1000, 0, 10_000_000, 0),
                         SettlementEntry("bob", 0, 0, 1000, 0, 0)]
    assert (ex.balance("alice"), ex.balance("bob")) == (106_000_000, 94_000_000)
    assert ex.positions("alice") == {} and ex.positions("bob") == {}
    assert ex.market(TICKER).status is MarketStatus.SETTLED
    assert ex.fees_collected == 0
    ex.check_invariants()


def test_no_result_pays_no_holders_one_dollar_per_contract():
    ex = make_exchange()
    trade(ex, "alice", "bob", 40, 10)
    s = ex.settle_market(TICKER, "no", Decimal(0), T0)
    assert s.price == Decimal("0.00")
    assert [(e.account, e.payout, e.fee) for e in s.entries] == [("alice", 0, 0), ("bob", 10_000_000, 0)]
    assert (ex.balance("alice"), ex.balance("bob")) == (96_000_000, 104_000_000)
    ex.check_invariants()


def test_scalar_spec_example_rounds_the_payout_down_to_cents_and_charges_the_rest_as_fee():
    # spec 05 §5: 1.55 x $0.306 = $0.4743 -> payout $0.47 + fee $0.0043
    ex = make_exchange()
    trade(ex, "alice", "bob", 50, Decimal("1.55"), FRAC)
    s = ex.settle_market(FRAC, "scalar", Decimal("30.60"), T0)
    alice, bob = s.entries
    assert (alice.long_qty, alice.short_qty, alice.payout, alice.fee) == (155, 0, 470_000, 4_300)
    # NO side: 1.55 x (1 - 0.306) = 1.55 x 0.694 = $1.0757 -> $1.07 + $0.0057
    assert (bob.long_qty, bob.short_qty, bob.payout, bob.fee) == (0, 155, 1_070_000, 5_700)
    assert alice.value + bob.value == 155 * CENT  # the escrow of 1.55 pairs, $1.55
    assert ex.fees_collected == 10_000
    # 1.55 x 50¢ = $0.775 paid by each side at entry
    assert (ex.balance("alice"), ex.balance("bob")) == (START - 775_000 + 470_000, START - 775_000 + 1_070_000)
    ex.check_invariants()


def test_scalar_settlement_with_whole_cent_values_has_zero_fee():
    ex = make_exchange()
    trade(ex, "alice", "bob", 50, 10)
    s = ex.settle_market(TICKER, "scalar", "25", T0)
    assert s.price == Decimal("25.00")
    assert [(e.payout, e.fee) for e in s.entries] == [(2_500_000, 0), (7_500_000, 0)]
    ex.check_invariants()


def test_settlement_value_rounding_down_for_yes_and_no():
    assert settlement_value(155, 3060) == (470_000, 4_300)
    assert settlement_value(-155, 3060) == (1_070_000, 5_700)
    assert settlement_value(1, 3061) == (0, 3_061)          # 0.01 x $0.3061 = $0.003061: all fee
    assert settlement_value(-1000, 10_000) == (0, 0)        # NO at a yes result
    assert settlement_value(1000, 10_000) == (10_000_000, 0)


def test_zero_net_positions_are_omitted():
    ex = make_exchange()
    trade(ex, "alice", "bob", 40, 10)
    trade(ex, "carol", "alice", 45, 10, tag="x")  # alice sells her 10 YES back: flat
    assert ex.position("alice", TICKER) == 0
    s = ex.settle_market(TICKER, "yes", 100, T0)
    assert [(e.account, e.long_qty, e.short_qty) for e in s.entries] == [("bob", 0, 1000), ("carol", 1000, 0)]
    ex.check_invariants()


def test_subaccounts_settle_as_separate_entries_sorted_by_account_then_subaccount():
    ex = make_exchange()
    trade(ex, "alice", "bob", 30, 2, buyer_sub=3)
    trade(ex, "alice", "bob", 30, 1, buyer_sub=0, tag="y")
    trade(ex, "bob", "alice", 30, 5, buyer_sub=7, seller_sub=1, tag="z")
    s = ex.settle_market(TICKER, "no", None, T0)
    assert [(e.account, e.subaccount, e.long_qty, e.short_qty, e.payout) for e in s.entries] == [
        ("alice", 0, 100, 0, 0), ("alice", 1, 0, 500, 5_000_000), ("alice", 3, 200, 0, 0),
        ("bob", 0, 0, 300, 3_000_000), ("bob", 7, 500, 0, 0)]
    assert ex.positions("alice") == {} and ex.positions("bob") == {}
    ex.check_invariants()


def test_other_markets_positions_are_not_touched():
    ex = make_exchange()
    trade(ex, "alice", "bob", 40, 1)
    trade(ex, "alice", "bob", 40, 2, OTHER)
    ex.settle_market(TICKER, "yes", None, T0)
    assert ex.positions("alice") == {(0, OTHER): 200} and ex.positions("bob") == {(0, OTHER): -200}
    ex.check_invariants()


def test_settling_an_open_market_closes_it_first_and_returns_the_close_cancels():
    ex = make_exchange()
    trade(ex, "alice", "bob", 40, 1)
    ex.new_order(req("carol", "c1", Side.BUY, 20, 4), T0)
    s = ex.settle_market(TICKER, "yes", None, T0)
    assert [(e.reason, e.order.client_order_id) for e in s.cancels] == [(CancelReason.CLOSE, "c1")]
    assert ex.reserved("carol") == 0 and ex.balance("carol") == START
    ex.check_invariants()


def test_a_closed_market_settles_without_cancels():
    ex = make_exchange()
    trade(ex, "alice", "bob", 40, 1)
    ex.close_market(TICKER, T0)
    assert ex.settle_market(TICKER, "yes", None, T0).cancels == []


def test_settlement_with_fees_keeps_money_conserved():
    ex = make_exchange(FeeSchedule(taker_rate=Decimal("0.07"), maker_rate=Decimal("0.0175")))
    trade(ex, "alice", "bob", 37, Decimal("3.33"), FRAC)
    trade(ex, "carol", "alice", Decimal("41.5"), Decimal("1.07"), FRAC, tag="q")
    fees_before = ex.fees_collected
    s = ex.settle_market(FRAC, "scalar", "61.37", T0)
    assert ex.fees_collected == fees_before + s.total_fee
    assert s.total_payout + s.total_fee == 333 * CENT  # 3.33 pairs open before settlement
    assert all(e.payout % CENT == 0 and 0 <= e.fee < CENT for e in s.entries)
    ex.check_invariants()


# --- refusals -------------------------------------------------------------------------------------

def test_settling_twice_is_refused_with_market_already_settled_and_changes_nothing():
    ex = make_exchange()
    trade(ex, "alice", "bob", 40, 1)
    ex.settle_market(TICKER, "yes", None, T0)
    balances = (ex.balance("alice"), ex.balance("bob"))
    assert ex.settle_market(TICKER, "no", None, T0) is SettleReject.MARKET_ALREADY_SETTLED
    assert (ex.balance("alice"), ex.balance("bob")) == balances
    assert ex.close_market(TICKER, T0) == []  # closing a settled market is a no-op
    (event,) = ex.new_order(req("alice", "a9", Side.BUY, 40, 1), T0)
    assert event.reason is Reject.MARKET_ALREADY_CLOSED


@pytest.mark.parametrize("result, price, reject", [
    ("maybe", None, SettleReject.INVALID_RESULT),
    ("Yes", None, SettleReject.INVALID_RESULT),          # the engine wants the lower-case value
    ("yes", 99, SettleReject.INVALID_PRICE),
    ("no", "0.01", SettleReject.INVALID_PRICE),
    ("scalar", None, SettleReject.INVALID_PRICE),
    ("scalar", "100.01", SettleReject.INVALID_PRICE),
    ("scalar", -1, SettleReject.INVALID_PRICE),
    ("scalar", "30.605", SettleReject.INVALID_PRICE),
    ("scalar", "abc", SettleReject.INVALID_PRICE),
    ("scalar", "NaN", SettleReject.INVALID_PRICE),
])
def test_bad_results_and_prices_are_refused_and_leave_the_market_open(result, price, reject):
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 40, 1), T0)
    assert ex.settle_market(TICKER, result, price, T0) is reject
    assert ex.market(TICKER).status is MarketStatus.OPEN and len(ex.open_orders()) == 1


def test_unknown_market_is_refused():
    assert make_exchange().settle_market("NOPE", "yes", None, T0) is SettleReject.MARKET_NOT_FOUND


def test_yes_and_no_accept_the_implied_price_in_any_form():
    for result, price in (("yes", "100"), ("yes", Decimal("100.00")), ("no", 0), ("no", "0.00")):
        ex = make_exchange()
        assert isinstance(ex.settle_market(TICKER, result, price, T0), Settlement)
