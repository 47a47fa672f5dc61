"""The price-time book (simulator/engine/book.py) and the invariant checks catching corruption."""
from __future__ import annotations

import random

import pytest

from kalshi_fixsim.simulator.engine.book import Book, BookError
from kalshi_fixsim.simulator.engine.exchange import Exchange, InvariantError, LedgerError
from kalshi_fixsim.simulator.engine.types import Market, Order, OrderRequest, OrderStatus, Side, TimeInForce

_seq = 0


def order(oid: str, side: Side, price: int, leaves: int = 100, ticker: str = "T") -> Order:
    global _seq
    _seq += 1
    return Order(order_id=oid, account="a", client_order_id=oid, symbol=ticker, side=side, price=price, qty=leaves,
                 original_qty=leaves, tif=TimeInForce.GTC, leaves=leaves, priority=_seq)


def test_levels_are_best_first_with_totals_and_counts():
    book = Book("T")
    for o in (order("b1", Side.BUY, 4000), order("b2", Side.BUY, 4500, 300), order("b3", Side.BUY, 4000, 50),
              order("s1", Side.SELL, 6000), order("s2", Side.SELL, 5500), order("s3", Side.SELL, 7000)):
        book.add(o)
    assert book.levels(Side.BUY) == [(4500, 300, 1), (4000, 150, 2)]
    assert book.levels(Side.SELL) == [(5500, 100, 1), (6000, 100, 1), (7000, 100, 1)]
    assert book.levels(Side.SELL, depth=2) == [(5500, 100, 1), (6000, 100, 1)]
    assert (book.best_bid(), book.best_ask()) == (4500, 5500)
    assert [o.order_id for o in book.resting(Side.BUY)] == ["b2", "b1", "b3"]
    assert [o.order_id for o in book.resting(Side.SELL)] == ["s2", "s1", "s3"]
    assert book.order_count() == 6
    book.check_invariants()


def test_crosses_compares_with_the_opposite_touch():
    book = Book("T")
    assert not book.crosses(Side.BUY, 9900) and not book.crosses(Side.SELL, 100)
    book.add(order("b1", Side.BUY, 4500))
    book.add(order("s1", Side.SELL, 5500))
    assert book.crosses(Side.BUY, 5500) and not book.crosses(Side.BUY, 5400)
    assert book.crosses(Side.SELL, 4500) and not book.crosses(Side.SELL, 4600)


def test_remove_from_the_middle_of_a_level_and_the_last_of_a_level():
    book = Book("T")
    orders = [order(f"s{i}", Side.SELL, 5500) for i in range(5)] + [order("s9", Side.SELL, 5600)]
    for o in orders:
        book.add(o)
    book.remove(orders[2])
    assert [o.order_id for o in book.resting(Side.SELL)] == ["s0", "s1", "s3", "s4", "s9"]
    assert book.levels(Side.SELL) == [(5500, 400, 4), (5600, 100, 1)]
    book.remove(orders[-1])
    assert book.levels(Side.SELL) == [(5500, 400, 4)] and orders[-1] not in book
    for o in orders[:2] + orders[3:5]:
        book.remove(o)
    assert book.levels(Side.SELL) == [] and book.best_ask() is None
    book.check_invariants()


def test_many_levels_stay_sorted():
    rng = random.Random(1)
    book = Book("T")
    live = []
    for i in range(2000):
        if live and rng.random() < 0.4:
            book.remove(live.pop(rng.randrange(len(live))))
        else:
            side = rng.choice(list(Side))
            price = rng.randint(1, 49) * 100 if side is Side.BUY else rng.randint(51, 99) * 100
            o = order(f"o{i}", side, price, rng.randint(1, 9) * 100)
            book.add(o)
            live.append(o)
    book.check_invariants()
    bids = [p for p, _, _ in book.levels(Side.BUY)]
    asks = [p for p, _, _ in book.levels(Side.SELL)]
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    assert book.order_count() == len(live)


@pytest.mark.parametrize("corrupt", ["total", "crossed", "dead_order", "empty_level", "priority"])
def test_check_invariants_catches_a_broken_book(corrupt):
    book = Book("T")
    b1, b2 = order("b1", Side.BUY, 4000), order("b2", Side.BUY, 4000)
    book.add(b1)
    book.add(b2)
    book.add(order("s1", Side.SELL, 6000))
    book.check_invariants()
    if corrupt == "total":
        book.bids[4000].qty += 1
    elif corrupt == "crossed":
        book.add(order("s2", Side.SELL, 3900))
    elif corrupt == "dead_order":
        b1.status = OrderStatus.FILLED
    elif corrupt == "empty_level":
        book.bids[4000].orders.clear()
        book.bids[4000].qty = 0
    elif corrupt == "priority":
        b2.priority = b1.priority - 1
    with pytest.raises(BookError):
        book.check_invariants()


def exchange_with_orders() -> Exchange:
    ex = Exchange(rng=random.Random(1))
    ex.add_market(Market("T"))
    ex.add_account("a", 100_000_000)
    ex.add_account("b", 100_000_000)
    ex.new_order(OrderRequest("a", "a1", "T", Side.BUY, 4000, 1000, session="S"), 0.0)
    ex.new_order(OrderRequest("b", "b1", "T", Side.SELL, 3000, 400), 0.0)
    ex.check_invariants()
    return ex


def test_exchange_invariants_catch_reserved_mismatch():
    ex = exchange_with_orders()
    ex.order_by_client_id("a", "a1").reserved += 1
    with pytest.raises(InvariantError):
        ex.check_invariants()


def test_exchange_invariants_catch_money_created_from_nothing():
    ex = exchange_with_orders()
    ex._ledger.accounts["b"].balance += 1
    with pytest.raises(LedgerError):
        ex.check_invariants()


def test_exchange_invariants_catch_an_open_order_missing_from_the_book():
    ex = exchange_with_orders()
    o = ex.order_by_client_id("a", "a1")
    ex.book("T").remove(o)
    with pytest.raises(InvariantError):
        ex.check_invariants()


def test_exchange_invariants_catch_unbalanced_positions():
    ex = exchange_with_orders()
    ex._ledger.accounts["a"].positions[(0, "T")] += 100
    with pytest.raises(LedgerError):
        ex.check_invariants()


def test_add_market_and_account_setup_errors():
    ex = Exchange(rng=random.Random(1))
    with pytest.raises(ValueError):
        ex.add_market(Market("T", price_structure="nope"))
    ex.add_market(Market("T"))
    with pytest.raises(ValueError):
        ex.add_market(Market("T"))
    assert ex.market("T").ticker == "T" and ex.market("U") is None and [m.ticker for m in ex.markets()] == ["T"]
    with pytest.raises(ValueError):
        ex.add_account("a", -1)
