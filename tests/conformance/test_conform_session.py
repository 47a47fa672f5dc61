"""`kalshi-fixsim conform --profile session` graded on the reference client (issue 14 §3): it
must PASS every session case. The default suite plays every case on prediction RT, and the
quick cases (no inherent waits) on prediction NR and margin NR; `-m conform_full` plays every
case on every session type of both products."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from kalshi_fixsim import conform
from kalshi_fixsim.simulator.conform.cases import load_cases

from .conform_reference import ReferenceClient, reference_client

ROOT = Path(__file__).resolve().parents[2]
SESSION_CASES = [c for c in load_cases(ROOT / "scenarios" / "conform") if c.profile == "session"]
# cases whose checks take wall time by nature (heartbeat windows, silence, backoff windows)
SLOW = {"S05", "S07", "S16", "S17", "S18", "S21"}
QUICK = [c.id for c in SESSION_CASES if c.id not in SLOW]


def _grade(tmp_path, product, session, only=None):
    lines: list[str] = []
    result = conform.run(profile="session", product=product, session=session, client=reference_client,
                         report=tmp_path / "report", junit=tmp_path / "conform.xml", only=only, out=lines.append)
    return result, lines


def _assert_all_pass(result, lines):
    assert result.passed and result.exit_code == 0, result.summary()
    bad = {k: v for k, v in result.verdicts().items() if v != "PASS"}
    assert bad == {}, result.summary()
    assert len(lines) == len(result.results)  # one live line per case
    assert all(line.startswith("PASS ") for line in lines), lines


def test_reference_client_passes_every_session_case_on_prediction_rt(tmp_path):
    result, lines = _grade(tmp_path, "prediction", "RT")
    _assert_all_pass(result, lines)
    expected = {c.id for c in SESSION_CASES if "RT" in c.sessions and "prediction" in c.products}
    assert {r.case.id for r in result.results} == expected
    # the JUnit XML parses back: one testcase per case, no failure, properties kept
    suite = ET.parse(tmp_path / "conform.xml").getroot()
    cases = suite.findall("testcase")
    assert len(cases) == len(expected) and suite.get("failures") == "0"
    assert all(c.find("failure") is None for c in cases)
    props = {p.get("name"): p.get("value") for p in cases[0].find("properties")}
    assert props["verdict"] == "PASS" and props["spec"] and props["mandatory"] in ("true", "false")
    # one transcript per case, and the summary
    transcripts = sorted((tmp_path / "report" / "transcripts").glob("*.txt"))
    assert len(transcripts) == len(expected)
    assert "passed, 0 failed" in (tmp_path / "report" / "summary.txt").read_text()


@pytest.mark.parametrize("product", ["prediction", "margin"])
def test_reference_client_passes_the_quick_session_cases_on_nr(tmp_path, product):
    result, lines = _grade(tmp_path, product, "NR", only=QUICK)
    _assert_all_pass(result, lines)
    assert {r.case.id for r in result.results} == {c.id for c in SESSION_CASES if c.id in QUICK
                                                   and "NR" in c.sessions}


@pytest.mark.conform_full
@pytest.mark.parametrize("product, session", [("prediction", s) for s in ("NR", "DC", "RT", "PT", "RFQ", "MD")]
                         + [("margin", s) for s in ("NR", "DC", "RT", "MD")])
def test_reference_client_passes_every_session_case(tmp_path, product, session, pytestconfig):
    if "conform_full" not in (pytestconfig.getoption("markexpr") or ""):
        pytest.skip("every session type of both products is opt-in: pytest -m conform_full")
    result, lines = _grade(tmp_path, product, session)
    _assert_all_pass(result, lines)


def test_the_cli_grades_a_client_process_through_client_cmd(tmp_path):
    """The contract end to end: placeholders and KALSHI_FIX_* reach a separate process; its
    output is kept in the report; JUnit written; exit status 0."""
    cmd = f"{sys.executable} {Path(__file__).parent / 'conform_reference.py'} --port {{port}} --key {{key_file}}"
    r = subprocess.run([sys.executable, "-m", "kalshi_fixsim", "conform", "--profile", "session", "--product",
                        "prediction", "--session", "RT", "--case", "S01,S06,S12", "--client-cmd", cmd,
                        "--junit", str(tmp_path / "j.xml"), "--report", str(tmp_path / "rep")],
                       capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [line.split()[:2] for line in r.stdout.splitlines() if line.startswith(("PASS", "FAIL"))] == \
        [["PASS", "S01"], ["PASS", "S06"], ["PASS", "S12"]]
    assert "reference client on 127.0.0.1:" in (tmp_path / "rep" / "client" / "client-stdout.log").read_text()
    assert len(ET.parse(tmp_path / "j.xml").getroot().findall("testcase")) == 3


def test_a_client_that_never_answers_fails_with_what_was_expected(tmp_path):
    """A client that logs on and then ignores TestRequests: S06 FAILs, naming the TestReqID it
    waited for; exit code 1; the summary shows the case, the expectation and the transcript."""
    result = conform.run(profile="session", product="prediction", session="NR", client=_deaf_client,
                         only=["S06"], report=tmp_path / "rep", junit=tmp_path / "j.xml", out=lambda _: None)
    assert result.exit_code == 1 and not result.passed
    (r,) = result.results
    assert r.verdict == "FAIL" and "TestReqID(112)=CONF-S06" in r.came
    text = result.summary()
    assert "FAIL S06 conform_session_test_request_answered" in text and "transcript (last" in text
    failure = ET.parse(tmp_path / "j.xml").getroot().find("testcase/failure")
    assert failure is not None and "CONF-S06" in failure.get("message")


class _DropTestRequests:
    """A broken client's interceptor: TestRequests never reach its session."""

    def inbound(self, frame):
        return [] if b"\x0135=1\x01" in frame else [frame]

    def outbound(self, frame):
        return [frame]


