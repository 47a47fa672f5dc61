"""The conformance kit's pieces that need no venue (issue 14): case loading refuses a case
without its meta.conform keys (naming the file and key), selection by profile / product /
session / features, the client contract's placeholders, the CLI's options (each with help),
answers YAML and the interview, usage errors as one line with exit status 2, the report
table and JUnit XML (parsed back), and docs/conform.md's case table against the files."""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from kalshi_fixsim.simulator.conform.cases import CaseError, Selection, load_cases, select
from kalshi_fixsim.simulator.conform.clients import PLACEHOLDERS, ClientInfo, ConformError, check_command
from kalshi_fixsim.simulator.conform.run import CaseResult, ConformResult

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "scenarios" / "conform"
CLI = [sys.executable, "-m", "kalshi_fixsim"]

GOOD = """\
meta:
  name: conform_x
  spec: ["01 §4"]
  sessions: [NR, RT]
  products: [prediction]
  conform: {profile: session, id: X1, mandatory: true, expect: "something"%s}
setup: {clock: {mode: real}}
steps:
  - connect: {client: external, as: subject, session: "${session}", name: c}
"""


def _write(tmp_path, text, name="x.yaml"):
    folder = tmp_path / "cases"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize("drop, key", [
    ("id: X1, ", "meta.conform.id"), ("mandatory: true, ", "meta.conform.mandatory"),
    ('expect: "something"', "meta.conform.expect"), ("profile: session, ", "meta.conform.profile"),
])
def test_a_case_without_a_required_conform_key_is_refused_naming_file_and_key(tmp_path, drop, key):
    folder = _write(tmp_path, (GOOD % "").replace(drop, ""))
    with pytest.raises(CaseError) as info:
        load_cases(folder)
    assert str(info.value).startswith(f"{folder / 'x.yaml'}: {key}: ")


def test_a_case_without_meta_conform_or_spec_is_refused(tmp_path):
    folder = _write(tmp_path, re.sub(r"  conform: .*\n", "", GOOD % "").replace('"${session}"', "NR"))
    with pytest.raises(CaseError, match=r"x\.yaml: meta\.conform: missing"):
        load_cases(folder)
    folder = _write(tmp_path, (GOOD % "").replace('  spec: ["01 §4"]\n', ""))
    with pytest.raises(CaseError, match=r"x\.yaml: meta\.spec: missing"):
        load_cases(folder)
    folder = _write(tmp_path, GOOD % ", colour: red")
    with pytest.raises(CaseError, match=r"meta\.conform\.colour: unknown key"):
        load_cases(folder)


def test_case_ids_are_unique(tmp_path):
    folder = _write(tmp_path, GOOD % "")
    (folder / "y.yaml").write_text((GOOD % "").replace("conform_x", "conform_y"))
    with pytest.raises(CaseError, match=r"y\.yaml: meta\.conform\.id: 'X1' is also"):
        load_cases(folder)


def test_every_library_case_loads_for_every_session_and_product_it_names():
    from kalshi_fixsim.simulator.scenario.kitvars import kit_values
    cases = load_cases(CASES)
    assert {c.profile for c in cases} >= {"session"}
    for case in cases:
        for product in case.products:
            for session in case.sessions:
                if product == "margin" and session in ("PT", "RFQ"):
                    continue
                sc = case.scenario(kit_values(product, session))
                assert sc.needs_external_client and sc.conform["id"] == case.id


def test_selection_by_profile_session_and_features(tmp_path):
    folder = _write(tmp_path, GOOD % ", features: [resend]")
    (folder / "y.yaml").write_text((GOOD % ", mandatory: false").replace("conform_x", "conform_y")
                                   .replace("id: X1", "id: Y1").replace(", mandatory: true", "", 1))
    cases = load_cases(folder)
    plan = select(cases, Selection(["session"], ["prediction"], ["NR", "MD"], features=[]))
    assert [(p.case.id, p.session, bool(p.skip)) for p in plan] == [("X1", "NR", True), ("Y1", "NR", False)]
    assert "needs feature(s) the client does not have: resend" in plan[0].skip
    plan = select(cases, Selection(["session"], ["prediction"], ["RT"], features=None, mandatory_only=True))
    assert [(p.case.id, p.skip) for p in plan] == [("X1", ""), ("Y1", "optional (--mandatory-only)")]
    assert select(cases, Selection(["order-entry"], ["prediction"], ["NR"])) == []


