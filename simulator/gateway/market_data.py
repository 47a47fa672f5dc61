"""KalshiMD (both products): MarketDataRequest V -> W snapshots and X updates, Y rejects;
SecurityStatusRequest e -> f on changes (prediction only). Spec 07, 08 §7.

One `MarketDataService` per venue (`venue.services["md"]`), created when the first MD
session logs on; it is then a venue observer and sees every dispatched batch of engine
events. Snapshots and updates are read from the very Book objects the engine matches on:
a subscribed book records the levels it touches (engine/book.py change tracking), maker
fills (edited in place by the matcher) are added from their Traded events, and after each
batch every subscriber gets one X covering its markets: trade entries first, then the
touched levels with their new absolute size (spec 07 §4). Nothing is copied, so the
client's book cannot drift from the engine's.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from kalshi_fixsim.fixproto.codec import FixMessage, format_utc
from kalshi_fixsim.fixproto.fields import BusinessRejectReason as BRR, SessionRejectReason as SRR

from ..engine.types import Event, Side, Traded
from . import HANDLERS, LIFECYCLE, Connection, business_reject
from .reports import format_price, format_qty

if TYPE_CHECKING:  # pragma: no cover
    from ..engine.book import Book
    from .venue import Venue

__all__ = ["MarketDataService", "service_for", "publish_status", "on_market_data_request",
           "on_security_status_request", "MAX_SYMBOLS_PER_REQUEST", "MAX_SUBSCRIPTIONS_PER_SESSION",
           "MAX_STATUS_SUBSCRIPTIONS_PER_SESSION", "MAX_ENTRIES_PER_X"]

# spec 07 §1: symbol limits exist (reason 2) but Kalshi does not publish them (behaviour.md).
MAX_SYMBOLS_PER_REQUEST = 500
MAX_SUBSCRIPTIONS_PER_SESSION = 2_000
MAX_STATUS_SUBSCRIPTIONS_PER_SESSION = 2_000
# One X per batch, split beyond this many entries so no message nears the 1 MB frame cap
# of FIX decoders (codec.MAX_BODY_LENGTH, the SDK's).
MAX_ENTRIES_PER_X = 1_000

SETTLED = 101  # spec 07 §6.2: after 326=101 the server drops the symbol's status subscriptions

_BID, _OFFER, _TRADE = "0", "1", "2"           # MDEntryType(269)
_NEW, _CHANGE, _DELETE = "0", "1", "2"         # MDUpdateAction(279)
_BUY = Side.BUY
_ZERO = format_qty(0)

Entry = list[tuple[int, object]]


def _stamp(now: float) -> list[tuple[int, object]]:
    """MDEntryDate(272) YYYYMMDD and MDEntryTime(273) HH:MM:SS.sss (spec 07 §3)."""
    text = format_utc(now)
    return [(272, text[:8]), (273, text[9:])]


class MarketDataService:
    """Book and status subscriptions of one venue's KalshiMD sessions."""

    def __init__(self, venue: "Venue") -> None:
        self.venue = venue
        self.exchange = venue.exchange
        self.timestamps = venue.product == "prediction"  # spec 08 §7: no 272/273 on margin
        self.subscribers: dict[str, dict[Connection, None]] = {}     # symbol -> sessions, in order
        self.subscriptions: dict[Connection, dict[str, None]] = {}   # session -> symbols
        self.status_subscribers: dict[str, dict[Connection, None]] = {}
        self.status_subscriptions: dict[Connection, dict[str, None]] = {}
        self._books: dict[str, "Book"] = {}  # subscribed symbols whose book is tracked

    # --- book subscriptions -----------------------------------------------------------

    def subscribe(self, conn: Connection, symbol: str) -> None:
        """Idempotent: a second subscription to a symbol is the same one (spec 07 §2)."""
        subs = self.subscribers.get(symbol)
        if subs is None:
            subs = self.subscribers[symbol] = {}
            self._track(symbol)
        subs[conn] = None
        self.subscriptions.setdefault(conn, {})[symbol] = None

    def unsubscribe(self, conn: Connection, symbols: Iterable[str] | None = None) -> None:
        """Stop some (or, with None, every) book subscription of a session."""
        mine = self.subscriptions.get(conn)
        if not mine:
            return
        for symbol in list(mine) if symbols is None else symbols:
            if symbol not in mine:
                continue  # not subscribed: nothing to stop (no reply, spec 07 §2)
            del mine[symbol]
            subs = self.subscribers[symbol]
            del subs[conn]
            if not subs:
                del self.subscribers[symbol]
                book = self._books.pop(symbol, None)
                if book is not None:
                    book.track_changes(False)
        if not mine:
            del self.subscriptions[conn]

    def drop(self, conn: Connection) -> None:
        """The session went away: no subscription outlives its connection (spec 07 §7)."""
        self.unsubscribe(conn)
        for symbol in self.status_subscriptions.pop(conn, {}):
            subs = self.status_subscribers.get(symbol)
            if subs is not None:
                subs.pop(conn, None)
                if not subs:
                    del self.status_subscribers[symbol]

    def _track(self, symbol: str) -> "Book | None":
        """The symbol's book with change tracking on, or None if there is no such market."""
        book = self._books.get(symbol)
        if book is None and self.exchange.market(symbol) is not None:
            book = self._books[symbol] = self.exchange.book(symbol)
            book.track_changes(True)
        return book

    # --- snapshots (spec 07 §3) ---------------------------------------------------------

    def snapshot(self, symbol: str, now: float) -> list[tuple[int, object]]:
        """W body: bids best first (descending), then offers ascending; an unknown ticker
        gets an empty book (268=0), not a reject (spec 07 §2)."""
        if self.exchange.market(symbol) is None:
            return [(55, symbol), (268, 0)]
        book = self.exchange.book(symbol)
        stamp = _stamp(now) if self.timestamps else []
        body: list[tuple[int, object]] = [(55, symbol), (268, 0)]
        n = 0
        for side, kind in ((Side.BUY, _BID), (Side.SELL, _OFFER)):
            for price, qty, _count in book.levels(side):
                body += [(269, kind), (270, format_price(price, True)), (271, format_qty(qty))]
                body += stamp
                n += 1
        body[1] = (268, n)
        return body

    # --- incremental updates (spec 07 §4) -----------------------------------------------

    def on_events(self, events: list[Event]) -> None:
        """Venue observer: one X per subscribed session for the batch."""
        subscribers = self.subscribers
        if not subscribers:
            return
        trades: dict[str, list[Entry]] = {}
        last: dict[str, float] = {}   # symbol -> time of its last event in the batch
        fresh: set[str] = set()       # markets that appeared after their subscription
        books = self._books
        stamped = self.timestamps
        for ev in events:
            order = ev.order
            symbol = order.symbol
            if symbol not in subscribers:
                continue
            last[symbol] = ev.time
            if ev.__class__ is not Traded:
                continue
            fill = ev.fill
            if fill.aggressor:  # one trade entry per match, priced at the YES price
                entry: Entry = [(279, _NEW), (55, symbol), (269, _TRADE), (270, format_price(fill.price, True)),
                                (271, format_qty(fill.qty))]
                if stamped:
                    entry += _stamp(ev.time)
                entry.append((2446, "1" if order.side is _BUY else "2"))  # taker bought / sold YES
                trades.setdefault(symbol, []).append(entry)
            elif ev.rested:  # a resting maker: the matcher edited its level in place
                book = books.get(symbol)
                if book is not None:
                    book.touch(order.side, fill.price)
            # (an RFQ maker fill never rested in the book: no level changed)
        if not last:
            return
        levels: dict[str, list[Entry]] = {}
        for symbol, when in last.items():
            book = books.get(symbol)
            if book is None:
                book = self._track(symbol)
                if book is None:
                    continue  # still no such market (a Rejected order for it)
                fresh.add(symbol)
            if symbol in fresh:  # the subscriber saw an empty book: every level is news
                changes = [(Side.BUY, p) for p, _q, _c in book.levels(Side.BUY)]
                changes += [(Side.SELL, p) for p, _q, _c in book.levels(Side.SELL)]
                book.take_changes()
            else:
                changes = book.take_changes()
            if changes:
                stamp = _stamp(when) if stamped else []
                out = levels[symbol] = []
                for side, price in changes:
                    qty = book.level_qty(side, price)
                    # spec 07 §4: a new or changed level is 1 Change with its absolute size;
                    # a removed one is 2 Delete with 271=0.00.
                    out.append([(279, _CHANGE if qty else _DELETE), (55, symbol),
                                (269, _BID if side is _BUY else _OFFER), (270, format_price(price, True)),
                                (271, format_qty(qty) if qty else _ZERO)] + stamp)
        symbols = [s for s in last if s in trades or s in levels]
        if not symbols:
            return
        if len(symbols) == 1:
            symbol = symbols[0]
            self._send(list(subscribers[symbol]), trades.get(symbol, []) + levels.get(symbol, []))
            return
        # Several markets: sessions subscribed to the same subset share the same messages.
        per_conn: dict[Connection, list[str]] = {}
        for symbol in symbols:
            for conn in subscribers[symbol]:
                per_conn.setdefault(conn, []).append(symbol)
        groups: dict[tuple[str, ...], list[Connection]] = {}
        for conn, mine in per_conn.items():
            groups.setdefault(tuple(mine), []).append(conn)
        for mine, conns in groups.items():
            entries = [e for s in mine for e in trades.get(s, ())]  # trade entries first
            entries += [e for s in mine for e in levels.get(s, ())]
            self._send(conns, entries)

    @staticmethod
    def _send(conns: list[Connection], entries: list[Entry]) -> None:
        bodies = []
        for i in range(0, len(entries), MAX_ENTRIES_PER_X):
            chunk = entries[i:i + MAX_ENTRIES_PER_X]
            body: list[tuple[int, object]] = [(268, len(chunk))]
            for entry in chunk:
                body += entry
            bodies.append(body)
        for conn in conns:  # per connection: a slow one is dropped by its own send()
            for body in bodies:
                conn.send("X", body)

    # --- security status (spec 07 §6) ---------------------------------------------------

    def subscribe_status(self, conn: Connection, symbol: str) -> bool:
        """False when the session is at its status-subscription limit."""
        mine = self.status_subscriptions.setdefault(conn, {})
        if symbol not in mine and len(mine) >= MAX_STATUS_SUBSCRIPTIONS_PER_SESSION:
            return False
        mine[symbol] = None
        self.status_subscribers.setdefault(symbol, {})[conn] = None
        return True

    def unsubscribe_status(self, conn: Connection, symbol: str) -> None:
        mine = self.status_subscriptions.get(conn)
        if mine is not None:
            mine.pop(symbol, None)
        subs = self.status_subscribers.get(symbol)
        if subs is not None:
            subs.pop(conn, None)
            if not subs:
                del self.status_subscribers[symbol]

    def publish_status(self, symbol: str, status_code: int) -> int:
        """Send f to the symbol's status subscribers; returns how many got it."""
        subs = self.status_subscribers.get(symbol)
        if not subs:
            return 0
        body = [(55, symbol), (326, int(status_code))]
        conns = list(subs)
        for conn in conns:
            conn.send("f", body)
        if int(status_code) == SETTLED:
            for conn in conns:
                self.unsubscribe_status(conn, symbol)
        return len(conns)


