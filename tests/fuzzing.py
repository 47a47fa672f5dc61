"""A seeded mutation fuzzer over the wire (issue 11 §3), shared by the suite's short run and the
opt-in long run (`-m fuzz`).

Each fuzz connection sends mutated frames of every MsgType its session accepts (and a few it does
not), before or after a Logon, then a health check: a signed Logon with ResetSeqNumFlag=Y and
MsgSeqNum 1 and a TestRequest before a Logon; after it, a TestRequest numbered as if every frame
had counted (answered even above a gap; too low or a gap on a session without resend: Logout).
A connection passes when it ends in a FIX answer (the last message before EOF is a Logout) or
answers the TestRequest; one that stays open and silent is a stall. A second, well-behaved
session alongside sends TestRequests throughout and must get every reply.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field

from kalshi_fixsim.fixproto.codec import format_utc, parse
from kalshi_fixsim.fixproto.kalshi import APP_MESSAGES_IN, DEFAULT_PORTS
from tests.wire import RawConnection, logon, message

__all__ = ["FuzzStats", "ErrorCounter", "fuzz_round", "ENDPOINTS"]

ENDPOINTS = [(product, code) for product, ports in DEFAULT_PORTS.items() for code in ports]
SYMBOL = {"prediction": "KXTEST-26JAN01-A", "margin": "ETH-PERP"}


def templates(product: str) -> dict[str, list[tuple[int, object]]]:
    """A valid body for every MsgType a client may send (spec 12 §3)."""
    sym = SYMBOL[product]
    return {
        "0": [(112, "hb")], "1": [(112, "tr")], "2": [(7, 1), (16, 0)],
        "3": [(45, 1), (371, 35), (372, "D"), (373, 5), (58, "fuzz")], "4": [(123, "Y"), (36, 3)],
        "5": [(58, "bye")],
        "D": [(11, "f1"), (38, 1), (40, 2), (44, 40), (54, 1), (55, sym), (59, 1), (79, 0), (100, -1),
              (453, 1), (448, "p"), (452, 24), (21009, "10.00")],
        "F": [(11, "f2"), (41, "f1"), (54, 1), (55, sym)],
        "G": [(11, "f3"), (41, "f1"), (38, 2), (40, 2), (44, 41), (54, 1), (55, sym)],
        "q": [(11, "m1"), (530, 6)],
        "UOG": [(20131, 1), (20132, 10), (79, 0)],
        "R": [(131, "r1"), (146, 1), (55, sym), (38, 1), (79, 0)],
        "UA": [(117, "Q1"), (54, 1), (38, 1), (11, "a1")],
        "UE": [(131, "r1")],
        "U1": [(21001, "1"), (21002, "9")],
        "S": [(117, "Q1"), (131, "r1"), (55, sym), (132, 40), (133, 60), (38, 1)],
        "Z": [(117, "Q1")], "U7": [(117, "Q1")],
        "V": [(263, 1), (146, 1), (55, sym)], "e": [(263, 0), (55, sym)],
    }


_HUGE = ["9" * 20, "9" * 400, "9" * 5000, "99999999999999999999.5", "1e400", "-1e400", "NaN", "inf"]
_NEGATIVE = ["-1", "-0", "-99999999999", "-2147483649"]
_UNICODE = ["²", "٥", "１", "5²", "Ⅻ", "é", "\u00a0"]
_TAGS = [b"0", b"-1", b"035", b"abc", "²".encode("latin-1"), b"99999999999", b"", b"9" * 400, b"424242"]


def _text(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def frame(pairs: list[tuple[bytes, bytes]], *, length_delta: int = 0, checksum_delta: int = 0) -> bytes:
    body = b"".join(t + b"=" + v + b"\x01" for t, v in pairs)
    head = b"8=FIXT.1.1\x019=%d\x01" % (len(body) + length_delta)
    return head + body + b"10=%03d\x01" % ((sum(head + body) + checksum_delta) % 256)


def mutate(rng: random.Random, pairs: list[tuple[bytes, bytes]]) -> bytes:
    """One to three mutations of a frame's fields (header included, 8/9/10 rebuilt). Numbers are
    the favourite target: every number from the wire must go through the bounded parser."""
    pairs = list(pairs)
    length_delta = checksum_delta = 0
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        numeric = [k for k, (t, v) in enumerate(pairs) if (v[:1].isdigit() or v[:1] == b"-") and t != b"96"]
        kind = rng.randrange(14)
        i = rng.choice(numeric) if numeric and kind in (4, 5, 6, 12, 13) else rng.randrange(len(pairs))
        tag, value = pairs[i]
        if kind == 0:
            del pairs[i]
        elif kind == 1:
            pairs.insert(rng.randrange(len(pairs) + 1), (tag, value))
        elif kind == 2:
            j = rng.randrange(len(pairs))
            pairs[i], pairs[j] = pairs[j], pairs[i]
        elif kind == 3:
            pairs.append(pairs.pop(i))  # e.g. a header field after the body
        elif kind in (4, 12):
            pairs[i] = (tag, _text(rng.choice(_HUGE)))
        elif kind == 5:
            pairs[i] = (tag, _text(rng.choice(_NEGATIVE)))
        elif kind in (6, 13):
            pairs[i] = (tag, _text(rng.choice(_UNICODE)))
        elif kind == 7:
            pairs[i] = (tag, b"")
        elif kind == 8:
            pairs[i] = (rng.choice(_TAGS), value)
        elif kind == 9:
            pairs[i] = (tag, bytes(rng.randrange(256) for _ in range(rng.randint(1, 12))).replace(b"\x01", b"\x02"))
        elif kind == 10:
            if rng.random() < 0.5:
                length_delta = rng.choice([-3, -1, 1, 7, 10**6])
            else:
                checksum_delta = rng.randint(1, 255)
        else:
            pairs.insert(rng.randrange(len(pairs) + 1), (rng.choice([b"424242", b"44", b"34", b"35", b"453"]),
                                                         _text(rng.choice(_HUGE + _UNICODE + ["x"]))))
    if not pairs:
        pairs = [(b"35", b"0")]
    return frame(pairs, length_delta=length_delta, checksum_delta=checksum_delta)


def _bump_seq(rng: random.Random, pairs: list[tuple[bytes, bytes]]) -> bytes:
    """A well-formed frame whose MsgSeqNum jumps ahead (an RT gap that is never filled)."""
    return frame([(t, str(int(v) + rng.choice([1, 2, 50, 10**6])).encode() if t == b"34" else v) for t, v in pairs])


def _pairs(raw: bytes) -> list[tuple[bytes, bytes]]:
    """Fields of an encoded frame, without 8, 9 and 10 (RawData holds no SOH in base64)."""
    fields = raw.split(b"\x01")[:-1]
    out = [tuple(f.split(b"=", 1)) for f in fields]
    return [(t, v) for t, v in out if t not in (b"8", b"9", b"10")]


@dataclass
class FuzzStats:
    frames: int = 0
    sessions: int = 0
    ended_with_answer: int = 0
    healthy: int = 0
    stalls: list[str] = field(default_factory=list)
    silent_closes: list[str] = field(default_factory=list)
    healthy_requests: int = 0
    healthy_replies: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (f"{self.frames} mutated frames, {self.sessions} sessions ({self.ended_with_answer} ended in a FIX "
                f"answer, {self.healthy} healthy), {len(self.stalls)} stalls, {len(self.silent_closes)} silent "
                f"closes, healthy session {self.healthy_replies}/{self.healthy_requests} replies, "
                f"{self.seconds:.1f} s")


class ErrorCounter(logging.Handler):
    """Counts ERROR records from any logger (the simulator's last line of defence logs there,
    and so does asyncio for exceptions in callbacks)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> "ErrorCounter":
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger().removeHandler(self)

    def summary(self) -> list[str]:
        return sorted({f"{r.name}: {r.getMessage()} {r.exc_info[1]!r}" if r.exc_info else
                       f"{r.name}: {r.getMessage()}" for r in self.records})


