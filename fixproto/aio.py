"""The one asyncio module: pumps a sans-IO Session over a transport.

It frames inbound bytes, passes every inbound and outbound frame through an optional
interceptor (where faults are injected, so the state machine is never bent), feeds the
Session, hands its events to a handler, writes its output and re-arms its one timer.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import struct
import time
from collections import deque
from typing import Any, Callable, Iterable, Protocol

from .actions import Close, HalfClose, Later, PauseReading, Wait
from .codec import Framer, GarbledFrame
from .fields import MSG_TYPE_NAMES
from .session import AppMessage, Disconnect, Event, Session
from .state import State

__all__ = ["Clock", "SystemClock", "default_clock", "Interceptor", "SessionDriver", "WriteBatch"]


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    """Wall-clock UTC epoch seconds (SendingTime needs wall time)."""

    def now(self) -> float:
        return time.time()


def default_clock() -> Clock:
    """The running loop's own wall clock when it keeps one (a virtual-time loop, e.g.
    simulator.virtual_clock: `loop.wall_clock`), else SystemClock: timers and SendingTime agree."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return SystemClock()
    clock = getattr(loop, "wall_clock", None)
    return clock if clock is not None else SystemClock()


class Interceptor(Protocol):
    """Sees every frame; returns the frames to pass on (none to drop, several to duplicate),
    possibly with transport actions (fixproto/actions.py: delays, closes, ...) among them."""

    def inbound(self, frame: bytes) -> Iterable[bytes]: ...
    def outbound(self, frame: bytes) -> Iterable[bytes]: ...
    # Optional: `outbound_all(frames) -> list | None`, the frames of one write at once (None:
    # call `outbound` per frame instead).


Handler = Callable[["SessionDriver", Event], None]


# --- group commit (issue 15 §2, DESIGN §3 rule 13) -------------------------------------------

class WriteBatch:
    """One commit, then one write per connection, per read (or per loop turn).

    Drivers given a batch queue their output instead of writing it. A read is one batch: every
    frame of it is handled, then `flush()` runs `commit` once (the durable state of everything
    the batch did, on every connection) and writes each connection's queued frames in one
    write(). When more reads wait in the same loop turn (other connections were readable in the
    same poll), their batches join this one: one commit and one write per connection for the
    whole turn (issue 16). Output made outside a read (clock work, timers, the control plane) is
    flushed at the end of the loop turn. A batch of one is flushed at once: one order in flight
    waits for nothing. `stage`, if set, is called with "commit", "write" and "written" (crash tests)."""

    def __init__(self, commit: Callable[[], None] | None = None) -> None:
        self.commit = commit
        self.stage: Callable[[str], None] | None = None
        self._dirty: dict["SessionDriver", None] = {}
        self._depth = 0
        self._scheduled = False
        self._outside = False  # something outside a read is in the batch (clock work, control plane)
        # A read from a socket is in this batch: it may wait for the reads of the other sockets
        # readable in the same poll. In-memory connections (tests, the virtual clock) never wait:
        # their interleaving stays what it was, read by read.
        self.socket_read = False
        self.reading = False

    def __enter__(self) -> "WriteBatch":
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            if self.socket_read and _more_this_turn():
                self.socket_read = False
                self._schedule()  # flushed after the reads still waiting in this loop turn
                return
            self.socket_read = False
            self._end_of_batch()

    def touch(self) -> None:
        """Something needs committing: flush at the end of this batch or loop turn."""
        if self._depth == 0:
            self._outside = True
            self._schedule()

    def _schedule(self) -> None:
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script driving the venue directly): at once
            self._end_of_batch()
            return
        self._scheduled = True
        loop.call_soon(self._end_of_batch)

    def _end_of_batch(self) -> None:
        # The commit knows whether only reads are in the batch (no clock or control work).
        self.reading = not self._outside
        self._outside = False
        try:
            self.flush()
        finally:
            self.reading = False

    def queue(self, driver: "SessionDriver") -> None:
        self._dirty[driver] = None
        self.touch()

    def flush(self) -> None:
        self._scheduled = False
        stage = self.stage
        if stage is not None:
            stage("commit")
        dirty, self._dirty = self._dirty, {}
        if self.commit is not None:
            try:
                self.commit()
            except Exception:  # nothing unrecorded may reach a client (write-ahead): they are cut
                log.exception("commit failed; %d connection(s) dropped unanswered", len(dirty))
                for driver in dirty:
                    driver._out.clear()
                    driver.abort()
                return
        if stage is not None:
            stage("write")
        for driver in dirty:
            driver._write_out()
        if stage is not None:
            stage("written")