def service_for(venue: "Venue") -> MarketDataService:
    """The venue's market-data service, created (and made an observer) on first use."""
    service = venue.services.get("md")
    if service is None:
        service = venue.services["md"] = MarketDataService(venue)
        venue.observers.append(service.on_events)
    return service  # type: ignore[return-value]


def publish_status(venue: "Venue", symbol: str, status_code: int) -> int:
    """SecurityStatus f (326 = 2 halt, 3 resume, 100 determined, 101 settled) to the
    subscribers of `symbol` (spec 07 §6.2: changes only). For settlement and halts."""
    service = venue.services.get("md")
    if not isinstance(service, MarketDataService):
        return 0  # no MD session ever logged on: nobody to tell
    return service.publish_status(symbol, status_code)


class _Sessions:
    """LIFECYCLE hook: create the service at the first MD logon, drop subscriptions on any
    disconnect (spec 07 §7)."""

    def attached(self, conn: Connection) -> None:
        service_for(conn.venue)

    def detached(self, conn: Connection) -> None:
        service = conn.venue.services.get("md")
        if isinstance(service, MarketDataService):
            service.drop(conn)


# --- handlers -----------------------------------------------------------------------------

def _md_reject(conn: Connection, reason: str, text: str) -> None:
    """MarketDataRequestReject Y (spec 07 §5): no Symbol, no request id."""
    conn.send("Y", [(281, reason), (58, text)])