async def _health_check(conn: RawConnection, batch: list[bytes], seq: int, logged_on: bool, account, target: str,
                        label: str, stats: FuzzStats, timeout: float) -> None:
    # One write with the fuzz frames: no write can meet a connection the server already closed.
    # After a Logon: a TestRequest numbered as if every frame had counted (at or above what the
    # server expects: answered at once, or a Logout for a gap or a too-low number on a session
    # that has moved on). Before: a signed Logon 141=Y (first Logon, or an in-session reset) first.
    check = message(account, target, "1", seq, [(112, "fuzz-check")])
    if not logged_on:
        check = logon(account, target, seq=1, reset=True) + message(account, target, "1", 2, [(112, "fuzz-check")])
    conn.send(b"".join(batch) + check)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while True:
        left = deadline - loop.time()
        try:
            if left <= 0:
                raise asyncio.TimeoutError
            msg = await conn.read(left)
        except asyncio.TimeoutError:
            stats.stalls.append(label)  # open, and silent: the session stalled
            return
        except (ConnectionError, OSError) as exc:
            # StreamReader raises before returning what it already holds: read that too
            held = bytes(getattr(conn.reader, "_buffer", b""))
            conn.reader._buffer.clear()
            conn.pending += [parse(f) for f in conn.framer.feed(held) if isinstance(f, bytes)]
            label += f" ({type(exc).__name__})"
            msg = conn.pending.pop(0) if conn.pending else None
        if msg is None:
            if last is not None and last.get(35) == "5":
                stats.ended_with_answer += 1
            else:
                stats.silent_closes.append(f"{label}: last message {last.get(35) if last else None}")
            return
        last = msg
        if msg.get(35) == "0" and msg.get(112) == "fuzz-check":
            stats.healthy += 1
            return


