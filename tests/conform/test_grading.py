"""The kit is right, too (issue 14 §3): our clients under test graded by `conform`.

- the reference bot and the raw-socket client pass every case (a correct client is never failed);
- the raw client with each --bug fails exactly the cases of BUGS, each failure saying what was
  expected and what came;
- the Node.js client is graded end to end through the CLI's --client-cmd, its JUnit parsed back;
- the same client gets the same verdicts run to run.

The default suite runs a few cases per client and, per bug, the cases it must fail plus one it
must pass (about 2.5 minutes); `pytest -m conform_full` runs every case of every profile on every
product and session type (test_conform_full.py).
"""
from __future__ import annotations

import subprocess
import sys
from xml.etree import ElementTree as ET

import pytest

from .grading import (BOT_CMD, BUGS, NODE, NODE_CMD, ORDER_BUGS, check_failures, failed_ids, grade, grade_many,
                      raw_cmd, verdicts)



@pytest.fixture(scope="module")
def bug_runs(tmp_path_factory):
    """Every bug's grading, run side by side (grade_many): the tests below read their own."""
    base = tmp_path_factory.mktemp("bugs")
    jobs = {}
    for bug, (session, expected, passing, _says) in BUGS.items():
        jobs[bug] = ((raw_cmd(bug),), dict(report=base / bug, session=session, only=sorted(expected | {passing})))
    for bug, (session, _expected, passing, _says) in ORDER_BUGS.items():
        jobs["order:" + bug] = ((raw_cmd(bug),), dict(report=base / ("order-" + bug), profile="order-entry,session",
                                                      session=session, only=["OE01", passing]))
    return grade_many(jobs)


def _run(runs, key):
    result = runs[key]
    if isinstance(result, Exception):
        raise result
    return result


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_bug_fails_exactly_its_cases(bug, bug_runs):
    _session, expected, _passing, says = BUGS[bug]
    result = _run(bug_runs, bug)
    assert failed_ids(result) == expected, result.summary()
    assert result.exit_code == (1 if any(r.mandatory for r in result.failed(False)) else 0)
    check_failures(result, says)


@pytest.mark.parametrize("bug", sorted(ORDER_BUGS))
def test_each_order_bug_fails_the_dialect_case_and_no_session_case(bug, bug_runs):
    _session, _expected, _passing, says = ORDER_BUGS[bug]
    result = _run(bug_runs, "order:" + bug)
    assert failed_ids(result) == {"OE01"}, result.summary()
    check_failures(result, says)


def test_reference_bot_passes_session_cases_on_rt(tmp_path):
    result = grade(BOT_CMD, report=tmp_path, session="RT", product="prediction",
                   only=["S01", "S06", "S08", "S12", "S15"])
    assert result.counts() == {"PASS": 5, "FAIL": 0, "SKIP": 0}, result.summary()


def test_raw_client_without_bugs_passes_session_cases_on_margin(tmp_path):
    result = grade(raw_cmd(), report=tmp_path, session="NR", product="margin",
                   only=["S01", "S03", "S06", "S09", "S15", "S19"])
    assert result.counts() == {"PASS": 6, "FAIL": 0, "SKIP": 0}, result.summary()


def test_verdicts_are_the_same_run_to_run(tmp_path):
    runs = [grade(raw_cmd("gapfill-over-app-messages"), report=tmp_path / str(n), session="RT",
                  only=["S06", "S08", "S12"]) for n in range(2)]
    assert verdicts(runs[0]) == verdicts(runs[1]) == {
        "S06 prediction/RT": "PASS", "S08 prediction/RT": "PASS", "S12 prediction/RT": "FAIL"}
    assert [r.came.split(" 1..")[0] for r in runs[0].results] == [r.came.split(" 1..")[0] for r in runs[1].results]


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
