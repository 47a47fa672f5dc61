"""Virtual-clock runs over in-memory connections (issue 12 §4): the simulator, the reference
client and raw peers on one loop whose time jumps over idle stretches. Assertions are on
virtual instants and message counts; wall time belongs to the benchmarks."""
from __future__ import annotations

import asyncio
import random

import pytest

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.orders import ExecutionReport, new_order, order_group
from kalshi_fixsim.fixproto.aio import SystemClock
from kalshi_fixsim.fixproto.codec import Framer, format_utc, parse, parse_utc
from kalshi_fixsim.simulator import ops
from kalshi_fixsim.simulator.server import Simulator
from kalshi_fixsim.simulator.virtual_clock import parse_start, run_virtual
from tests.wire import logon

A = "KXTEST-26JAN01-A"
OPTS = LogonOptions(skip_pending_exec_reports=True)


def as_tuple(entry) -> tuple:
    """A journal entry as plain data: (time, direction, endpoint, session id, frame bytes)."""
    return entry.time, entry.direction, entry.endpoint, entry.session, entry.frame


def frames(sim, msg_type: str, direction: str | None = None) -> list:
    """(virtual time, direction, message) of the transcript's frames of one MsgType."""
    out = []
    for when, d, _ep, _session, raw in map(as_tuple, sim.transcript.entries):
        msg = parse(raw)
        if msg.get(35) == msg_type and (direction is None or d == direction):
            out.append((when, d, msg))
    return out


def reports(messages) -> list[ExecutionReport]:
    return [ExecutionReport(m) for m in messages if m.get(35) == "8"]


# --- spec 01 §4 heartbeats, on the virtual clock ----------------------------------------------------

def test_heartbeats_every_30_virtual_seconds_both_ways_over_an_in_memory_connection(fix_virtual):
    async def body(vx):
        t0 = vx.now
        async with vx.client("alice", heartbeat=30) as fix:
            await vx.advance(95)
            assert fix.is_active and vx.now == t0 + 95
        beats = frames(vx.sim, "0")
        assert [(when - t0, d) for when, d, _ in beats] == \
            [(30.0, "out"), (30.0, "in"), (60.0, "out"), (60.0, "in"), (90.0, "out"), (90.0, "in")]
        # SendingTime is the virtual clock: the simulator's Clock and the loop agree.
        assert [m.get(52) for _, d, m in beats if d == "out"] == [format_utc(t0 + s) for s in (30, 60, 90)]
        return asyncio.get_running_loop().jumps
    # One jump per instant something is due (heartbeat and TestRequest deadlines, the 95 s
    # sleep), not one per second of idle time: the simulator's clock work does not poll.
    assert fix_virtual.run(body) <= 10


def test_a_silent_raw_peer_gets_a_test_request_then_is_logged_out_for_heartbeat_timeout(fix_virtual):
    async def body(vx):
        account = vx.accounts["alice"]
        reader, writer = await vx.open_raw("prediction", "NR")
        t0 = vx.now
        writer.write(logon(account, "KalshiNR", now=t0, hb=30))
        framer, seen = Framer(), []
        while data := await reader.read(65536):  # until the simulator closes the connection
            seen += [(vx.now - t0, parse(f).get(35), parse(f).get(58)) for f in framer.feed(data)]
        return seen
    # spec 01 §4: nothing sent for one interval: a Heartbeat; nothing heard for 1.2 intervals: a
    # TestRequest; for two: Logout, then the connection closes.
    assert fix_virtual.run(body) == [
        (0.0, "A", None), (30.0, "0", None), (36.0, "1", None),
        (60.0, "5", "Heartbeat timeout: nothing received for 60.0 s (HeartBtInt=30)")]


def test_a_connection_that_never_logs_on_is_logged_out_after_the_logon_timeout(fix_virtual):
    async def body(vx):
        reader, _writer = await vx.open_raw("prediction", "RT")
        t0, framer, seen = vx.now, Framer(), []
        while data := await reader.read(65536):
            seen += [parse(f).get(35) for f in framer.feed(data)]
        return seen, vx.now - t0
    # Closed at session.logon_timeout, with nothing sent: a Logout needs a logged-on session.
    assert fix_virtual.run(body) == ([], 10.0)


