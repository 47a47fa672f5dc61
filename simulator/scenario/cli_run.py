"""`kalshi-fixsim scenario run`: select (-k), play each scenario, report (JUnit, transcripts)."""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from .report import write_junit, write_transcript


def selected(scenarios: list, expr: str | None) -> list:
    """-k EXPR: comma-separated words, any of which is in the name, a tag or the file; `!w` excludes."""
    if not expr:
        return scenarios
    words = [w.strip() for w in expr.split(",") if w.strip()]
    wanted = [w for w in words if not w.startswith("!")]
    banned = [w[1:] for w in words if w.startswith("!")]

    def hay(sc) -> str:
        return " ".join([sc.name, str(sc.file), *sc.tags])

    return [sc for sc in scenarios
            if (not wanted or any(w in hay(sc) for w in wanted)) and not any(b in hay(sc) for b in banned)]


def _say(line: str) -> None:
    print(line, flush=True)  # one line per step as it runs, also into a pipe (CI logs)


def run_command(args: argparse.Namespace, load) -> int:
    from .play import play, play_target
    from .target import TargetError, load_target

    scenarios, errors = load(args.paths)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        return 2
    scenarios = selected(scenarios, args.keyword)
    if not scenarios:
        print("no scenario selected", file=sys.stderr)
        return 2
    target = None
    if args.target or args.target_config:
        try:
            target = load_target(args.target, args.target_config)
        except TargetError as exc:
            print(exc, file=sys.stderr)
            return 2
    outcomes, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="kalshi-fixsim-scenario-") as tmp:
        material = None
        if target is None:
            from ..testvenue import make_material
            material = make_material(Path(tmp))
        for sc in scenarios:
            if sc.needs_external_client:
                skipped.append(sc)
                print(f"SKIP {sc.name} ({sc.file}): it judges a client under test (connect: {{client: external}}); "
                      "run it from pytest (fix_exchange.run_scenario) or the conform kit", flush=True)
                continue
            print(f"{sc.name} ({sc.file})" + ("" if target is None or sc.portable else "  [not portable]"))
            if target is not None:
                outcome = play_target(sc, target, last=args.last, out=_say)
            else:
                ca, accounts, tls = material
                outcome = play(sc, accounts, tls, ca, last=args.last, out=_say)
            outcomes.append(outcome)
            if outcome.passed:
                print(f"PASS {sc.name} ({outcome.seconds:.2f}s" + (f", {len(outcome.skipped)} step(s) skipped)"
                                                                    if outcome.skipped else ")"))
            else:
                print(f"FAIL {sc.name}\n{outcome.failure}")
            if args.transcript:
                write_transcript(Path(args.transcript), sc.name, outcome.records)
    if args.junit:
        write_junit(Path(args.junit), outcomes, skipped, "judges a client under test (connect: {client: external})")
    failed = [o for o in outcomes if not o.passed]
    print(f"{len(outcomes) - len(failed)} passed, {len(failed)} failed"
          + (f", {len(skipped)} skipped" if skipped else ""))
    return 1 if failed else 0
