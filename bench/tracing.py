"""Exact Python call and bytecode counts of a block (sys.settrace): deterministic on a shared,
noisy machine, where times are not, so two versions of the code compare exactly."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

__all__ = ["Counts", "counting"]


@dataclass
class Counts:
    calls: int = 0
    opcodes: int = 0


@contextmanager
def counting(enabled: bool = True) -> Iterator[Counts]:
    """`with counting() as c: ...` counts every call and bytecode run inside the block."""
    counts = Counts()

    def tracer(frame, event, arg):
        if event == "call":
            counts.calls += 1
            frame.f_trace_opcodes = True
        elif event == "opcode":
            counts.opcodes += 1
        return tracer
    if enabled:
        sys.settrace(tracer)
    try:
        yield counts
    finally:
        if enabled:
            sys.settrace(None)
