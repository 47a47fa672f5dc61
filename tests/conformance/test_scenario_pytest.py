"""The pytest side of scenarios (issue 13 §2, §4): `@pytest.mark.fix_scenario`, `client: external`,
`fix_exchange.run_scenario`, and the transcript section on failing tests that used fix_exchange.
Runs an inner pytest session in a subprocess and reads its JUnit XML back."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree as ET

ROOT = Path(__file__).resolve().parents[2]

EXTERNAL = """
meta: {name: judge_my_client}
setup: {clock: {mode: real}}
steps:
  - connect: {as: alice, session: NR, client: external, name: mine, within: 20s}
  - expect: {session: mine, msg: ExecutionReport, fields: {ClOrdID: my-1, ExecType: %s}, any: true, within: 3s}
  - expect_disconnect: {session: mine, within: 10s}
"""

INNER = '''
import asyncio
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def my_client(fx):
    async def go():
        client = fx.client("alice", session="NR")
        await client.connect()
        client.send("D", [(11, "my-1"), (55, "KXTEST-26JAN01-A"), (54, 1), (38, 3), (40, 2), (44, 40), (59, 1)])
        await client.expect("8")
        await client.logout()
    asyncio.run(go())


@pytest.mark.fix_scenario(str(HERE / "good.yaml"))
def test_marker_judges_the_tests_own_client(fix_exchange):
    my_client(fix_exchange)


@pytest.mark.fix_scenario(str(HERE / "bad.yaml"))
def test_marker_failure_fails_the_test(fix_exchange):
    my_client(fix_exchange)


def test_run_scenario_plays_library_files(fix_exchange):
    outcomes = fix_exchange.run_scenario("%s")
    assert outcomes and all(o.passed for o in outcomes)


def test_run_scenario_raises_with_the_diff(fix_exchange):
    from kalshi_fixsim.simulator.scenario.pytest_glue import ScenarioFailed
    with pytest.raises(ScenarioFailed, match="wrong_timeout.yaml:7"):
        fix_exchange.run_scenario("%s")


def test_failing_test_gets_the_transcript(fix_exchange):
    async def go():
        client = fix_exchange.client("bob", session="NR")
        await client.connect()
        await client.logout()
    asyncio.run(go())
    assert False, "deliberately"
'''


def test_pytest_marker_external_client_run_scenario_and_transcript_section(tmp_path):
    (tmp_path / "good.yaml").write_text(EXTERNAL % '"0"')
    (tmp_path / "bad.yaml").write_text(EXTERNAL % '"4"')
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER) % (
        ROOT / "scenarios" / "session", ROOT / "tests" / "scenarios_wrong" / "wrong_timeout.yaml"))
    junit = tmp_path / "inner.xml"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={junit}",
                        str(tmp_path / "test_inner.py")],
                       capture_output=True, text=True, timeout=240, cwd=tmp_path)
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    failed = {name for name, c in cases.items() if c.find("failure") is not None or c.find("error") is not None}
    assert set(cases) == {"test_marker_judges_the_tests_own_client", "test_marker_failure_fails_the_test",
                          "test_run_scenario_plays_library_files", "test_run_scenario_raises_with_the_diff",
                          "test_failing_test_gets_the_transcript"}, r.stdout + r.stderr
    assert failed == {"test_marker_failure_fails_the_test", "test_failing_test_gets_the_transcript"}, r.stdout
    marker_failure = cases["test_marker_failure_fails_the_test"].find("failure").text
    assert "bad.yaml:6: steps[1].expect" in marker_failure and "ExecType(150)=4" in marker_failure
    assert "kalshi-fixsim transcript (last messages per session)" in r.stdout
    assert "35=A(Logon)" in r.stdout and "35=5(Logout)" in r.stdout