def test_the_reference_client_reconnects_over_the_in_memory_connector_after_its_jittered_backoff(fix_virtual):
    async def body(vx):
        fix = vx.client("alice", reconnect=True, rng=random.Random(7), backoff_base=0.5)
        await fix.connect()
        t0 = vx.now
        vx.sim.reset()  # every connection dropped, and the journal cleared (issue 10 §3)
        await fix.wait_closed()
        await asyncio.wait_for(fix.wait_connected(), 5.0)
        logons = [when - t0 for when, d, _ in frames(vx.sim, "A", "in")]
        await fix.close()
        return fix.logons, logons
    logons, times = fix_virtual.run(body)
    # the journal holds only the Logon after the reset, one backoff delay later
    assert logons == 2 and times == [pytest.approx(random.Random(7).uniform(0, 0.5), abs=1e-5)]


def test_a_bare_sans_io_session_is_a_peer_through_connect_in_memory(fix_virtual):
    # What the conformance kit does: play a session with fixproto alone, no reference client.
    from kalshi_fixsim.fixproto.aio import SessionDriver
    from kalshi_fixsim.fixproto.kalshi import load_private_key, logon_payload, sign_logon
    from kalshi_fixsim.fixproto.session import INITIATOR, Disconnect, LoggedOn, Session, SessionConfig

    async def body(vx):
        account = vx.accounts["bob"]
        key = load_private_key(account.private_key_path)
        events = []
        session = Session(SessionConfig(role=INITIATOR, sender_comp_id=account.api_key, target_comp_id="KalshiMD",
                                        heartbeat_interval=10, session_name="KalshiMD"), now=vx.now)
        driver = SessionDriver(session, lambda _d, event: events.append((vx.now, type(event).__name__)),
                               clock=vx.sim.clock)
        await vx.sim.connect_in_memory("prediction", "MD", lambda: driver)
        t0 = vx.now

        def signer(sending_time, seq, sender, target):
            signature = sign_logon(key, logon_payload(sending_time, seq, sender, target), salt_length=0)
            return [(95, len(signature)), (96, signature)]
        session.start_logon(vx.now, reset=True, signer=signer)
        driver.pump()
        await vx.advance(25)
        driver.logout("done")
        await asyncio.wait_for(driver.closed, 5.0)
        return [(when - t0, name) for when, name in events], len(frames(vx.sim, "0"))
    events, heartbeats = fix_virtual.run(body)
    assert events[0] == (0.0, LoggedOn.__name__) and events[-1][1] == Disconnect.__name__
    assert heartbeats == 4  # at 10 and 20 s, each way


# --- spec 10 §1: the Thursday maintenance window, crossed virtually ------------------------------

def test_the_thursday_trading_pause_is_crossed_in_virtual_time_with_the_session_kept_alive(fix_virtual):
    start = parse_start("Thursday 02:59:50 America/New_York")
    pause_at = parse_start("2026-01-08 03:00 America/New_York")
    resume_at = parse_start("2026-01-08 05:00 America/New_York")

    async def body(vx):
        assert vx.now == start
        ops.install(vx.sim, schedule=ops.THURSDAY)
        async with vx.client("alice", options=OPTS, heartbeat=30) as fix:
            fix.send("D", new_order("before", A, "buy", 40, 1))
            assert [r.kinds for r in reports(await fix.collect())] == [("0", "0")]
            await vx.advance(11)  # 03:00:01
            assert ops.status(vx.sim, vx.now)["products"]["prediction"]["state"] == "trading_paused"
            fix.send("D", new_order("during", A, "buy", 40, 1))
            assert [r.text for r in reports(await fix.collect())] == ["TRADING_PAUSED"]
            await vx.advance(resume_at - vx.now + 1)  # 05:00:01, two hours later
            assert ops.status(vx.sim, vx.now)["products"]["prediction"]["state"] == "open"
            fix.send("D", new_order("after", A, "buy", 40, 1))
            assert [r.kinds for r in reports(await fix.collect())] == [("0", "0")]
            assert fix.is_active
        beats = [when for when, d, _ in frames(vx.sim, "0", "out")]
        assert len(beats) >= 2 * 3600 // 30 - 1 and max(b - a for a, b in zip(beats, beats[1:])) <= 30.0
        assert any(pause_at <= b < resume_at for b in beats)
    fix_virtual.run(body, start="Thursday 02:59:50 America/New_York")


