"""simulator/runtime.py: the GC thresholds `kalshi-fixsim serve` runs with."""
from __future__ import annotations

import gc

from kalshi_fixsim.simulator.runtime import GC_THRESHOLDS, freeze_startup, tune_gc


def test_tune_gc_sets_the_serving_thresholds_and_returns_the_previous_ones():
    before = gc.get_threshold()
    try:
        assert tune_gc() == before
        assert gc.get_threshold() == GC_THRESHOLDS
        assert GC_THRESHOLDS[0] > 700  # larger than CPython's default young generation
    finally:
        gc.set_threshold(*before)


def test_freeze_startup_moves_live_objects_out_of_collections():
    try:
        freeze_startup()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