def on_market_data_request(conn: Connection, msg: FixMessage) -> None:
    kind = msg.get(263)
    if kind not in ("0", "1", "2"):  # spec 07 §5: 281=4
        _md_reject(conn, "4", f"Unsupported SubscriptionRequestType(263)={kind}: use 0 (snapshot), "
                              "1 (snapshot + updates) or 2 (unsubscribe)")
        return
    service = service_for(conn.venue)
    count = msg.get(146)
    names = msg.get_all(55)
    if kind == "2":
        if count is None:
            if names:
                conn.reject(msg, SRR.REQUIRED_TAG_MISSING, "Symbol(55) without NoRelatedSym(146): a "
                            "MarketDataRequest with 263=2 and no 146 would stop every subscription", 146)
                return
            service.unsubscribe(conn)  # spec 07 §2: no 146 stops every subscription
        else:
            service.unsubscribe(conn, names)  # 146=0 names no market: stops nothing
        return  # no acknowledgement (spec 07 §2, inferred)
    if count is None or not names:
        # spec 07 §2: 146 is mandatory with 0 and 1. Kalshi documents only 281=2 and 281=4; a
        # request for no symbol is outside the per-request symbol limits, so 2 (behaviour.md).
        _md_reject(conn, "2", f"NoRelatedSym(146) with 1 to {MAX_SYMBOLS_PER_REQUEST} Symbol(55) entries is "
                              f"required with SubscriptionRequestType(263)={kind}")
        return
    if len(names) > MAX_SYMBOLS_PER_REQUEST:
        _md_reject(conn, "2", f"Too many symbols in one MarketDataRequest: {len(names)}, "
                              f"limit {MAX_SYMBOLS_PER_REQUEST}")
        return
    symbols = list(dict.fromkeys(names))  # a symbol named twice gets one W
    if kind == "1":
        mine = service.subscriptions.get(conn, {})
        added = sum(1 for s in symbols if s not in mine)
        if len(mine) + added > MAX_SUBSCRIPTIONS_PER_SESSION:
            _md_reject(conn, "2", f"Too many subscriptions for this session: {len(mine)} active + {added} new, "
                                  f"limit {MAX_SUBSCRIPTIONS_PER_SESSION}; unsubscribe (263=2) first")
            return
    now = conn.now()
    for symbol in symbols:
        if kind == "1":
            service.subscribe(conn, symbol)
        conn.send("W", service.snapshot(symbol, now))


def on_security_status_request(conn: Connection, msg: FixMessage) -> None:
    """Prediction only (margin MD does not offer e: route() answers BMR 380=3, spec 08 §7)."""
    kind = msg.get(263)
    symbol = msg.get(55) or ""
    service = service_for(conn.venue)
    if kind == "1":
        if not service.subscribe_status(conn, symbol):  # unknown symbols accepted silently (spec 07 §6)
            business_reject(conn, msg, BRR.OTHER,
                            f"Too many SecurityStatus subscriptions for this session: limit "
                            f"{MAX_STATUS_SUBSCRIPTIONS_PER_SESSION}; unsubscribe (263=2) first")
    elif kind == "2":
        service.unsubscribe_status(conn, symbol)
    else:  # spec 07 §6.2: 0 is invalid here (recommended Reject 373=5)
        conn.reject(msg, SRR.VALUE_IS_INCORRECT, f"SubscriptionRequestType(263)={kind} is not valid on a "
                    "SecurityStatusRequest: use 1 (subscribe) or 2 (unsubscribe)", 263)


HANDLERS[("MD", "V")] = on_market_data_request
HANDLERS[("MD", "e")] = on_security_status_request
LIFECYCLE.setdefault("MD", []).append(_Sessions())
