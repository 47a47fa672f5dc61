"""Benchmarks: `python -m bench [--quick] [--only NAME]` from the repository root (`make bench`).

A benchmark is a function `run(quick: bool) -> list[dict]`; each dict is one row of its table
(the keys of its first row are the columns). Add one by appending it to BENCHMARKS.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

from bench import (connections, decoder, durability, engine, faults, market_data, memory, metrics, order_calls,
                   roundtrip, virtual_clock)

BENCHMARKS = [
    ("decoder", decoder.run),
    ("engine", engine.run),
    ("market_data", market_data.run),
    ("memory", memory.run),
    ("connections", connections.run),
    ("virtual_clock", virtual_clock.run),
    ("faults", faults.run),
    ("order_calls", order_calls.run),
    ("roundtrip", roundtrip.run),
    ("durability", durability.run),
    ("metrics", metrics.run),
]


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 100 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_table(title: str, rows: list[dict]) -> None:
    print(f"\n## {title}\n")
    if not rows:
        print("(no rows)")
        return
    columns = list(rows[0])
    cells = [[_cell(row.get(c, "")) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in cells:
        # text left, numbers right
        print("  ".join(
            v.rjust(w) if v[:1].isdigit() else v.ljust(w) for v, w in zip(r, widths)
        ).rstrip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller inputs, for a smoke run")
    parser.add_argument("--only", metavar="NAME", action="append",
                        choices=[name for name, _ in BENCHMARKS], help="run only this benchmark")
    args = parser.parse_args(argv)

    print(f"Python {platform.python_version()} ({platform.python_implementation()})"
          f" on {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}")
    print(time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()) + (" (--quick)" if args.quick else ""))
    for name, run in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        rows = run(quick=args.quick)
        print_table(name, rows)
        print(f"({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
