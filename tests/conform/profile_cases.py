"""Grade a client with `kalshi_fixsim.conform.run` on the order-entry, market-data, drop-copy and
post-trade profiles (their cases: scenarios/conform/<profile>/), and read the verdicts."""
from __future__ import annotations

import shlex
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import yaml

from kalshi_fixsim import conform

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "scenarios" / "conform"
HERE = Path(__file__).parent
BOT = [sys.executable, "-m", "kalshi_fixsim.client.bot", "--interval", "1"]


def case_meta(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["meta"]


def flawed(flaw: str) -> list[str]:
    return [sys.executable, str(HERE / "flawed_bot.py"), "--flaw", flaw, "--interval", "1"]


def _run(report: Path, profile: str, session: str, argv: list[str], product: str, only, features):
    lines: list[str] = []
    result = conform.run(profile=profile, product=product, session=session, only=only, features=features,
                         client_cmd=" ".join(shlex.quote(a) for a in argv), report=report, out=lines.append)
    return result, lines


def _key(profile, session, argv, product="prediction", only=None, features=None) -> tuple:
    return profile, session, tuple(argv), product, tuple(only or ()), tuple(features or ())


_started: dict[tuple, Future] = {}


def start_side_by_side(base: Path, jobs: list[tuple]) -> ThreadPoolExecutor:
    """Start the gradings `grade` will be asked for, all at once (each has its own simulator,
    ports and client process, and mostly waits on its cases' clocks): a module's wall time is its
    longest run, not their sum. A job is grade()'s arguments after tmp_path, as a tuple
    (profile, session, argv[, product[, only[, features]]]). Returns the pool to shut down."""
    pool = ThreadPoolExecutor(max_workers=max(1, len(jobs)))
    for n, job in enumerate(jobs):
        key = _key(*job)
        profile, session, argv, product, only, features = key
        _started[key] = pool.submit(_run, base / f"run{n}", profile, session, list(argv), product,
                                    list(only) or None, list(features) or None)
    return pool


def grade(tmp_path: Path, profile: str, session: str, argv: list[str], *, product: str = "prediction",
          only: list[str] | None = None, features: list[str] | None = None):
    started = _started.pop(_key(profile, session, argv, product, only, features), None)
    if started is not None:
        return started.result()
    return _run(tmp_path / "report", profile, session, argv, product, only, features)


def verdicts(result) -> dict[str, str]:
    return {r.case.id: r.verdict for r in result.results}


def failure_of(result, case_id: str) -> str:
    (r,) = [r for r in result.results if r.case.id == case_id]
    assert r.verdict == "FAIL", f"{case_id} {r.verdict} for a client that should fail it"
    return r.failure
