"""One product's exchange and the sessions that should see its ExecutionReports.

Routing (spec 01 §7, §9; issue 3): a report goes to the session the order was entered on,
to every listener session of the account, and, when the order's KalshiRT session is not
connected, into that session's store so the client gets it by resend after its next Logon.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterable, Protocol

from kalshi_fixsim.fixproto.codec import body_pairs
from kalshi_fixsim.fixproto.session import record_offline
from kalshi_fixsim.fixproto.store import MessageStore

from ..engine.exchange import Exchange
from ..engine.types import Event
from .reports import Body, ReportFlags, render_events
from ..ordered import OrderedSet

__all__ = ["Venue", "ReportSink", "OfflineSink", "ReportHistory"]

log = logging.getLogger(__name__)


class ReportSink(Protocol):
    flags: ReportFlags

    def deliver(self, msg_type: str, body: Body) -> None: ...


class ReportHistory(Protocol):
    def record(self, account: str, body: Body | bytes, data: bytes | None = None) -> None: ...


class OfflineSink:
    """A KalshiRT session with no live connection: reports go into its store for resend."""

    accepts_raw = True  # takes an encoded body (bytes: encoded once, shared with the history)

    def __init__(self, store: MessageStore, sender: str, target: str, flags: ReportFlags,
                 clock: Callable[[], float]) -> None:
        self.store, self.sender, self.target, self.flags, self._clock = store, sender, target, flags, clock

    def deliver(self, msg_type: str, body: Body) -> None:
        record_offline(self.store, self.sender, self.target, msg_type, body, self._clock())


class Venue:
    def __init__(self, product: str, exchange: Exchange) -> None:
        self.product = product
        self.exchange = exchange
        self.sessions: dict[str, ReportSink] = {}          # session id -> live order-entry session
        self.offline: dict[str, OfflineSink] = {}          # RT session id -> store-backed sink
        self.listeners: dict[str, OrderedSet[ReportSink]] = {}  # account -> live listener sessions, in order
        self.last_mass_cancel: dict[str, float] = {}       # account -> time of its last accepted q
        self.history: ReportHistory | None = None          # drop copy's record of sent reports
        self.observers: list[Callable[[list[Event]], None]] = []  # e.g. market data
        self.services: dict[str, object] = {}              # per-session-type state (md, rfq, ...)
        self._ids = 0

    def next_id(self, prefix: str) -> str:
        """Ids for gateway-made objects (mass-cancel operations): deterministic per venue."""
        self._ids += 1
        return f"{prefix}-{self._ids}"

    # --- who is connected -----------------------------------------------------------------

    def attach(self, session_id: str, account: str, sink: ReportSink, *, listener: bool,
               offline: OfflineSink | None = None) -> None:
        if listener:
            self.listeners.setdefault(account, OrderedSet()).add(sink)
        else:
            self.sessions[session_id] = sink
        if offline is not None:
            self.offline[session_id] = offline

    def detach(self, session_id: str, account: str, sink: ReportSink) -> None:
        if self.sessions.get(session_id) is sink:
            del self.sessions[session_id]
        listeners = self.listeners.get(account)
        if listeners is not None:
            listeners.discard(sink)

    # --- delivery -------------------------------------------------------------------------

    def origin(self, session_id: str | None) -> ReportSink | None:
        """The sink of the session an order was entered on (live, or an RT store)."""
        if session_id is None:
            return None
        return self.sessions.get(session_id) or self.offline.get(session_id)

    def dispatch(self, events: Iterable[Event], prefix: dict[ReportSink, list[Body]] | None = None) -> None:
        """Render each recipient's share of a batch with its own flags and deliver it in order.

        The reports as the order's own session gets them are also recorded in `history`
        (drop copy replays them, spec 04 §2); then every observer (market data, ...) sees
        the batch."""
        events = list(events)
        if prefix is None and self._dispatch_one(events):
            return
        batches: dict[ReportSink, list[Event]] = {}
        origins: dict[ReportSink, str] = {}      # origin sink -> account
        orphans: dict[str, list[Event]] = {}     # account -> events no session of it receives
        for sink in prefix or ():
            batches[sink] = []
        sessions, offline, listeners = self.sessions, self.offline, self.listeners
        for event in events:
            order = event.order
            session = order.session
            sink = None if session is None else sessions.get(session) or offline.get(session)  # origin()
            if sink is not None:
                batches.setdefault(sink, []).append(event)
                origins[sink] = order.account
            elif self.history is not None and order.session is not None:
                orphans.setdefault(order.account, []).append(event)
            for listener in listeners.get(order.account, ()):
                batches.setdefault(listener, []).append(event)
        history = self.history
        for sink, batch in batches.items():
            bodies = prefix.get(sink, []) if prefix else []
            if batch:
                try:
                    rendered = render_events(batch, sink.flags, self.exchange_index)
                except Exception:  # our bug: this sink misses the batch, the others do not
                    log.exception("rendering %d event(s) for %s failed", len(batch), _name(sink))
                    continue
                if history is not None and sink in origins:
                    # Encoded once (reports.py): the history keeps the bytes the session sends (issue 15 §2).
                    account = origins[sink]
                    for body in rendered:
                        history.record(account, body)
                bodies = bodies + rendered
            _deliver(sink, bodies)
        if history is not None:
            for account, batch in orphans.items():  # e.g. an NR session's orders after it left
                for body in render_events(batch, ReportFlags(), self.exchange_index):
                    history.record(account, body)
        for observer in self.observers:
            try:
                observer(events)
            except Exception:  # our bug; the other observers still see the batch
                log.exception("observer %r failed on a batch of %d events", observer, len(events))

    def _dispatch_one(self, events: list[Event]) -> bool:
        """`dispatch` of a batch whose events are all of one session and account (a GTC's New,
        an IOC's New and Canceled: most orders), straight: the same rendering, history, delivery
        and observers, for a session that is known and an account with no listener (drop copy).
        False, having done nothing, otherwise."""
        if not events:
            return False
        order = events[0].order
        session = order.session
        account = order.account
        last = events[-1].order  # a fill's last event is the maker's: usually another session
        if session is None or last.session != session or last.account != account or self.listeners.get(account):
            return False
        for event in events:
            if event.order.session != session or event.order.account != account:
                return False
        sink = self.sessions.get(session) or self.offline.get(session)  # origin()
        if sink is None:
            return False
        try:
            rendered = render_events(events, sink.flags, self.exchange_index)
        except Exception:  # our bug: this sink misses the batch
            log.exception("rendering %d event(s) for %s failed", len(events), _name(sink))
        else:
            history = self.history
            if history is not None:
                for body in rendered:
                    history.record(account, body)
            _deliver(sink, rendered)
        for observer in self.observers:
            try:
                observer(events)
            except Exception:  # our bug; the other observers still see the batch
                log.exception("observer %r failed on a batch of %d events", observer, len(events))
        return True

    def exchange_index(self, symbol: str) -> int:
        market = self.exchange.market(symbol)
        return market.exchange_index if market is not None else 0


def _deliver(sink: ReportSink, bodies: list[Body]) -> None:
    """One sink's share of a batch. Delivery to one sink never stops delivery to the others
    (issue 11 §4): an exception here is our bug, logged once with the sink, and the rest of
    that sink's share is skipped."""
    raw = getattr(sink, "accepts_raw", False)
    for body in bodies:
        try:
            sink.deliver("8", body if raw or not isinstance(body, bytes) else body_pairs(body))
        except Exception:
            log.exception("delivery to %s failed; %d report(s) of this batch not sent to it",
                          _name(sink), len(bodies))
            return


def _name(sink: object) -> str:
    return getattr(sink, "session_id", None) or type(sink).__name__
