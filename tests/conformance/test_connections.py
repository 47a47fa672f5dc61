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


async def server_closed(fx, driver, timeout: float = 5.0) -> None:
    """Wait for the server side of a connection to see it closed (its driver's `closed`)."""
    async def wait() -> None:
        await asyncio.shield(driver.closed)
    await asyncio.wait_for(asyncio.wrap_future(asyncio.run_coroutine_threadsafe(wait(), fx.runner.loop)), timeout)


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
        server_side, = fx.call(lambda: [c.driver for c in fx.sim.connections if c.user == "alice"])
        first.close()
        await server_closed(fx, server_side)
        assert fx.call(lambda: fx.sim.connection_limits.peers.get("127.0.0.1")) == 1
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


# --- a slow consumer cut in the middle of a batch (issue 11 §4) -----------------------------------

class Recorder:
    """Server-side interceptor keeping every frame the gateway writes on NR."""

    def __init__(self, written: list[bytes]) -> None:
        self.written = written

    def inbound(self, frame):
        return [frame]

    def outbound(self, frame):
        self.written.append(frame)
        return [frame]


def test_a_slow_consumer_cut_mid_batch_never_stops_reports_to_its_counterparty_listener_and_drop_copy(
        fix_exchange_factory):
    import socket

    from kalshi_fixsim.client import LogonOptions
    from kalshi_fixsim.client.dropcopy import request_replay
    from kalshi_fixsim.client.orders import new_order

    written: list[bytes] = []
    fx = fix_exchange_factory(rate_limits=False,
                              interceptor_factory=lambda product, code: Recorder(written) if code == "NR" else None)
    fx.call(lambda: setattr(fx.sim, "max_send_buffer", 16 * 1024))
    alice = fx.accounts["alice"]
    listen = LogonOptions(listener_session=True, skip_pending_exec_reports=True)
    quiet = LogonOptions(skip_pending_exec_reports=True)

    def alice_backlog() -> int:
        conn, = [c for c in fx.sim.connections if c.user == "alice" and not c.listener]
        return conn.driver.transport.get_write_buffer_size()

    async def scenario():
        slow = await logged_on(fx, alice, extra=((21011, "Y"),))
        for i in range(3):  # three resting bids the counterparty will take in one batch
            slow.send(message(alice, "KalshiNR", "D", 2 + i, new_order(f"rest{i}", A, "buy", 50, 1)))
            assert (await slow.expect("8")).get(150) == "0"
        async with fx.client("alice_listener", options=listen) as listener, \
                fx.client("bob", options=quiet) as bob:
            # alice stops reading; what she leaves unread backs up into the gateway's buffer.
            slow.writer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            fx.call(lambda: [c.driver.transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 4096) for c in fx.sim.connections if c.user == "alice"])
            slow.writer.transport.pause_reading()
            seq = 5
            while fx.call(alice_backlog) <= 16 * 1024:
                assert seq < 2000, "alice's backlog never grew"
                for _ in range(10):
                    slow.send(message(alice, "KalshiNR", "1", seq, [(112, "t" * 4000)]))
                    seq += 1
                await slow.writer.drain()
                await listener.collect()  # a round trip: the server has read what alice sent
            bob.send("D", new_order("take", A, "sell", 50, 3))  # one batch: three fills for alice
            bob_reports = [m for m in await bob.collect() if m.get(35) == "8"]
            assert [m.get(150) for m in bob_reports][-1] == "F" and bob_reports[-1].get(14) == "3.00"
            fills = [m for m in await listener.collect() if m.get(35) == "8" and m.get(150) == "F"]
            assert sorted(m.get(11) for m in fills if m.get(11).startswith("rest")) == ["rest0", "rest1", "rest2"]
            assert fx.call(lambda: [c.user for c in fx.sim.connections if not c.listener]) == ["bob"]
        slow.close()  # what it left unread never reaches it: the server's record says what was written
        to_alice = [f for f in written if f"\x0156={alice.api_key}\x01".encode() in f]
        assert b"\x0135=5\x01" in to_alice[-1] and b"\x0158=Slow consumer: more than 16384 bytes unread" in to_alice[-1]
        assert sum(b"\x0135=8\x01" in f for f in to_alice) == 3  # its three new-order reports, no fill
        async with fx.client("alice_listener", session="DC") as dc:  # drop copy kept every report
            alice_fills = [m for m in fills if m.get(11).startswith("rest")]
            replay = await request_replay(dc, alice_fills[0].get(17))
            replayed = {m.get(17) for m in replay.reports}
            assert {m.get(17) for m in alice_fills} <= replayed
    run(scenario(), timeout=60)


def test_a_plaintext_listener_hands_the_socket_straight_to_the_session_and_applies_the_caps(fix_material):
    from kalshi_fixsim.simulator.config import TlsConfig
    from kalshi_fixsim.simulator.pytest_plugin import make_test_config
    from kalshi_fixsim.simulator.server import SimulatorThread

    ca_file, accounts, _tls = fix_material
    runner = SimulatorThread(make_test_config(accounts, TlsConfig(enabled=False),
                                              session=settings(max_connections_per_peer=1)))
    sim = runner.start()
    alice = accounts["alice"]
    ep = sim.endpoint("prediction", "NR")
    assert not ep.tls

    async def scenario():
        conn = RawConnection(*await asyncio.open_connection(ep.host, ep.port))
        conn.send(logon(alice, "KalshiNR"))
        assert (await conn.read()).get(35) == "A"
        assert await closed_without_a_byte(ep.host, ep.port, timeout=5) < 2  # the cap, without TLS too
        await alive(conn, alice, "KalshiNR", 2)
        conn.close()
    try:
        run(scenario())
    finally:
        runner.stop()
