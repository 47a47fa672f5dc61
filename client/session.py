"""FixClient: the reference Kalshi FIX initiator for every session type and both products.

    async with FixClient(product="prediction", session="RT", host=..., port=...,
                         api_key=..., private_key="keys/alice.pem", ca_file="certs/ca.pem") as fix:
        await fix.send("D", [...])
        report = await fix.expect("8")

With no socket (a simulator in the same process, e.g. on the virtual clock):

    fix = FixClient(api_key=..., private_key=..., connector=sim.in_memory_connector("prediction", "NR"),
                    clock=sim.clock, deterministic_signature=True)

`connector` opens each (re)connection as loop.create_connection would (host, port and TLS are
then unused); the clock defaults to the running loop's own clock (a virtual-clock loop's) when
the client is made inside it, else wall time.

Session rules follow spec 01: the Logon is signed over the exact SendingTime it carries
(§3); ResetSeqNumFlag=Y on every Logon of NR/DC/RFQ/MD and on the first Logon of RT/PT,
which then resume their sequence numbers across reconnects (§5.1); heartbeats,
TestRequest and dead-peer detection (§4); resend and gap fill from our own store (§6);
Logout handshake both ways (§7); reconnect with full-jitter backoff.
"""
from __future__ import annotations

import asyncio
import random
import ssl
from pathlib import Path
from typing import Awaitable, Callable, Iterable

from kalshi_fixsim.fixproto.aio import Clock, Interceptor, SessionDriver, default_clock
from kalshi_fixsim.fixproto.codec import FixMessage
from kalshi_fixsim.fixproto.kalshi import LogonOptions, load_private_key, logon_payload, session_type, sign_logon
from kalshi_fixsim.fixproto.session import (INITIATOR, AppMessage, Disconnect, Event, LoggedOn, Session, SessionConfig,
                              SessionReject, TestResponse)
from kalshi_fixsim.fixproto.store import MemoryStore, MessageStore

__all__ = ["FixClient", "LogonError", "ConnectionClosed", "Connector"]

# Opens one connection for a protocol factory, as loop.create_connection does (e.g. the
# simulator's in-memory connector: Simulator.in_memory_connector(product, session)).
Connector = Callable[[Callable[[], asyncio.BaseProtocol]],
                     Awaitable[tuple[asyncio.BaseTransport, asyncio.BaseProtocol]]]

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_EXEC_ID_MEMORY = 100_000  # ExecIDs remembered to spot PossResend copies (bounded memory)


class LogonError(Exception):
    """The gateway refused our Logon (its Logout Text is the message) or it timed out."""

    def __init__(self, text: str, reason: str = "logon_refused") -> None:
        super().__init__(text)
        self.text = text
        self.reason = reason


class ConnectionClosed(Exception):
    def __init__(self, disconnect: Disconnect) -> None:
        super().__init__(f"{disconnect.reason}: {disconnect.text}")
        self.disconnect = disconnect


