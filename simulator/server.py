"""TLS listeners for every (product, session type), one GatewayConnection per client.

Data flow (DESIGN.md §2): socket -> SessionDriver -> Session -> events -> GatewayConnection
-> auth (Logon) or gateway.route (application messages) -> Session.send -> driver writes.
"""
from __future__ import annotations

import asyncio
import logging
import math
import random
import ssl
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from kalshi_fixsim.fixproto.aio import Clock, Interceptor, SessionDriver, WriteBatch, default_clock
from kalshi_fixsim.fixproto.codec import body_pairs
from kalshi_fixsim.fixproto.kalshi import LogonOptions, SessionType, session_types
from kalshi_fixsim.fixproto.session import ACCEPTOR, AppMessage, Disconnect, Event, LoggedOn, LogonRequest, Session, SessionConfig
from kalshi_fixsim.fixproto.state import State
from kalshi_fixsim.fixproto.store import MemoryStore, MessageStore, SqliteStore

from . import gateway
from .auth import Authenticator, LogonDecision
from .gateway import (drop_copy, market_data, order_entry, order_groups, post_trade,  # noqa: F401
                      ratelimit_gate, rfq, subaccounts)  # importing a gateway module registers its handlers
from .gateway.reports import ReportFlags
from .gateway.venue import OfflineSink, Venue
from .marketmaker import MarketMaker
from . import fault_service, memory_transport, ops
from .ordered import OrderedSet
from .virtual_clock import is_virtual
from .control import Control
from . import metrics
from .history import SqliteHistory
from . import durable
from .journal import StateFile
from . import conn_watch
from .transcript import Transcript
from .world import build_venues
from .certs import CertPaths, server_ssl_context
from .listener import ConnectionLimits, Gatekeeper
from .config import SimConfig
if TYPE_CHECKING:
    from .control_http import ControlServer

__all__ = ["Simulator", "Endpoint", "GatewayConnection", "SimulatorThread", "StoreRegistry", "ListenError"]

log = logging.getLogger("kalshi_fixsim")
_SENDING = frozenset({State.ACTIVE, State.LOGOUT_SENT})  # FIX keeps sending until the peer's Logout
SLOW_CONSUMER_GRACE = 5.0  # seconds a dropped slow consumer has to read its Logout
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Endpoint:
    product: str
    session: str
    comp_id: str
    host: str
    port: int
    tls: bool


class ListenError(OSError):
    """A listener could not bind (e.g. the port is in use); names the product, session and address."""

    def __init__(self, product: str | None, session: str | None, host: str, port: int, cause: OSError) -> None:
        super().__init__(cause.errno, f"cannot listen on {host}:{port}: {cause.strerror or cause}")
        self.product, self.session, self.host, self.port = product, session, host, port


class StoreRegistry:
    """Per-(product, session, API key) stores, so RT/PT sequence state survives reconnects."""

    def __init__(self, spec: str, db=None) -> None:
        # db: the simulator's state file (journal.StateFile), committed once per batch by its owner
        self._shared = db is not None
        self._db = db if db is not None else None if spec == "memory" else SqliteStore.open_db(spec)
        self._stores: dict[str, MessageStore] = {}

    def get(self, product: str, code: str, api_key: str) -> MessageStore:
        key = f"{product}/{code}/{api_key}"
        store = self._stores.get(key)
        if store is None:
            store = MemoryStore() if self._db is None else SqliteStore(self._db, key, commit=not self._shared)
            self._stores[key] = store
        return store

    def flush_all(self) -> None:
        """Every store's sequence numbers into the open transaction (StateFile.commit)."""
        for store in self._stores.values():
            store.flush()

    def reset(self) -> None:
        """Forget every session's sequence numbers and messages."""
        for store in self._stores.values():
            store.reset()
            store.flush()
        self._stores.clear()

    def close(self) -> None:
        for store in self._stores.values():
            store.flush()
        if self._db is not None and not self._shared:
            self._db.close()


