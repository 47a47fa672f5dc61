"""`connect: {client: external}`: a client the runner does not drive (the test's own, or the
client under `kalshi-fixsim conform`) is the session; the runner judges it from the venue's side.

The venue's connection events (simulator/conn_watch.py: accept, every frame both ways, close and
who ended it) reach a ConnFeed on the runner's loop; each external session is an ExternalPeer
following one API key on one (product, session type) across its reconnects:

* `inbox`: what the venue sent the client (`expect`, the default `from: venue`), from its Logon on;
* `sent`: what the client sent (`expect ... from: client`), its Logon excepted;
* `logons`: each Logon the venue accepted, not yet taken by `connect` / `expect_logon`;
* `attempts` / `closes`: its TCP connections and their ends (`expect_connections`,
  `expect_disconnect by:`, `expect_logon not_before:`).

A feed seeded from the journal (pytest: the test's client may be done before the scenario
watches) replays those frames as connection 0: a Logout both ways is its close.
"""
from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from ...fixproto.codec import FixMessage, parse
from .peer import Received

__all__ = ["ConnFeed", "ExternalPeer", "Conn", "watch_feed"]


@dataclass
class Heard(Received):
    conn: int = 0


@dataclass
class Conn:
    number: int
    accepted: float | None = None          # the TCP accept (None: before the watch began)
    api_key: str = ""                      # the Logon's SenderCompID(49) or the session id's key
    logon: FixMessage | None = None        # the client's (last) Logon on it
    logon_frame: bytes = b""
    logon_time: float | None = None
    logged_on: float | None = None         # when the venue answered it with a Logon
    refused: str | None = None             # the Logout Text of a refused Logon
    closed: object = None                  # the close ConnEvent
    logouts: set = field(default_factory=set)
    heartbeat: float | None = None         # HeartBtInt(108) of its Logon
    last_sent: float | None = None         # the client's latest frame on it
    last_heartbeat: float | None = None    # its latest plain Heartbeat (no TestReqID)


@dataclass
class Closed:
    """What `peer.closed` resolves to: the connection's end (Disconnect-like)."""
    reason: str
    text: str = ""
    by: str = ""
    time: float = 0.0


class ConnFeed:
    """Connection events on the runner's loop, kept in order for peers made later."""

    def __init__(self) -> None:
        self.history: list = []
        self.peers: list["ExternalPeer"] = []
        self.stop = None

    def push(self, event) -> None:
        self.history.append(event)
        for peer in list(self.peers):
            peer.on_event(event)

    def peer(self, name: str, product: str, code: str, api_key: str, *, since_now: bool = False) -> "ExternalPeer":
        """A new external session; `since_now`: the past sets its connections' state only
        (a conform case starts with empty queues, logged on if the client is)."""
        peer = ExternalPeer(name, product, code, api_key)
        for event in self.history:
            peer.on_event(event)
        if since_now:
            peer.forget_queued()
        self.peers.append(peer)
        return peer

    def close(self) -> None:
        if self.stop is not None:
            self.stop()
            self.stop = None


def watch_feed(sim_loop, sim, feed: ConnFeed, *, journal: bool = True, timeout: float = 10.0) -> None:
    """Install the connection watch on sim (its loop), forwarding to feed on the caller's loop;
    with `journal`, the journal's frames so far come first (as connection 0)."""
    from ..conn_watch import ConnEvent, watch

    loop = asyncio.get_running_loop()

    def sink(event) -> None:
        loop.call_soon_threadsafe(feed.push, event)

    async def install():
        if journal:
            for e in list(sim.transcript.entries):
                if not e.note:
                    loop.call_soon_threadsafe(feed.push, ConnEvent("frame", e.time, 0, e.endpoint, e.session,
                                                                   e.direction, e.frame))
        return watch(sim, sink)

    async def uninstall(remove):
        remove()

    remove = asyncio.run_coroutine_threadsafe(install(), sim_loop).result(timeout)

    def stop() -> None:
        try:
            asyncio.run_coroutine_threadsafe(uninstall(remove), sim_loop).result(timeout)
        except Exception:  # noqa: BLE001 - a stopped simulator has nothing left to unwatch
            pass
    feed.stop = stop


class _View:
    """The client-sent side of an ExternalPeer, with the interface `expect` uses."""

    def __init__(self, peer: "ExternalPeer") -> None:
        self.peer = peer

    @property
    def inbox(self) -> deque:
        return self.peer.sent

    @property
    def closed(self) -> asyncio.Future:
        return self.peer.closed

    async def wait_arrival(self, timeout: float) -> bool:
        return await self.peer.wait_change(timeout)