def test_client_cmd_placeholders_are_the_contracts_and_an_unknown_one_is_named():
    assert set(PLACEHOLDERS) == {"host", "port", "api_key", "key_file", "ca_file", "session", "target_comp_id",
                                 "product", "symbol", "heartbeat", "use_dollars", "report_dir"}
    check_command("bot --host {host} --port {port} --key {key_file} --ca {ca_file} {session} {heartbeat}")
    with pytest.raises(ConformError, match=r"unknown placeholder\(s\) \{keyfile\}, \{prot\}; known: \{host\}"):
        check_command("bot {prot} {keyfile} {host}")
    info = ClientInfo("127.0.0.1", 1, "k", "/k.pem", "/ca.pem", "RT", "KalshiRT", "prediction", "S", 4, "N", "/r")
    env = info.env()
    assert env["KALSHI_FIX_PORT"] == "1" and env["KALSHI_FIX_TARGET_COMP_ID"] == "KalshiRT"
    assert set(env) == {f"KALSHI_FIX_{p.upper()}" for p in PLACEHOLDERS}


def _conform_parser() -> argparse.ArgumentParser:
    from kalshi_fixsim.simulator.conform.cli import register
    top = argparse.ArgumentParser()
    sub = top.add_subparsers(dest="command")
    register(sub)
    return sub.choices["conform"]


def test_every_conform_option_has_help():
    parser = _conform_parser()
    missing = [a.option_strings for a in parser._actions if not a.help]
    assert missing == []
    assert {"--profile", "--product", "--session", "--client-cmd", "--api-key", "--public-key", "--junit", "--report",
            "--interview", "--answers", "--features", "--case", "--heartbeat"} <= \
        {o for a in parser._actions for o in a.option_strings}


def test_answers_file_and_interview_pick_the_same_options(tmp_path):
    from kalshi_fixsim.simulator.conform.cli import build_options
    parser = _conform_parser()
    answers = tmp_path / "a.yaml"
    answers.write_text("profile: session\nproduct: [margin]\nsession: RT,NR\nfeatures: []\nheartbeat: 5\n")
    opts = build_options(parser.parse_args(["--answers", str(answers)]))
    assert (opts.profiles, opts.products, opts.sessions, opts.features, opts.heartbeat) == \
        (["session"], ["margin"], ["RT", "NR"], [], 5)
    opts = build_options(parser.parse_args(["--answers", str(answers), "--session", "md"]))
    assert opts.sessions == ["MD"]  # a flag wins over the file
    replies = {"Profiles": "session", "Products": "prediction", "Session types": "DC",
               "Optional features": "continuity", "Run only": "y"}  # by question: the features one is there
    opts = build_options(parser.parse_args(["--interview"]), isatty=True,   # once a case needs a feature (S24)
                         ask=lambda q: next(v for k, v in replies.items() if q.startswith(k)))
    assert (opts.products, opts.sessions, opts.features, opts.mandatory_only) == \
        (["prediction"], ["DC"], ["continuity"], True)
    with pytest.raises(ConformError, match="--interview asks on a terminal"):
        build_options(parser.parse_args(["--interview"]), isatty=False)
    answers.write_text("colour: red\n")
    with pytest.raises(ConformError, match=r"a\.yaml: colour: unknown key"):
        build_options(parser.parse_args(["--answers", str(answers)]))


