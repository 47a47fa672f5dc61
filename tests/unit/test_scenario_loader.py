"""scenario check: malformed files are refused before anything runs, every problem named
`file:line: key.path: expected ...` (issue 13 §1)."""
from __future__ import annotations

import textwrap

import pytest

from kalshi_fixsim.simulator.scenario import ScenarioErrors, load
from kalshi_fixsim.simulator.scenario.check_steps import duration, msg_code, tag_of

GOOD = """\
meta: {name: ok, tags: [session]}
faults:
  - {id: gap, fault: skip_seq, count: 2, session: RT, direction: outbound}
steps:
  - connect: {as: alice, session: RT, name: a}
  - send: {session: a, msg: NewOrderSingle, fields: {ClOrdID: "${clordid:1}", 55: X, Side: 1}}
  - expect: {session: a, msg: "8", fields: {OrderID: {present: true}, Price: {ge: 1}}, capture: {oid: OrderID}}
  - send: {session: a, msg: OrderCancelRequest, fields: {OrderID: "${oid}", TransactTime: "${now+5s}"}}
  - wait_fault: {id: gap}
  - repeat: {times: 2, steps: [{send: {session: a, msg: TestRequest, fields: {TestReqID: "t${i}"}}}]}
"""


def problems(text: str, file: str = "s.yaml") -> list[str]:
    try:
        load(textwrap.dedent(text), file)
    except ScenarioErrors as exc:
        return [str(e) for e in exc.errors]
    return []


def test_a_well_formed_scenario_loads_with_its_steps_and_lines():
    (sc,) = load(GOOD, "ok.yaml")
    assert sc.name == "ok" and [s.kind for s in sc.steps] == ["connect", "send", "expect", "send", "wait_fault",
                                                              "repeat"]
    assert [s.line for s in sc.steps] == [5, 6, 7, 8, 9, 10]
    assert sc.faults[0][1] == 3
    assert sc.steps[1].args["fields"] == [(11, "${clordid:1}"), (55, "X"), (54, 1)]