# --- spec 03 §1: the order group's rolling 15 s window -----------------------------------------

@pytest.mark.parametrize("gap,triggered", [(14.9, True), (15.0, False)])
def test_the_order_group_window_counts_fills_of_the_last_15_virtual_seconds(fix_virtual, gap, triggered):
    async def body(vx):
        async with vx.client("alice", options=OPTS) as fix, vx.client("bob", options=OPTS) as bob:
            fix.send("UOG", order_group("create", limit=5))
            group = (await fix.expect("UOH")).get(20130)
            fix.send("D", new_order("g1", A, "buy", 40, 4, order_group=group))
            fix.send("D", new_order("g2", A, "buy", 40, 10, order_group=group))
            await fix.collect()
            bob.send("D", new_order("b1", A, "sell", 40, 4))  # 4 filled now
            await bob.collect()
            await vx.advance(gap)
            bob.send("D", new_order("b2", A, "sell", 40, 2))  # 2 more: 6 > 5 only if the 4 still count
            await bob.collect()
            return [(r.cl_ord_id, r.text) for r in reports(await fix.collect())]
    out = fix_virtual.run(body)
    assert (("g2", "ORDER_GROUP_CANCEL") in out) is triggered


# --- spec 02 §9 seq 16: GTD expiry at its virtual instant --------------------------------------------

def test_a_gtd_order_expires_at_its_expire_time_on_the_virtual_clock(fix_virtual):
    async def body(vx):
        expire = vx.now + 90.0
        async with vx.client("alice", options=OPTS, heartbeat=30) as fix:
            fix.send("D", new_order("gtd", A, "buy", 40, 10, tif="gtd", expire_time=format_utc(expire)))
            assert [r.kinds for r in reports(await fix.collect())] == [("0", "0")]
            await vx.advance(89.9)
            assert reports(await fix.collect()) == []
            report = ExecutionReport(await fix.expect("8", timeout=1.0))
            assert (report.cl_ord_id, report.kinds) == ("gtd", ("4", "4"))
            assert parse_utc(report.msg.get(52)) == pytest.approx(expire, abs=0.001)
    fix_virtual.run(body)


# --- spec 06 §1: the RFQ's lifetime -------------------------------------------------------------

def test_an_rfq_expires_at_the_end_of_its_lifetime_on_the_virtual_clock(fix_virtual):
    from kalshi_fixsim.client.rfq import quote_request
    from kalshi_fixsim.simulator.gateway import rfq as rfq_gateway

    async def body(vx):
        ttl = rfq_gateway.service_for(vx.sim.venues["prediction"]).desk.rfq_ttl
        # A day to wait: hourly heartbeats (no upper bound on HeartBtInt, behaviour.md) keep it short.
        async with vx.client("alice", "prediction", "RT", options=OPTS, heartbeat=300) as rt, \
                vx.client("bob", "prediction", "RFQ", heartbeat=300) as bob:
            rt.send("R", quote_request("cr-1", A, 40))
            ack = await rt.expect("b")
            assert (await bob.expect("R")).get(131) == ack.get(21023)
            created = vx.now
            ub = await rt.expect("UB", timeout=ttl + 5)
            assert (await bob.expect("AG")).get(131) == ack.get(21023)
            return ttl, parse_utc(ub.get(52)) - created, ub.get(21013)
    ttl, after, reason = fix_virtual.run(body)
    assert reason == "2" and after == pytest.approx(ttl, abs=0.011)  # no 1 s polling on the virtual clock


