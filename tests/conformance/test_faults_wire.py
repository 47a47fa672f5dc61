"""One test per fault kind at the wire (issue 12 §5): a raw peer observes exactly the effect.

The raw peer (tests/wire.py) logs on and provokes traffic: a TestRequest makes the venue send a
Heartbeat (35=0) carrying the same TestReqID, a NewOrderSingle an ExecutionReport.
"""
from __future__ import annotations

import asyncio
import ssl
import time

import pytest

from kalshi_fixsim.fixproto.codec import Framer, GarbledFrame, parse, parse_utc
from tests.wire import RawConnection, logon, message, run

A = "KXTEST-26JAN01-A"
HB = {"35": "0"}


class Peer:
    """A logged-on raw connection with its own outbound sequence numbers."""

    def __init__(self, conn: RawConnection, account, target: str) -> None:
        self.conn, self.account, self.target = conn, account, target
        self.seq = 2

    @classmethod
    async def open(cls, fx, session="NR", account="alice", product="prediction", **kw) -> "Peer":
        acct = fx.accounts[account]
        conn = await RawConnection.open(fx, product, session)
        target = fx.endpoint(product, session).comp_id
        kw.setdefault("extra", [(21011, "Y")] if session in ("NR", "RT") else [])  # no pending reports
        conn.send(logon(acct, target, **kw))
        reply = await conn.read()
        assert reply is not None and reply.get(35) == "A", reply
        peer = cls(conn, acct, target)
        peer.logon_reply = reply
        return peer

    def send(self, msg_type: str, body=()) -> None:
        self.conn.send(message(self.account, self.target, msg_type, self.seq, body))
        self.seq += 1

    def test_request(self, test_id: str) -> None:
        self.send("1", [(112, test_id)])

    def order(self, cl: str, price=40, qty=1, side=1) -> None:
        self.send("D", [(11, cl), (38, qty), (40, 2), (44, price), (54, side), (55, A), (59, 1)])

    async def read(self, timeout=5.0):
        return await self.conn.read(timeout)

    async def expect(self, msg_type: str, timeout=5.0):
        return await self.conn.expect(msg_type, timeout)

    async def raw(self, timeout=5.0) -> bytes:
        """The next bytes as read (one TLS record, roughly one write of the venue)."""
        return await asyncio.wait_for(self.conn.reader.read(65536), timeout)

    async def silent_for(self, seconds: float) -> list:
        """Everything that arrives within `seconds` (an expect-nothing window, not a sleep)."""
        got = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            left = deadline - loop.time()
            if left <= 0:
                return got
            try:
                msg = await self.conn.read(left)
            except asyncio.TimeoutError:
                return got
            if msg is None:
                return got
            got.append(msg)


def frames_of(data: bytes) -> list:
    return Framer().feed(data)


# --- frame faults ---------------------------------------------------------------------------