@pytest.mark.parametrize("args, words", [
    (["--session", "XX"], "error: --session: XX is not one of NR, DC, RT, PT, RFQ, MD"),
    (["--client-cmd", "bot {nope}"], "error: --client-cmd: unknown placeholder(s) {nope}"),
    (["--profile", "everything"], "error: --profile: everything is not one of session"),
    (["--api-key", "abc"], "error: --api-key needs --public-key FILE"),
    (["--cases", "/nonexistent/cases", "--list"], "error: /nonexistent/cases: no such folder"),
])
def test_usage_errors_are_one_line_and_exit_2(args, words):
    r = subprocess.run(CLI + ["conform"] + args, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.startswith(words) and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_list_shows_the_plan_without_running():
    r = subprocess.run(CLI + ["conform", "--list", "--session", "RT,NR"], capture_output=True, text=True,
                       timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^S01 +prediction/NR +mandatory +conform_session_logon_fields_and_signature", r.stdout, re.M)
    assert re.search(r"^S12 +prediction/RT", r.stdout, re.M) and not re.search(r"^S12 +prediction/NR", r.stdout, re.M)


def _result(tmp_path) -> ConformResult:
    cases = {c.id: c for c in load_cases(CASES)}
    rows = [(0.0, "prediction/NR/k", "out", b"8=FIXT.1.1\x019=5\x0135=1\x01112=CONF-S06\x0110=000\x01", "")]
    results = [CaseResult(cases["S01"], "prediction", "NR", "PASS", seconds=0.1, transcript=rows),
               CaseResult(cases["S06"], "prediction", "NR", "FAIL", seconds=4.0, transcript=rows,
                          came="steps[2].expect: nothing matching within 4s; expected: TestReqID(112)=CONF-S06",
                          failure="s06.yaml:21: steps[2].expect: nothing matching within 4s\n  expected: x"),
               CaseResult(cases["S04"], "prediction", "RT", "FAIL", came="steps[3].expect_logon: no new Logon",
                          failure="s04.yaml:9: steps[3].expect_logon: no new Logon"),
               CaseResult(cases["S12"], "prediction", "NR", "SKIP", came="needs feature(s): resend")]
    return ConformResult(results, report=tmp_path, junit=tmp_path / "j.xml", seconds=4.1)


def test_the_report_table_and_junit_say_what_was_expected_and_what_came(tmp_path):
    from kalshi_fixsim.simulator.conform.report import write_junit, write_transcripts
    result = _result(tmp_path)
    assert result.exit_code == 1 and [r.label for r in result.failed()] == ["S06 prediction/NR"]  # S04 optional
    write_transcripts(result)
    write_junit(result, result.junit)
    text = result.summary()
    header = text.splitlines()[0].split()
    assert header == ["case", "session", "spec", "FIX", "test", "verdict", "expected", "came"]
    assert re.search(r"^S06 +prediction/NR +01 §4 +4b +FAIL ", text, re.M)
    assert re.search(r"^S04 .* FAIL\* ", text, re.M)  # optional
    assert "FAIL S06 conform_session_test_request_answered" in text and "35=1(TestRequest)" in text
    assert "1 passed, 2 failed (1 mandatory), 1 skipped" in text
    suite = ET.parse(tmp_path / "j.xml").getroot()
    assert suite.get("tests") == "4" and suite.get("failures") == "1" and suite.get("skipped") == "2"
    by_name = {c.get("name").split()[0]: c for c in suite.findall("testcase")}
    assert by_name["S06"].find("failure").get("message").endswith("TestReqID(112)=CONF-S06")
    assert by_name["S04"].find("skipped").get("message").startswith("optional case failed:")
    assert by_name["S12"].find("skipped").get("message") == "needs feature(s): resend"
    assert by_name["S01"].get("classname") == "conform.session.prediction.NR"
    assert (tmp_path / "transcripts").is_dir() and (tmp_path / "summary.txt").exists()


def test_docs_conform_md_lists_every_case_as_the_files_say():
    """The case table of docs/conform.md is checked against scenarios/conform: it never drifts."""
    text = (ROOT / "docs" / "conform.md").read_text()
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^\| (S\d+|[A-Z]+\d+) \| `([a-z0-9_]+)` \| ([^|]*) \| ([^|]*) \| ([^|]*) \| ([^|]*) \|", line)
        if m:
            rows[m[1]] = m.groups()[1:]
    for case in load_cases(CASES):  # every profile's cases: a new case needs its row
        assert case.id in rows, f"docs/conform.md: no row for {case.id} ({case.file})"
        name, sessions, spec, fix, mandatory = (v.strip() for v in rows[case.id])
        assert name == case.name
        assert sessions == ", ".join(case.sessions), case.id
        assert spec == ", ".join(case.spec), case.id
        assert fix == (case.fix_test_case or "–"), case.id
        assert mandatory == ("yes" if case.mandatory else "optional"), case.id


def test_the_kit_venue_makes_a_fresh_subject_or_takes_the_users_own_key(tmp_path):
    from kalshi_fixsim.simulator.conform.venue import start_venue
    from kalshi_fixsim.simulator.keys import new_key_pair

    kit = start_venue(tmp_path / "fresh")
    try:
        assert kit.key_file is not None and kit.key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        assert kit.ca_file.exists() and kit.endpoint("prediction", "RT").port > 0
        assert kit.sim.auth is not None and "subject" in kit.accounts
    finally:
        kit.stop()
    mine = new_key_pair(tmp_path / "mine", "me")
    kit = start_venue(tmp_path / "own", api_key="my-key-id", public_key=mine.public_key_path,
                      private_key=mine.private_key_path)
    try:
        assert kit.api_key == "my-key-id" and kit.key_file == mine.private_key_path
    finally:
        kit.stop()
    with pytest.raises(ValueError, match="--public-key .*: .*give the PEM RSA public key"):
        (tmp_path / "bad.pem").write_text("not a key")
        start_venue(tmp_path / "bad", api_key="x", public_key=tmp_path / "bad.pem")
