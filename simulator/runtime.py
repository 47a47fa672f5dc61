"""Process settings of a serving simulator: the cyclic garbage collector's thresholds.

Every order, fill and message allocates a handful of short-lived objects, and every resting
order is a long-lived one. With CPython's default thresholds (700, 10, 10) the collector runs
every few orders and walks every resting order again each time objects are promoted: about
a third of the matching engine's time on a 200k-operation flow (docs/benchmarks.md). Larger
young-generation thresholds keep cycle collection (asyncio, exceptions) but make it rare;
freezing what start-up built (config, universe, keys) keeps it out of every full collection.
"""
from __future__ import annotations

import gc

__all__ = ["GC_THRESHOLDS", "tune_gc", "freeze_startup"]

GC_THRESHOLDS = (20_000, 20, 20)  # gen0 allocations, gen1 and gen2 ratios (default 700, 10, 10)


def tune_gc() -> tuple[int, int, int]:
    """Apply GC_THRESHOLDS to this process; returns the previous thresholds."""
    previous = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    return previous


def freeze_startup() -> None:
    """Move everything alive now to the permanent generation (call once the server is up)."""
    gc.collect()
    gc.freeze()
