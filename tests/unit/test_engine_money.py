"""Balances, collateral, positions and fees to the micro-dollar (spec 02 §1, §8.4, §13).

Expected values are worked out by hand in the comments: $1 = 1,000,000 µ$, 1 contract = 100.
"""
from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest

from kalshi_fixsim.simulator.engine.accounts import FeeSchedule, fee_for
from kalshi_fixsim.simulator.engine.exchange import Exchange
from kalshi_fixsim.simulator.engine.types import MONEY_SCALE, Market, Reject, Side, TimeInForce, Traded
from tests.unit.engine_helpers import req

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=NY).timestamp()
TICKER = "KXTEST-26NOV20"
START = 100 * MONEY_SCALE  # $100 each


def make_exchange(fees: FeeSchedule | None = None) -> Exchange:
    ex = Exchange(rng=random.Random(3), fees=fees)
    ex.add_market(Market(TICKER))
    ex.add_market(Market("KXFRAC", fractional=True))
    for name in ("alice", "bob", "carol"):
        ex.add_account(name, START)
    return ex


def fills(events) -> dict[str, Traded]:
    return {e.order.client_order_id: e for e in events if isinstance(e, Traded)}


KALSHI_LIKE = FeeSchedule(taker_rate=Decimal("0.07"), maker_rate=Decimal("0.0175"))


def test_fee_formula_rounds_each_fill_up_to_a_hundredth_of_a_cent():
    r = Fraction("0.07")
    assert fee_for(r, 1000, 5500) == 173_300     # 0.07 x 10 x 0.55 x 0.45 = 0.17325 -> $0.1733
    assert fee_for(r, 100, 5000) == 17_500       # 0.07 x 1 x 0.25 = 0.0175 exactly
    assert fee_for(r, 100, 100) == 700           # 0.07 x 0.01 x 0.99 = 0.000693 -> $0.0007
    assert fee_for(r, 1, 5000) == 200            # 0.01 contract: 0.000175 -> $0.0002
    assert fee_for(Fraction(0), 1000, 5000) == 0


def test_collateral_is_the_price_or_its_complement_plus_the_worst_taker_fee():
    ex = make_exchange(KALSHI_LIKE)
    ex.new_order(req("alice", "a1", Side.BUY, 55, 10), T0)
    # BUY at 55¢ can trade at <= 55¢: worst p(1-p) at 50¢; fee of a hundredth 0.07 x 0.01 x 0.25 -> $0.0002
    assert ex.reserved("alice") == 1000 * (5500 + 200) == 5_700_000
    ex.new_order(req("bob", "b1", Side.SELL, 70, 10), T0)
    # SELL at 70¢ = buy NO at 30¢; trades at >= 70¢: worst p(1-p) at 70¢ = 0.21 -> 0.07 x 0.01 x 0.21 = 0.000147
    assert ex.reserved("bob") == 1000 * (3000 + 200) == 3_200_000
    ex.new_order(req("carol", "c1", Side.BUY, 30, 10), T0)
    # BUY at 30¢: worst at 30¢: 0.000147 -> $0.0002
    assert ex.reserved("carol") == 1000 * (3000 + 200)
    for name in ("alice", "bob", "carol"):
        assert ex.balance(name) == START and ex.available(name) == START - ex.reserved(name)
    ex.check_invariants()


def test_a_fill_with_fees_to_the_micro_dollar():
    ex = make_exchange(KALSHI_LIKE)
    ex.new_order(req("alice", "a1", Side.BUY, 55, 10), T0)           # maker: YES at 55¢
    events = ex.new_order(req("bob", "b1", Side.SELL, 50, 10), T0)   # taker: NO at 45¢ (trade at 55¢)
    f = fills(events)
    # taker fee 0.07 x 10 x 0.55 x 0.45 = 0.17325 -> $0.1733; maker 0.0175 x 2.475 = 0.0433125 -> $0.0434
    assert f["b1"].fill.fee == 173_300 and f["a1"].fill.fee == 43_400
    assert f["b1"].fill.balance_change == -4_500_000 - 173_300   # pays 10 x 45¢ + fee
    assert f["a1"].fill.balance_change == -5_500_000 - 43_400    # pays 10 x 55¢ + fee
    assert ex.balance("bob") == START - 4_673_300 and ex.balance("alice") == START - 5_543_400
    assert ex.reserved("alice") == ex.reserved("bob") == 0
    assert ex.fees_collected == 216_700
    assert ex.position("alice", TICKER) == 1000 and ex.position("bob", TICKER) == -1000
    ex.check_invariants()


