"""client.orderbook (W/X parsing by tag, book updates; spec 07 §3-§4, §8) and the engine
Book's change tracking that market data is built from."""
from __future__ import annotations

import random
from decimal import Decimal

import pytest

from kalshi_fixsim.client.orderbook import (MarketDataBooks, MarketDataError, OrderBook, parse_entries, security_status_request,
                              snapshot, subscribe, unsubscribe)
from kalshi_fixsim.fixproto.codec import encode, parse
from kalshi_fixsim.simulator.engine.book import Book
from kalshi_fixsim.simulator.engine.exchange import Exchange
from kalshi_fixsim.simulator.engine.types import STP, Market, Order, OrderRequest, Side, TimeInForce, Traded

D = Decimal
SYM = "KXGDP-26Q1-T2.0"
TS = [(272, "20260302"), (273, "14:05:09.310")]


def msg(msg_type: str, body) -> object:
    header = [(35, msg_type), (49, "KalshiMD"), (56, "client"), (34, 2), (52, "20260302-14:05:09.310")]
    return parse(encode(header + list(body)))


def w(symbol, *levels, stamps=True):
    body = [(55, symbol), (268, len(levels))]
    for kind, px, size in levels:
        body += [(269, kind), (270, px), (271, size)] + (TS if stamps else [])
    return msg("W", body)


def x(*entries):
    body = [(268, len(entries))]
    for e in entries:
        body += list(e)
    return msg("X", body)


def change(symbol, kind, px, size, action="1"):
    return [(279, action), (55, symbol), (269, kind), (270, px), (271, size)] + TS


def trade(symbol, px, size, aggressor="1"):
    return [(279, "0"), (55, symbol), (269, "2"), (270, px), (271, size)] + TS + [(2446, aggressor)]


# --- parsing by tag (spec 07 §8) ---------------------------------------------------------------

def test_every_snapshot_entry_is_decoded_although_272_273_follow_271():
    # The SDK's positional parser would stop after the first entry here (spec 13).
    entries = parse_entries(w(SYM, ("0", "0.4200", "150.00"), ("0", "0.4100", "80.00"), ("1", "0.4500", "60.00")))
    assert [(e.entry_type, e.price, e.size, e.date, e.time) for e in entries] == [
        ("0", D("0.42"), D("150"), "20260302", "14:05:09.310"),
        ("0", D("0.41"), D("80"), "20260302", "14:05:09.310"),
        ("1", D("0.45"), D("60"), "20260302", "14:05:09.310")]


def test_incremental_entries_keep_aggressor_side_and_skip_unknown_tags_without_ending_the_group():
    m = x(trade(SYM, "0.4500", "35.00", "1") + [(9999, "future field")],
          change(SYM, "1", "0.4500", "0.00", action="2"))
    entries = parse_entries(m)
    assert [(e.action, e.entry_type, e.aggressor_side, e.size) for e in entries] == [
        ("0", "2", "1", D("35")), ("2", "1", None, D("0"))]


def test_a_wrong_entry_count_is_an_error_and_leaves_the_book_alone():
    books = MarketDataBooks()
    books.apply(w(SYM, ("0", "0.4000", "1.00")))
    bad = msg("X", [(268, 2)] + change(SYM, "0", "0.4000", "9.00"))
    with pytest.raises(MarketDataError):
        books.apply(bad)
    assert books[SYM].bids == [(D("0.40"), D("1"))]


# --- applying W and X (spec 07 §3, §4) ----------------------------------------------------------

def test_a_snapshot_replaces_the_book_and_levels_are_sorted_best_first():
    book = OrderBook(SYM)
    book.apply_snapshot(parse_entries(w(SYM, ("0", "0.3000", "1.00"))))
    book.apply_snapshot(parse_entries(w(SYM, ("0", "0.4100", "80.00"), ("0", "0.4200", "150.00"),
                                         ("1", "0.6500", "7.00"), ("1", "0.4500", "60.00"))))
    assert book.bids == [(D("0.42"), D("150")), (D("0.41"), D("80"))]
    assert book.asks == [(D("0.45"), D("60")), (D("0.65"), D("7"))]
    assert book.best_bid == (D("0.42"), D("150")) and book.best_ask == (D("0.45"), D("60"))


def test_an_empty_snapshot_empties_the_book():
    books = MarketDataBooks()
    books.apply(w(SYM, ("0", "0.3000", "1.00")))
    books.apply(msg("W", [(55, SYM), (268, 0)]))
    assert books[SYM].bids == [] and books[SYM].best_bid is None and books[SYM].best_ask is None


def test_change_sets_the_absolute_size_inserting_unknown_levels_and_delete_removes():
    books = MarketDataBooks()
    books.apply(w(SYM, ("0", "0.4000", "5.00")))
    books.apply(x(change(SYM, "0", "0.4000", "2.00"), change(SYM, "0", "0.4100", "1.00"),
                  change(SYM, "1", "0.5000", "3.00", action="0")))  # New on a level: same as Change
    assert books[SYM].bids == [(D("0.41"), D("1")), (D("0.40"), D("2"))]
    assert books[SYM].asks == [(D("0.50"), D("3"))]
    books.apply(x(change(SYM, "0", "0.4100", "0.00", action="2"), change(SYM, "1", "0.7700", "0.00", action="2")))
    assert books[SYM].bids == [(D("0.40"), D("2"))] and books[SYM].asks == [(D("0.50"), D("3"))]


