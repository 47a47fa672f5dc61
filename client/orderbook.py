"""Market-data books for KalshiMD (spec 07): apply W snapshots and X updates, per symbol.

    fix.send("V", subscribe(["KXTEST-26JAN01-A"]))
    books = MarketDataBooks()
    books.apply(await fix.expect("W"))
    ... books.apply(msg) for every W / X ...
    books["KXTEST-26JAN01-A"].best_bid      # (Decimal("0.4200"), Decimal("150.00")) or None

Groups are parsed by tag, not by position (spec 07 §8, spec 13): an entry starts at its
delimiter (269 in W, 279 in X) and takes every later field until the next delimiter, so the
newer 272/273/2446 (or any other field) never cut a message short. Book entries of an X
set the level to its absolute size (New or Change; a Change on an unknown level inserts it)
or remove it (Delete); trade entries (269=2) are recorded in `trades`, not in the book.
After a sequence gap the session is gone: drop the books (`clear()`) and subscribe again.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Iterator

from kalshi_fixsim.fixproto.codec import FixMessage

__all__ = ["MDEntry", "Trade", "OrderBook", "MarketDataBooks", "MarketDataError", "parse_entries",
           "market_data_request", "subscribe", "snapshot", "unsubscribe", "security_status_request"]

# MDEntryType(269), MDUpdateAction(279)
BID, OFFER, TRADE = "0", "1", "2"
NEW, CHANGE, DELETE = "0", "1", "2"
_ENTRY_TAGS = {279: "action", 55: "symbol", 269: "entry_type", 270: "price", 271: "size",
               272: "date", 273: "time", 2446: "aggressor_side"}
_TRAILER = frozenset({10, 93, 89})


class MarketDataError(ValueError):
    """A W/X that cannot be applied (bad count, missing price): the book is not touched."""


@dataclass
class MDEntry:
    """One NoMDEntries(268) entry; absent fields are None."""
    action: str | None = None          # 279 (X only)
    symbol: str | None = None          # 55 (X entries; W carries it at message level)
    entry_type: str | None = None      # 269: 0 bid, 1 offer, 2 trade
    price: Decimal | None = None       # 270, dollars
    size: Decimal | None = None        # 271, contracts
    date: str | None = None            # 272 YYYYMMDD (prediction)
    time: str | None = None            # 273 HH:MM:SS.sss (prediction)
    aggressor_side: str | None = None  # 2446 on trades: 1 taker bought YES, 2 taker sold YES


@dataclass(frozen=True)
class Trade:
    symbol: str
    price: Decimal
    size: Decimal
    aggressor_side: str | None
    date: str | None = None
    time: str | None = None


def _decimal(tag: int, value: str) -> Decimal:
    try:
        return Decimal(value)
    except ArithmeticError:
        raise MarketDataError(f"bad value for tag {tag}: {value!r}") from None


def parse_entries(msg: FixMessage) -> list[MDEntry]:
    """The NoMDEntries(268) group of a W or X, by tag. Fields before 268 (55 on W) are not
    entries; the count must match."""
    delimiter = 279 if msg.msg_type == "X" else 269
    entries: list[MDEntry] = []
    count: int | None = None
    current: MDEntry | None = None
    for tag, value in msg.pairs:
        if count is None:
            if tag == 268:
                if not value.isdigit():
                    raise MarketDataError(f"bad NoMDEntries(268): {value!r}")
                count = int(value)
            continue
        if tag in _TRAILER:
            break
        if tag == delimiter:
            current = MDEntry()
            entries.append(current)
        elif current is None:
            continue  # a field between 268 and the first delimiter: not part of any entry
        name = _ENTRY_TAGS.get(tag)
        if name is None:
            continue  # a field we do not know: skipped, the entry goes on (spec 07 §8)
        setattr(current, name, _decimal(tag, value) if tag in (270, 271) else value)
    if count is None:
        raise MarketDataError("no NoMDEntries(268)")
    if len(entries) != count:
        raise MarketDataError(f"NoMDEntries(268)={count} but {len(entries)} entries")
    return entries


class OrderBook:
    """Aggregated levels of one market: price -> size on each side."""

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._bids: dict[Decimal, Decimal] = {}
        self._asks: dict[Decimal, Decimal] = {}
        self.trades: list[Trade] = []
        self.snapshots = 0  # W messages applied
        self.updates = 0    # X entries applied to this book (levels and trades)

    # --- applying --------------------------------------------------------------------------

    def apply_snapshot(self, entries: Iterable[MDEntry]) -> None:
        """W: the book is replaced by the snapshot's levels (spec 07 §3)."""
        bids: dict[Decimal, Decimal] = {}
        asks: dict[Decimal, Decimal] = {}
        for e in entries:
            if e.entry_type not in (BID, OFFER):
                continue
            if e.price is None or e.size is None:
                raise MarketDataError(f"{self.symbol}: snapshot entry without 270/271")
            if e.size > 0:
                (bids if e.entry_type == BID else asks)[e.price] = e.size
        self._bids, self._asks = bids, asks
        self.snapshots += 1

    def apply_entry(self, e: MDEntry) -> None:
        """One X entry for this book (spec 07 §4)."""
        if e.price is None:
            raise MarketDataError(f"{self.symbol}: entry without MDEntryPx(270)")
        self.updates += 1
        if e.entry_type == TRADE:
            self.trades.append(Trade(self.symbol, e.price, e.size or Decimal(0), e.aggressor_side, e.date, e.time))
            return
        if e.entry_type not in (BID, OFFER):
            return
        side = self._bids if e.entry_type == BID else self._asks
        if e.action == DELETE or (e.size is not None and e.size <= 0):
            side.pop(e.price, None)
        elif e.action in (NEW, CHANGE):
            if e.size is None:
                raise MarketDataError(f"{self.symbol}: level entry without MDEntrySize(271)")
            side[e.price] = e.size  # absolute size; a Change on an unknown level inserts it

    def clear(self) -> None:
        self._bids.clear()
        self._asks.clear()

    # --- views ----------------------------------------------------------------------------

    @property
    def bids(self) -> list[tuple[Decimal, Decimal]]:
        """(price, size) best first (descending price)."""
        return sorted(self._bids.items(), reverse=True)

    @property
    def asks(self) -> list[tuple[Decimal, Decimal]]:
        """(price, size) best first (ascending price)."""
        return sorted(self._asks.items())

    @property
    def best_bid(self) -> tuple[Decimal, Decimal] | None:
        return (p := max(self._bids), self._bids[p]) if self._bids else None

    @property
    def best_ask(self) -> tuple[Decimal, Decimal] | None:
        return (p := min(self._asks), self._asks[p]) if self._asks else None

    def __repr__(self) -> str:
        return f"OrderBook({self.symbol}, bids={self.bids[:3]}, asks={self.asks[:3]})"