@pytest.mark.parametrize("text, expected", [
    ("steps:\n  - connect: {as: alice}\n  - send: {session: alice, msg: NewOrderSingel}\n",
     "s.yaml:3: steps[1].send.msg: expected a MsgType name or code"),
    ("steps:\n  - connect: {as: alice}\n  - send: {session: alice, msg: D, fields: {Symbl: X}}\n",
     "s.yaml:3: steps[1].send.fields.Symbl: expected a tag name"),
    ("steps:\n  - connect: {as: alice}\n  - expect:\n      session: alice\n      fields:\n        Price: {regx: 1}\n",
     "s.yaml:6: steps[1].expect.fields.Price.regx: unknown matcher"),
    ("steps:\n  - connect: {as: alice}\n  - expect: {session: alice, within: 2q}\n",
     "s.yaml:3: steps[1].expect.within: expected a duration"),
    ("steps:\n  - connect: {as: alice}\n  - send: {session: bob, msg: D}\n",
     "s.yaml:3: steps[1].send.session: expected a session opened by an earlier connect"),
    ("steps:\n  - connect: {as: alice}\n  - send: {session: alice, msg: D, fields: {Text: '${nope}'}}\n",
     "s.yaml:3: steps[1].send.fields.Text: ${nope}: not captured by an earlier step"),
    ("faults:\n  - {fault: skip_seq, n: 2}\nsteps: []\n", "s.yaml:2: faults[0].n: unknown key for fault 'skip_seq'"),
    ("faults:\n  - {fault: nosuch}\nsteps: []\n", "s.yaml:2: faults[0].fault: unknown fault 'nosuch'"),
    ("steps:\n  - wait_fault: {id: ghost}\n", "s.yaml:2: steps[0].wait_fault.id: expected the id of a fault rule"),
    ("steps:\n  - teleport: {}\n", "s.yaml:2: steps[0]: unknown step 'teleport'"),
    ("steps:\n  - connect: {as: mallory}\n", "s.yaml:2: steps[0].connect.as: expected a test-venue account"),
    ("steps:\n  - connect: {as: alice, session: XX}\n", "s.yaml:2: steps[0].connect.session: expected a session type"),
    ("steps:\n  - connect: {as: alice, options: {cancel_on_disco: true}}\n",
     "s.yaml:2: steps[0].connect.options.cancel_on_disco: expected a Logon flag"),
    ("setup:\n  clock: {mode: virtual, start: Funday 10:00}\nsteps: []\n",
     "s.yaml:2: setup.clock.start: clock start 'Funday 10:00'"),
    ("setup:\n  accounts:\n    alice: {tier: gold}\nsteps: []\n", "s.yaml:3: setup.accounts.alice.tier: expected one of basic"),
    ("setup:\n  orders:\n    - {account: bob, symbol: X, side: up, price: 40, qty: 1}\nsteps: []\n",
     "s.yaml:3: setup.orders[0].side: expected buy or sell"),
    ("setup:\n  config: {fees: {taker_rate: lots}}\nsteps: []\n", "s.yaml:2: setup.config: fees.taker_rate"),
    ("meta: {nmae: x}\nsteps: []\n", "s.yaml:1: meta.nmae: unknown key"),
    ("meta: {}\n", "s.yaml:1: steps: missing"),
    ("steps:\n  - control: {action: explode}\n", "s.yaml:2: steps[0].control.action: expected one of pause"),
    ("steps:\n  - advance: soon\n", "s.yaml:2: steps[0].advance: expected a duration"),
    ("steps:\n  - fault: {remove: f9}\n", "s.yaml:2: steps[0].fault.remove: expected the id of a fault added"),
    ("steps: [\n", "s.yaml:2: not valid YAML"),
    ("meta: {a: 1, a: 2}\nsteps: []\n", "s.yaml:1: duplicate key 'a'"),
    ("meta: {portable: true}\nfaults: [{fault: drop}]\nsteps: []\n", "s.yaml:1: meta.portable: expected no venue setup"),
    ("steps:\n  - connect: {as: alice, client: external}\n  - send: {session: alice, msg: D}\n",
     "s.yaml:3: steps[1].send.session: expected a session of the runner"),
    ("steps:\n  - connect: {as: alice, raw: false, bad_signature: true}\n",
     "s.yaml:2: steps[0].connect.bad_signature: expected raw: true with this key"),
    ("steps:\n  - connect: {as: alice, client: external}\n",
     "s.yaml:2: steps[0].connect.client: expected setup.clock: {mode: real}"),
    ("steps:\n  - repeat: {times: 2, steps: [{advance: 1s}]}\n  - send: {session: a, msg: D, fields: {Text: '${i}'}}\n",
     "s.yaml:3: steps[1].send.fields.Text: ${i}: not captured"),
])
def test_a_malformed_file_is_refused_naming_file_line_and_key(text, expected):
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


def test_a_session_name_is_free_again_once_its_connection_closed():
    assert problems("steps:\n  - connect: {as: alice}\n  - logout: {session: alice}\n  - connect: {as: alice}\n") == []
    assert problems("steps:\n  - connect: {as: alice}\n  - connect: {as: alice}\n") == [
        "s.yaml:3: steps[1].connect.name: expected a new session name: 'alice' is already connected (give `name:`)"]


def test_every_problem_of_a_file_is_reported_at_once():
    found = problems("steps:\n  - connect: {as: alice}\n  - send: {session: alice, msg: X1}\n"
                     "  - expect: {session: alice, within: never}\n")
    assert [p.split(": ")[0] for p in found] == ["s.yaml:3", "s.yaml:4"]


def test_scenario_names_are_unique_in_a_library(tmp_path):
    from kalshi_fixsim.simulator.scenario import load_path
    (tmp_path / "a.yaml").write_text("meta: {name: same}\nsteps: []\n")
    (tmp_path / "b.yaml").write_text("meta: {name: same}\nsteps: []\n")
    with pytest.raises(ScenarioErrors, match="b.yaml:1: meta.name: expected a unique name"):
        load_path(tmp_path)


def test_durations_tags_and_message_names_parse_as_documented():
    assert [duration(v) for v in ("250ms", "5s", "2m", "1h", 3, "x", -1)] == [0.25, 5.0, 120.0, 3600.0, 3.0, None,
                                                                              None]
    assert (tag_of("ClOrdID"), tag_of("clordid"), tag_of(11), tag_of("11"), tag_of("Nope")) == (11, 11, 11, 11, None)
    assert (msg_code("NewOrderSingle"), msg_code("D"), msg_code("Nope")) == ("D", "D", None)
