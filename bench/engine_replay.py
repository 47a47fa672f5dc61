"""Replay the engine benchmark's flow for instruction counting (docs/benchmarks.md).

    valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python -m bench.engine_replay 5000 0
    valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python -m bench.engine_replay 5000 2

(instructions of the second - the first) / (2 x 5000) = instructions per engine operation.
Wall-clock comparisons on a shared VM move by ±30%; instruction counts do not.
"""
from __future__ import annotations

import gc
import sys

from bench.engine import build_flow, new_exchange, run_flow
from simulator.runtime import tune_gc


def main(argv: list[str]) -> None:
    n, repeat = int(argv[0]), int(argv[1])
    flow = build_flow(n)
    gc.collect()
    gc.freeze()
    tune_gc()
    for _ in range(repeat):
        run_flow(new_exchange(), flow)


if __name__ == "__main__":
    main(sys.argv[1:])
