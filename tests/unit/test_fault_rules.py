"""Fault rules without a network (issue 12 §2): validation, triggers, determinism, frame functions."""
from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from kalshi_fixsim.fixproto.actions import Close, Wait
from kalshi_fixsim.fixproto.codec import Framer, GarbledFrame, encode, format_utc, parse
from kalshi_fixsim.simulator.config import ConfigError, load_config
from kalshi_fixsim.simulator.faults import CATALOGUE, ConnectionFaults, FaultEngine, RuleError, parse_rule
from kalshi_fixsim.simulator.faults import frames as F

CTX = SimpleNamespace(product="prediction", session_code="NR", user="alice", api_key_id="K1",
                      session_id="prediction/NR/K1")


def hb(n: int) -> bytes:
    return encode([(35, "0"), (49, "KalshiNR"), (56, "K1"), (34, n), (52, format_utc(1.8e9)), (112, f"T{n}")])


def layer(rules, seed=7):
    engine = FaultEngine(seed, lambda: 1000.0)
    for r in rules:
        engine.add(r)
    return engine, ConnectionFaults(engine, CTX, lambda: None)


# --- validation -------------------------------------------------------------------------------

@pytest.mark.parametrize("rule,field,text", [
    ({}, "fault", "missing"),
    ({"fault": "drop", "product": "spot"}, "product", "unknown product"),
    ({"fault": "drop", "session": "XX"}, "session", "unknown session type"),
    ({"fault": "drop", "product": "margin", "session": "RFQ"}, "session", "does not exist on margin"),
    ({"fault": "drop", "session": "MD", "direction": "inbound", "msg_type": "D"}, "msg_type", "never sent inbound"),
    ({"fault": "drop", "session": "NR", "msg_type": "2"}, "msg_type", "never sent"),  # no resend on NR
    ({"fault": "drop", "match": {"35": "8"}, "msg_type": "9"}, "match.35", "contradicts"),
    ({"fault": "drop", "match_regex": {"58": "("}}, "match_regex.58", "not a regular expression"),
    ({"fault": "drop", "probability": 1.5}, "probability", "out of range"),
    ({"fault": "drop", "probability": 0}, "probability", "never fires"),
    ({"fault": "drop", "times": 0}, "times", "out of range"),
    ({"fault": "drop", "now": True}, "now", "cannot act now"),
    ({"fault": "test_request", "now": True, "nth": 2}, "now", "no message trigger"),
    ({"fault": "test_request", "now": True, "match": {"35": "8"}}, "now", "no message trigger"),
    ({"fault": "er_drop", "direction": "inbound"}, "direction", "acts outbound only"),
    ({"fault": "er_drop", "msg_type": "0"}, "msg_type", "application messages"),
    ({"fault": "internal_error", "msg_type": "F"}, "msg_type", "NewOrderSingle"),
    ({"fault": "refuse_logon", "msg_type": "D"}, "msg_type", "triggered by a logon"),
    ({"fault": "control"}, "op", "required"),
    ({"fault": "drop", "session_id": "nowhere"}, "session_id", "expected"),
    ({"fault": "drop", "session": "NR", "session_id": "prediction/RT/k"}, "session_id", "never"),
    ({"fault": "refuse_connections", "account": "alice"}, "account", "before the Logon"),
    ({"fault": "rfq_roll", "product": "margin"}, "product", "prediction only"),
    ({"fault": "control", "op": "explode"}, "op", "not one of"),
    ({"fault": "corrupt_body_length", "delta": 0}, "delta", "correct"),
    ({"fault": "drop", "id": "bad id!"}, "id", "letters"),
    ({"fault": "delay", "ms": True}, "ms", "number"),
])
def test_bad_rules_are_refused_naming_the_field(rule, field, text):
    with pytest.raises(RuleError) as info:
        parse_rule(rule)
    assert info.value.field == field and text in info.value.message, str(info.value)


def test_the_issue_examples_parse_to_flat_readable_rules():
    rule = parse_rule({"fault": "drop", "direction": "outbound", "product": "prediction", "session": "RT",
                       "account": "alice", "match": {"35": "8"}, "times": 1})
    assert rule.msg_types == {"8"} and rule.sessions == ("RT",) and rule.times == 1
    assert rule.as_dict() == {"fault": "drop", "product": "prediction", "session": "RT", "account": "alice",
                              "match": {"35": "8"}, "times": 1, "direction": "outbound"}


