"""Metrics cost on the hot path (issue 17 §2: "counting must be cheap").

The round trip of bench/faults.py (one TestRequest in, one Heartbeat out, through an acceptor
SessionDriver with the simulator's journal Recorder in front of it), with and without the
metrics counter the journal calls for every frame (simulator/metrics.py `Metrics.frame`), and
the per-order cost: `Metrics.frame` on an order frame in and its ExecutionReport out (the
order's time is taken between the two and filed into the histogram). Times: best of 7, cases in turns; calls and
bytecodes: exact (sys.settrace).
"""
from __future__ import annotations

import time
from types import SimpleNamespace

from bench import faults
from bench.tracing import counting
from kalshi_fixsim.simulator.metrics import Metrics


def _with_metrics(driver) -> None:
    transcript = driver.interceptor.transcript
    sim = SimpleNamespace(transcript=transcript, connections=(), faults=SimpleNamespace(list=list), stores=None)
    transcript.count = Metrics(sim).frame


def _round_trips(metrics: bool, n: int, trace: bool) -> tuple[float, float, float]:
    import asyncio

    async def go():
        driver = faults._driver(None)
        if metrics:
            _with_metrics(driver)
        frames = [faults._frame("1", i + 2, [(112, f"T{i}")]) for i in range(n)]
        started = time.perf_counter()
        with counting(trace) as counts:
            for f in frames:
                driver.feed(f)
        return (time.perf_counter() - started) / n * 1e6, counts.calls / n, counts.opcodes / n
    return asyncio.run(go())


def _order_pair(n: int) -> float:
    """µs for Metrics.frame on a NewOrderSingle in and its ExecutionReport out (the order's timing)."""
    metrics = Metrics(SimpleNamespace(transcript=SimpleNamespace(), connections=(), faults=None, stores=None))
    order = faults._frame("D", 2, [(11, "o1"), (55, "KXTEST"), (54, 1), (38, 1), (40, 2), (44, 40)])
    report = faults._frame("8", 2, [(37, "x"), (11, "o1"), (150, 0), (39, 0)])
    session = f"prediction/NR/{faults.KEY}"
    frame = metrics.frame
    started = time.perf_counter()
    for _ in range(n):
        frame("in", "prediction/NR", session, order)
        frame("out", "prediction/NR", session, report)
    return (time.perf_counter() - started) / n * 1e6


def run(quick: bool) -> list[dict]:
    n = 1_000 if quick else 5_000
    best = {False: float("inf"), True: float("inf")}
    for _ in range(7):
        for metrics in (False, True):
            best[metrics] = min(best[metrics], _round_trips(metrics, n, trace=False)[0])
    rows = []
    for metrics in (False, True):
        _, calls, ops = _round_trips(metrics, 200, trace=True)
        rows.append({"case": "metrics on" if metrics else "no metrics (before issue 17)",
                     "us_per_round_trip": best[metrics], "vs_no_metrics": f"{best[metrics] / best[False]:.2f}x",
                     "calls": calls, "bytecodes": ops})
    rows.append({"case": "an order in + its report out, counted and timed", "us_per_round_trip":
                 min(_order_pair(n * 4) for _ in range(5)), "vs_no_metrics": "", "calls": 4, "bytecodes": ""})
    return rows