async def _fuzz_connection(fx, rng: random.Random, product: str, code: str, account, after_logon: bool,
                           n_frames: int, stats: FuzzStats, timeout: float) -> None:
    target = fx.endpoint(product, code).comp_id
    types = sorted(APP_MESSAGES_IN[(product, code)] | {"0", "1", "2", "3", "4", "A"})
    types += rng.sample(["D", "V", "U1", "S", "R", "UOG", "ZZ"], 2)  # not offered here, or unknown
    bodies = templates(product)
    conn = await RawConnection.open(fx, product, code)
    stats.sessions += 1
    label = f"{product}/{code}/{'after' if after_logon else 'before'} logon/seed {rng.random():.6f}"
    try:
        seq = 1
        batch: list[bytes] = []
        if after_logon:
            conn.send(logon(account, target, seq=1, reset=True))
            reply = await conn.read(timeout)
            if reply is None or reply.get(35) != "A":
                stats.silent_closes.append(label + ": logon failed")
                return
            seq = 2
        for _ in range(n_frames if after_logon else 1):
            msg_type = "A" if not after_logon and rng.random() < 0.6 else rng.choice(types)
            if msg_type == "A":
                raw = logon(account, target, seq=seq, reset=True, extra=[(21003, "Y")] if rng.random() < 0.2 else ())
            else:
                raw = message(account, target, msg_type, seq, bodies.get(msg_type, [(58, "x")]))
            roll = rng.random()
            if after_logon and roll < 0.35:
                batch.append(raw)  # valid frames in between keep the session going somewhere
            elif after_logon and roll < 0.45:
                batch.append(_bump_seq(rng, _pairs(raw)))
                stats.frames += 1
            else:
                batch.append(mutate(rng, _pairs(raw)))
                stats.frames += 1
            seq += 1
        await _health_check(conn, batch, seq, after_logon, account, target, label, stats, timeout)
    finally:
        conn.close()


async def _healthy(fx, account, stop: asyncio.Event, stats: FuzzStats, timeout: float) -> None:
    """The well-behaved session alongside: a TestRequest every few ms, every reply checked."""
    conn = await RawConnection.open(fx, "prediction", "NR")
    conn.send(logon(account, "KalshiNR"))
    reply = await conn.read(timeout)
    assert reply is not None and reply.get(35) == "A", reply
    seq = 2
    while not stop.is_set():
        conn.send(message(account, "KalshiNR", "1", seq, [(112, f"h{seq}")]))
        stats.healthy_requests += 1
        while True:
            msg = await conn.read(timeout)
            assert msg is not None, "the healthy session was disconnected"
            if msg.get(35) == "0" and msg.get(112) == f"h{seq}":
                stats.healthy_replies += 1
                break
        seq += 1
        try:
            await asyncio.wait_for(stop.wait(), 0.02)
        except asyncio.TimeoutError:
            pass
    conn.send(message(account, "KalshiNR", "5", seq))
    await conn.read_until_closed(timeout)


async def fuzz_round(fx, seed: int, *, connections_per_phase: int = 2, frames: int = 8,
                     seconds: float | None = None, timeout: float = 15.0) -> FuzzStats:
    """Every endpoint x {before, after Logon}; repeat with new seeds until `seconds` if given."""
    fx.call(lambda: setattr(fx.sim.ratelimits, "logon_enabled", False))  # the fuzzer logs on a lot
    fx.call(lambda: setattr(fx.sim.ratelimits, "enabled", False))  # reach the handlers, not the gate
    stats = FuzzStats()
    start = time.monotonic()
    stop = asyncio.Event()
    healthy = asyncio.ensure_future(_healthy(fx, fx.accounts["bob"], stop, stats, timeout))
    fuzzer = fx.accounts["alice"]
    round_no = 0
    try:
        while True:
            rng = random.Random(f"{seed}/{round_no}")
            for product, code in ENDPOINTS:
                for after in (False, True):
                    for _ in range(connections_per_phase):
                        await _fuzz_connection(fx, rng, product, code, fuzzer, after, frames, stats, timeout)
                    if healthy.done():
                        healthy.result()  # raise what the healthy session saw
            round_no += 1
            if seconds is None or time.monotonic() - start >= seconds:
                break
    finally:
        stop.set()
        await asyncio.wait_for(healthy, timeout)
        stats.seconds = time.monotonic() - start
    return stats


def now_text() -> str:
    return format_utc(time.time())
