"""The kit is right, too (issue 14 §3): our clients under test graded by `conform`.

- the reference bot and the raw-socket client pass every case (a correct client is never failed);
- the raw client with each --bug fails exactly the cases of BUGS, each failure saying what was
  expected and what came;
- the Node.js client is graded end to end through the CLI's --client-cmd, its JUnit parsed back;
- the same client gets the same verdicts run to run.

The default suite runs a few cases per client and, per bug, the cases it must fail plus one it
must pass (about 3 minutes); `pytest -m conform_full` runs every case of every profile on every
product and session type (test_conform_full.py).
"""
from __future__ import annotations

import re
import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest

from .grading import BOT_CMD, NODE, NODE_CMD, failed_ids, grade, raw_cmd, verdicts

# bug -> (session type graded, the cases it fails over the whole session profile there, a case
# it passes, what the failure message says came). The session is one where the bug can show:
# an order flow hides missing heartbeats, so no-heartbeats is graded on DC.
BUGS = {
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


def _check_failures(result, pattern: str) -> None:
    for r in result.results:
        if r.verdict != "FAIL":
            continue
        assert re.search(pattern, r.came), f"{r.label}: {r.came!r} does not say {pattern!r}"
        assert "expected" in r.failure, f"{r.label}: the failure does not say what was expected:\n{r.failure}"


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_bug_fails_exactly_its_cases(bug, tmp_path):
    session, expected, passing, says = BUGS[bug]
    result = grade(raw_cmd(bug), report=tmp_path, session=session, only=sorted(expected | {passing}))
    assert failed_ids(result) == expected, result.summary()
    assert result.exit_code == (1 if any(r.mandatory for r in result.failed(False)) else 0)
    _check_failures(result, says)


def test_reference_bot_passes_session_cases_on_rt(tmp_path):
    result = grade(BOT_CMD, report=tmp_path, session="RT", product="prediction",
                   only=["S01", "S06", "S08", "S12", "S16", "S21"])
    assert result.counts() == {"PASS": 6, "FAIL": 0, "SKIP": 0}, result.summary()


def test_raw_client_without_bugs_passes_session_cases_on_margin(tmp_path):
    result = grade(raw_cmd(), report=tmp_path, session="NR", product="margin",
                   only=["S01", "S03", "S06", "S09", "S15", "S19"])
    assert result.counts() == {"PASS": 6, "FAIL": 0, "SKIP": 0}, result.summary()


def test_verdicts_are_the_same_run_to_run(tmp_path):
    runs = [grade(raw_cmd("ignore-test-request"), report=tmp_path / str(n), session="NR",
                  only=["S01", "S06", "S09"]) for n in range(2)]
    assert verdicts(runs[0]) == verdicts(runs[1]) == {
        "S01 prediction/NR": "PASS", "S06 prediction/NR": "FAIL", "S09 prediction/NR": "PASS"}
    assert [r.came for r in runs[0].results] == [r.came for r in runs[1].results]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_node_client_graded_end_to_end_through_the_cli(tmp_path):
    junit = tmp_path / "conform.xml"
    done = subprocess.run(
        [sys.executable, "-m", "kalshi_fixsim.simulator", "conform", "--profile", "session", "--product", "prediction",
         "--session", "RT", "--case", "S01,S06,S08,S12", "--client-cmd", NODE_CMD,
         "--junit", str(junit), "--report", str(tmp_path / "report")],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    suite = ET.parse(junit).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    cases = suite.findall("testcase")
    assert sorted(c.get("name").split()[0] for c in cases) == ["S01", "S06", "S08", "S12"]
    assert suite.get("tests") == "4" and suite.get("failures") == "0"
    assert not [c for c in cases if c.find("failure") is not None]
    assert (tmp_path / "report" / "summary.txt").is_file()


def test_a_failing_client_fails_the_cli_run_and_its_junit(tmp_path):
    junit = tmp_path / "conform.xml"
    done = subprocess.run(
        [sys.executable, "-m", "kalshi_fixsim.simulator", "conform", "--session", "NR", "--case", "S06",
         "--client-cmd", raw_cmd("ignore-test-request"), "--junit", str(junit), "--report", str(tmp_path / "r")],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    (case,) = ET.parse(junit).getroot().iter("testcase")
    failure = case.find("failure")
    assert failure is not None and "TestReqID" in failure.get("message")
