"""The one asyncio module: pumps a sans-IO Session over a transport.

It frames inbound bytes, passes every inbound and outbound frame through an optional
interceptor (where faults are injected, so the state machine is never bent), feeds the
Session, hands its events to a handler, writes its output and re-arms its one timer.
"""
from __future__ import annotations

import asyncio
import time
from typing import Callable, Iterable, Protocol

from .codec import Framer
from .session import Disconnect, Event, Session

__all__ = ["Clock", "SystemClock", "default_clock", "Interceptor", "SessionDriver"]


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
    """Sees every frame; returns the frames to pass on (none to drop, several to duplicate)."""

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
        self.clock: Clock = clock or default_clock()
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
        for item in self._framer.feed(data):
            frames = interceptor.inbound(item) if interceptor is not None and isinstance(item, bytes) else (item,)
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
        for frame in frames:
            for out in interceptor.outbound(frame):
                transport.write(out)

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
