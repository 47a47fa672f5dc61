"""Failure paths under load (issue 11 §4), over the wire: the TLS handshake timeout, the
connection caps per listener and per peer address, the growing read buffer, and a slow
consumer cut in the middle of a batch while everyone else still gets their reports."""
from __future__ import annotations

import asyncio
import dataclasses
import time

from kalshi_fixsim.simulator.config import SessionSettings
from kalshi_fixsim.simulator.listener import TLS_READ_SIZE
from tests.wire import RawConnection, logon, message, run

A = "KXTEST-26JAN01-A"


def settings(**kw) -> SessionSettings:
    return dataclasses.replace(SessionSettings(), **kw)


async def logged_on(fx, account, product="prediction", session="NR", **kw) -> RawConnection:
    conn = await RawConnection.open(fx, product, session)
    conn.send(logon(account, fx.endpoint(product, session).comp_id, **kw))
    reply = await conn.read()
    assert reply is not None and reply.get(35) == "A", reply
    return conn


async def alive(conn: RawConnection, account, target: str, seq: int) -> None:
    conn.send(message(account, target, "1", seq, [(112, f"alive-{seq}")]))
    assert (await conn.expect("0")).get(112) == f"alive-{seq}"


async def closed_without_a_byte(host: str, port: int, timeout: float) -> float:
    """Open a plain TCP connection, send nothing; seconds until the server closes it."""
    start = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        data = await asyncio.wait_for(reader.read(), timeout)
    except ConnectionResetError:
        data = b""
    writer.close()
    assert data == b""
    return time.monotonic() - start


def test_a_silent_tcp_connection_is_closed_after_the_tls_handshake_timeout(fix_exchange_factory):
    fx = fix_exchange_factory(session=settings(tls_handshake_timeout=0.5))
    ep = fx.endpoint("prediction", "NR")
    elapsed = run(closed_without_a_byte(ep.host, ep.port, timeout=10))
    assert 0.4 <= elapsed < 5  # asyncio's own default would be 60 s
    # and the place it held is free again
    assert fx.call(lambda: dict(fx.sim.connection_limits.peers)) == {}


def test_the_tls_handshake_timeout_is_never_longer_than_the_logon_timeout(fix_exchange_factory):
    fx = fix_exchange_factory(session=settings(logon_timeout=0.5, tls_handshake_timeout=30))
    ep = fx.endpoint("prediction", "NR")
    assert run(closed_without_a_byte(ep.host, ep.port, timeout=10)) < 5


def test_the_per_peer_cap_refuses_the_next_connection_while_existing_ones_keep_working(fix_exchange_factory):
    fx = fix_exchange_factory(session=settings(max_connections_per_peer=2))
    alice, bob, carol = (fx.accounts[n] for n in ("alice", "bob", "carol"))
    ep = fx.endpoint("prediction", "NR")

    async def scenario():
        first = await logged_on(fx, alice)
        second = await logged_on(fx, bob, "margin", "NR")  # the cap counts every listener
        # The third is closed at once, before any TLS work (no handshake timeout to wait for).
        assert await closed_without_a_byte(ep.host, ep.port, timeout=5) < 2
        await alive(first, alice, "KalshiNR", 2)
        await alive(second, bob, "KalshiNR", 2)
        first.close()
        await first.read_until_closed()
        for _ in range(100):  # the server sees the close a moment later: wait for the event
            if fx.call(lambda: fx.sim.connection_limits.peers.get("127.0.0.1")) == 1:
                break
            await asyncio.sleep(0.02)
        third = await logged_on(fx, carol)  # its place is free again
        await alive(third, carol, "KalshiNR", 2)
    run(scenario())
    assert fx.call(lambda: fx.sim.connection_limits.refused) == 1


def test_the_per_listener_cap_refuses_only_on_that_listener(fix_exchange_factory):
    fx = fix_exchange_factory(session=settings(max_connections=1))
    alice, bob = fx.accounts["alice"], fx.accounts["bob"]
    nr = fx.endpoint("prediction", "NR")

    async def scenario():
        first = await logged_on(fx, alice)
        assert await closed_without_a_byte(nr.host, nr.port, timeout=5) < 2
        other = await logged_on(fx, bob, "prediction", "MD")  # another listener has its own cap
        await alive(first, alice, "KalshiNR", 2)
        await alive(other, bob, "KalshiMD", 2)
    run(scenario())


def test_a_900_kb_test_request_parses_with_the_growing_read_buffer(fix_exchange):
    alice = fix_exchange.accounts["alice"]
    big = "x" * 900_000

    async def scenario():
        conn = await logged_on(fix_exchange, alice)
        conn.send(message(alice, "KalshiNR", "1", 2, [(112, big)]))
        beat = await conn.expect("0", timeout=10)
        assert beat.get(112) == big
        await alive(conn, alice, "KalshiNR", 3)
        grown = fix_exchange.call(lambda: max(len(d._buffer) for d in fix_exchange.sim._drivers))
        assert grown > 16 * 1024  # it started at 16 KiB and grew with the big frame
        conn.close()
    run(scenario())
    assert TLS_READ_SIZE < 256 * 1024