class MarketDataBooks:
    """Books of many symbols, fed every W and X of a KalshiMD session."""

    def __init__(self) -> None:
        self.books: dict[str, OrderBook] = {}

    def book(self, symbol: str) -> OrderBook:
        book = self.books.get(symbol)
        if book is None:
            book = self.books[symbol] = OrderBook(symbol)
        return book

    def __getitem__(self, symbol: str) -> OrderBook:
        return self.books[symbol]

    def __contains__(self, symbol: str) -> bool:
        return symbol in self.books

    def __iter__(self) -> Iterator[OrderBook]:
        return iter(self.books.values())

    def apply(self, msg: FixMessage) -> set[str]:
        """Apply a W or X (other messages are ignored); returns the symbols it touched."""
        msg_type = msg.msg_type
        if msg_type == "W":
            symbol = msg.get(55)
            if not symbol:
                raise MarketDataError("snapshot without Symbol(55)")
            self.book(symbol).apply_snapshot(parse_entries(msg))
            return {symbol}
        if msg_type != "X":
            return set()
        entries = parse_entries(msg)
        for e in entries:
            if not e.symbol:
                raise MarketDataError("incremental entry without Symbol(55)")
        touched = set()
        for e in entries:
            self.book(e.symbol).apply_entry(e)  # type: ignore[arg-type]
            touched.add(e.symbol)
        return touched  # type: ignore[return-value]

    def apply_all(self, messages: Iterable[FixMessage]) -> None:
        for msg in messages:
            self.apply(msg)

    def clear(self) -> None:
        """Forget every book (after a disconnect or sequence gap, spec 07 §1)."""
        self.books.clear()


# --- request bodies (spec 07 §2, §6.1) --------------------------------------------------------

def market_data_request(request_type: str | int, symbols: Iterable[str] | None) -> list[tuple[int, object]]:
    """MarketDataRequest (35=V) body; symbols None leaves 146 out (263=2: stop everything)."""
    body: list[tuple[int, object]] = [(263, str(request_type))]
    if symbols is not None:
        symbols = list(symbols)
        body.append((146, len(symbols)))
        body += [(55, s) for s in symbols]
    return body


def snapshot(symbols: Iterable[str]) -> list[tuple[int, object]]:
    return market_data_request("0", symbols)


def subscribe(symbols: Iterable[str]) -> list[tuple[int, object]]:
    return market_data_request("1", symbols)


def unsubscribe(symbols: Iterable[str] | None = None) -> list[tuple[int, object]]:
    """263=2 for the given symbols, or for every subscription (no 146) when None."""
    return market_data_request("2", symbols)


def security_status_request(symbol: str, subscribe: bool = True) -> list[tuple[int, object]]:
    """SecurityStatusRequest (35=e, prediction): 263=1 subscribe / 2 unsubscribe, one Symbol."""
    return [(263, "1" if subscribe else "2"), (55, symbol)]