def test_match_takes_tag_names_as_well_as_numbers():
    rule = parse_rule({"fault": "drop", "match": {"MsgType": "8", "ClOrdID": "o1"}})
    assert rule.msg_types == {"8"} and rule.match == ((11, "o1"),)


def test_an_installed_rule_id_cannot_be_reused():
    engine = FaultEngine(1, lambda: 0.0)
    engine.add({"fault": "drop", "id": "x"})
    with pytest.raises(RuleError, match="^id: a rule 'x' is installed already"):
        engine.add({"fault": "drop", "id": "x"})
    assert [s.id for s in engine.states()] == ["x"]


def test_every_fault_has_a_family_a_doc_line_and_checked_defaults():
    for kind in CATALOGUE.values():
        assert kind.family in ("transport", "frame", "session", "venue") and kind.doc
        required = {p.name: "halt" for p in kind.params if p.required}
        parse_rule({"fault": kind.name, **({"op": "halt"} if required else {})})  # defaults are valid


# --- triggers and lifetime --------------------------------------------------------------------

def test_nth_every_and_times_pick_exactly_the_right_frames():
    _, nth = layer([{"fault": "drop", "match": {"35": "0"}, "nth": 2}])
    assert [bool(nth.outbound(hb(i))) for i in range(1, 5)] == [True, False, True, True]
    _, every = layer([{"fault": "drop", "every": 2, "times": 2}])
    assert [bool(every.outbound(hb(i))) for i in range(1, 8)] == [True, False, True, False, True, True, True]


def test_a_rule_selects_by_session_account_and_direction():
    _, conn = layer([{"fault": "drop", "account": "bob"}, {"fault": "drop", "session": "RT"},
                     {"fault": "drop", "direction": "inbound"}])
    assert conn.outbound(hb(1)) == [hb(1)]
    assert conn.inbound(hb(2)) == []


def test_after_and_duration_bound_the_active_window():
    clock = [100.0]
    engine = FaultEngine(1, lambda: clock[0])
    engine.add({"fault": "drop", "after_s": 10, "duration_s": 5})
    conn = ConnectionFaults(engine, CTX, lambda: None)
    seen = []
    for t in (105.0, 111.0, 114.9, 115.0, 200.0):
        clock[0] = t
        seen.append(conn.outbound(hb(1)) == [])
    assert seen == [False, True, True, False, False]
    assert engine.states()[0].ended == "duration"


def test_probabilistic_rules_are_deterministic_given_the_seed():
    def dropped(seed):
        _, conn = layer([{"fault": "drop", "probability": 0.3}], seed)
        return [i for i in range(200) if not conn.outbound(hb(i + 1))]
    first = dropped(42)
    assert first == dropped(42) and first != dropped(43)
    assert 40 <= len(first) <= 80  # about 30 %


def test_delay_distributions_are_seeded_and_bounded():
    for dist in ("fixed", "uniform", "normal", "lognormal"):
        runs = []
        for _ in range(2):
            _, conn = layer([{"fault": "delay", "ms": 100, "distribution": dist, "spread_ms": 20, "sigma": 0.3}])
            runs.append([conn.outbound(hb(i + 1))[0].seconds for i in range(50)])
        assert runs[0] == runs[1] and all(s >= 0 for s in runs[0])
        mean = sum(runs[0]) / 50
        assert 0.07 < mean < 0.14, (dist, mean)
        if dist == "fixed":
            assert set(runs[0]) == {0.1}


def test_several_rules_compose_on_one_frame_in_install_order():
    _, conn = layer([{"fault": "delay", "ms": 50}, {"fault": "duplicate"}, {"fault": "reset", "before": False}])
    out = conn.outbound(hb(1))
    assert out == [Wait(0.05), hb(1), hb(1), Close(reset=True)]


# --- what the frame faults do to bytes ---------------------------------------------------------

