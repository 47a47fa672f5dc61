"""One price-time order book per market: YES bids and YES asks (spec 02 §1).

A SELL order (Side 2) is a YES ask; buying NO at 1 - p is the same order as selling YES at
p, so both live in the asks. Prices are pips, quantities hundredths (types.py).

Layout (fast paths for the matcher in matching.py, which uses these attributes directly):
- `bids` / `asks`: price -> Level; a Level keeps its orders in an OrderedDict keyed by
  order id in time priority (O(1) append, O(1) removal anywhere, O(1) pop of the head);
- `bid_keys` / `ask_keys`: sorted lists with the best price LAST (bids as +price,
  asks as -price), so the best level is `keys[-1]` and removing it is `keys.pop()`.

Change tracking (market data, spec 07 §4): once `track_changes()` is on, add/remove/reduce
record the touched level in `changes` (a set of keys: +price for a bid level, -price for an
ask level) and `take_changes()` hands them over and clears them. It is off (None, one
attribute test per call) until a market-data subscriber asks for the book. The matcher in
matching.py edits levels in place for maker fills; the caller records those with `touch()`
(the maker's Traded events carry the level).
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections import OrderedDict
from typing import Iterator

from .types import Order, OrderStatus, Side

__all__ = ["Level", "Book", "BookError"]


class BookError(AssertionError):
    """A broken book invariant: always our bug."""


class Level:
    __slots__ = ("price", "qty", "orders")

    def __init__(self, price: int) -> None:
        self.price = price
        self.qty = 0                                      # sum of the orders' leaves
        self.orders: OrderedDict[str, Order] = OrderedDict()

    def __repr__(self) -> str:
        return f"Level({self.price}, qty={self.qty}, count={len(self.orders)})"


class Book:
    __slots__ = ("ticker", "bids", "asks", "bid_keys", "ask_keys", "changes")

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self.bids: dict[int, Level] = {}
        self.asks: dict[int, Level] = {}
        self.bid_keys: list[int] = []   # +price ascending: best bid last
        self.ask_keys: list[int] = []   # -price ascending: best (lowest) ask last
        self.changes: set[int] | None = None  # touched levels (+bid / -ask price) while tracked

    # --- changes ----------------------------------------------------------------------

    def add(self, order: Order) -> None:
        """Append a resting order at the back of its price level (time priority)."""
        price = order.price
        if order.side is Side.BUY:
            levels, keys, key = self.bids, self.bid_keys, price
        else:
            levels, keys, key = self.asks, self.ask_keys, -price
        level = levels.get(price)
        if level is None:
            level = levels[price] = Level(price)
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        level.orders[order.order_id] = order
        level.qty += order.leaves
        changes = self.changes
        if changes is not None:
            changes.add(key)

    def remove(self, order: Order) -> None:
        """Take a resting order out (O(1) plus the level list when the level empties).
        `order.leaves` must still be the quantity it rested with."""
        price = order.price
        if order.side is Side.BUY:
            levels, keys, key = self.bids, self.bid_keys, price
        else:
            levels, keys, key = self.asks, self.ask_keys, -price
        level = levels[price]
        del level.orders[order.order_id]
        level.qty -= order.leaves
        if not level.orders:
            del levels[price]
            if keys[-1] == key:
                keys.pop()
            else:
                del keys[bisect_left(keys, key)]
        changes = self.changes
        if changes is not None:
            changes.add(key)

    def reduce(self, order: Order, qty: int) -> None:
        """The order's leaves went down by `qty` while it stays in place (fill, amend down)."""
        price = order.price
        if order.side is Side.BUY:
            self.bids[price].qty -= qty
            key = price
        else:
            self.asks[price].qty -= qty
            key = -price
        changes = self.changes
        if changes is not None:
            changes.add(key)

    # --- change tracking (market data, spec 07 §4) -------------------------------------

    def track_changes(self, on: bool = True) -> None:
        """Start (with an empty record) or stop recording touched levels."""
        if not on:
            self.changes = None
        elif self.changes is None:
            self.changes = set()

    def touch(self, side: Side, price: int) -> None:
        """Record a level changed outside add/remove/reduce (maker fills in matching.py)."""
        changes = self.changes
        if changes is not None:
            changes.add(price if side is Side.BUY else -price)

    def take_changes(self) -> list[tuple[Side, int]]:
        """The levels touched since the last call, as (side, price), and clear the record:
        bids best first (descending), then asks best first (ascending)."""
        changes = self.changes
        if not changes:
            return []
        self.changes = set()
        keys = sorted(changes, reverse=True)  # bids (+price) high to low, then asks (-price) low to high
        return [(Side.BUY, k) if k > 0 else (Side.SELL, -k) for k in keys]

    def level_qty(self, side: Side, price: int) -> int:
        """Aggregated leaves at a level; 0 when there is none."""
        level = (self.bids if side is Side.BUY else self.asks).get(price)
        return level.qty if level is not None else 0

    # --- queries ----------------------------------------------------------------------

    def best_bid(self) -> int | None:
        return self.bid_keys[-1] if self.bid_keys else None

    def best_ask(self) -> int | None:
        return -self.ask_keys[-1] if self.ask_keys else None

    def crosses(self, side: Side, price: int) -> bool:
        """Would an order of `side` at `price` trade against the other side now? (spec 02 §1)"""
        if side is Side.BUY:
            return bool(self.ask_keys) and -self.ask_keys[-1] <= price
        return bool(self.bid_keys) and self.bid_keys[-1] >= price

    def resting(self, side: Side) -> Iterator[Order]:
        """Orders of one side in matching order: best price first, then time."""
        if side is Side.BUY:
            levels, prices = self.bids, reversed(self.bid_keys)
        else:
            levels, prices = self.asks, (-k for k in reversed(self.ask_keys))
        for price in prices:
            yield from levels[price].orders.values()

    def levels(self, side: Side, depth: int | None = None) -> list[tuple[int, int, int]]:
        """[(price, total qty, order count)] best first, at most `depth` levels."""
        if side is Side.BUY:
            keys, levels, sign = self.bid_keys, self.bids, 1
        else:
            keys, levels, sign = self.ask_keys, self.asks, -1
        n = len(keys) if depth is None else min(depth, len(keys))
        out = []
        for i in range(1, n + 1):
            level = levels[sign * keys[-i]]
            out.append((level.price, level.qty, len(level.orders)))
        return out

    def order_count(self) -> int:
        return sum(len(lv.orders) for lv in self.bids.values()) + sum(len(lv.orders) for lv in self.asks.values())

    def __iter__(self) -> Iterator[Order]:
        yield from self.resting(Side.BUY)
        yield from self.resting(Side.SELL)

    def __contains__(self, order: Order) -> bool:
        level = (self.bids if order.side is Side.BUY else self.asks).get(order.price)
        return level is not None and level.orders.get(order.order_id) is order

    # --- invariants -------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Sorted levels, no empty level, totals = sum of leaves, no crossed book at rest,
        every resting order live (leaves > 0, NEW/PARTIALLY_FILLED) and in the right place."""
        for side, levels, keys, sign in ((Side.BUY, self.bids, self.bid_keys, 1),
                                         (Side.SELL, self.asks, self.ask_keys, -1)):
            if keys != sorted(set(keys)):
                raise BookError(f"{self.ticker} {side.name}: price keys not sorted/unique: {keys}")
            if sorted(sign * k for k in keys) != sorted(levels):
                raise BookError(f"{self.ticker} {side.name}: keys {keys} disagree with levels {sorted(levels)}")
            for price, level in levels.items():
                if level.price != price:
                    raise BookError(f"{self.ticker}: level {level} filed under {price}")
                if not level.orders:
                    raise BookError(f"{self.ticker} {side.name}: empty level at {price}")
                total = 0
                last_priority = None
                for oid, order in level.orders.items():
                    if oid != order.order_id or order.side is not side or order.price != price \
                            or order.symbol != self.ticker:
                        raise BookError(f"{self.ticker}: misplaced order {order}")
                    if order.leaves <= 0 or order.status not in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED):
                        raise BookError(f"{self.ticker}: dead order resting: {order}")
                    if order.cum + order.leaves != order.qty:
                        raise BookError(f"{self.ticker}: qty != cum + leaves: {order}")
                    if last_priority is not None and order.priority <= last_priority:
                        raise BookError(f"{self.ticker}: time priority broken at {price}")
                    last_priority = order.priority
                    total += order.leaves
                if total != level.qty:
                    raise BookError(f"{self.ticker} {side.name} {price}: total {level.qty} != sum {total}")
        bid, ask = self.best_bid(), self.best_ask()
        if bid is not None and ask is not None and bid >= ask:
            raise BookError(f"{self.ticker}: crossed book at rest: bid {bid} >= ask {ask}")