def test_price_improvement_releases_the_unused_collateral():
    ex = make_exchange()
    ex.new_order(req("carol", "c1", Side.SELL, 55, 10), T0)
    ex.new_order(req("alice", "a1", Side.BUY, 60, 15), T0)  # 10 at 55¢, 5 rest at 60¢
    assert ex.balance("alice") == START - 5_500_000
    assert ex.reserved("alice") == 500 * 6000
    assert ex.available("alice") == START - 5_500_000 - 3_000_000
    ex.check_invariants()


def test_cancel_releases_all_collateral_and_leaves_the_balance_alone():
    ex = make_exchange(KALSHI_LIKE)
    ex.new_order(req("alice", "a1", Side.BUY, 55, 10), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 55, 4), T0)
    balance = ex.balance("alice")
    ex.cancel_order("alice", "a1", "x1", side=Side.BUY, symbol=TICKER, now=T0)
    assert ex.balance("alice") == balance and ex.reserved("alice") == 0 and ex.available("alice") == balance
    ex.check_invariants()


def test_buy_yes_then_buy_no_nets_to_flat_and_redeems_ten_dollars():
    ex = make_exchange()
    ex.new_order(req("carol", "c1", Side.SELL, 55, 10), T0)
    first = fills(ex.new_order(req("alice", "a1", Side.BUY, 55, 10), T0))["a1"]
    assert first.fill.balance_change == -5_500_000 and (first.fill.long_qty, first.fill.short_qty) == (1000, 0)
    ex.new_order(req("bob", "b1", Side.BUY, 60, 10), T0)
    second = fills(ex.new_order(req("alice", "a2", Side.SELL, 60, 10), T0))["a2"]  # buy 10 NO at 40¢
    # pays 10 x 40¢ = $4.00, 10 YES+NO pairs redeemed for $10.00 at once: +$6.00
    assert second.fill.balance_change == -4_000_000 + 10_000_000
    assert (second.fill.long_qty, second.fill.short_qty) == (0, 0)
    assert ex.position("alice", TICKER) == 0 and ex.positions("alice") == {}
    assert ex.balance("alice") == START + 500_000  # bought at 55¢, sold at 60¢
    assert ex.position("carol", TICKER) == -1000 and ex.position("bob", TICKER) == 1000
    assert ex._ledger.escrow() == 10_000_000  # bob's YES and carol's NO: one $10 pot
    ex.check_invariants()


def test_selling_more_than_held_flips_the_position():
    ex = make_exchange()
    ex.new_order(req("carol", "c1", Side.SELL, 55, 10), T0)
    ex.new_order(req("alice", "a1", Side.BUY, 55, 10), T0)
    ex.new_order(req("bob", "b1", Side.BUY, 60, 15), T0)
    f = fills(ex.new_order(req("alice", "a2", Side.SELL, 60, 15), T0))["a2"]
    # pays 15 x 40¢ = $6.00, 10 pairs redeemed: +$10.00 -> +$4.00; now 5 NO
    assert f.fill.balance_change == 4_000_000 and (f.fill.long_qty, f.fill.short_qty) == (0, 500)
    assert ex.position("alice", TICKER) == -500
    ex.check_invariants()


def test_positions_net_per_subaccount():
    ex = make_exchange()
    ex.new_order(req("carol", "c1", Side.SELL, 55, 10), T0)
    ex.new_order(req("alice", "a1", Side.BUY, 55, 10, subaccount=1), T0)
    ex.new_order(req("bob", "b1", Side.BUY, 60, 10), T0)
    f = fills(ex.new_order(req("alice", "a2", Side.SELL, 60, 10, subaccount=2), T0))["a2"]
    assert f.fill.balance_change == -4_000_000  # no netting across sub-accounts
    assert ex.position("alice", TICKER, 1) == 1000 and ex.position("alice", TICKER, 2) == -1000
    assert ex.positions("alice") == {(1, TICKER): 1000, (2, TICKER): -1000}
    ex.check_invariants()