# --- spec 11 §3: the rate-limit bucket refills on the virtual clock --------------------------------

def test_the_write_bucket_refills_as_virtual_time_passes(fix_virtual):
    async def body(vx):
        async with vx.client("alice", options=OPTS) as fix:
            for i in range(11):  # basic tier: 100 tokens, 10 per order
                fix.send("D", new_order(f"o{i}", A, "buy", 10, 1))
            burst = [m.get(35) for m in await fix.collect()]
            await vx.advance(0.1)  # 100 tokens/s: one order's worth
            fix.send("D", new_order("p0", A, "buy", 10, 1))
            fix.send("D", new_order("p1", A, "buy", 10, 1))
            return burst, [m.get(35) for m in await fix.collect()]
    burst, after = fix_virtual.run(body)
    assert burst.count("8") == 10 and burst.count("j") == 1
    assert after == ["8", "j"]


# --- spec 04 §3: drop copy's three-hour window ------------------------------------------------

def test_drop_copy_refuses_a_begin_exec_id_that_left_the_three_hour_window(fix_virtual):
    from kalshi_fixsim.client.dropcopy import request_replay

    async def body(vx):
        async with vx.client("alice", options=OPTS) as fix:  # one connection per key: one at a time
            fix.send("D", new_order("o1", A, "buy", 40, 10))
            old = reports(await fix.collect())[0].exec_id
        async with vx.client("alice", "prediction", "DC") as dc:
            assert (await request_replay(dc, old)).ok
        await vx.advance(3 * 3600 + 60)
        async with vx.client("alice", options=OPTS) as fix:
            fix.send("D", new_order("o2", A, "buy", 41, 10))
            new = reports(await fix.collect())[0].exec_id
        async with vx.client("alice", "prediction", "DC") as dc:
            refused, fresh = await request_replay(dc, old), await request_replay(dc, new)
        return refused.reject.get(35), refused.reason, fresh.ok, [r.get(11) for r in fresh.reports]
    assert fix_virtual.run(body) == ("U3", 3, True, ["o2"])


# --- determinism: the same inputs and seed give the same bytes -------------------------------------

def _scripted_run(fix_virtual) -> list:
    async def body(vx):
        async with vx.client("alice", options=OPTS, heartbeat=30) as alice, \
                vx.client("bob", "prediction", "RT", options=OPTS, heartbeat=30) as bob, \
                vx.client("carol", "prediction", "RT", options=OPTS, heartbeat=30) as carol, \
                vx.client("dave", "prediction", "RT", options=OPTS, heartbeat=30) as dave:
            alice.send("D", new_order("a1", A, "buy", 40, 10))   # rests
            alice.send("D", new_order("a2", A, "sell", 60, 5))   # rests
            await alice.collect()
            await vx.advance(45)
            bob.send("D", new_order("b1", A, "sell", 40, 4))     # fills a1 partly
            bob.send("D", new_order("b2", A, "buy", 60, 5))      # fills a2
            await bob.collect()
            await vx.advance(75)                                  # heartbeats over 2 minutes in all
            # A 10-minute maintenance window: RT sessions logged out, trading paused.
            vx.control.maintenance(mode="continuity", sessions="RT", pause="trading", duration=600)
            for rt in (bob, carol, dave):
                await rt.wait_closed()
            alice.send("D", new_order("a3", A, "buy", 41, 1))    # refused: paused
            await alice.collect()
            await vx.advance(601)                                 # the window ends by the clock
            for rt in (bob, carol, dave):
                await rt.connect()                                # RT continuity: same sequence
            alice.send("D", new_order("a4", A, "buy", 41, 1))
            await alice.collect()
            await bob.collect()
        return [as_tuple(e) for e in vx.sim.transcript.entries]
    return fix_virtual.run(body, start="Thursday 02:59:50 America/New_York")


