"""Deterministic cost measures of the engine benchmark's flow (docs/benchmarks.md), for A/B
comparisons that the ±30% wall-clock noise of a shared VM would hide.

Instructions (valgrind), the difference of two runs = 2 x 5,000 replayed operations:

    valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python -m bench.engine_replay 5000 0
    valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python -m bench.engine_replay 5000 2

Python bytecodes per operation, by kind and by function (sys.settrace opcode events):

    .venv/bin/python -m bench.engine_replay --bytecodes 3000
"""
from __future__ import annotations

import collections
import gc
import sys

from bench.engine import STEP, T0, build_flow, new_exchange, run_flow
from kalshi_fixsim.simulator.runtime import tune_gc


def replay(n: int, repeat: int) -> None:
    flow = build_flow(n)
    gc.collect()
    gc.freeze()
    tune_gc()
    for _ in range(repeat):
        run_flow(new_exchange(), flow)


def bytecodes(n: int, top: int = 20) -> None:
    flow = build_flow(n)
    ex = new_exchange()
    kind_now = [""]
    per_kind: collections.Counter = collections.Counter()
    per_fn: collections.Counter = collections.Counter()

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        if event == "opcode":
            per_kind[kind_now[0]] += 1
            per_fn[(kind_now[0], frame.f_code.co_name)] += 1
        return tracer

    ops: collections.Counter = collections.Counter()
    now = T0
    for i, (kind, arg) in enumerate(flow):
        now += STEP
        kind_now[0] = kind
        ops[kind] += 1
        sys.settrace(tracer)
        if kind == "cancel":
            account, clid, side, symbol = arg
            ex.cancel_order(account, clid, f"k{i}", side=side, symbol=symbol, now=now)
        else:
            ex.new_order(arg, now)
        sys.settrace(None)
    total = sum(per_kind.values()) / n
    print(f"{total:.0f} bytecodes per operation of the mix; by kind: "
          + ", ".join(f"{k} {per_kind[k] / ops[k]:.0f}" for k in ops))
    for (kind, fn), count in per_fn.most_common(top):
        print(f"  {kind:7} {fn:28} {count / ops[kind]:7.1f} per {kind}")


if __name__ == "__main__":
    if sys.argv[1] == "--bytecodes":
        bytecodes(int(sys.argv[2]))
    else:
        replay(int(sys.argv[1]), int(sys.argv[2]))