class GatewayConnection:
    """One client connection: turns session events into auth decisions and gateway calls."""

    def __init__(self, sim: "Simulator", product: str, st: SessionType) -> None:
        self.sim = sim
        self.product = product
        self.session_type = st
        self.session_code = st.code
        self.comp_id = st.comp_id
        self.decision: LogonDecision | None = None
        self.driver: SessionDriver | None = None
        self.venue: Venue = sim.venues[product]
        self.session_id = ""
        self.user = ""
        self.listener = False
        self.flags = ReportFlags()
        self.options: LogonOptions | None = None
        self._detached = False
        self._cut = False  # dropped as a slow consumer: nothing more is written to it
        self.recorder = None
        self.api_key_id = ""
        self.peer = ""  # the client's IP address (set by the listener)
        self._authenticated = False  # its Logon's signature verified

    @property
    def api_key(self) -> str | None:
        return self.decision.account.api_key if self.decision and self.decision.account else None

    send_hook = None  # venue faults (simulator/fault_service.py) set it while a rule may act on sends

    def send(self, msg_type: str, body: list[tuple[int, object]], hooked: bool = True) -> int:
        if hooked and self.send_hook is not None:
            if isinstance(body, bytes):  # an encoded body (RawBody or bytes): venue fault rules read its fields
                body = body_pairs(body)
            return self.send_hook(self, msg_type, body)
        driver = self.driver
        assert driver is not None
        if self._cut or driver.session.state not in _SENDING:
            return 0  # the connection is gone: its RT store (if any) takes the reports instead
        transport = driver.transport
        # A closing transport (a Logout under way) has nothing more to measure: the message still
        # goes through the session (an RT store keeps it for resend) and the write is skipped.
        if (transport is not None and not transport.is_closing()
                and transport.get_write_buffer_size() > self.sim.max_send_buffer):
            self._cut_slow_consumer(driver, transport)
            return 0
        return driver.send(msg_type, body)

    def _cut_slow_consumer(self, driver: SessionDriver, transport) -> None:
        """A subscriber this far behind would hold memory without bound and slow everyone: it is
        logged out and dropped once (issue 4 §5, issue 11 §4); matching never waits for it, and
        every later report for it in the same batch is skipped (the transport is closing)."""
        self._cut = True
        log.warning("slow consumer %s %s key=%s dropped", self.product, self.comp_id, self.api_key)
        driver.logout(f"Slow consumer: more than {self.sim.max_send_buffer} bytes unread; disconnected")
        # It leaves every service now (no more updates queue up), then close() lets the
        # Logout follow what is queued; a reader that never catches up is cut.
        self.sim.connections.discard(self)
        self._detach()
        if driver.batch is not None:
            driver.batch.flush()  # the Logout (and what precedes it) committed and written before the close
        transport.close()
        asyncio.get_running_loop().call_later(SLOW_CONSUMER_GRACE, driver.abort)

    deliver = send  # a live connection is a report sink (gateway.venue.ReportSink)
    accepts_raw = True  # ... that takes a RawBody (a report encoded once, shared with the history)

    def reject(self, msg, reason: int, text: str, ref_tag: int | None = None) -> None:
        assert self.driver is not None
        self.driver.session.reject(msg, reason, text, self.now(), ref_tag=ref_tag)
        self.driver.pump()

    def now(self) -> float:
        return self.sim.clock.now()

    @property
    def stale_after(self) -> float:
        """An order whose TransactTime is older than this is stale (the SendingTime tolerance)."""
        return self.sim.config.session.sending_time_tolerance

    def on_event(self, driver: SessionDriver, event: Event) -> None:
        if isinstance(event, AppMessage):
            gateway.route(self, event.message)
        elif isinstance(event, LogonRequest):
            self._on_logon(driver, event)
        elif isinstance(event, LoggedOn):
            self.sim.connections.add(self)
            self._attach()
            log.info("logon %s %s key=%s", self.product, self.comp_id, self.api_key)
        elif isinstance(event, Disconnect):
            self.sim.connections.discard(self)
            self.sim.control.disconnected(self, event.reason, event.text)  # web view: recently disconnected
            if self.decision is not None:
                self.sim.auth.release(self.decision.slot, self)
                self._detach()
            log.info("disconnect %s %s key=%s: %s %s", self.product, self.comp_id, self.api_key,
                     event.reason, event.text)

    def _attach(self) -> None:
        decision = self.decision
        assert decision is not None and decision.account is not None
        options = decision.options
        self.options = options
        self.api_key_id = decision.account.api_key
        self.user = decision.account.user
        self.session_id = f"{self.product}/{self.session_code}/{decision.account.api_key}"
        if self.recorder is not None:
            self.recorder.session = self.session_id
        self.listener = bool(options.listener_session)
        self.flags = ReportFlags.from_options(options, self.product)
        for service in gateway.LIFECYCLE.get(self.session_code, ()):
            service.attached(self)
        if self.sim.state_file is not None and self.session_code in ("PT", "RT"):
            self.sim.state_file.aux_dirty = True  # a settlement-report recipient survives a restart (durable.py)
        if not self.session_type.order_entry:
            return
        offline = None
        if self.session_type.retransmission and not self.listener:
            store = self.sim.stores.get(self.product, self.session_code, decision.account.api_key)
            offline = OfflineSink(store, self.driver.session.config.sender_comp_id, decision.account.api_key,
                                  self.flags, self.sim.clock.now)
            if self.sim.state_file is not None:
                self.sim.state_file.aux_dirty = True  # the RT sink survives a restart (durable.py)
        self.venue.attach(self.session_id, self.user, self, listener=self.listener, offline=offline)
        if options.cancel_orders_on_disconnect and not self.listener:
            durable.live_cancel_on_disconnect(self.venue).add(self.session_id)  # a crash is a disconnect too
            if self.sim.state_file is not None:
                self.sim.state_file.aux_dirty = True

    def _detach(self) -> None:
        if not self.session_id or self._detached:
            return
        self._detached = True
        for service in gateway.LIFECYCLE.get(self.session_code, ()):
            service.detached(self)
        if not self.session_type.order_entry:
            return
        self.venue.detach(self.session_id, self.user, self)
        if self.decision is not None and self.decision.options.cancel_orders_on_disconnect and not self.listener:
            # spec 01 §7: any disconnect, graceful or not, cancels the session's orders on every shard.
            durable.live_cancel_on_disconnect(self.venue).discard(self.session_id)
            if self.sim.state_file is not None:
                self.sim.state_file.aux_dirty = True
            self.venue.dispatch(self.venue.exchange.cancel_session_orders(self.session_id, self.now()))

    def authenticated(self, account, product: str) -> str | None:
        """The Logon's signature verified: charge it to the key's Logon limit (spec 00 §7)."""
        self._authenticated = True
        return ratelimit_gate.logon_refusal(self.sim, account.api_key, product)

    def _on_logon(self, driver: SessionDriver, event: LogonRequest) -> None:
        session = driver.session
        now = driver.clock.now()
        peer = self.peer
        # spec 00 §7 + issue 11 §5: an address with many refused Logons is refused before any
        # verification; the key's own limit is charged only once the Logon is authenticated.
        refusal = ratelimit_gate.logon_peer_refusal(self.sim, peer)
        if refusal:
            log.info("logon refused on %s %s from %s: %s", self.product, self.comp_id, peer, refusal)
            session.refuse_logon(now, refusal)
            return
        decision = self.sim.auth.check(self.product, self.session_type, event.message, now, owner=self)
        if not decision.ok:
            log.info("logon refused on %s %s from %s: %s", self.product, self.comp_id, peer, decision.text)
            if not self._authenticated:  # forged or malformed: its address pays, never the key
                ratelimit_gate.logon_failed(self.sim, peer)
            # spec 01 §11, 09 §6: a Logout whose Text says why; a Reject first only for 373=10.
            session.refuse_logon(now, decision.text, ref_tag=decision.ref_tag,
                                 reject_reason=decision.reject_reason if decision.reject_first else None)
            return
        refusal = self.sim.faults.logon_refusal(self, event.message, decision)  # a refuse_logon fault rule
        if refusal is not None:
            self.sim.auth.release(decision.slot, self)
            session.refuse_logon(now, refusal)
            return
        self.decision = decision
        assert decision.account is not None
        if self.recorder is not None:  # the Logon reply is journaled and logged under the session id
            self.recorder.session = f"{self.product}/{self.session_code}/{decision.account.api_key}"
        store: MessageStore = MemoryStore()
        if self.session_type.retransmission:
            store = self.sim.stores.get(self.product, self.session_code, decision.account.api_key)
            session.config.retention_seconds = decision.options.retention_hours() * 3600.0
        session.accept_logon(now, store=store, heartbeat_interval=decision.heartbeat)


