"""What every accepted socket goes through before FIX: connection caps, then TLS (issue 11 §4).

A connection costs memory from the moment it is accepted, long before its Logon: asyncio's
default TLS handshake timeout is 60 s, and its TLS layer reads into a 256 KiB buffer. Here:

* `ConnectionLimits` counts open connections per listener and per peer address; the N+1th is
  closed at once, before any TLS work, and the refusal is logged once per streak;
* `Gatekeeper` is the protocol the listener creates: it applies the caps, then puts TLS in
  front of the SessionDriver with a handshake timeout no longer than the logon timeout (the
  logon timer only starts once TLS is up) and a 32 KiB TLS read buffer, or hands a plaintext
  transport straight to the driver.

    limits = ConnectionLimits(per_listener=1000, per_peer=500)
    server = await loop.create_server(lambda: Gatekeeper(limits, key, make_driver, ctx, 10.0), host, port)
"""
from __future__ import annotations

import asyncio
import logging
import ssl
from asyncio import sslproto
from typing import Callable, Hashable

__all__ = ["ConnectionLimits", "Gatekeeper", "TLS_READ_SIZE"]

log = logging.getLogger("kalshi_fixsim.simulator.server")

TLS_READ_SIZE = 32 * 1024  # bytes of ciphertext read at once (asyncio's default: 256 KiB per connection)


class ConnectionLimits:
    """Open connections per listener and per peer address (all listeners together)."""

    def __init__(self, per_listener: int, per_peer: int) -> None:
        self.per_listener, self.per_peer = per_listener, per_peer
        self.listeners: dict[Hashable, int] = {}
        self.peers: dict[str, int] = {}
        self.refused = 0                     # connections refused so far
        self._warned: set[Hashable] = set()  # caps being hit now (logged once per streak)

    def admit(self, listener: Hashable, peer: str) -> str | None:
        """Claim a place (None) or say why there is none."""
        if self.listeners.get(listener, 0) >= self.per_listener:
            return self._refuse(("listener", listener),
                                f"listener {listener} has {self.per_listener} open connections "
                                f"(session.max_connections)")
        if self.peers.get(peer, 0) >= self.per_peer:
            return self._refuse(("peer", peer),
                                f"{peer} has {self.per_peer} open connections (session.max_connections_per_peer)")
        self.listeners[listener] = self.listeners.get(listener, 0) + 1
        self.peers[peer] = self.peers.get(peer, 0) + 1
        return None

    def release(self, listener: Hashable, peer: str) -> None:
        for table, key, cap in ((self.listeners, listener, self.per_listener), (self.peers, peer, self.per_peer)):
            left = table.get(key, 0) - 1
            if left > 0:
                table[key] = left
            else:
                table.pop(key, None)
            if left < cap:
                self._warned.discard(("listener", key) if table is self.listeners else ("peer", key))

    def _refuse(self, cap: Hashable, why: str) -> str:
        self.refused += 1
        if cap not in self._warned:
            self._warned.add(cap)
            log.warning("connection refused: %s; further refusals are not logged until it has room", why)
        return why


class _SSLProtocol(sslproto.SSLProtocol):
    """asyncio's TLS layer with a smaller read buffer, allocated at the first bytes received
    (its get_buffer grows the buffer on demand), so a silent connection holds none."""
    max_size = TLS_READ_SIZE  # TLS records are at most 16 KiB: a smaller read costs no correctness

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(getattr(self, "_ssl_buffer", None), bytearray):
            self._ssl_buffer = bytearray()
            self._ssl_buffer_view = memoryview(self._ssl_buffer)


class Gatekeeper(asyncio.Protocol):
    """The first protocol of an accepted socket (see the module docstring)."""

    def __init__(self, limits: ConnectionLimits, listener: Hashable,
                 make_driver: Callable[[str], asyncio.BufferedProtocol], ctx: ssl.SSLContext | None,
                 handshake_timeout: float, pending: set[asyncio.BaseTransport] | None = None) -> None:
        self.limits, self.listener, self.make_driver = limits, listener, make_driver
        self.ctx, self.handshake_timeout = ctx, handshake_timeout
        self.pending = pending if pending is not None else set()  # sockets not yet handed to a driver

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peername = transport.get_extra_info("peername")
        peer = str(peername[0]) if peername else ""
        if self.limits.admit(self.listener, peer) is not None:
            transport.abort()  # refused before any TLS work: the peer sees the connection close
            return
        released = False

        def release(*_args) -> None:
            nonlocal released
            if not released:
                released = True
                self.limits.release(self.listener, peer)
                self.pending.discard(transport)

        driver = self.make_driver(peer)
        closed = getattr(driver, "closed", None)
        if closed is not None:
            closed.add_done_callback(release)
        if self.ctx is None:
            transport.set_protocol(driver)  # type: ignore[attr-defined]
            driver.connection_made(transport)
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        tls = _SSLProtocol(loop, driver, self.ctx, waiter, server_side=True,
                           ssl_handshake_timeout=self.handshake_timeout)

        def handshake_done(fut: asyncio.Future) -> None:
            self.pending.discard(transport)
            # Timed out, failed or closed by the peer mid-handshake (the waiter then holds None):
            # the driver never saw the connection, so its `closed` will never release the place.
            failed = fut.cancelled() or fut.exception() is not None  # retrieved: never "never retrieved"
            if failed or getattr(driver, "transport", None) is None:
                release()
        waiter.add_done_callback(handshake_done)
        self.pending.add(transport)
        transport.set_protocol(tls)  # type: ignore[attr-defined]
        tls.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        pass  # only reached when refused: an admitted socket belongs to TLS or the driver
