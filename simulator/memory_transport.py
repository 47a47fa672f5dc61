"""In-memory transports: a connection to the simulator with no socket (issue 12 §4).

    transport, driver = await sim.connect_in_memory("prediction", "NR", lambda: driver)
    reader, writer = await sim.open_in_memory("prediction", "RT")   # raw bytes, as open_connection

The simulator's side of the pipe gets the same protocol a listener makes for an accepted TLS
connection (Simulator._new_driver: transcript, interceptors, auth, gateway), so everything
after the handshake runs the same code path. Bytes written on one end reach the other end's
protocol on the next loop turn (loop.call_soon, in write order), never inside write(): a reply
never re-enters the code that sent the request. On a virtual-clock loop that makes a run
fully deterministic: time stands still while bytes are in flight.

Closing follows TCP: close() delivers what was written, then the peer sees eof_received()
and, unless its protocol keeps the half-open connection (returns True), connection_lost(None);
abort() drops what is unsent and the peer's connection_lost gets ConnectionResetError (a RST).
A peer that paused reading holds what arrives; the held bytes count in the sender's
get_write_buffer_size(), so the gateway's slow-consumer rule sees an in-memory reader lag too.
"""
from __future__ import annotations

import asyncio
import itertools
from typing import Any, Callable, TypeVar

__all__ = ["MemoryTransport", "memory_pipe", "feed_protocol", "connect", "served_session", "accept", "open_streams"]

P = TypeVar("P", bound=asyncio.BaseProtocol)
_ids = itertools.count(1)


def feed_protocol(protocol: asyncio.BaseProtocol, data: bytes) -> None:
    """Hand `data` to a protocol as a socket transport would: BufferedProtocol through
    get_buffer/buffer_updated (several rounds if its buffer is smaller), else data_received."""
    if isinstance(protocol, asyncio.BufferedProtocol):
        view = memoryview(data)
        while view:
            buffer = protocol.get_buffer(len(view))
            n = min(len(buffer), len(view))
            if n == 0:
                raise RuntimeError("get_buffer() returned an empty buffer")
            buffer[:n] = view[:n]
            protocol.buffer_updated(n)
            view = view[n:]
    else:
        protocol.data_received(data)  # type: ignore[attr-defined]


class MemoryTransport(asyncio.Transport):
    """One end of an in-memory connection (see memory_pipe)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, name: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(extra)
        self._loop = loop
        self.name = name
        self._protocol: asyncio.BaseProtocol | None = None
        self.peer: MemoryTransport | None = None
        self._outbox = bytearray()  # written, not yet delivered
        self._held = bytearray()    # delivered while our reading is paused
        self._flush_scheduled = False
        self._closing = False       # close() or abort() called (no more writes)
        self._eof_sent = False
        self._eof_received = False
        self._lost = False          # connection_lost delivered (or due): nothing arrives any more
        self._paused = False
        self.bytes_written = 0

    # --- asyncio.BaseTransport --------------------------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._eof_sent = True
        # After everything written so far (the flush callback is already queued ahead of this).
        self._loop.call_soon(self._finish_close)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    # --- asyncio.ReadTransport --------------------------------------------------------------

    def is_reading(self) -> bool:
        return not self._paused and not self._lost

    def pause_reading(self) -> None:
        self._paused = True

    def resume_reading(self) -> None:
        if not self._paused:
            return
        self._paused = False
        if self._held:
            self._loop.call_soon(self._release_held)

    # --- asyncio.WriteTransport -------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._eof_sent or not data:
            return  # as a socket transport after close(): nothing more goes out
        self._outbox += data
        self.bytes_written += len(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def writelines(self, list_of_data) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        """Half-close: the peer reads what was written, then gets eof_received()."""
        if self._eof_sent or self._closing:
            return
        self._eof_sent = True
        self._loop.call_soon(self._send_eof)

    def get_write_buffer_size(self) -> int:
        peer = self.peer
        return len(self._outbox) + (len(peer._held) if peer is not None else 0)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (0, 0)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """No flow control: in-memory writes never block (get_write_buffer_size shows the lag)."""

    def abort(self) -> None:
        """Drop the connection now, like a TCP RST: unsent bytes are lost on both ends."""
        if self._lost:
            return
        self._closing = True
        self._eof_sent = True
        self._outbox.clear()
        peer = self.peer
        self._mark_lost(None)
        if peer is not None and not peer._lost:
            peer._closing = True
            peer._outbox.clear()
            peer._mark_lost(ConnectionResetError("connection reset by peer (in-memory abort)"))

    # --- internals --------------------------------------------------------------------------

    def _flush(self) -> None:
        self._flush_scheduled = False
        data = bytes(self._outbox)
        self._outbox.clear()
        peer = self.peer
        if data and peer is not None:
            peer._receive(data)

    def _receive(self, data: bytes) -> None:
        if self._lost or self._eof_received or self._protocol is None:
            return
        if self._paused:
            self._held += data
            return
        feed_protocol(self._protocol, data)

    def _release_held(self) -> None:
        if self._paused or not self._held:
            return
        data = bytes(self._held)
        self._held.clear()
        if not self._lost and self._protocol is not None:
            feed_protocol(self._protocol, data)
        if self._eof_received:
            self._deliver_eof()

    def _send_eof(self) -> None:
        self._flush()
        peer = self.peer
        if peer is not None and not peer._lost:
            peer._eof_received = True
            if not peer._held:
                peer._deliver_eof()

    def _deliver_eof(self) -> None:
        protocol = self._protocol
        keep_open = isinstance(protocol, asyncio.Protocol) and protocol.eof_received()
        if not keep_open:
            self.close()

    def _finish_close(self) -> None:
        self._flush()
        self._send_eof_if_open()
        self._mark_lost(None)

    def _send_eof_if_open(self) -> None:
        peer = self.peer
        if peer is not None and not peer._lost and not peer._eof_received:
            peer._eof_received = True
            if not peer._held:
                peer._deliver_eof()

    def _mark_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self._held.clear()
        protocol = self._protocol
        if protocol is not None:
            self._loop.call_soon(protocol.connection_lost, exc)


def memory_pipe(loop: asyncio.AbstractEventLoop, *, client_name: str = "client",
                server_name: str = "server") -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected transports (client end, server end), not yet bound to protocols:
    `set_protocol(p)` then `p.connection_made(transport)` on each."""
    n = next(_ids)
    client = MemoryTransport(loop, client_name, {"peername": ("memory", n), "sockname": ("memory", 0)})
    server = MemoryTransport(loop, server_name, {"peername": ("memory", 0), "sockname": ("memory", n)})
    client.peer, server.peer = server, client
    return client, server