class Simulator:
    """Every endpoint of both products in one process (DESIGN.md §1)."""

    def __init__(self, config: SimConfig, *, clock: Clock | None = None,
                 interceptor_factory: Callable[[str, str], Interceptor | None] | None = None) -> None:
        self.config = config
        self.clock: Clock = clock or default_clock()  # a virtual-clock loop's own clock, else wall time
        self.auth = Authenticator(config.accounts, config.session)
        # Only authenticated Logons are charged to their key's Logon limit (issue 11 §5).
        self.auth.admit = lambda account, product, owner: (
            owner.authenticated(account, product) if isinstance(owner, GatewayConnection)
            else ratelimit_gate.logon_refusal(self, account.api_key, product))
        # The state file (issue 15): stores, drop-copy history and the venue journal, one
        # transaction per batch (self.batch), before the batch's writes. None: `store: memory`.
        self.state_file: StateFile | None = None if config.store == "memory" else StateFile(config.store)
        state_db = self.state_file.db if self.state_file is not None else None
        self.stores = StoreRegistry(config.store, db=state_db)
        self.venues = build_venues(config, clock=self.clock.now, db=state_db)
        self.market_makers: dict[str, MarketMaker] = {}
        self._make_market_makers()
        self.reset_hooks: list[Callable[[], None]] = []  # services that rebuild state on reset
        self.interceptor_factory = interceptor_factory
        self.ORDER_MEMORY = config.order_memory.hours * 3600.0  # behaviour.md "Order memory"
        self.connections: OrderedSet[GatewayConnection] = OrderedSet()  # in arrival order: deterministic runs
        self.endpoints: dict[tuple[str, str], Endpoint] = {}
        self._servers: list[asyncio.base_events.Server] = []
        self._drivers: OrderedSet[SessionDriver] = OrderedSet()
        self._handshaking: set[asyncio.BaseTransport] = set()  # accepted, TLS not yet up
        self.connection_limits = ConnectionLimits(config.session.max_connections,
                                                  config.session.max_connections_per_peer)
        self._ticker: asyncio.Task | None = None
        self._idle_hook: Callable[[], None] | None = None  # on the virtual clock, instead of the ticker
        self.max_send_buffer = 8 * 1024 * 1024  # bytes queued for one connection before it is dropped
        # Clock-driven work of other services (pauses, maintenance, ...): each gets `now` and
        # returns when it next needs to run (epoch seconds) or None.
        self.clock_tasks: list[Callable[[float], float | None]] = []
        self._next_forget = 0.0
        self.conn_watchers: list = []  # simulator/conn_watch.py: who listens to connection events
        self.transcript = Transcript.from_config(self.clock.now, config.journal)  # recent frames (GET /messages)
        self.reset_hooks.append(self.transcript.clear)  # a reset forgets the frames from before it
        self.control = Control(self)
        self.control_server: ControlServer | None = None
        self.ratelimits = ratelimit_gate.install(self)  # token buckets per account (spec 11)
        # On reset: buckets full again, and the service re-attached to the fresh venues.
        self.reset_hooks.append(lambda: (self.ratelimits.reset(), ratelimit_gate.install(self)))
        self.ops = ops.install(self)  # pauses, maintenance, halts (spec 10); schedule off unless asked
        self.reset_hooks.append(lambda: ops.install(self))
        self.faults = fault_service.install(self)  # fault rules (issue 12); none: no cost per frame
        self.metrics = metrics.install(self)  # GET /metrics (issue 17 §2): plain counters, cheap per frame
        self.batch = WriteBatch(self._commit if self.state_file is not None else None)
        self.restored: durable.RestoreReport | None = None
        if self.state_file is not None:
            self.state_file.flushers = [self.stores.flush_all, self._flush_histories]
            self.state_file.on_record = self.batch.touch
            self.restored = durable.restore(self, self.state_file)  # the books come back (journal.py)

    def _commit(self) -> None:
        state_file = self.state_file
        assert state_file is not None
        if not self.batch.reading:  # clock work, timers, control plane: they may change state above the engine
            state_file.aux_dirty = True
        state_file.commit()

    def _flush_histories(self) -> None:
        for venue in self.venues.values():
            if venue.history is not None:
                venue.history.flush()

    TICK = 1.0  # seconds: the longest the clock work waits (expiry resolution, behaviour.md)
    ORDER_MEMORY = 24 * 3600.0  # seconds an ended order stays known by id and ClOrdID (config order_memory.hours)
    FORGET_EVERY = 600.0        # seconds between sweeps of ended orders

    def tick(self, *, uncapped: bool = False) -> float:
        """Run the venues' clock-driven work (Day/GTD expiry); returns seconds until next due
        (at most TICK; `uncapped`: the exact next due, inf when none)."""
        now = self.clock.now()
        delay = math.inf if uncapped else self.TICK
        for product, venue in self.venues.items():
            events = venue.exchange.expire_orders(now)
            maker = self.market_makers.get(product)
            if maker is not None:
                if now >= maker.next_refresh:
                    events += maker.refresh(now)
                delay = min(delay, max(0.01, maker.next_refresh - now))
            if events:
                venue.dispatch(events)
            due = venue.exchange.next_expiry()
            if due is not None:
                delay = min(delay, max(0.01, due - now))
            if product == "prediction":
                due = rfq.tick(venue, now)  # RFQ expiry, confirm window, execution timer (spec 06 §1)
                if due is not None:
                    delay = min(delay, max(0.01, due - now))
        for venue in self.venues.values():  # ended orders in compact form within a second (engine/memory.py)
            venue.exchange.compact_ended()
        if now >= self._next_forget:  # bounded memory for long runs (Exchange.forget_final_orders)
            self._next_forget = now + self.FORGET_EVERY
            for venue in self.venues.values():
                venue.exchange.forget_final_orders(now - self.ORDER_MEMORY, self.config.order_memory.max_ended_orders)
        for task in self.clock_tasks:
            due = task(now)
            if due is not None:
                delay = min(delay, max(0.01, due - now))
        if uncapped:
            delay = min(delay, max(0.01, self._next_forget - now))
        return delay

    def _before_time_moves(self) -> float | None:
        """The virtual clock's idle hook (virtual_clock.VirtualEventLoop.add_idle_hook): the clock
        work due now, then when it is next due. Called each time the loop is about to move time,
        after every callback that could have changed a deadline, so nothing needs polling."""
        delay = self.tick(uncapped=True)
        return None if delay == math.inf else self.clock.now() + delay

    async def _run_ticker(self) -> None:
        while True:
            try:
                delay = self.tick()
            except Exception:  # our bug: logged once, and the clock keeps running (house rule 12)
                log.exception("unhandled exception in the simulator's clock work")
                delay = self.TICK
            await asyncio.sleep(delay)

    def _make_market_makers(self) -> None:
        self.market_makers = {}
        if self.config.market_maker.enabled:
            for product, venue in self.venues.items():
                if venue.exchange.markets():
                    self.market_makers[product] = MarketMaker(
                        venue.exchange, self.config.market_maker, random.Random(f"{self.config.seed}/{product}/mm"))

    def _ssl_context(self) -> ssl.SSLContext | None:
        tls = self.config.tls
        if not tls.enabled:
            if self.config.host not in _LOOPBACK:
                raise ValueError("plaintext listeners are allowed only on loopback (DESIGN.md §1)")
            return None
        return server_ssl_context(CertPaths(ca=tls.ca, ca_key=None, cert=tls.cert, key=tls.key))

    async def start(self, control_port: int | None = None, *, listen: bool = True) -> None:
        """Open every listener; with `control_port` (0 = any free port) also the HTTP control plane.
        `listen=False`: no socket at all, only in-memory connections (connect_in_memory)."""
        loop = asyncio.get_running_loop()
        if (listen or control_port is not None) and is_virtual(loop):
            raise ValueError("a simulator on the virtual clock serves in-memory connections only: "
                             "start(listen=False) and no control port (a socket's peer lives in real time)")
        ctx = self._ssl_context() if listen else None
        for product, pconf in self.config.products.items():
            if not pconf.enabled or not listen:
                continue
            for st in session_types(product):
                port = pconf.ports.get(st.code)
                if port is None:
                    continue
                try:
                    server = await loop.create_server(
                        lambda p=product, s=st: self._gatekeeper(p, s, ctx), self.config.host, port)
                except OSError as exc:
                    await self._close_listeners()
                    raise ListenError(product, st.code, self.config.host, port, exc) from exc
                bound = server.sockets[0].getsockname()[1]
                self._servers.append(server)
                self.endpoints[(product, st.code)] = Endpoint(product, st.code, st.comp_id, self.config.host,
                                                              bound, ctx is not None)
        if control_port is not None:
            from .control_http import ControlServer  # aiohttp, imported only when served (issue 17)
            self.control_server = ControlServer(self.control, "127.0.0.1", control_port)
            try:
                await self.control_server.start()
            except OSError as exc:
                self.control_server = None
                await self._close_listeners()
                raise ListenError(None, None, "127.0.0.1", control_port, exc) from exc
        self.tick()  # the market maker quotes before the first client can connect
        if is_virtual(loop):  # no polling: the loop asks before each move of its clock
            self._idle_hook = loop.add_idle_hook(self._before_time_moves)  # type: ignore[attr-defined]
        else:
            self._ticker = loop.create_task(self._run_ticker())
        log.info("serving %d endpoints", len(self.endpoints))

    async def _close_listeners(self) -> None:
        """Undo a start that failed half-way: close what was bound already."""
        for server in self._servers:
            server.close()
            await server.wait_closed()
        self._servers.clear()
        self.endpoints.clear()

    def _gatekeeper(self, product: str, st: SessionType, ctx: ssl.SSLContext | None) -> Gatekeeper:
        """Connection caps, then TLS with a handshake timeout, then the driver (issue 11 §4)."""
        settings = self.config.session
        return Gatekeeper(self.connection_limits, f"{product}/{st.code}",
                          lambda peer: self._new_driver(product, st, peer), ctx,
                          min(settings.tls_handshake_timeout, settings.logon_timeout), self._handshaking)

    async def connect_in_memory(self, product: str, session: str, protocol_factory: Callable[[], Any]):
        """A connection to (product, session) with no socket, as loop.create_connection:
        returns (transport, protocol). The simulator's side runs the same code as an accepted
        TLS connection (simulator/memory_transport.py)."""
        return memory_transport.accept(self, product, session, protocol_factory)

    async def open_in_memory(self, product: str, session: str):
        """As asyncio.open_connection over an in-memory connection: (reader, writer) of raw bytes."""
        return await memory_transport.open_streams(self, product, session)

    def in_memory_connector(self, product: str, session: str):
        """For FixClient(connector=...): each (re)connect opens a new in-memory connection."""
        return lambda protocol_factory: self.connect_in_memory(product, session, protocol_factory)

    def _new_driver(self, product: str, st: SessionType, peer: str = "") -> SessionDriver:
        settings = self.config.session
        server_comp_id = st.comp_id if settings.server_comp_id == "echo" else settings.server_comp_id
        session = Session(SessionConfig(
            role=ACCEPTOR, sender_comp_id=server_comp_id, retransmission=st.retransmission,
            session_name=st.comp_id, sending_time_tolerance=settings.sending_time_tolerance,
            logon_timeout=settings.logon_timeout), now=self.clock.now())
        conn = GatewayConnection(self, product, st)
        conn.peer = peer
        inner = self.interceptor_factory(product, st.code) if self.interceptor_factory else None
        conn.recorder = self.transcript.recorder(product, st.code, inner, comp_id=server_comp_id)
        driver = SessionDriver(session, conn.on_event, clock=self.clock, interceptor=conn.recorder,
                               on_connection_made=self._track, batch=self.batch)
        conn.driver = driver
        driver.describe = lambda: conn.session_id or f"{product}/{st.code}/{conn.api_key or 'not logged on'}"
        self.faults.attach(conn)  # fault rules (issue 12): refused, or given the fault layer
        if self.conn_watchers:  # connection events for a judge of the client (simulator/conn_watch.py)
            conn_watch.accepted(self, conn, driver, peer)
        return driver

    def _track(self, driver: SessionDriver) -> None:
        # Tracked only once connected: a failed TLS handshake never reaches the protocol.
        self._drivers.add(driver)
        driver.closed.add_done_callback(lambda _f: self._drivers.discard(driver))

    def reset(self) -> None:
        """The configured start state: every connection dropped, fresh venues (empty books,
        starting balances), fresh stores; same config and seed. Listeners stay up."""
        for driver in list(self._drivers):
            driver.abort()
        for transport in list(self._handshaking):
            transport.abort()
        self.connections.clear()
        self.auth.release_all()
        self.stores.reset()
        for product, venue in self.venues.items():
            db = getattr(venue.history, "_db", None)
            if db is not None:
                venue.history.flush()
                SqliteHistory.clear(db, product)  # drop-copy history starts empty too
        self._close_histories()  # build_venues opens the state file again
        state_db = self.state_file.db if self.state_file is not None else None
        self.venues = build_venues(self.config, clock=self.clock.now, db=state_db)
        self._make_market_makers()
        for hook in self.reset_hooks:
            hook()
        if self.state_file is not None:  # the journal starts again from the configured state
            self.state_file.clear()
            durable.instrument(self, self.state_file)
        self.tick()

    def endpoint(self, product: str, session: str) -> Endpoint:
        return self.endpoints[(product, session.upper())]

    def endpoint_table(self) -> str:
        rows = [("product", "session", "TargetCompID", "address", "TLS")]
        rows += [(e.product, e.session, e.comp_id, f"{e.host}:{e.port}", "yes" if e.tls else "no")
                 for e in self.endpoints.values()]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    async def stop(self, timeout: float = 5.0) -> None:
        self.faults.close()
        if self._ticker is not None:
            self._ticker.cancel()
        if self._idle_hook is not None:
            self._idle_hook()  # removes it
            self._idle_hook = None
        if self.control_server is not None:
            await self.control_server.stop()
        for server in self._servers:
            server.close()
        for transport in list(self._handshaking):
            transport.abort()
        for driver in list(self._drivers):
            if driver.session.is_active:
                driver.logout("Simulator shutting down")
            else:
                driver.abort()
        pending = [d.closed for d in self._drivers if not d.closed.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
            for driver in list(self._drivers):
                driver.abort()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        self.batch.flush()  # what the last turn produced, committed
        if self.state_file is not None:
            self.state_file.snapshot()  # a clean stop: the next start-up replays nothing
        self._close_histories()  # drop copy history: written before the stores close
        self.stores.close()
        if self.state_file is not None:
            self.state_file.commit()
            self.state_file.close()
        self.transcript.close()

    def _close_histories(self) -> None:
        """Write the venues' drop-copy histories and close the SQLite connection they share
        (world.attach_history opened it; one per build_venues)."""
        dbs = {}
        for venue in self.venues.values():
            if venue.history is not None:
                venue.history.close()
                db = getattr(venue.history, "_db", None)
                if db is not None and (self.state_file is None or db is not self.state_file.db):
                    dbs[id(db)] = db
        for db in dbs.values():
            db.close()


class SimulatorThread:
    """A Simulator on its own event loop in a background thread (pytest plugin, embedding)."""

    def __init__(self, config: SimConfig, *, control_port: int | None = None, **kwargs) -> None:
        self.config = config
        self.control_port = control_port
        self.kwargs = kwargs
        self.loop = asyncio.new_event_loop()
        self.sim: Simulator | None = None
        self._thread = threading.Thread(target=self.loop.run_forever, name="kalshi-fixsim", daemon=True)

    def start(self, timeout: float = 10.0) -> Simulator:
        self._thread.start()

        async def _start() -> Simulator:
            sim = Simulator(self.config, **self.kwargs)
            await sim.start(control_port=self.control_port)
            return sim

        self.sim = asyncio.run_coroutine_threadsafe(_start(), self.loop).result(timeout)
        return self.sim

    def call(self, fn: Callable, *args, timeout: float = 10.0):
        """Run fn(*args) on the simulator's loop and return its result."""
        async def _call():
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(_call(), self.loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self.sim is not None:
            asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        self.loop.close()
