"""The one asyncio module: pumps a sans-IO Session over a transport.

It frames inbound bytes, passes every inbound and outbound frame through an optional
interceptor (where faults are injected, so the state machine is never bent), feeds the
Session, hands its events to a handler, writes its output and re-arms its one timer.
"""
from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections import deque
from typing import Any, Callable, Iterable, Protocol

from .actions import Close, HalfClose, Later, PauseReading, Wait
from .codec import Framer, GarbledFrame
from .session import Disconnect, Event, Session

__all__ = ["Clock", "SystemClock", "Interceptor", "SessionDriver"]


class Clock(Protocol):
    def now(self) -> float: ...


class SystemClock:
    """Wall-clock UTC epoch seconds (SendingTime needs wall time)."""

    def now(self) -> float:
        return time.time()


class Interceptor(Protocol):
    """Sees every frame; returns the frames to pass on (none to drop, several to duplicate),
    possibly with transport actions (fixproto/actions.py: delays, closes, ...) among them."""

    def inbound(self, frame: bytes) -> Iterable[bytes]: ...
    def outbound(self, frame: bytes) -> Iterable[bytes]: ...


Handler = Callable[["SessionDriver", Event], None]
_READ_SIZE = 256 * 1024


class SessionDriver(asyncio.BufferedProtocol):
    """asyncio protocol for one connection. `handler(driver, event)` is called for each event."""

    def __init__(self, session: Session, handler: Handler, *, clock: Clock | None = None,
                 interceptor: Interceptor | None = None,
                 on_connection_made: Callable[["SessionDriver"], None] | None = None) -> None:
        self.session = session
        self.on_connection_made = on_connection_made
        self.handler = handler
        self.clock: Clock = clock or SystemClock()
        self.interceptor = interceptor
        self.transport: asyncio.Transport | None = None
        self.disconnect: Disconnect | None = None
        self._loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[Disconnect] = self._loop.create_future()
        self._framer = Framer()
        self._buffer = bytearray(_READ_SIZE)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._pumping = False
        self._in_lane: _Lane | None = None   # made by enable_actions (fault rules installed)
        self._out_lane: _Lane | None = None

    # --- asyncio protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.on_connection_made is not None:
            self.on_connection_made(self)  # after a TLS handshake that succeeded
        self.pump()

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self._buffer)

    def buffer_updated(self, nbytes: int) -> None:
        self.feed(bytes(self._buffer[:nbytes]))

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
        now = self.clock.now()
        session = self.session
        interceptor = self.interceptor
        lane = self._in_lane
        for item in self._framer.feed(data):
            frames = interceptor.inbound(item) if interceptor is not None and isinstance(item, bytes) else (item,)
            if lane is not None:
                lane.run(frames)  # faults are on: frames and actions go in order on the lane
                continue
            for frame in frames:
                session.receive_frame(frame, now)
                # Handle this frame's events before the next frame is read, so replies leave in
                # the order the requests came (a TestRequest behind an order is answered after it).
                self._dispatch()
        self._rearm()

    def send(self, msg_type: str, body: Iterable[tuple[int, object]]) -> int:
        seq = self.session.send(msg_type, body, self.clock.now())
        self.pump()
        return seq

    def logout(self, text: str = "") -> None:
        self.session.logout(self.clock.now(), text)
        self.pump()

    def abort(self) -> None:
        """Drop the transport without a Logout (tests, faults)."""
        if self.transport is not None:
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
                    self.handler(self, event)
            transport = self.transport
            if self.disconnect is not None and transport is not None and not transport.is_closing():
                lane = self._out_lane
                if lane is not None and lane.busy:
                    if not lane.closing:  # frames a fault holds back leave before the close
                        lane.closing = True
                        lane.run((Close(),))
                else:
                    transport.close()  # close() flushes what was written first
        finally:
            self._pumping = False

    # --- internals ------------------------------------------------------------------------

    def _write(self, frames: list[bytes]) -> None:
        self.session.store.flush()  # persisted before it is on the wire: nothing sent is lost
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
                lane.run(interceptor.outbound(frame))
            return
        for frame in frames:
            for out in interceptor.outbound(frame):
                transport.write(out)

    def _write_bytes(self, data: bytes) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def _deliver_inbound(self, item: Any) -> None:
        if not isinstance(item, (bytes, GarbledFrame)):
            return
        self.session.receive_frame(item, self.clock.now())
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
        self._timer = None
        self.session.handle_timer(self.clock.now())
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
