"""One product's exchange and the sessions that should see its ExecutionReports.

Routing (spec 01 §7, §9; issue 3): a report goes to the session the order was entered on,
to every listener session of the account, and, when the order's KalshiRT session is not
connected, into that session's store so the client gets it by resend after its next Logon.
"""
from __future__ import annotations

from typing import Callable, Iterable, Protocol

from fixproto.session import record_offline
from fixproto.store import MessageStore

from ..engine.exchange import Exchange
from ..engine.types import Event
from .reports import Body, ReportFlags, render_events

__all__ = ["Venue", "ReportSink", "OfflineSink"]


class ReportSink(Protocol):
    flags: ReportFlags

    def deliver(self, msg_type: str, body: Body) -> None: ...


class OfflineSink:
    """A KalshiRT session with no live connection: reports go into its store for resend."""

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
        self.listeners: dict[str, set[ReportSink]] = {}    # account -> live listener sessions
        self.last_mass_cancel: dict[str, float] = {}       # account -> time of its last accepted q
        self._ids = 0

    def next_id(self, prefix: str) -> str:
        """Ids for gateway-made objects (mass-cancel operations): deterministic per venue."""
        self._ids += 1
        return f"{prefix}-{self._ids}"

    # --- who is connected -----------------------------------------------------------------

    def attach(self, session_id: str, account: str, sink: ReportSink, *, listener: bool,
               offline: OfflineSink | None = None) -> None:
        if listener:
            self.listeners.setdefault(account, set()).add(sink)
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

    def recipients(self, account: str, session_id: str | None) -> list[ReportSink]:
        sinks: list[ReportSink] = []
        if session_id is not None:
            sink = self.sessions.get(session_id) or self.offline.get(session_id)
            if sink is not None:
                sinks.append(sink)
        sinks.extend(self.listeners.get(account, ()))
        return sinks

    def dispatch(self, events: Iterable[Event], prefix: dict[ReportSink, list[Body]] | None = None) -> None:
        """Render each recipient's share of a batch with its own flags and deliver it in order."""
        batches: dict[ReportSink, list[Event]] = {}
        for sink in prefix or ():
            batches[sink] = []
        for event in events:
            order = event.order
            for sink in self.recipients(order.account, order.session):
                batches.setdefault(sink, []).append(event)
        for sink, batch in batches.items():
            bodies = (prefix or {}).get(sink, [])
            if batch:
                bodies = bodies + render_events(batch, sink.flags, self.exchange_index)
            for body in bodies:
                sink.deliver("8", body)

    def exchange_index(self, symbol: str) -> int:
        market = self.exchange.market(symbol)
        return market.exchange_index if market is not None else 0
