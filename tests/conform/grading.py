"""Run the conformance kit on one of our clients under test and read what it decided.

    result = grade(raw_cmd("no-backoff"), session="NR", only=["S17", "S01"])
    assert failed_ids(result) == {"S17"}
"""
from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path

from kalshi_fixsim import conform

from .procs import CLIENTS

__all__ = ["BOT_CMD", "NODE_CMD", "NODE", "BUGS", "ORDER_BUGS", "raw_cmd", "grade", "grade_many", "failed_ids", "verdicts",
           "check_failures"]

BOT_CMD = shlex.join([sys.executable, "-m", "kalshi_fixsim.client.bot"])
NODE = shutil.which("node")
NODE_CMD = shlex.join([NODE or "node", str(CLIENTS / "node" / "client.js")])

# bug -> (session type graded, the cases it fails over the whole session profile there, a case
# it passes, what the failure message says came). The session is one where the bug can show:
# an order flow hides missing heartbeats, so no-heartbeats is graded on DC.
BUGS: dict[str, tuple[str, set[str], str, str]] = {
    "no-heartbeats": ("DC", {"S05"}, "S06", r"the client sent nothing for [\d.]+ s: expected a Heartbeat"),
    "ignore-test-request": ("NR", {"S06", "S10", "S11"}, "S09",
                            r"nothing matching within \d+s; expected: MsgType\(35\)=Heartbeat\(0\), TestReqID\(112\)=CONF-"),
    "no-gap-detection": ("RT", {"S08", "S22", "S24"}, "S06", r"expected: MsgType\(35\)=ResendRequest\(2\)"),
    "gapfill-over-app-messages": ("RT", {"S12"}, "S08", r"a gap fill 1\.\.\d+ skips application message\(s\) \d+ \(NewOrderSingle"),
    "no-backoff": ("NR", {"S17", "S18"}, "S16", r"\d+ connection attempts within 6s, expected at most 8"),
    "ignore-logout": ("NR", {"S16", "S19"}, "S06", r"nothing matching within \d+s; expected: MsgType\(35\)=Logout\(5\)"),
    "wrong-reset-flag-on-relogon": ("RT", {"S04", "S20", "S24"}, "S07", r"the client's Logon does not match"),
    "stuck-resend-after-reconnect": ("RT", {"S24"}, "S08", r"nothing matching within \d+s; expected: MsgType\(35\)=ResendRequest\(2\)"),
}

# The order bugs fail every order-entry case whose check_dialect sees them (each case ends with
# one), not only the dialect case OE01; OE02 passes reuse-clordid: its refused orders free the
# ClOrdID (docs/behaviour.md, "Conform dialect"). The case they pass is a session case.
ORDER_BUGS: dict[str, tuple[str, set[str], str, str]] = {
    "reuse-clordid": ("NR", {"OE01", "OE03", "OE04", "OE05", "OE06", "OE07", "OE08", "OE09", "OE10"}, "S06",
                      r"ClOrdID\(11\)='raw\w+-same'"),
    "dollars-on-cents": ("NR", {f"OE{n:02d}" for n in range(1, 11)}, "S06",
                         r"Price\(44\)='0\.10': expected integer cents 1-99 on a cents session"),
}


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


def grade_many(jobs: dict) -> dict:
    """`grade(*args, **kwargs)` of each job at the same time: {key: (args, kwargs)} -> {key: result
    or the exception it raised}. Each run has its own simulator, ports and client process, and a
    run mostly waits on its cases' clocks, so running them side by side keeps the suite's wall
    time to the longest run instead of their sum."""
    from concurrent.futures import ThreadPoolExecutor

    def one(job):
        args, kwargs = job
        try:
            return grade(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - reported by the test that reads this job
            return exc
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        return dict(zip(jobs, pool.map(one, jobs.values())))


def failed_ids(result) -> set[str]:
    """Case ids that FAILed, mandatory or not."""
    return {r.case.id for r in result.results if r.verdict == "FAIL"}


def verdicts(result) -> dict[str, str]:
    return {f"{r.case.id} {r.product}/{r.session}": r.verdict for r in result.results}




def check_failures(result, pattern: str) -> None:
    """Every FAIL says what was expected and what came; one of them says `pattern`."""
    failures = [r for r in result.results if r.verdict == "FAIL"]
    assert any(re.search(pattern, r.failure) for r in failures), f"no failure says {pattern!r}:\n{result.summary()}"
    for r in failures:
        # Known gap (reported): a case failing at its own `wait_fault` step (the client never sent
        # what the fault waits for, e.g. OE10 for dollars-on-cents) says only "fault 'dup' not hit".
        if "].wait_fault: fault " in r.came:
            continue
        assert r.came and "expected" in r.failure, f"{r.label}: the failure does not say what was expected:\n{r.failure}"
        assert "expected" in r.failure, f"{r.label}: the failure does not say what was expected:\n{r.failure}"
