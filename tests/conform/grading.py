"""Run the conformance kit on one of our clients under test and read what it decided.

    result = grade(raw_cmd("no-backoff"), session="NR", only=["S17", "S01"])
    assert failed_ids(result) == {"S17"}
"""
from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from kalshi_fixsim import conform

from .procs import CLIENTS

__all__ = ["BOT_CMD", "NODE_CMD", "raw_cmd", "grade", "failed_ids", "verdicts", "NODE"]

BOT_CMD = shlex.join([sys.executable, "-m", "kalshi_fixsim.client.bot"])
NODE = shutil.which("node")
NODE_CMD = shlex.join([NODE or "node", str(CLIENTS / "node" / "client.js")])


def raw_cmd(bug: str | None = None) -> str:
    argv = [sys.executable, str(CLIENTS / "rawclient.py")]
    return shlex.join(argv + (["--bug", bug] if bug else []))


def grade(client_cmd: str, *, report: Path, profile: str = "session", product: str = "prediction",
          session: str = "NR", only: list[str] | None = None, **kwargs) -> conform.ConformResult:
    lines: list[str] = []
    result = conform.run(profile=profile, product=product, session=session, client_cmd=client_cmd,
                         only=only, report=report, out=lines.append, **kwargs)
    result.lines = lines  # the live output, for a failing assertion's message
    return result


def failed_ids(result) -> set[str]:
    """Case ids that FAILed, mandatory or not."""
    return {r.case.id for r in result.results if r.verdict == "FAIL"}


def verdicts(result) -> dict[str, str]:
    return {f"{r.case.id} {r.product}/{r.session}": r.verdict for r in result.results}