def _deaf_client(info):
    return ReferenceClient(info, orders=False, interceptor=_DropTestRequests()).start()


def test_without_client_cmd_the_endpoint_is_printed_and_the_users_client_is_awaited(tmp_path):
    """The user starts their own client from the printed endpoint (here: the reference client
    as a process, its environment built from what was printed)."""
    import os
    import re as _re

    kit = subprocess.Popen([sys.executable, "-m", "kalshi_fixsim", "conform", "--session", "NR", "--case", "S06",
                            "--wait", "60", "--report", str(tmp_path / "rep")], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, cwd=ROOT)
    seen: dict[str, str] = {}
    client = None
    try:
        for line in kit.stdout:
            m = _re.match(r"^  (host|port|api key \(SenderCompID\)|private key|CA file|HeartBtInt|symbol)\s{2,}(.*)$",
                          line.rstrip("\n"))
            if m:
                seen[m[1]] = m[2]
            if "symbol" in seen:
                break
        env = dict(os.environ, KALSHI_FIX_HOST=seen["host"], KALSHI_FIX_PORT=seen["port"],
                   KALSHI_FIX_API_KEY=seen["api key (SenderCompID)"], KALSHI_FIX_KEY_FILE=seen["private key"],
                   KALSHI_FIX_CA_FILE=seen["CA file"], KALSHI_FIX_SESSION="NR", KALSHI_FIX_PRODUCT="prediction",
                   KALSHI_FIX_SYMBOL=seen["symbol"], KALSHI_FIX_HEARTBEAT=seen["HeartBtInt"].split()[0])
        client = subprocess.Popen([sys.executable, str(Path(__file__).parent / "conform_reference.py")], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out, err = kit.communicate(timeout=120)
    finally:
        kit.kill()
        if client is not None:
            client.terminate()
            client.wait(10)
    assert kit.returncode == 0, out + err
    assert re.search(r"^PASS S06 ", out, re.M)


def test_a_case_that_says_restart_gets_a_fresh_client(tmp_path):
    starts = []

    def counting(info):
        starts.append(info.port)
        return reference_client(info)
    result = conform.run(profile="session", product="prediction", session="NR", client=counting,
                         only=["S01", "S02"], report=tmp_path, out=lambda _: None)
    assert result.passed, result.summary()
    assert len(starts) == 2  # S02 says restart: true


def test_a_client_process_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    import asyncio
    import time

    from kalshi_fixsim.simulator.conform.clients import ClientInfo, ProcessClient

    proc = ProcessClient(f"{sys.executable} -c 'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                         "print(\"re\" + \"ady\", flush=True); time.sleep(60)'", tmp_path, grace=0.5)
    info = ClientInfo("127.0.0.1", 1, "k", "", "", "NR", "KalshiNR", "prediction", "S", 4, "N", str(tmp_path))

    async def go():
        await proc.start(info)
        deadline = time.monotonic() + 10
        while "ready" not in (tmp_path / "client-stdout.log").read_text():  # its handler is installed
            assert time.monotonic() < deadline, "the child never said ready"
            await asyncio.sleep(0.05)
        began = time.monotonic()
        status = await proc.stop()
        return status, time.monotonic() - began
    status, took = asyncio.run(go())
    assert proc.killed and 0.4 < took < 5, status  # SIGTERM ignored: SIGKILL after the 0.5 s grace


def test_assert_conforms_passes_a_good_client_and_fails_a_test_with_the_summary(assert_conforms, tmp_path):
    result = assert_conforms(profile="session", session="NR", client=reference_client, only="S06",
                             report=tmp_path / "good")
    assert result.verdicts() == {"S06 prediction/NR": "PASS"}
    with pytest.raises(pytest.fail.Exception) as info:
        assert_conforms(profile="session", session="NR", client=_deaf_client, only="S06", report=tmp_path / "bad")
    assert "a mandatory case failed" in str(info.value) and "FAIL S06 conform_session_test_request_answered" in \
        str(info.value)