def test_frame_functions_break_exactly_what_they_say():
    frame = hb(3)
    assert isinstance(Framer().feed(F.corrupt_checksum(frame))[0], GarbledFrame)
    bad_len = F.corrupt_body_length(frame, -3)
    assert b"\x019=%d\x01" % (int(parse(frame).get(9)) - 3) in bad_len
    assert all(isinstance(i, GarbledFrame) for i in Framer().feed(bad_len + hb(4))[:1])
    garbled = F.garble(frame, 4, random.Random(1))
    assert len(garbled) == len(frame) and garbled != frame and garbled[-7:] == frame[-7:]
    assert F.truncate(frame, 0) == frame[:len(frame) // 2] and F.truncate(frame, 10) == frame[:10]
    assert F.msg_type_of(frame) == "0"


def test_a_corrupted_inbound_frame_reaches_the_session_as_garbled():
    _, conn = layer([{"fault": "corrupt_checksum", "direction": "inbound"}])
    (item,) = conn.inbound(hb(1))
    assert isinstance(item, GarbledFrame) and "CheckSum" in item.reason


# --- config -----------------------------------------------------------------------------------

def test_config_faults_are_checked_at_load_naming_the_key_path(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text("faults:\n  - fault: delay\n    ms: 250\n    session: NR\n  - fault: drop\n    session: NR\n"
                    "    match: {35: W}\n")
    with pytest.raises(ConfigError, match=r"faults\[1\]\.msg_type: 35=W is never sent"):
        load_config(path)
    path.write_text("faults:\n  - fault: delay\n    ms: 250\n    id: slow\n")
    assert load_config(path).faults == ({"fault": "delay", "ms": 250, "id": "slow"},)
    path.write_text("faults: {fault: drop}\n")
    with pytest.raises(ConfigError, match="^faults: expected a list"):
        load_config(path)


def test_docs_faults_md_documents_every_fault_of_the_catalogue():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "faults.md").read_text()
    assert [name for name in CATALOGUE if f"| `{name}` |" not in text] == []
    assert [k.name for k in CATALOGUE.values() if k.doc not in text] == []  # the table is current


def test_the_yaml_examples_of_docs_faults_md_load(tmp_path):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "faults.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    assert len(blocks) >= 2
    for block in blocks:
        path = tmp_path / "sim.yaml"
        path.write_text(block + ("accounts: []\n" if "accounts" not in block else ""))
        try:
            load_config(path)
        except ConfigError as exc:
            assert "unknown account" in str(exc), exc  # the examples name alice, not in this config


def test_every_fault_of_the_catalogue_has_a_test_at_the_wire():
    import re
    from pathlib import Path

    folder = Path(__file__).resolve().parents[1] / "conformance"
    text = "".join(p.read_text() for p in folder.glob("test_faults_*.py"))
    tested = set(re.findall(r'fault="([a-z_]+)"', text)) | set(re.findall(r'"fault": "([a-z_]+)"', text))
    tested |= set(re.findall(r'\("([a-z_]+)", \{', text))  # parametrized cases
    assert sorted(set(CATALOGUE) - tested) == []


def test_what_the_venue_sends_is_inside_the_outbound_matrix():
    # The matrix that refuses never-matching rules must not refuse what the gateway really sends.
    import re
    from pathlib import Path

    from kalshi_fixsim.fixproto.kalshi import APP_MESSAGES_OUT

    root = Path(__file__).resolve().parents[2] / "simulator" / "gateway"
    sent = set()
    for path in root.glob("*.py"):
        sent |= set(re.findall(r'(?:send|deliver)\("([A-Za-z0-9]{1,3})"', path.read_text()))
    everything = set().union(*APP_MESSAGES_OUT.values())
    assert sent - everything == set()


def test_a_rule_seed_fixes_its_draws_whatever_the_simulator_seed():
    def dropped(sim_seed, rule_seed):
        engine = FaultEngine(sim_seed, lambda: 0.0)
        engine.add({"fault": "drop", "probability": 0.5, "seed": rule_seed})
        conn = ConnectionFaults(engine, CTX, lambda: None)
        return [i for i in range(100) if not conn.outbound(hb(i + 1))]
    assert dropped(1, 99) == dropped(2, 99) != dropped(1, 98)