def test_drop_loses_the_matching_frame_and_its_sequence_number(fix_exchange):
    rule = fix_exchange.faults.add(fault="drop", session="NR", match=HB, nth=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        peer.test_request("T2")
        beat = await peer.expect("0")
        assert beat.get(112) == "T2" and beat.get(34) == "3"  # T1's answer (34=2) never came
    run(go())
    assert rule.hits == 1
    marks = [m for m in fix_exchange.control.messages(50) if m.get("fault")]
    assert marks[-1]["fault"] == f"dropped by rule {rule.id}" and "112=T1" in marks[-1]["frame"]


def test_duplicate_sends_the_same_bytes_again(fix_exchange):
    fix_exchange.faults.add(fault="duplicate", session="NR", match=HB, times=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        first, second = await peer.expect("0"), await peer.expect("0")
        assert first == second and first.get(112) == "T1"
    run(go())


def test_reorder_holds_a_frame_until_the_next_one_passed(fix_exchange):
    fix_exchange.faults.add(fault="reorder", session="NR", match={"35": "0", "112": "T1"})

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        peer.test_request("T2")
        got = [await peer.expect("0"), await peer.expect("0")]
        assert [(m.get(112), m.get(34)) for m in got] == [("T2", "3"), ("T1", "2")]
    run(go())


@pytest.mark.parametrize("fault,params,reason", [
    ("corrupt_checksum", {}, "CheckSum"),
    ("corrupt_body_length", {"delta": 7}, ""),
    ("garble", {"bytes": 5}, ""),
    ("truncate", {"keep": 30}, ""),
])
def test_corrupting_faults_make_the_frame_unreadable(fix_exchange, fault, params, reason):
    fix_exchange.faults.add(fault=fault, session="NR", match={"35": "0", "112": "T1"}, **params)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        peer.test_request("T2")  # its answer follows, so the framer can judge what came before
        data = b""
        while b"112=T2\x01" not in data:
            data += await peer.raw()
        items = frames_of(data)
        good = [parse(i) for i in items if isinstance(i, bytes)]
        assert "T1" not in [m.get(112) for m in good]   # no readable answer to T1 came
        assert any(isinstance(i, GarbledFrame) for i in items) or fault == "truncate"
        if reason:
            assert any(reason.lower() in i.reason.lower() for i in items if isinstance(i, GarbledFrame))
        if fault == "truncate":
            assert data.startswith(b"8=FIXT.1.1\x01") and data[30:].startswith(b"8=FIXT.1.1")
    run(go())


# --- transport faults -----------------------------------------------------------------------

def test_delay_holds_the_frame_for_its_time_and_keeps_the_stream_in_order(fix_exchange):
    fix_exchange.faults.add(fault="delay", ms=300, session="NR", match={"35": "0", "112": "T1"})

    async def go():
        peer = await Peer.open(fix_exchange)
        started = time.monotonic()
        peer.test_request("T1")
        peer.test_request("T2")
        first = await peer.expect("0")
        waited = time.monotonic() - started
        second = await peer.expect("0")
        assert (first.get(112), second.get(112)) == ("T1", "T2")  # T2's answer waited behind it
        assert 0.29 <= waited < 3.0
    run(go())
    marks = [m["fault"] for m in fix_exchange.control.messages(50) if m.get("fault")]
    assert marks == ["delayed 300 ms by rule f1"]


def test_jitter_adds_at_most_its_bound(fix_exchange):
    fix_exchange.faults.add(fault="jitter", ms=200, session="NR", match=HB)

    async def go():
        peer = await Peer.open(fix_exchange)
        started = time.monotonic()
        peer.test_request("T1")
        await peer.expect("0")
        assert time.monotonic() - started < 2.0
    run(go())
    mark = [m["fault"] for m in fix_exchange.control.messages(50) if m.get("fault")][0]
    assert mark.startswith("delayed ") and 0 <= int(mark.split()[1]) <= 200


def test_slice_splits_a_frame_into_small_writes(fix_exchange):
    fix_exchange.faults.add(fault="slice", bytes=16, pause_ms=20, session="NR", match=HB)

    async def go():
        peer = await Peer.open(fix_exchange)
        started = time.monotonic()
        peer.test_request("T1")
        chunks = []
        while b"10=" not in b"".join(chunks)[-8:]:
            chunks.append(await peer.raw())
        data = b"".join(chunks)
        assert parse(data).get(112) == "T1" and len(chunks) >= 2  # several TLS records, not one
        assert time.monotonic() - started >= (len(data) // 16) * 0.02 - 0.01  # a pause after each 16 bytes
    run(go())


def test_bandwidth_limits_the_byte_rate(fix_exchange):
    fix_exchange.faults.add(fault="bandwidth", bytes_per_second=400, session="NR", match=HB)

    async def go():
        peer = await Peer.open(fix_exchange)
        started = time.monotonic()
        peer.test_request("T1")
        data = b""
        while not data.endswith(b"\x01") or b"10=" not in data[-8:]:
            data += await peer.raw()
        # about 100 bytes at 400 B/s, written 20 bytes at a time: at least 0.2 s
        assert time.monotonic() - started >= len(data) / 400 - 0.06
    run(go())


def test_coalesce_writes_several_frames_at_once(fix_exchange):
    fix_exchange.faults.add(fault="coalesce", count=2, session="NR", match=HB)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        peer.test_request("T2")
        data = await peer.raw()
        assert [parse(f).get(112) for f in frames_of(data)] == ["T1", "T2"]  # one record, both frames
    run(go())


def test_stall_outbound_holds_every_write_for_its_time(fix_exchange):
    fix_exchange.faults.add(fault="stall", ms=300, session="NR", match=HB, times=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        started = time.monotonic()
        peer.test_request("T1")
        await peer.expect("0")
        assert time.monotonic() - started >= 0.29
    run(go())


def test_stall_inbound_stops_reading_for_its_time(fix_exchange):
    fix_exchange.faults.add(fault="stall", ms=400, direction="inbound", session="NR", match={"35": "1"}, times=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        started = time.monotonic()
        peer.test_request("T1")
        await peer.expect("0")                 # T1 itself was read before the stall began
        peer.test_request("T2")                # unread until the stall ends
        assert (await peer.expect("0")).get(112) == "T2"
        assert time.monotonic() - started >= 0.39
    run(go())


def test_reset_sends_a_tcp_rst_not_a_fin(fix_exchange):
    fix_exchange.faults.add(fault="reset", session="NR", match={"35": "0", "112": "T1"})

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        with pytest.raises((ConnectionResetError, ssl.SSLError)):
            while True:
                data = await peer.raw()
                assert data, "a FIN (clean EOF) came, not a reset"
    run(go())


def test_close_on_the_kth_message_ends_the_connection_cleanly(fix_exchange):
    fix_exchange.faults.add(fault="close", session="NR", match=HB, nth=2)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        peer.test_request("T2")
        rest = await peer.conn.read_until_closed()
        assert [m.get(112) for m in rest] == ["T1"]  # the 2nd Heartbeat never left; then EOF
    run(go())


def test_close_after_bytes_cuts_the_stream_mid_frame(fix_exchange):
    fix_exchange.faults.add(fault="close_after_bytes", bytes=40, session="NR", match=HB, times=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        data = b""
        while chunk := await peer.raw():
            data += chunk
        assert len(data) == 40 and data.startswith(b"8=FIXT.1.1")
    run(go())


def test_half_close_shuts_the_venue_write_side(fix_exchange):
    fix_exchange.faults.add(fault="half_close", session="NR", match={"35": "0", "112": "T1"})

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        assert (await peer.expect("0")).get(112) == "T1"  # what was written before still arrives
        try:
            data = await peer.raw()
        except (ConnectionResetError, ssl.SSLError):
            data = b""  # TLS: the shut TCP write side has no close_notify before it
        assert data == b""  # EOF: the venue sends nothing more, and did not send a Logout
    run(go())


def test_refuse_connections_resets_new_connections_only_while_the_rule_lasts(fix_exchange):
    rule = fix_exchange.faults.add(fault="refuse_connections", session="NR", times=1)

    async def go():
        conn = await RawConnection.open(fix_exchange, "prediction", "NR")
        conn.send(logon(fix_exchange.accounts["alice"], "KalshiNR"))
        with pytest.raises((ConnectionResetError, ssl.SSLError, AssertionError)):
            assert await conn.read() is not None
            raise AssertionError
        await Peer.open(fix_exchange)  # times=1: the next connection is served
    run(go())
    assert rule.hits == 1 and not rule.active


# --- inbound: what the venue does when the client's frames are damaged ----------------------

@pytest.mark.parametrize("fault", ["drop", "corrupt_checksum", "truncate"])
def test_an_inbound_frame_lost_or_damaged_makes_the_venue_ask_for_a_resend_on_rt(fix_exchange, fault):
    rule = fix_exchange.faults.add(fault=fault, direction="inbound", session="RT", match={"35": "1", "112": "T1"})

    async def go():
        peer = await Peer.open(fix_exchange, session="RT")
        peer.test_request("T1")   # seq 2: never reaches the venue's session intact
        peer.test_request("T2")   # seq 3: a gap for the venue
        ask = await peer.expect("2")
        assert (ask.get(7), ask.get(16)) == ("2", "0")
    run(go())
    assert rule.hits == 1


def test_an_inbound_duplicate_without_possdup_is_a_fatal_low_sequence_number(fix_exchange):
    fix_exchange.faults.add(fault="duplicate", direction="inbound", session="NR", match={"35": "1"}, times=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        got = await peer.conn.read_until_closed()
        assert got[-1].get(35) == "5" and "MsgSeqNum too low" in got[-1].get(58)
    run(go())