def connect(loop: asyncio.AbstractEventLoop, server_protocol: asyncio.BaseProtocol,
            client_factory: Callable[[], P]) -> tuple[MemoryTransport, P]:
    """Wire a client protocol to a server protocol: the server's connection_made first (it
    has accepted), then the client's; returns (the client's transport, its protocol)."""
    client_end, server_end = memory_pipe(loop)
    server_end.set_protocol(server_protocol)
    server_protocol.connection_made(server_end)
    protocol = client_factory()
    client_end.set_protocol(protocol)
    protocol.connection_made(client_end)
    return client_end, protocol


# --- the simulator's side ---------------------------------------------------------------------

def served_session(sim: Any, product: str, session: str):
    """The SessionType of an endpoint the simulator serves (the same set its listeners open);
    ValueError naming the product or session otherwise."""
    from kalshi_fixsim.fixproto.kalshi import session_types

    pconf = sim.config.products.get(product)
    if pconf is None or not pconf.enabled:
        served = ", ".join(p for p, c in sim.config.products.items() if c.enabled)
        raise ValueError(f"product {product!r} is not served (served: {served})")
    code = session.upper()
    for st in session_types(product):
        if st.code == code:
            if pconf.ports.get(code) is None:
                raise ValueError(f"session {code} of {product} has no port in the config, so it is not served")
            return st
    codes = ", ".join(st.code for st in session_types(product))
    raise ValueError(f"unknown session {session!r} for {product} (one of {codes})")


def accept(sim: Any, product: str, session: str, client_factory: Callable[[], P]) -> tuple[MemoryTransport, P]:
    """A new in-memory connection to (product, session): the simulator's side is the protocol
    its listener would make for an accepted TLS connection; returns the client's (transport,
    protocol) once both ends saw connection_made."""
    st = served_session(sim, product, session)
    return connect(asyncio.get_running_loop(), sim._new_driver(product, st), client_factory)


async def open_streams(sim: Any, product: str, session: str,
                       limit: int = 2 ** 16) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """As asyncio.open_connection, over an in-memory connection (a raw FIX peer's bytes)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit, loop=loop)
    transport, protocol = accept(sim, product, session, lambda: asyncio.StreamReaderProtocol(reader, loop=loop))
    return reader, asyncio.StreamWriter(transport, protocol, reader, loop)
