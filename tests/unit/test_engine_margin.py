"""The perps engine (simulator/engine/perps.py, spec 08 §3): banding, initial margin, net
positions and realised P&L, and the perps money invariant."""
from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest

from kalshi_fixsim.simulator.engine.perps import PerpExchange, in_band
from kalshi_fixsim.simulator.engine.settlement import SettleReject
from kalshi_fixsim.simulator.engine.types import (Accepted, CxlReject, Market, OrderRequest, Reject, Rejected, Side, Traded)

P = 10_000       # pips per dollar
C = 100          # hundredths per contract
USD = 1_000_000  # µ$ per dollar
ETH = "ETH-PERP"


@pytest.fixture
def ex():
    e = PerpExchange(rng=random.Random(7))
    e.add_market(Market(ETH, price_structure="margin_tick", reference_price=3500 * P))
    e.add_market(Market("BTC-PERP", price_structure="margin_tick"))
    for name in ("a", "b", "c"):
        e.add_account(name, 10_000 * USD)
    return e


def order(ex, account, cl, side, dollars, contracts, symbol=ETH, **kw):
    events = ex.new_order(OrderRequest(account, cl, symbol, side, int(dollars * P), contracts * C, **kw), 0.0)
    ex.check_invariants()
    return events


def test_prices_above_one_dollar_trade_and_report_net_long_and_short(ex):
    assert isinstance(order(ex, "a", "a1", Side.SELL, 3500, 2)[0], Accepted)
    events = order(ex, "b", "b1", Side.BUY, 3500, 2)
    trades = [e for e in events if isinstance(e, Traded)]
    assert [(t.order.account, t.fill.long_qty, t.fill.short_qty) for t in trades] == [("b", 200, 0), ("a", 0, 200)]
    assert ex.position("b", ETH) == 200 and ex.position("a", ETH) == -200
    assert ex.position_margin("b") == 700 * USD  # 10% of 2 x $3,500


def test_fractional_quantity_and_zero_price_are_rejected(ex):
    ev = ex.new_order(OrderRequest("a", "x", ETH, Side.BUY, 3500 * P, 150), 0.0)
    assert isinstance(ev[0], Rejected) and ev[0].reason is Reject.INCORRECT_QUANTITY
    ev = ex.new_order(OrderRequest("a", "y", ETH, Side.BUY, 0, 100), 0.0)
    assert ev[0].reason is Reject.INVALID_PRICE


def test_order_beyond_initial_margin_is_rejected_insufficient_balance(ex):
    # $10,000 at 10% margin: 28 ETH at $3,500 needs $9,800; 29 needs $10,150
    assert order(ex, "a", "ok", Side.BUY, 3500, 28)[0].__class__ is Accepted
    ev = order(ex, "a", "no", Side.BUY, 3500, 1)
    assert isinstance(ev[0], Rejected) and ev[0].reason is Reject.INSUFFICIENT_BALANCE
    assert ex.reserved("a") == 9_800 * USD


def test_position_margin_stays_held_after_the_order_fills(ex):
    order(ex, "a", "a1", Side.SELL, 3500, 28)
    order(ex, "b", "b1", Side.BUY, 3500, 28)
    assert ex.reserved("a") == 0 and ex.position_margin("a") == 9_800 * USD
    assert isinstance(order(ex, "a", "a2", Side.SELL, 3500, 1)[0], Rejected)


