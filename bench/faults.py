"""Fault engine cost on the hot path (issue 12 §1 "with no rule installed, nothing measurable").

One acceptor SessionDriver with the simulator's transcript Recorder in front of it, on a fake
in-memory transport: each round feeds one TestRequest frame and collects the Heartbeat the
session writes back (frame in, frame out through the interceptor). Cases:

- no rule installed: what every connection runs without faults (the Recorder alone);
- a rule installed that selects another connection (margin MD): the fault layer is installed
  and finds no rule for this connection (a cached, empty list per direction);
- a rule on this connection whose trigger never matches (ExecutionReports only);
- a drop of every 100th Heartbeat (the rule fires: 1 % of frames).

Times are the best of 7 runs (cases timed in turns), in microseconds per round trip (two frames).
"""
from __future__ import annotations

import asyncio
import gc
import time
from types import SimpleNamespace

from kalshi_fixsim.fixproto.aio import SessionDriver
from kalshi_fixsim.fixproto.codec import encode, format_utc
from kalshi_fixsim.fixproto.session import ACCEPTOR, LogonRequest, Session, SessionConfig
from kalshi_fixsim.simulator.transcript import Transcript

from bench.tracing import counting

KEY = "0f6a1c2e-1111-4222-8333-944455556666"
NOW = 1_796_000_000.0


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def write(self, data) -> None:
        self.bytes += len(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class _Clock:
    def now(self) -> float:
        return NOW


def _frame(msg_type: str, seq: int, body=()) -> bytes:
    return encode([(35, msg_type), (49, KEY), (56, "KalshiNR"), (34, seq), (52, format_utc(NOW))] + list(body))


def _driver(rules: list[dict] | None):
    clock = _Clock()
    session = Session(SessionConfig(role=ACCEPTOR, sender_comp_id="KalshiNR", session_name="KalshiNR",
                                    sending_time_tolerance=None), now=NOW)

    def handler(driver, event):
        if isinstance(event, LogonRequest):
            driver.session.accept_logon(NOW)

    recorder = Transcript(clock.now).recorder("prediction", "NR")
    recorder.session = f"prediction/NR/{KEY}"
    driver = SessionDriver(session, handler, clock=clock, interceptor=recorder)
    driver.connection_made(_Transport())
    driver.feed(_frame("A", 1, [(98, 0), (108, 30), (95, 3), (96, "sig"), (141, "Y"), (1137, "9")]))
    assert session.is_active
    if rules is not None:
        from kalshi_fixsim.simulator.faults import ConnectionFaults, FaultEngine

        engine = FaultEngine(1, clock.now)
        for rule in rules:
            engine.add(rule)
        ctx = SimpleNamespace(product="prediction", session_code="NR", user="alice", api_key_id=KEY,
                              session_id=recorder.session)
        driver.enable_actions()
        recorder.inner = ConnectionFaults(engine, ctx, lambda: session, mark=recorder.mark)
    return driver


def _time(rules, n: int) -> float:
    async def go() -> float:
        driver = _driver(rules)
        frames = [_frame("1", i + 2, [(112, f"T{i}")]) for i in range(n)]
        gc.collect()
        started = time.perf_counter()
        for f in frames:
            driver.feed(f)
        return (time.perf_counter() - started) / n * 1e6
    return asyncio.run(go())


CASES = [
    ("no rule installed", None),
    ("rule for another connection", [{"fault": "drop", "product": "margin", "session": "MD"}]),
    ("rule here, trigger never matches", [{"fault": "drop", "session": "NR", "match": {"35": "8"}}]),
    ("drop every 100th Heartbeat", [{"fault": "drop", "session": "NR", "match": {"35": "0"}, "every": 100}]),
]


def count(rules, n: int = 200) -> tuple[float, float]:
    """Python calls and bytecodes per round trip (bench/tracing.py)."""
    async def go() -> tuple[float, float]:
        driver = _driver(rules)
        frames = [_frame("1", i + 2, [(112, f"T{i}")]) for i in range(n)]
        with counting() as counts:
            for f in frames:
                driver.feed(f)
        return counts.calls / n, counts.opcodes / n
    return asyncio.run(go())


def run(quick: bool) -> list[dict]:
    n = 1_000 if quick else 5_000
    best = {name: float("inf") for name, _ in CASES}
    for _ in range(7):  # the cases in turns, so a noisy neighbour slows all of them alike
        for name, rules in CASES:
            best[name] = min(best[name], _time(rules, n))
    base = best[CASES[0][0]]
    rows = []
    for name, rules in CASES:
        calls, ops = count(rules)
        rows.append({"case": name, "us_per_round_trip": best[name], "vs_no_rule": f"{best[name] / base:.2f}x",
                     "calls": calls, "bytecodes": ops})
    return rows


if __name__ == "__main__":
    for row in run(quick=False):
        print(row)
