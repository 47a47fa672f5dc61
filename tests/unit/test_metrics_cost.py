"""Counting metrics stays cheap on the hot path (issue 17 §2; docs/benchmarks.md "Metrics"):
exact Python call and bytecode counts per round trip (one frame in, one out), not times."""
from __future__ import annotations

from bench.metrics import _round_trips


def test_metrics_cost_one_call_and_under_100_bytecodes_per_frame():
    _, calls_off, ops_off = _round_trips(False, 200, trace=True)
    _, calls_on, ops_on = _round_trips(True, 200, trace=True)
    assert round(calls_on - calls_off) == 2   # Metrics.frame, once per frame
    assert 0 < ops_on - ops_off < 2 * 100     # docs/benchmarks.md: about 72 per frame