class FixClient:
    def __init__(self, *, api_key: str, private_key, product: str = "prediction", session: str = "NR",
                 host: str = "127.0.0.1", port: int = 0, ca_file: str | Path | None = None,
                 ssl_context: ssl.SSLContext | None = None, tls: bool = True, server_hostname: str | None = None,
                 heartbeat: int = 30, options: LogonOptions | None = None, reset: bool | None = None,
                 store: MessageStore | None = None, clock: Clock | None = None, rng: random.Random | None = None,
                 reconnect: bool = False, max_reconnects: int = 10, backoff_base: float = 0.5,
                 backoff_cap: float = 30.0, connect_timeout: float = 10.0,
                 sending_time_tolerance: float | None = 30.0, interceptor: Interceptor | None = None,
                 connector: Connector | None = None, deterministic_signature: bool = False) -> None:
        self.product = product
        self.session_type = session_type(product, session)
        self.api_key = api_key
        self.host, self.port = host, port
        self.heartbeat = heartbeat
        self.options = options or LogonOptions()
        self.store: MessageStore = store or MemoryStore()  # outlives connections: RT/PT continuity
        self.clock: Clock = clock or default_clock()  # made on a virtual-clock loop: its clock
        self.rng = rng or random.Random(0)
        self.reconnect = reconnect
        self.max_reconnects = max_reconnects
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.connect_timeout = connect_timeout
        self.sending_time_tolerance = sending_time_tolerance
        self.interceptor = interceptor
        # connector: no socket (host, port and TLS unused); deterministic_signature: PSS salt
        # length 0, so a Logon signs to the same bytes every run (byte-identical virtual runs).
        self.connector = connector
        self._salt_length = 0 if deterministic_signature else None
        self._key = load_private_key(private_key)
        self._ssl = None if connector is not None else self._make_ssl(tls, ca_file, ssl_context)
        self._server_hostname = server_hostname
        self._reset_next = True if reset is None else reset  # RT/PT: fresh on the first Logon only
        self.driver: SessionDriver | None = None
        self.logon_reply: FixMessage | None = None
        self.inbox: asyncio.Queue[FixMessage] = asyncio.Queue()
        self.rejects: list[FixMessage] = []
        self.disconnects: list[Disconnect] = []
        self.logons = 0
        self._logged_on: asyncio.Future[FixMessage] | None = None
        self._closing = False
        self._reconnect_task: asyncio.Task | None = None
        self._connected = asyncio.Event()
        self._syncs: dict[str, asyncio.Future[None]] = {}
        self._sync_count = 0
        self.connect_attempts = 0
        # Called with this client after every Logon, reconnects included: what a session must redo
        # on a fresh connection (market data subscriptions: NR/MD keep nothing across one).
        self.on_logon: list = []
        # ExecIDs of the ExecutionReports delivered, so a PossResend(97=Y) copy of one already
        # seen is dropped (spec 01 §6: PossResend is the application's duplicate to detect).
        self._exec_ids: dict[str, None] = {}  # insertion-ordered: the oldest go first past the cap
        self.possresend_dropped = 0

    # --- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> "FixClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def connect(self) -> FixMessage:
        """Open the connection and log on; raises LogonError with the gateway's Text."""
        self.connect_attempts += 1
        reset = self.session_type.reset_required or self._reset_next
        loop = asyncio.get_running_loop()
        self._logged_on = loop.create_future()
        session = Session(SessionConfig(
            role=INITIATOR, sender_comp_id=self.api_key, target_comp_id=self.session_type.comp_id,
            heartbeat_interval=self.heartbeat, retransmission=self.session_type.retransmission,
            session_name=self.session_type.comp_id, sending_time_tolerance=self.sending_time_tolerance,
            logon_timeout=self.connect_timeout, logon_fields=self.options.to_fields(self.product)),
            store=self.store, now=self.clock.now())
        driver = SessionDriver(session, self._on_event, clock=self.clock, interceptor=self.interceptor)
        if self.interceptor is not None:
            driver.enable_actions()  # the interceptor may return transport actions (fixproto/actions.py)
        try:
            if self.connector is not None:
                opening = self.connector(lambda: driver)
            else:
                opening = loop.create_connection(
                    lambda: driver, self.host, self.port, ssl=self._ssl,
                    server_hostname=(self._server_hostname or self.host) if self._ssl else None)
            await asyncio.wait_for(opening, self.connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise LogonError(f"cannot connect to {self.host}:{self.port}: {exc}", "connect_failed") from exc
        self.driver = driver
        session.start_logon(self.clock.now(), reset=reset, signer=self._sign)
        driver.pump()
        try:
            reply = await asyncio.wait_for(asyncio.shield(self._logged_on), self.connect_timeout)
        except asyncio.TimeoutError:
            driver.abort()
            raise LogonError("no Logon reply within the connect timeout", "logon_timeout") from None
        self._reset_next = False
        self.logon_reply = reply
        self.logons += 1
        for callback in list(self.on_logon):
            callback(self)
        self._connected.set()
        return reply

    async def logout(self, text: str = "", timeout: float = 5.0) -> Disconnect:
        """Logout handshake: send Logout, wait for the gateway's, close (spec 01 §7)."""
        self._closing = True
        driver = self.driver
        if driver is None:
            return Disconnect("logout", "not connected")
        if not driver.closed.done():
            driver.logout(text)
        try:
            return await asyncio.wait_for(asyncio.shield(driver.closed), timeout)
        except asyncio.TimeoutError:
            driver.abort()
            return Disconnect("logout_timeout", "no Logout reply")

    async def close(self) -> None:
        self._closing = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        if self.driver is not None and not self.driver.closed.done():
            await self.logout()

    # --- messages -------------------------------------------------------------------------

    def send(self, msg_type: str, body: Iterable[tuple[int, object]]) -> int:
        """Send an application message now; returns its MsgSeqNum."""
        if self.driver is None or not self.driver.session.is_active:
            raise ConnectionClosed(self.disconnects[-1] if self.disconnects else Disconnect("not_connected"))
        return self.driver.send(msg_type, list(body))

    async def receive(self, timeout: float = 10.0) -> FixMessage:
        """The next inbound application message or session Reject (35=3)."""
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def expect(self, msg_type: str, timeout: float = 10.0) -> FixMessage:
        """Wait for the next message of a type, skipping others; TimeoutError at the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = await self.receive(max(0.0, deadline - loop.time()))
            if msg.msg_type == msg_type:
                return msg

    async def sync(self, timeout: float = 10.0) -> None:
        """Round-trip a TestRequest: when it returns, every message the gateway sent before
        answering is in `inbox` (FIX delivers in order)."""
        if self.driver is None or not self.driver.session.is_active:
            raise ConnectionClosed(self.disconnects[-1] if self.disconnects else Disconnect("not_connected"))
        self._sync_count += 1
        test_req_id = f"SYNC{self._sync_count}"
        future = asyncio.get_running_loop().create_future()
        self._syncs[test_req_id] = future
        self.driver.session.test_request(self.clock.now(), test_req_id)
        self.driver.pump()
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            self._syncs.pop(test_req_id, None)

    def drain(self) -> list[FixMessage]:
        """Everything received and not yet consumed, oldest first."""
        out = []
        while not self.inbox.empty():
            out.append(self.inbox.get_nowait())
        return out

    async def collect(self, timeout: float = 10.0) -> list[FixMessage]:
        """sync() then drain(): all messages the gateway has sent so far."""
        await self.sync(timeout)
        return self.drain()

    async def wait_closed(self, timeout: float = 10.0) -> Disconnect:
        assert self.driver is not None
        return await asyncio.wait_for(asyncio.shield(self.driver.closed), timeout)

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    @property
    def is_active(self) -> bool:
        return self.driver is not None and self.driver.session.is_active

    # --- internals ------------------------------------------------------------------------

    def _sign(self, sending_time: str, seq: int, sender: str, target: str) -> list[tuple[int, object]]:
        signature = sign_logon(self._key, logon_payload(sending_time, seq, sender, target),
                               salt_length=self._salt_length)
        return [(95, len(signature)), (96, signature)]

    def _on_event(self, driver: SessionDriver, event: Event) -> None:
        if isinstance(event, AppMessage):
            msg = event.message
            if msg.get(35) == "8":
                exec_id = msg.get(17)
                if exec_id and exec_id != "-1;-1":  # pending and rejected reports share -1;-1
                    if msg.get(97) == "Y" and exec_id in self._exec_ids:
                        self.possresend_dropped += 1
                        return
                    self._exec_ids[exec_id] = None
                    if len(self._exec_ids) > _EXEC_ID_MEMORY:
                        del self._exec_ids[next(iter(self._exec_ids))]
            self.inbox.put_nowait(msg)
        elif isinstance(event, TestResponse):
            future = self._syncs.get(event.test_req_id)
            if future is not None and not future.done():
                future.set_result(None)
        elif isinstance(event, SessionReject):
            self.rejects.append(event.message)
            self.inbox.put_nowait(event.message)
        elif isinstance(event, LoggedOn):
            if self._logged_on is not None and not self._logged_on.done():
                self._logged_on.set_result(event.message)
        elif isinstance(event, Disconnect):
            self.disconnects.append(event)
            self._connected.clear()
            if "ResetSeqNumFlag" in (event.text or ""):
                # spec 01 §5.1, 10 §3: the venue says its sequence numbers were reset (maintenance
                # in reset mode, or a Logon refused for want of 141=Y): the next Logon starts afresh.
                self._reset_next = True
            if self._logged_on is not None and not self._logged_on.done():
                self._logged_on.set_exception(LogonError(event.text, event.reason))
                self._logged_on.exception()  # retrieved: no "never retrieved" warning
            elif self.reconnect and not self._closing and driver is self.driver:
                self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect_loop())

    def backoff(self, attempt: int) -> float:
        """Seconds before reconnect attempt `attempt` (0-based): full jitter, as the SDK
        (base 0.5 s, cap 30 s), so many clients refused at once never retry in step."""
        return self.rng.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** attempt))

    async def connect_with_retry(self, attempts: int | None = None) -> FixMessage:
        """connect(), retried with backoff while the venue refuses or resets the connection;
        the last LogonError if every attempt failed."""
        attempts = self.max_reconnects if attempts is None else attempts
        for attempt in range(attempts):
            try:
                return await self.connect()
            except LogonError:
                if attempt == attempts - 1 or self._closing:
                    raise
                await asyncio.sleep(self.backoff(attempt))
        raise LogonError("no connection attempt made", "connect_failed")

    async def _reconnect_loop(self) -> None:
        """Full-jitter exponential backoff between attempts (backoff())."""
        for attempt in range(self.max_reconnects):
            await asyncio.sleep(self.backoff(attempt))
            if self._closing:
                return
            try:
                await self.connect()
                return
            except LogonError:
                continue

    def _make_ssl(self, tls: bool, ca_file, ctx: ssl.SSLContext | None) -> ssl.SSLContext | None:
        if not tls:
            if self.host not in _LOOPBACK:
                raise ValueError("plaintext FIX is allowed only to a loopback host")
            return None
        if ctx is not None:
            return ctx
        ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx
