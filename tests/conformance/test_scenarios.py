"""The scenario runner (issue 13 §2-4): step kinds, failure diffs at the right line, JUnit,
byte-identical transcripts on the virtual clock, the library in scenarios/, the CLI."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from kalshi_fixsim.simulator.scenario import load, load_path
from kalshi_fixsim.simulator.scenario.play import play
from kalshi_fixsim.simulator.scenario.report import transcript_jsonl, transcript_text, write_junit

ROOT = Path(__file__).resolve().parents[2]
# scenarios/conform/ holds the conform kit's cases (kit variables, meta.conform): the kit loads them
# (tests/conform/test_conform_cases.py checks them), not this library test.
LIBRARY = sorted(p for p in (ROOT / "scenarios").rglob("*.yaml") if "conform" not in p.relative_to(ROOT).parts)
WRONG = ROOT / "tests" / "scenarios_wrong"
CLI = [sys.executable, "-m", "kalshi_fixsim.simulator"]


def run_text(text: str, material, name: str = "t.yaml"):
    ca, accounts, tls = material
    (sc,) = load(textwrap.dedent(text), name)
    lines: list[str] = []
    return play(sc, accounts, tls, ca, out=lines.append), lines


@pytest.mark.parametrize("path", LIBRARY, ids=[str(p.relative_to(ROOT)) for p in LIBRARY])
def test_every_library_scenario_passes(path, fix_material):
    ca, accounts, tls = fix_material
    scenarios = load_path(path)
    playable = [sc for sc in scenarios if not sc.needs_external_client]
    if not playable:
        pytest.skip("every scenario here judges a client under test (connect: {client: external})")
    for sc in playable:
        outcome = play(sc, accounts, tls, ca, out=lambda _: None)
        assert outcome.passed, outcome.failure


@pytest.mark.parametrize("file, line, words", [
    ("wrong_exec_type.yaml", 11, ["ExecType(150): expected '0', got 'F'", "ExecType", "Trade"]),
    ("wrong_silence.yaml", 7, ["expected nothing for 2s, received Heartbeat", "TestReqID"]),
    ("wrong_timeout.yaml", 7, ["nothing matching within 3s", "ExecutionReport(8)"]),
    ("wrong_disconnect.yaml", 6, ["still connected after 2s"]),
])
def test_a_wrong_scenario_fails_with_the_diff_at_its_line(file, line, words, fix_material):
    ca, accounts, tls = fix_material
    (sc,) = load_path(WRONG / file)
    outcome = play(sc, accounts, tls, ca, out=lambda _: None)
    assert not outcome.passed and outcome.failed_line == line
    assert outcome.failure.startswith(f"{WRONG / file}:{line}: steps[")
    for word in words:
        assert word in outcome.failure
    assert "message(s) on prediction/NR/" in outcome.failure  # the last messages of every session


def test_a_failure_shows_the_last_messages_of_every_session_with_tag_names(fix_material):
    outcome, _ = run_text("""
        steps:
          - connect: {as: alice, name: a}
          - connect: {as: bob, name: b}
          - expect: {session: b, msg: Logout, within: 1s}
        """, fix_material)
    assert not outcome.passed
    assert outcome.failure.count("message(s) on prediction/NR/") == 2
    assert "35=A(Logon)" in outcome.failure and "108(HeartBtInt)=30" in outcome.failure


def test_steps_print_one_line_each_with_file_and_line(fix_material):
    outcome, lines = run_text("""
        steps:
          - connect: {as: alice, name: a}
          - advance: 2s
          - logout: {session: a}
        """, fix_material)
    assert outcome.passed
    assert [ln.split()[:2] for ln in lines] == [["ok", "t.yaml:3"], ["ok", "t.yaml:4"], ["ok", "t.yaml:5"]]


def test_expect_any_skips_to_a_match_and_captures_feed_later_steps(fix_material):
    outcome, _ = run_text("""
        steps:
          - connect: {as: alice, name: a}
          - send: {session: a, msg: TestRequest, fields: {TestReqID: first}}
          - send: {session: a, msg: TestRequest, fields: {TestReqID: second}}
          - expect: {session: a, msg: Heartbeat, fields: {TestReqID: second}, any: true, capture: {seq: MsgSeqNum}}
          - send: {session: a, msg: TestRequest, fields: {TestReqID: "after-${seq}"}}
          - expect: {session: a, msg: Heartbeat, fields: {TestReqID: {regex: "^after-[0-9]+$"}, MsgSeqNum: {gt: 2}}}
        """, fix_material)
    assert outcome.passed, outcome.failure


def test_raw_header_overrides_reach_the_wire_and_the_venue_judges_them(fix_material):
    # spec 01 §5: a MsgSeqNum lower than expected without PossDupFlag ends the session
    outcome, _ = run_text("""
        steps:
          - connect: {as: alice, name: a}
          - send: {session: a, msg: TestRequest, fields: {TestReqID: x, MsgSeqNum: 1}}
          - expect: {session: a, msg: Logout, fields: {Text: {regex: "(?i)seq"}}, any: true}
          - expect_disconnect: {session: a}
        """, fix_material)
    assert outcome.passed, outcome.failure


def test_faults_from_the_start_and_switched_on_by_steps(fix_material):
    outcome, _ = run_text("""
        faults:
          - {id: tr, fault: test_request, session: NR, msg_type: "1", direction: inbound, times: 1}
        steps:
          - connect: {as: alice, name: a}
          - send: {session: a, msg: TestRequest, fields: {TestReqID: go}}
          - wait_fault: {id: tr, hits: 1, within: 2s}
          - expect: {session: a, msg: TestRequest, fields: {TestReqID: FAULT}, any: true}
          - fault: {add: {id: lo, fault: logout, session: NR, msg_type: "1", direction: inbound, text: bye}}
          - send: {session: a, msg: TestRequest, fields: {TestReqID: again}}
          - expect: {session: a, msg: Logout, fields: {Text: bye}, any: true}
          - fault: {remove: lo}
          - fault: {clear: true}
        """, fix_material)
    assert outcome.passed, outcome.failure


def test_control_steps_and_setup_act_on_the_venue(fix_material):
    outcome, _ = run_text("""
        setup:
          accounts: {alice: {balance: "2.00"}}
          pauses: [{kind: trading}]
        steps:
          - connect: {as: alice, name: a, options: {skip_pending_exec_reports: true}}
          - send: {session: a, msg: NewOrderSingle, fields: {ClOrdID: "${clordid:1}", Symbol: KXTEST-26JAN01-A,
                   Side: 1, OrderQty: 1, OrdType: 2, Price: 40, TimeInForce: 1}}
          - expect: {session: a, msg: ExecutionReport, fields: {ExecType: "8"}}
          - control: {action: resume}
          - control: {action: balance, account: alice, balance: "0.10"}
          - send: {session: a, msg: NewOrderSingle, fields: {ClOrdID: "${clordid:2}", Symbol: KXTEST-26JAN01-A,
                   Side: 1, OrderQty: 1, OrdType: 2, Price: 40, TimeInForce: 1}}
          - expect: {session: a, msg: ExecutionReport, fields: {ExecType: "8", ClOrdID: "${clordid:2}"}}
          - control: {action: place_order, account: bob, symbol: KXTEST-26JAN01-B, side: sell, price: 30, qty: 2}
        """, fix_material)
    assert outcome.passed, outcome.failure


def test_a_control_error_fails_the_step_with_the_venues_answer(fix_material):
    outcome, _ = run_text("""
        steps:
          - control: {action: halt, symbol: NOPE-1}
        """, fix_material)
    assert not outcome.passed and "control halt failed" in outcome.failure and "NOPE-1" in outcome.failure


def test_the_transcript_is_byte_identical_run_to_run_on_the_virtual_clock(fix_material):
    ca, accounts, tls = fix_material
    (sc,) = load_path(ROOT / "scenarios" / "faults" / "gap_then_resend.yaml")
    runs = [play(sc, accounts, tls, ca, out=lambda _: None) for _ in range(2)]
    texts = [transcript_text(o.records) for o in runs]
    jsons = [transcript_jsonl(o.records) for o in runs]
    assert texts[0] == texts[1] and jsons[0] == jsons[1]
    assert "[skipped 2 outbound MsgSeqNum(s) by rule gap]" in texts[0]  # fault marks
    rows = [json.loads(line) for line in jsons[0].splitlines()]
    assert {r["direction"] for r in rows} == {"client->venue", "venue->client"}
    assert any(f[:2] == [112, "TestReqID"] for r in rows for f in r["fields"])


def test_junit_xml_names_each_scenario_and_its_failure(tmp_path, fix_material):
    ca, accounts, tls = fix_material
    outcomes = [play(sc, accounts, tls, ca, out=lambda _: None)
                for sc in load_path(WRONG / "wrong_timeout.yaml") + load_path(ROOT / "scenarios/session/logon_nr.yaml")]
    write_junit(tmp_path / "out.xml", outcomes)
    suite = ET.parse(tmp_path / "out.xml").getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    failure = cases["wrong_timeout"].find("failure")
    assert failure is not None and "wrong_timeout.yaml:7" in failure.get("message")
    assert cases["logon_nr"].find("failure") is None


def test_cli_check_run_and_list(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("steps:\n  - connect: {as: alice}\n  - send: {session: alice, msg: Nope}\n")
    r = subprocess.run(CLI + ["scenario", "check", str(bad)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and f"{bad}:3: steps[1].send.msg: expected a MsgType" in r.stderr
    assert "Traceback" not in r.stderr
    r = subprocess.run(CLI + ["scenario", "list", str(ROOT / "scenarios")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "heartbeat_real_clock [portable]" in r.stdout
    r = subprocess.run(CLI + ["scenario", "run", str(WRONG / "wrong_silence.yaml"), str(ROOT / "scenarios/session"),
                              "-k", "silence,logon_nr", "--junit", str(tmp_path / "j.xml"),
                              "--transcript", str(tmp_path / "tr")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "FAIL wrong_silence" in r.stdout and "PASS logon_nr" in r.stdout and "1 passed, 1 failed" in r.stdout
    assert sorted(p.name for p in (tmp_path / "tr").iterdir()) == ["logon_nr.jsonl", "logon_nr.txt",
                                                                   "wrong_silence.jsonl", "wrong_silence.txt"]


def test_target_mode_skips_venue_control_and_runs_the_rest(tmp_path, fix_exchange):
    alice = fix_exchange.accounts["alice"]
    ep = fix_exchange.endpoint("prediction", "NR")
    config = tmp_path / "target.yaml"
    config.write_text(f"host: {ep.host}\nca: {fix_exchange.ca_file}\nports: {{NR: {ep.port}}}\n"
                      f"accounts: {{alice: {{api_key: {alice.api_key}, private_key: {alice.private_key_path}}}}}\n")
    scenario = tmp_path / "s.yaml"
    scenario.write_text(textwrap.dedent("""
        meta: {name: probe}
        setup: {clock: {mode: real}}
        steps:
          - connect: {as: alice, name: a}
          - control: {action: pause}
          - advance: 1h
          - send: {session: a, msg: TestRequest, fields: {TestReqID: p}}
          - expect: {session: a, msg: Heartbeat, fields: {TestReqID: p}, any: true}
          - logout: {session: a}
        """))
    r = subprocess.run(CLI + ["scenario", "run", str(scenario), "--target-config", str(config)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skip" in r.stdout and "(needs the venue's control plane)" in r.stdout and "(needs the venue's clock)" in r.stdout
    assert "PASS probe" in r.stdout and "[not portable]" in r.stdout


def test_place_order_over_http_answers_the_order_id_and_status(fix_exchange_factory):
    import urllib.request
    fx = fix_exchange_factory(control_port=0)
    body = json.dumps({"account": "bob", "symbol": "KXTEST-26JAN01-A", "side": "sell", "price": 50,
                       "qty": 5}).encode()
    req = urllib.request.Request(fx.control_url + "/orders", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        answer = json.loads(resp.read())
    assert answer["status"] == "new" and answer["order_id"] and answer["leaves_qty"] == "5"
    (resting,) = fx.control.orders(account="bob")
    assert resting["price"] in ("0.5", "0.50", "0.5000")


def test_ctl_order_rests_an_order_and_prints_its_id(fix_exchange_factory, capsys):
    from kalshi_fixsim.simulator.cli import main
    fx = fix_exchange_factory(control_port=0)
    port = fx.sim.control_server.port
    assert main(["ctl", "--port", str(port), "order", "bob", "KXTEST-26JAN01-B", "buy", "0.35", "3",
                 "--cl-ord-id", "c1"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["cl_ord_id"], answer["status"], answer["leaves_qty"]) == ("c1", "new", "3")
    assert main(["ctl", "--port", str(port), "order", "bob", "KXTEST-26JAN01-B", "buy", "cheap", "3"]) == 1
    assert "price must be a number" in capsys.readouterr().err


def test_a_reconnect_of_the_same_key_continues_its_sequence_numbers(fix_material):
    # spec 01 §2.1: RT keeps both sides' numbers across connections unless 141=Y
    outcome, _ = run_text("""
        steps:
          - connect: {as: alice, session: RT, name: a}
          - logout: {session: a}
          - connect: {as: alice, session: RT, name: b, reset: false}
          - send: {session: b, msg: TestRequest, fields: {TestReqID: again}}
          - expect: {session: b, msg: Heartbeat, fields: {TestReqID: again}, any: true}
          - logout: {session: b}
          - advance: 1s  # a new SendingTime: the same signed bytes again would be a Logon replay
          - connect: {as: alice, session: RT, name: c, reset: false, wait: false, logon_fields: {MsgSeqNum: 1}}
          - expect: {session: c, msg: Logout, fields: {Text: {regex: "too low"}}}
        """, fix_material)
    assert outcome.passed, outcome.failure


def test_logon_fields_may_set_the_signed_sending_time(fix_material):
    outcome, _ = run_text("""
        steps:
          - connect: {as: alice, name: a, wait: false, logon_fields: {SendingTime: "${now+45s}"}}
          - expect: {session: a, msg: Logout, any: true, fields: {Text: {regex: "SendingTime"}}}
          - expect_disconnect: {session: a}
        """, fix_material)
    assert outcome.passed, outcome.failure


def test_repeat_runs_its_steps_with_the_index_and_parallel_branches_run_together(fix_material):
    outcome, lines = run_text("""
        steps:
          - parallel:
              - - connect: {as: alice, name: a}
                - expect: {session: a, msg: Heartbeat, heartbeats: true, within: 31s}
              - - connect: {as: bob, name: b}
                - advance: 30s
          - repeat:
              times: 3
              steps:
                - send: {session: b, msg: TestRequest, fields: {TestReqID: "r${i}"}}
                - expect: {session: b, msg: Heartbeat, fields: {TestReqID: "r${i}"}}
        """, fix_material)
    assert outcome.passed, outcome.failure
    sent = [r for r in outcome.records if b"\x01112=r" in r[3] and r[2] == "in"]
    assert [r[3].split(b"\x01112=")[1][:2] for r in sent] == [b"r0", b"r1", b"r2"]


def test_a_failing_parallel_branch_fails_the_scenario_at_its_own_line(fix_material):
    outcome, _ = run_text("""
        steps:
          - parallel:
              - - connect: {as: alice, name: a}
                - advance: 60s
              - - connect: {as: bob, name: b}
                - expect: {session: b, msg: ExecutionReport, within: 1s}
        """, fix_material)
    assert not outcome.passed and outcome.failed_line == 7
    assert "steps[0].parallel[1][1].expect" in outcome.failure


def test_a_target_without_a_port_for_the_session_fails_the_connect_in_one_line(tmp_path, fix_material):
    from kalshi_fixsim.simulator.scenario.play import play_target
    from kalshi_fixsim.simulator.scenario.target import load_target
    ca, accounts, _ = fix_material
    config = tmp_path / "t.yaml"
    config.write_text(f"host: 127.0.0.1\nports: {{NR: 1}}\naccounts: {{alice: {{api_key: k, private_key: "
                      f"{accounts['alice'].private_key_path}}}}}\n")
    (sc,) = load("setup: {clock: {mode: real}}\nsteps:\n  - connect: {as: alice, session: RT}\n", "t.yaml")
    outcome = play_target(sc, load_target(None, str(config)), out=lambda _: None)
    assert not outcome.passed and "the target has no port for prediction/RT" in outcome.failure


def test_cli_run_skips_scenarios_that_judge_a_client_under_test(tmp_path):
    scenario = tmp_path / "ext.yaml"
    scenario.write_text("setup: {clock: {mode: real}}\nsteps:\n  - connect: {as: alice, client: external}\n")
    r = subprocess.run(CLI + ["scenario", "run", str(scenario), str(ROOT / "scenarios/session/logon_nr.yaml"),
                              "--junit", str(tmp_path / "j.xml")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SKIP ext" in r.stdout and "1 passed, 0 failed, 1 skipped" in r.stdout
    suite = ET.parse(tmp_path / "j.xml").getroot()
    assert (suite.get("tests"), suite.get("skipped")) == ("2", "1")
    (skipped,) = [c for c in suite.iter("testcase") if c.find("skipped") is not None]
    assert skipped.get("name") == "ext"


def test_a_closed_session_name_can_connect_again(fix_material):
    outcome, _ = run_text("""
        steps:
          - connect: {as: alice, name: a}
          - disconnect: {session: a}
          - advance: 1s
          - connect: {as: alice, name: a}
          - send: {session: a, msg: TestRequest, fields: {TestReqID: back}}
          - expect: {session: a, msg: Heartbeat, fields: {TestReqID: back}}
        """, fix_material)
    assert outcome.passed, outcome.failure


def test_raw_false_sessions_are_the_reference_client_recovering_a_gap(fix_material):
    # spec 01 §5.2: the reference client asks for the dropped report and gets it with PossDup
    outcome, _ = run_text("""
        faults:
          - {id: gap, fault: drop, session: RT, direction: outbound, match: {"35": "8"}, times: 1}
        steps:
          - connect: {as: alice, session: RT, name: a, raw: false, options: {skip_pending_exec_reports: true}}
          - send: {session: a, msg: NewOrderSingle, fields: {ClOrdID: "${clordid:1}", Symbol: KXTEST-26JAN01-A,
                   Side: 1, OrderQty: 1, OrdType: 2, Price: 40, TimeInForce: 1}}
          - wait_fault: {id: gap}
          - send: {session: a, msg: TestRequest, fields: {TestReqID: t1}}
          - expect: {session: a, msg: ExecutionReport, fields: {PossDupFlag: "Y", ClOrdID: "${clordid:1}"}, any: true}
          - send: {session: a, msg: TestRequest, fields: {TestReqID: t2, MsgSeqNum: 99}}
        """, fix_material)
    assert not outcome.passed and outcome.failed_line == 11  # header overrides need a raw session
    assert "need a raw session" in outcome.failure
    sent = [r[3] for r in outcome.records if r[2] == "in"]
    assert any(b"\x0135=2\x01" in f for f in sent)  # the client's ResendRequest


def test_a_scenario_played_on_a_running_venue_shows_its_verdict_in_the_web_view(fix_exchange):
    """The web view's "Last runs" (GET /runs) lists scenarios played on that venue."""
    fix_exchange.run_scenario(str(ROOT / "scenarios" / "orders" / "seq01_order_rests.yaml"))
    runs = fix_exchange.call(lambda: fix_exchange.sim.control.runs())
    assert runs and runs[0]["kind"] == "scenario" and runs[0]["verdict"] == "pass"