def test_two_virtual_runs_with_the_same_seed_give_byte_identical_transcripts_both_ways(fix_virtual):
    first, second, third = _scripted_run(fix_virtual), _scripted_run(fix_virtual), _scripted_run(fix_virtual)
    assert first == second == third  # (time, direction, endpoint, session, frame bytes), SendingTime included
    types = {(d, parse(raw).get(35)) for _, d, _, _, raw in first}
    assert {("in", "A"), ("out", "A"), ("in", "D"), ("out", "8"), ("out", "0"), ("in", "0"),
            ("in", "5"), ("out", "5")} <= types
    fills = [parse(raw) for _, d, _, _, raw in first if d == "out" and parse(raw).get(150) == "F"]
    assert len(fills) >= 4  # both sides of both trades


_ONE_PROCESS = """
import hashlib, pickle, sys
from kalshi_fixsim.simulator.pytest_plugin import VirtualRunner
from tests.conformance.test_virtual_clock import _scripted_run
accounts, tls = pickle.load(open(sys.argv[1], "rb"))
entries = _scripted_run(VirtualRunner(accounts, tls))
print(len(entries), hashlib.sha256(repr(entries).encode()).hexdigest())
"""


def test_virtual_runs_in_two_processes_with_other_hash_seeds_give_the_same_transcript(fix_material, tmp_path):
    # str hashes (set order) change per process; a run must not depend on them.
    import os
    import pickle
    import subprocess
    import sys
    from pathlib import Path

    _, accounts, tls = fix_material
    material = tmp_path / "material.pickle"
    material.write_bytes(pickle.dumps((accounts, tls)))
    root = Path(__file__).resolve().parents[2]
    digests = []
    for seed in ("1", "2"):
        done = subprocess.run([sys.executable, "-c", _ONE_PROCESS, str(material)], cwd=root, capture_output=True,
                              text=True, timeout=120, env={**os.environ, "PYTHONHASHSEED": seed})
        assert done.returncode == 0, done.stderr[-2000:]
        digests.append(done.stdout.split())
    assert digests[0] == digests[1] and int(digests[0][0]) > 100


# --- the same code path as an accepted TLS connection ---------------------------------------------

def test_in_memory_connections_pass_through_the_interceptors_of_a_listeners_connection(fix_virtual):
    class DropFirstHeartbeat:
        def __init__(self):
            self.dropped = 0

        def inbound(self, frame):
            return (frame,)

        def outbound(self, frame):
            if b"\x0135=0\x01" in frame and not self.dropped:
                self.dropped += 1
                return ()
            return (frame,)
    made: list = []

    def factory(product, session):
        made.append((product, session))
        made.append(DropFirstHeartbeat())
        return made[-1]

    async def body(vx):
        async with vx.client("alice", "prediction", "RT", heartbeat=30) as fix:
            await vx.advance(65)
            assert fix.is_active
        return [m.get(35) for _, _, m in frames(vx.sim, "0", "out")]
    recorded = fix_virtual.run(body, simulator_kwargs={"interceptor_factory": factory})
    assert made[0] == ("prediction", "RT") and made[1].dropped == 1
    assert recorded == ["0"]  # the transcript records what crossed: the second heartbeat only


# --- the virtual loop's boundaries ------------------------------------------------------------

def test_a_simulator_on_the_virtual_clock_opens_no_socket(fix_material):
    from kalshi_fixsim.simulator.pytest_plugin import make_test_config

    _, accounts, tls = fix_material

    async def main():
        sim = Simulator(make_test_config(accounts, tls))
        with pytest.raises(ValueError, match="in-memory connections only"):
            await sim.start()
        with pytest.raises(ValueError, match="session PT of margin|unknown session 'PT' for margin"):
            await sim.connect_in_memory("margin", "PT", asyncio.Protocol)
        with pytest.raises(ValueError, match="product 'futures' is not served"):
            await sim.connect_in_memory("futures", "NR", asyncio.Protocol)
        sim.stores.close()
        return sim.clock.now()
    assert run_virtual(main, start=1_800_000_000) == 1_800_000_000.0


def test_a_simulator_on_a_real_loop_keeps_the_wall_clock(fix_exchange):
    assert isinstance(fix_exchange.sim.clock, SystemClock)