def _more_this_turn() -> bool:
    """Do other callbacks wait in this turn of the running loop (reads of connections readable
    in the same poll)? asyncio's own loops keep them in `_ready`; another loop: no."""
    try:
        return bool(getattr(asyncio.get_running_loop(), "_ready", None))
    except RuntimeError:
        return False


# The read buffer starts small (a silent or quiet connection holds little, issue 11 §4) and
# doubles whenever a read fills it, up to _READ_MAX, and halves again after _SHRINK_AFTER small
# reads in a row; the framer keeps partial frames itself,
# so a frame larger than the buffer (a 900 KB TestRequest) arrives over several reads.
_READ_MIN = 16 * 1024
_READ_MAX = 256 * 1024
_SHRINK_AFTER = 64  # reads in a row using under 1/8 of a grown buffer halve it (down to _READ_MIN)
log = logging.getLogger("kalshi_fixsim")


class SessionDriver(asyncio.BufferedProtocol):
    """asyncio protocol for one connection. `handler(driver, event)` is called for each event."""

    def __init__(self, session: Session, handler: Handler, *, clock: Clock | None = None,
                 interceptor: Interceptor | None = None,
                 on_connection_made: Callable[["SessionDriver"], None] | None = None,
                 batch: WriteBatch | None = None) -> None:
        self.session = session
        self.batch = batch           # group commit: output queued in _out until the batch flushes
        self._out: list[bytes] = []
        self.on_connection_made = on_connection_made
        self.handler = handler
        self.clock: Clock = clock or default_clock()
        self.interceptor = interceptor
        self.transport: asyncio.Transport | None = None
        self.disconnect: Disconnect | None = None
        self._loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[Disconnect] = self._loop.create_future()
        self._framer = Framer()
        self._buffer = bytearray()  # allocated at the first read: a silent connection holds none
        self._view = memoryview(self._buffer)
        self._small_reads = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._pumping = False
        self._socket = False
        self._in_lane: _Lane | None = None   # made by enable_actions (fault rules installed)
        self._out_lane: _Lane | None = None

    # --- asyncio protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self._socket = transport.get_extra_info("socket") is not None  # not an in-memory pipe (WriteBatch)
        if self.on_connection_made is not None:
            self.on_connection_made(self)  # after a TLS handshake that succeeded
        self.pump()

    def get_buffer(self, sizehint: int) -> memoryview:
        if not self._buffer:
            self._buffer = bytearray(_READ_MIN)
            self._view = memoryview(self._buffer)
        return self._view

    def buffer_updated(self, nbytes: int) -> None:
        data = self._view[:nbytes].tobytes()
        size = len(self._buffer)
        if nbytes == size and size < _READ_MAX:
            # A full read: more is probably waiting, so read it in bigger pieces from now on.
            self._resize(min(_READ_MAX, 2 * size))
        elif size > _READ_MIN and nbytes < size >> 3:
            self._small_reads += 1
            if self._small_reads >= _SHRINK_AFTER:  # the burst is over: give the memory back
                self._resize(size // 2)
        else:
            self._small_reads = 0
        self.feed(data)

    def _resize(self, size: int) -> None:
        self._buffer = bytearray(size)
        self._view = memoryview(self._buffer)
        self._small_reads = 0

    def eof_received(self) -> bool | None:
        return False  # let the transport close; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.connection_lost(self.clock.now())
        self.pump()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.closed.done():
            self.closed.set_result(self.disconnect or Disconnect("connection_lost", str(exc or "")))

    # --- API ------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        batch = self.batch
        if batch is None:
            self._feed(data)
        else:
            with batch:  # every frame of the read, then one commit and one write per connection
                if self._socket:
                    batch.socket_read = True
                self._feed(data)

    def _feed(self, data: bytes) -> None:
        now = self.clock.now()
        session = self.session
        interceptor = self.interceptor
        lane = self._in_lane
        # An interceptor that only records (the simulator's journal) may give a recorder for this
        # read's frames: one call per frame, no list of frames passed on (Recorder.inbound_recorder).
        record = None
        if interceptor is not None and lane is None:
            quick = getattr(interceptor, "inbound_recorder", None)
            if quick is not None:
                record = quick()
        for item in self._framer.feed(data):
            if record is not None and isinstance(item, bytes):
                try:
                    record(item)
                except Exception as exc:  # as _intercept: a bug there passes the frame on unchanged
                    log.error("unhandled exception in the frame interceptor on %s", self.describe(), exc_info=exc)
                frames: Iterable[Any] = (item,)
            elif interceptor is not None and isinstance(item, bytes):
                frames = self._intercept(interceptor.inbound, item)
            else:
                frames = (item,)
            if lane is not None:
                lane.run(frames)  # faults are on: frames and actions go in order on the lane
                continue
            for frame in frames:
                try:
                    session.receive_frame(frame, now)
                except Exception as exc:  # our bug: answered, never a silent close (house rule 12)
                    self._failed("session layer", exc)
                # Handle this frame's events before the next frame is read, so replies leave in
                # the order the requests came (a TestRequest behind an order is answered after it).
                self._dispatch()
        self._rearm()

    def send(self, msg_type: str, body: Iterable[tuple[int, object]]) -> int:
        seq = self.session.send(msg_type, body, self.clock.now())
        if self._pumping:
            return seq  # sent from a handler: the loop running it writes the output and re-arms after
        self._dispatch()
        if self._timer is None:
            self._rearm()  # else it stays: a send only moves the session's deadlines later (_rearm)
        return seq

    def logout(self, text: str = "") -> None:
        self.session.logout(self.clock.now(), text)
        self.pump()

    closed_here = False  # this side closed the transport (a decision, abort or fault), not the peer

    def abort(self) -> None:
        """Drop the transport without a Logout (tests, faults)."""
        if self.transport is not None:
            self.closed_here = True
            self.transport.abort()

    def pump(self) -> None:
        """Write the session's output and dispatch its events until both are empty."""
        self._dispatch()
        self._rearm()

    def _dispatch(self) -> None:
        if self._pumping:
            return  # the outer loop picks up what a handler produced
        self._pumping = True
        try:
            session = self.session
            while True:
                frames = session.data_to_send()
                if frames:
                    self._write(frames)
                events = session.drain_events()
                if not events:
                    break
                for event in events:
                    if isinstance(event, Disconnect):
                        self.disconnect = event
                    try:
                        self.handler(self, event)
                    except Exception as exc:  # our bug: answered, never a silent close (house rule 12)
                        self._failed(type(event).__name__, exc, event)
            transport = self.transport
            if self.disconnect is not None and transport is not None and not transport.is_closing():
                if self._out and self.batch is not None:
                    self.batch.flush()  # committed and written before the close
                lane = self._out_lane
                if lane is not None and lane.busy:
                    if not lane.closing:  # frames a fault holds back leave before the close
                        lane.closing = True
                        lane.run((Close(),))
                else:
                    self.closed_here = True
                    transport.close()  # close() flushes what was written first
        finally:
            self._pumping = False

    def describe(self) -> str:
        """Who this connection is, for logs (the simulator sets its session id)."""
        config = self.session.config
        return f"{config.sender_comp_id or '?'}->{config.target_comp_id or '?'}"

    # --- internals ------------------------------------------------------------------------

    def _intercept(self, hook: Callable[[bytes], Iterable[bytes]], frame: bytes) -> Iterable[bytes]:
        """An interceptor (fault rules, recorders) that raises passes the frame on unchanged."""
        try:
            return list(hook(frame))
        except Exception as exc:  # a bug in a fault rule must not cut the session (house rule 12)
            log.error("unhandled exception in the frame interceptor on %s", self.describe(), exc_info=exc)
            return [frame]

    def _failed(self, where: str, exc: Exception, event: Event | None = None) -> None:
        """The last line of defence (issue 11 §3): an exception escaping the session layer or a
        handler is logged once with the session, then answered: a BusinessMessageReject for an
        application message (the session goes on), else a Logout with Text and close."""
        log.error("unhandled exception in %s on %s", where, self.describe(), exc_info=exc)
        session = self.session
        now = self.clock.now()
        try:
            if isinstance(event, AppMessage) and session.state in (State.ACTIVE, State.LOGOUT_SENT):
                msg = event.message
                mt = msg.get(35) or ""
                seq = msg.get(34) or "0"
                name = f"{MSG_TYPE_NAMES.get(mt, 'message')}(35={mt[:8]})"
                session.send("j", [(45, seq if seq.isascii() and seq.isdigit() else "0"), (372, mt[:8]),
                                   (380, 0), (58, f"Internal error while handling {name}: the simulator "
                                                  f"logged it; the session goes on")], now)
            elif not isinstance(event, Disconnect):
                session.internal_error(now, f"Internal error in the {where}: the simulator logged it; "
                                            f"reconnect")
        except Exception as again:  # the answer failed too: close with what we can
            log.error("could not answer the failure on %s", self.describe(), exc_info=again)
            session.connection_lost(now)

    def _write(self, frames: list[bytes]) -> None:
        if self.batch is not None:  # written by the batch, after its commit
            self._out.extend(frames)
            self.batch.queue(self)
            return
        self.session.store.flush()  # persisted before it is on the wire: nothing sent is lost
        self._write_frames(frames)

    def _write_out(self) -> None:
        """The batch's share of this connection, in one write (the batch committed it)."""
        frames, self._out = self._out, []
        if frames:
            self._write_frames(frames)

    def _write_frames(self, frames: list[bytes]) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        interceptor = self.interceptor
        if interceptor is None:
            transport.write(b"".join(frames))
            return
        lane = self._out_lane
        if lane is not None:  # faults are on: frames and actions go in order on the lane
            for frame in frames:
                lane.run(self._intercept(interceptor.outbound, frame))
            return
        out: list[bytes] | None = None
        whole = getattr(interceptor, "outbound_all", None)
        if whole is not None:  # an observer that takes a whole write at once (the simulator's journal)
            try:
                out = whole(frames)
            except Exception as exc:  # as _intercept: a bug there passes the frames on unchanged
                log.error("unhandled exception in the frame interceptor on %s", self.describe(), exc_info=exc)
                out = frames
        if out is None:
            out = []
            for frame in frames:
                out.extend(self._intercept(interceptor.outbound, frame))
        if out:
            transport.write(b"".join(out))  # one write for what the interceptor passed on

    def _write_bytes(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def _deliver_inbound(self, item: Any) -> None:
        if not isinstance(item, (bytes, GarbledFrame)):
            return
        try:
            self.session.receive_frame(item, self.clock.now())
        except Exception as exc:  # our bug: answered, never a silent close (house rule 12)
            self._failed("session layer", exc)
        self._dispatch()
        self._rearm()

    def enable_actions(self) -> None:
        """Let the interceptor return transport actions (fixproto/actions.py) from now on: frames
        then go through one lane per direction. Until this is called (fault rules installed) the
        read and write paths check nothing more than one attribute."""
        if self._in_lane is None:
            self._in_lane = _Lane(self, self._deliver_inbound)
            self._out_lane = _Lane(self, self._write_bytes)

    def run_actions(self, inbound: Iterable[Any] = (), outbound: Iterable[Any] = ()) -> None:
        """Carry out transport actions (fixproto/actions.py) now, on each direction's lane."""
        self.enable_actions()
        assert self._in_lane is not None and self._out_lane is not None
        self._in_lane.run(list(inbound))
        self._out_lane.run(list(outbound))
        self.pump()

    def close_transport(self, reset: bool = False) -> None:
        """Close now: a FIN after what was written (`reset` False) or a TCP RST (SO_LINGER 0)."""
        transport = self.transport
        if transport is None:
            return
        if not transport.is_closing():
            self.closed_here = True
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
            transport.abort()  # closes the socket at once; with linger 0 the kernel sends RST
        elif not transport.is_closing():
            transport.close()

    def half_close(self) -> None:
        """Shut our write side; keep reading (TLS has no write_eof: the TCP socket is shut)."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if transport.can_write_eof():
            transport.write_eof()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _rearm(self) -> None:
        deadline = self.session.get_timer()
        if deadline is None or self.session.closed:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            return
        # Sending moves deadlines later, never earlier: a timer already due at or before the new
        # deadline can stay (handle_timer does nothing when woken early and the timer re-arms),
        # so a busy sender does not cancel and re-create a timer for every message.
        if self._timer is not None and self._timer_at <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_later(max(0.0, deadline - self.clock.now()), self._on_timer)

    def _on_timer(self) -> None:
        if self.batch is not None:
            with self.batch:
                self._timer_fired()
        else:
            self._timer_fired()

    def _timer_fired(self) -> None:
        self._timer = None
        try:
            self.session.handle_timer(self.clock.now())
        except Exception as exc:  # our bug: answered, never a silent close (house rule 12)
            self._failed("session timer", exc)
        self.pump()


class _Lane:
    """One direction of a connection once a fault acted on it: items run in order, a Wait
    holds the lane (and everything behind it) for its time (fixproto/actions.py)."""

    def __init__(self, driver: SessionDriver, deliver: Callable[[Any], None]) -> None:
        self.driver = driver
        self.deliver = deliver
        self.queue: deque = deque()
        self.held = False
        self.closing = False

    @property
    def busy(self) -> bool:
        return self.held or bool(self.queue)

    def run(self, items: Iterable[Any]) -> None:
        for item in items:
            if self.held:
                self.queue.append(item)
            elif item.__class__ is bytes:
                self.deliver(item)
            else:
                self._do(item)

    def _do(self, item: Any) -> None:
        driver = self.driver
        if isinstance(item, (bytes, GarbledFrame)):
            self.deliver(item)
        elif isinstance(item, Wait):
            self.held = True
            driver._loop.call_later(max(0.0, item.seconds), self._release)
        elif isinstance(item, Later):
            driver._loop.call_later(max(0.0, item.seconds), lambda: self.run(list(item.callback())))
        elif isinstance(item, Close):
            driver.close_transport(reset=item.reset)
        elif isinstance(item, HalfClose):
            driver.half_close()
        elif isinstance(item, PauseReading):
            transport = driver.transport
            if transport is not None and not transport.is_closing():
                transport.pause_reading()
                driver._loop.call_later(max(0.0, item.seconds), self._resume_reading)

    def _release(self) -> None:
        self.held = False
        queue, self.queue = self.queue, deque()
        self.run(queue)
        if self.queue and not self.held:  # items queued while this ran
            self._release()

    def _resume_reading(self) -> None:
        transport = self.driver.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()