def test_trade_entries_are_recorded_and_never_enter_the_book():
    books = MarketDataBooks()
    books.apply(w(SYM))
    books.apply(x(trade(SYM, "0.4500", "35.00", "2"), change(SYM, "1", "0.4500", "0.00", action="2")))
    book = books[SYM]
    assert book.bids == [] and book.asks == []
    t, = book.trades
    assert (t.price, t.size, t.aggressor_side, t.date, t.time) == (D("0.45"), D("35"), "2", "20260302",
                                                                   "14:05:09.310")


def test_one_x_is_routed_by_the_symbol_of_each_entry():
    books = MarketDataBooks()
    touched = books.apply(x(change("A", "0", "0.1000", "1.00"), change("B", "1", "0.9000", "2.00")))
    assert touched == {"A", "B"} and books["A"].bids == [(D("0.1"), D("1"))] and books["B"].asks == [(D("0.9"), D("2"))]
    assert books.apply(msg("0", [])) == set()
    books.clear()
    assert "A" not in books


def test_margin_entries_without_timestamps_apply_the_same():
    books = MarketDataBooks()
    books.apply(w("ETH-PERP", ("0", "19.5000", "10.00"), stamps=False))
    assert books["ETH-PERP"].best_bid == (D("19.5"), D("10"))


def test_request_bodies():
    assert subscribe(["A", "B"]) == [(263, "1"), (146, 2), (55, "A"), (55, "B")]
    assert snapshot(["A"]) == [(263, "0"), (146, 1), (55, "A")]
    assert unsubscribe(["A"]) == [(263, "2"), (146, 1), (55, "A")]
    assert unsubscribe() == [(263, "2")]  # no 146: every subscription (spec 07 §2)
    assert security_status_request("A", subscribe=False) == [(263, "2"), (55, "A")]


# --- engine Book change tracking (the source of X) --------------------------------------------

def _order(oid: str, side: Side, price: int, qty: int, priority: int) -> Order:
    return Order(order_id=oid, account="a", client_order_id=oid, symbol="T", side=side, price=price, qty=qty,
                 original_qty=qty, tif=TimeInForce.GTC, leaves=qty, priority=priority)


def test_book_tracking_is_off_until_asked_for_and_then_records_every_touched_level():
    book = Book("T")
    b1, b2, s1 = _order("1", Side.BUY, 4000, 100, 1), _order("2", Side.BUY, 4100, 100, 2), \
        _order("3", Side.SELL, 6000, 100, 3)
    book.add(b1)
    assert book.changes is None and book.take_changes() == []
    book.track_changes()
    book.add(b2)
    book.add(s1)
    book.reduce(b1, 50)
    b1.leaves = 50
    assert book.take_changes() == [(Side.BUY, 4100), (Side.BUY, 4000), (Side.SELL, 6000)]
    assert book.take_changes() == []
    book.remove(b2)
    book.touch(Side.SELL, 6500)
    assert book.take_changes() == [(Side.BUY, 4100), (Side.SELL, 6500)]
    assert (book.level_qty(Side.BUY, 4000), book.level_qty(Side.BUY, 4100)) == (50, 0)
    book.track_changes(False)
    book.remove(b1)
    assert book.changes is None and book.take_changes() == []
    book.check_invariants()


def test_tracked_levels_plus_maker_fills_explain_every_level_change_of_a_random_flow():
    """What market data publishes (tracked levels + the makers' Traded levels) is complete: a
    shadow book kept only from it equals the engine's book after every operation."""
    rng = random.Random(7)
    ex = Exchange(rng=random.Random(1))
    ex.add_market(Market("T"))
    for name in ("a", "b", "c"):
        ex.add_account(name, 10**12)
    book = ex.book("T")
    book.track_changes()
    shadow: dict[tuple[Side, int], int] = {}
    now = 0.0
    for i in range(3000):
        now += 1
        opens = ex.open_orders()
        roll = rng.random()
        if roll < 0.6 or not opens:
            events = ex.new_order(OrderRequest(rng.choice("abc"), f"o{i}", "T", rng.choice((Side.BUY, Side.SELL)),
                                               rng.randint(40, 60) * 100, rng.randint(1, 5) * 100,
                                               tif=rng.choice((TimeInForce.GTC, TimeInForce.IOC)),
                                               stp=rng.choice((STP.MAKER, STP.TAKER_AT_CROSS))), now)
        elif roll < 0.8:
            o = rng.choice(opens)
            events = ex.cancel_order(o.account, o.client_order_id, f"c{i}", side=o.side, symbol="T", now=now)
        else:
            o = rng.choice(opens)
            events = ex.replace_order(o.account, o.client_order_id, f"r{i}", qty=o.cum + rng.randint(1, 5) * 100,
                                      price=rng.randint(40, 60) * 100, side=o.side, symbol="T", now=now)
        for ev in events if isinstance(events, list) else ():
            if isinstance(ev, Traded) and not ev.fill.aggressor:
                book.touch(ev.order.side, ev.fill.price)
        for side, price in book.take_changes():
            qty = book.level_qty(side, price)
            if qty:
                shadow[(side, price)] = qty
            else:
                shadow.pop((side, price), None)
        actual = {(side, p): q for side in (Side.BUY, Side.SELL) for p, q, _ in book.levels(side)}
        assert shadow == actual, i
    ex.check_invariants()
