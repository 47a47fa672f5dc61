"""Grade a client with `kalshi_fixsim.conform.run` on the order-entry, market-data, drop-copy and
post-trade profiles (their cases: scenarios/conform/<profile>/), and read the verdicts."""
from __future__ import annotations

import shlex
import sys
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


def grade(tmp_path: Path, profile: str, session: str, argv: list[str], *, product: str = "prediction",
          only: list[str] | None = None, features: list[str] | None = None):
    lines: list[str] = []
    result = conform.run(profile=profile, product=product, session=session, only=only, features=features,
                         client_cmd=" ".join(shlex.quote(a) for a in argv), report=tmp_path / "report",
                         out=lines.append)
    return result, lines


def verdicts(result) -> dict[str, str]:
    return {r.case.id: r.verdict for r in result.results}


def failure_of(result, case_id: str) -> str:
    (r,) = [r for r in result.results if r.case.id == case_id]
    assert r.verdict == "FAIL", f"{case_id} {r.verdict} for a client that should fail it"
    return r.failure