def test_maker_fee_higher_than_taker_fee_is_covered_by_the_reservation():
    ex = make_exchange(FeeSchedule(taker_rate=Decimal(0), maker_rate=Decimal("0.07")))
    ex.new_order(req("alice", "a1", Side.BUY, 50, 10), T0)
    assert ex.reserved("alice") == 1000 * 5200  # the worst of the two rates
    f = fills(ex.new_order(req("bob", "b1", Side.SELL, 50, 10), T0))
    assert f["a1"].fill.fee == 175_000 and f["b1"].fill.fee == 0
    ex.check_invariants()


def test_a_fill_never_takes_the_balance_below_zero():
    ex = make_exchange(KALSHI_LIKE)
    ex.add_account("dave", 5_700_000)  # exactly the collateral of 10 YES at 55¢ with the fee bound
    assert ex.new_order(req("dave", "d1", Side.BUY, 55, 10), T0)[0].order.reserved == 5_700_000
    assert ex.available("dave") == 0
    ex.new_order(req("bob", "b1", Side.SELL, 55, 10), T0)
    assert ex.balance("dave") == 5_700_000 - 5_500_000 - 43_400 == 156_600
    ex.add_account("erin", 5_199)  # one hundredth at 50¢ needs 5,000 + its 200 fee bound
    assert ex.new_order(req("erin", "e1", Side.BUY, 50, 0.01, symbol="KXFRAC"), T0)[0].reason \
        is Reject.INSUFFICIENT_BALANCE
    ex.check_invariants()


def test_many_tiny_fills_are_each_covered_by_their_reservation():
    ex = make_exchange(KALSHI_LIKE)
    unit = 5000 + 200  # a hundredth at 50¢ plus its fee bound ($0.0002)
    ex.add_account("erin", 10 * unit)
    ex.new_order(req("erin", "e1", Side.BUY, 50, 0.10, symbol="KXFRAC"), T0)
    assert ex.available("erin") == 0
    for i in range(10):  # ten fills of 0.01, each rounded up to $0.0002 of fee
        events = ex.new_order(req("bob", f"b{i}", Side.SELL, 50, 0.01, symbol="KXFRAC", tif=TimeInForce.IOC), T0)
        assert fills(events)["e1"].fill.fee == 100  # maker 0.0175 x 0.01 x 0.25 = 0.0000438 -> $0.0001
        assert ex.balance("erin") >= ex.reserved("erin") >= 0
        ex.check_invariants()
    assert ex.balance("erin") == 10 * unit - 10 * (5000 + 100) and ex.position("erin", "KXFRAC") == 10


def test_money_is_conserved_and_only_fees_leave_the_accounts():
    ex = make_exchange(KALSHI_LIKE)
    ex.new_order(req("alice", "a1", Side.BUY, 55, 10), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 50, 6), T0)
    ex.new_order(req("carol", "c1", Side.SELL, 54, 8), T0)
    ex.new_order(req("bob", "b2", Side.BUY, 56, 3), T0)
    total = sum(ex.balance(a) for a in ex.accounts())
    assert total + ex.fees_collected + ex._ledger.escrow() == 3 * START
    ex.check_invariants()


def test_deposits_and_withdrawals():
    ex = make_exchange()
    ex.new_order(req("alice", "a1", Side.BUY, 50, 100), T0)  # reserves $50
    ex.deposit("alice", 5 * MONEY_SCALE)
    assert ex.balance("alice") == START + 5 * MONEY_SCALE
    ex.deposit("alice", -55 * MONEY_SCALE)
    assert ex.available("alice") == 0
    with pytest.raises(ValueError):
        ex.deposit("alice", -1)  # below the reserved collateral
    with pytest.raises(ValueError):
        ex.add_account("alice", 1)
    ex.check_invariants()