class ExternalPeer:
    driver = None  # nothing to abort: the client is not the runner's

    def __init__(self, name: str, product: str, code: str, api_key: str) -> None:
        self.name, self.product, self.code, self.api_key = name, product, code, api_key
        self.endpoint = f"{product}/{code}"
        self.prefix = f"{product}/{code}/{api_key}"
        self.loop = asyncio.get_running_loop()
        self.inbox: deque[Heard] = deque()
        self.sent: deque[Heard] = deque()
        self.logons: deque[Conn] = deque()
        self.refusals: deque[Conn] = deque()
        self.conns: dict[int, Conn] = {}
        self.attempts: list[Conn] = []     # connections accepted (the subject's or not yet known)
        self.closes: list[Conn] = []       # the subject's connections that ended, in order
        self.current: Conn | None = None   # the connection of the latest accepted Logon
        self.originals: dict[int, tuple] = {}  # MsgSeqNum -> (MsgType, SendingTime, arrival) as first sent
        self.logged_on: asyncio.Future = self.loop.create_future()
        self.closed: asyncio.Future = self.loop.create_future()
        self._changed: asyncio.Future | None = None
        self.client_view = _View(self)

    # --- events ---------------------------------------------------------------------------

    def mine(self, conn: Conn) -> bool:
        return conn.api_key == self.api_key

    def maybe_mine(self, conn: Conn) -> bool:
        """A connection attempt counts for the subject unless it named another key."""
        return conn.api_key in ("", self.api_key)

    def on_event(self, ev) -> None:
        if ev.endpoint != self.endpoint:
            return
        conn = self.conns.get(ev.conn)
        if conn is None:
            conn = self.conns[ev.conn] = Conn(ev.conn)
        if ev.session and not conn.api_key:
            conn.api_key = ev.session.rsplit("/", 1)[-1]
        if ev.kind == "live":  # open before the watch: logged on if it has the session id
            if ev.session == self.prefix:
                conn.logged_on = ev.time
                self._logged_on(conn, queue=False)
        elif ev.kind == "accept":
            conn.accepted = ev.time
            self.attempts.append(conn)
        elif ev.kind == "frame":
            self._frame(conn, ev)
        elif ev.kind == "close":
            self._close(conn, Closed(ev.reason, ev.text, ev.by, ev.time))
        self._notify()

    def _frame(self, conn: Conn, ev) -> None:
        if ev.note:
            return  # a fault's mark: that frame did not cross as it is
        try:
            message = parse(ev.frame)
        except Exception:  # noqa: BLE001 - a garbled frame is queued as what it is
            message = FixMessage([])
        kind = message.get(35)
        if ev.direction == "in" and self.mine(conn) or (ev.direction == "in" and kind == "A"
                                                        and message.get(49) == self.api_key):
            self._original(message, kind, ev.time)
        if ev.direction == "in":
            if kind == "A" and conn.logged_on is None:
                conn.api_key = conn.api_key or (message.get(49) or "")
                conn.logon, conn.logon_time, conn.logon_frame = message, ev.time, ev.frame
                try:
                    conn.heartbeat = float(message.get(108) or "")
                except ValueError:
                    conn.heartbeat = None
                if self.mine(conn):
                    conn.last_sent = ev.time
                return
            if not self.mine(conn):
                return
            conn.last_sent = ev.time
            if kind == "0" and message.get(112) is None:
                conn.last_heartbeat = ev.time
            if kind == "5":
                conn.logouts.add("in")
            if conn.logged_on is not None:
                self.sent.append(Heard(ev.time, ev.frame, message, ev.conn))
            self._logout_both_ways(conn, ev.time)
            return
        if not self.mine(conn) and not (ev.session and ev.session == self.prefix):
            return
        if kind == "A" and conn.logged_on is None:
            conn.logged_on = ev.time
            self._logged_on(conn, queue=True)
            return
        if conn.logged_on is None:
            if kind == "5":
                conn.refused = message.get(58) or ""
                self.refusals.append(conn)
            return
        if kind == "5":
            conn.logouts.add("out")
        self.inbox.append(Heard(ev.time, ev.frame, message, ev.conn))
        self._logout_both_ways(conn, ev.time)

    def _original(self, message: FixMessage, kind: str | None, when: float) -> None:
        """What the client sent first under each MsgSeqNum (a Logon with 141=Y starts again at 1):
        what a resend must replay (`expect_resend`)."""
        if message.get(43) == "Y":
            return
        if kind == "A" and message.get(141) == "Y":
            self.originals.clear()
        try:
            seq = int(message.get(34) or "")
        except ValueError:
            return
        self.originals[seq] = (kind or "", message.get(52) or "", when)

    def _logged_on(self, conn: Conn, queue: bool) -> None:
        if queue:
            self.logons.append(conn)
        if self.current is not conn:
            self.current = conn
            if self.closed.done():
                self.closed = self.loop.create_future()
        if not self.logged_on.done():
            self.logged_on.set_result(None)

    def _logout_both_ways(self, conn: Conn, when: float) -> None:
        if conn.number == 0 and len(conn.logouts) == 2:  # a journal replay: no close event
            self._close(conn, Closed("logout", "Logout both ways", "", when))

    def _close(self, conn: Conn, how: Closed) -> None:
        if conn.closed is not None:
            return
        conn.closed = how
        if self.maybe_mine(conn) and (self.mine(conn) or conn.accepted is not None):
            self.closes.append(conn)
        if conn is self.current and not self.closed.done():
            self.closed.set_result(how)

    def _notify(self) -> None:
        if self._changed is not None and not self._changed.done():
            self._changed.set_result(None)

    def forget_queued(self) -> None:
        self.inbox.clear()
        self.sent.clear()
        self.logons.clear()
        self.refusals.clear()

    # --- waiting --------------------------------------------------------------------------

    async def wait_change(self, timeout: float) -> bool:
        """True when any event of this endpoint arrived within timeout."""
        if timeout <= 0:
            return False
        self._changed = self.loop.create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._changed), timeout)
            return True
        except asyncio.TimeoutError:
            return False

    async def wait_arrival(self, timeout: float) -> bool:
        return await self.wait_change(timeout)

    def drop_older(self, conn: Conn) -> None:
        """After a re-logon: what is queued from earlier connections is gone."""
        for queue in (self.inbox, self.sent):
            kept = [r for r in queue if r.conn == conn.number]
            queue.clear()
            queue.extend(kept)

    def last_close_before(self, when: float) -> Conn | None:
        best = None
        for conn in self.closes:
            if conn.closed.time <= when and (best is None or conn.closed.time >= best.closed.time):
                best = conn
        return best

    def first_attempt_after(self, when: float) -> Conn | None:
        for conn in self.attempts:
            if conn.accepted is not None and conn.accepted >= when and self.maybe_mine(conn):
                return conn
        return None