def test_closing_trade_credits_realised_pnl_to_the_balance(ex):
    order(ex, "a", "a1", Side.SELL, 3500, 2)
    order(ex, "b", "b1", Side.BUY, 3500, 2)          # b long 2 @ 3500, a short 2
    order(ex, "c", "c1", Side.BUY, 3600, 1)          # c bids 3600
    ev = order(ex, "b", "b2", Side.SELL, 3600, 1)    # b closes 1 at 3600: +$100
    taker = [e for e in ev if isinstance(e, Traded) and e.order.account == "b"][0]
    assert taker.fill.balance_change == 100 * USD and taker.fill.long_qty == 100
    assert ex.balance("b") == 10_100 * USD and ex.cost_basis("b", ETH) == 3500 * P * 100
    order(ex, "a", "a2", Side.BUY, 3700, 2)          # resting ask none: a bids (within band of c's 3600)
    order(ex, "c", "c2", Side.SELL, 3700, 2)         # c: closes long 1 (+$100) and goes short 1
    assert ex.balance("c") == 10_100 * USD and ex.position("c", ETH) == -100
    assert ex.balance("a") == 10_000 * USD - 2 * 200 * USD and ex.position("a", ETH) == 0


def test_band_bids_relative_to_the_best_bid_and_asks_to_the_best_ask(ex):
    order(ex, "a", "bid", Side.BUY, 3000, 1)
    order(ex, "b", "ask", Side.SELL, 4000, 1)
    assert isinstance(order(ex, "c", "lo", Side.BUY, 2400, 1)[0], Accepted)      # = 0.8 x 3000
    assert order(ex, "c", "lo2", Side.BUY, 2399.9999, 1)[0].reason is Reject.INVALID_ORDER
    assert isinstance(order(ex, "c", "hi", Side.SELL, 4800, 1)[0], Accepted)     # = 1.2 x 4000
    assert order(ex, "c", "hi2", Side.SELL, 4800.0001, 1)[0].reason is Reject.INVALID_ORDER


def test_band_uses_the_wider_of_the_ratio_and_1000_ticks():
    best = 1000  # $0.1000: 0.8x = 800, best - 1000 ticks = 0 -> the tick rule is wider
    assert in_band(Side.BUY, 1, best) and in_band(Side.SELL, 2000, best)
    assert not in_band(Side.SELL, 2001, best)
    assert in_band(Side.BUY, 1, None) and in_band(Side.SELL, 10**12, None)  # empty side: no band


def test_resting_orders_are_not_cancelled_when_the_band_moves(ex):
    order(ex, "a", "far", Side.BUY, 2500, 1)          # alone: no band
    order(ex, "a", "top", Side.BUY, 3000, 1)          # best bid now 3000, "far" (2500) now outside
    assert {o.client_order_id for o in ex.open_orders("a")} == {"far", "top"}


def test_amend_outside_the_band_is_refused_invalid_price_and_changes_nothing(ex):
    order(ex, "a", "top", Side.BUY, 3000, 1)
    order(ex, "b", "two", Side.BUY, 2900, 1)
    result = ex.replace_order("b", "two", "two2", qty=100, price=2000 * P, side=Side.BUY, symbol=ETH, now=1.0)
    assert result is CxlReject.INVALID_PRICE and ex.order_by_client_id("b", "two").price == 2900 * P
    result = ex.replace_order("b", "two", "two3", qty=100, price=2500 * P, side=Side.BUY, symbol=ETH, now=1.0)
    assert not isinstance(result, CxlReject)
    ex.check_invariants()


def test_perps_never_settle_and_every_margin_market_is_on_the_margin_tick(ex):
    assert ex.settle_market(ETH, "yes", None, 1.0) is SettleReject.INVALID_RESULT
    ex.add_market(Market("X-PERP"))
    assert ex.market("X-PERP").perp
    with pytest.raises(ValueError):
        ex.add_market(Market("Y-PERP", fractional=True))


def test_random_flow_keeps_the_perps_invariants(ex):
    rng = random.Random(3)
    for i in range(400):
        side = rng.choice((Side.BUY, Side.SELL))
        price = rng.randint(3400, 3600)
        ex.new_order(OrderRequest(rng.choice("abc"), f"o{i}", ETH, side, price * P, rng.randint(1, 3) * C), float(i))
        ex.check_invariants()
    assert sum(ex.position(n, ETH) for n in "abc") == 0


def test_each_market_holds_margin_at_its_own_rate_else_the_exchanges():
    ex = PerpExchange(rng=random.Random(1), margin_rate="0.10")
    ex.add_market(Market(ETH))
    ex.add_market(Market("BTC-PERP", margin_rate=Decimal("0.05")))
    for name in ("a", "b"):
        ex.add_account(name, 10_000 * USD)
    assert (ex.market_margin_rate(ETH), ex.market_margin_rate("BTC-PERP")) == (Fraction(1, 10), Fraction(1, 20))
    # $10,000 at 5%: $200,000 of BTC notional; at ETH's 10% only $100,000
    assert isinstance(order(ex, "a", "btc", Side.BUY, 100_000, 2, symbol="BTC-PERP")[0], Accepted)
    assert ex.reserved("a") == 10_000 * USD
    ev = order(ex, "b", "eth", Side.BUY, 50_000, 3)
    assert isinstance(ev[0], Rejected) and ev[0].reason is Reject.INSUFFICIENT_BALANCE
    assert isinstance(order(ex, "b", "eth2", Side.BUY, 50_000, 2)[0], Accepted)
    assert ex.reserved("b") == 10_000 * USD
    # fills move the order margin to position margin at the market's rate
    order(ex, "b", "btc-s", Side.SELL, 100_000, 1, symbol="BTC-PERP")  # b: $5,000 more at 5% would be too much
    assert ex.position("a", "BTC-PERP") == 0  # b's sell was refused: b has no margin left
    ex.cancel_order("b", "eth2", "eth2-x", side=Side.BUY, symbol=ETH, now=1.0)
    order(ex, "b", "btc-s2", Side.SELL, 100_000, 1, symbol="BTC-PERP")
    assert ex.position("a", "BTC-PERP") == 100 and ex.position_margin("a") == 5_000 * USD
    assert ex.position_margin("b") == 5_000 * USD and ex.reserved("a") == 5_000 * USD


def test_amend_growth_is_charged_at_the_markets_rate():
    ex = PerpExchange(rng=random.Random(1))
    ex.add_market(Market("BTC-PERP", margin_rate=Decimal("0.05")))
    ex.add_account("a", 1_000 * USD)
    order(ex, "a", "b1", Side.BUY, 10_000, 1, symbol="BTC-PERP")  # $500 at 5%
    events = ex.replace_order("a", "b1", "b2", qty=200, price=10_000 * P, side=Side.BUY, symbol="BTC-PERP", now=1.0)
    assert isinstance(events, list) and events[0].__class__.__name__ == "Replaced"  # $1,000 at 5%, not $2,000
    assert ex.reserved("a") == 1_000 * USD
    ex.check_invariants()


def test_a_margin_rate_outside_zero_to_one_is_refused():
    ex = PerpExchange(rng=random.Random(1))
    for bad in ("0", "1.5", "-0.1"):
        with pytest.raises(ValueError, match="margin_rate"):
            ex.add_market(Market(f"X{bad}-PERP".replace(".", "").replace("-0", "M0"), margin_rate=Decimal(bad)))


def test_random_flow_keeps_the_perps_invariants_with_two_market_rates():
    ex = PerpExchange(rng=random.Random(5), margin_rate="0.10")
    ex.add_market(Market(ETH))
    ex.add_market(Market("BTC-PERP", margin_rate=Decimal("0.03")))
    for name in "abc":
        ex.add_account(name, 2_000_000 * USD)
    rng = random.Random(4)
    for i in range(600):
        symbol, mid = rng.choice(((ETH, 3500), ("BTC-PERP", 95_000)))
        side = rng.choice((Side.BUY, Side.SELL))
        price = rng.randint(mid * 97 // 100, mid * 103 // 100)
        ex.new_order(OrderRequest(rng.choice("abc"), f"o{i}", symbol, side, price * P, rng.randint(1, 3) * C), float(i))
        ex.check_invariants()
    assert ex.position("a", "BTC-PERP") or ex.position("b", "BTC-PERP")  # the flow traded both markets
