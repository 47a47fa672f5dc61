"""The client-judging steps of conform cases (simulator/scenario/conform_steps.py): what the
checker refuses, and which frames of the venue's connection feed are the client's."""
from __future__ import annotations

import asyncio
import textwrap

import pytest

from kalshi_fixsim.fixproto.codec import encode
from kalshi_fixsim.simulator.conn_watch import ConnEvent
from kalshi_fixsim.simulator.scenario.conform_steps import ClientFeed
from kalshi_fixsim.simulator.scenario.loader import ScenarioErrors, load

HEAD = """
setup: {clock: {mode: real}}
faults: [{id: lost, fault: er_drop, session: NR, account: alice, times: 1}]
steps:
  - connect: {client: external, as: alice, session: NR, name: c}
  - connect: {as: bob, session: NR, name: mine}
"""


def problems(steps: str) -> str:
    try:
        load(textwrap.dedent(HEAD) + textwrap.indent(textwrap.dedent(steps), "  "))
    except ScenarioErrors as exc:
        return str(exc)
    return ""


def test_the_steps_load_on_an_external_session():
    assert problems("""
        - capture_fault: {id: lost, capture: {cl: ClOrdID}}
        - expect_client: {session: c, new: true, within: 5s, one_of: [{msg: NewOrderSingle, fields: {ClOrdID: "${cl}"}}]}
        - expect_client_none: {session: c, for: 1s, one_of: [{msg: OrderCancelRequest}]}
        - expect_client_count: {session: c, msg: [D, F], at_most: 3, for: 1s}
        - check_dialect: {session: c, at_least: 0}
        """) == ""


def test_judging_steps_refuse_the_runners_own_session():
    assert "expected a client: external session, not 'mine'" in problems("- check_dialect: {session: mine}")


@pytest.mark.parametrize("step, says", [
    ("- expect_client: {session: c}", "one_of: expected a non-empty list of {msg: MsgType, fields: {...}}"),
    ("- expect_client: {session: c, one_of: [{msg: Nope}]}", "expected a MsgType name or code"),
    ("- expect_client_count: {session: c, msg: [D], for: 1s}", "expected at_most: N and/or at_least: N"),
    ("- expect_client_none: {session: c, one_of: [{msg: D}]}", "for: missing: expected a duration"),
    ("- capture_fault: {id: nope, capture: {x: ClOrdID}}", "expected the id of a fault rule (lost)"),
    ("- check_dialect: {session: c, colour: red}", "unknown key: expected one of session, at_least, show"),
])
def test_malformed_judging_steps_are_refused_with_the_key_and_the_rule(step, says):
    assert says in problems(step)


def _frame(*fields) -> bytes:
    return encode([(8, "FIXT.1.1"), *fields])


def test_client_feed_keeps_the_keys_frames_and_its_logon_before_the_session_is_known():
    async def body():
        feed = ClientFeed("prediction", "MD", "KEY", asyncio.get_running_loop())
        logon = _frame((35, "A"), (49, "KEY"), (56, "KalshiMD"), (34, 1))
        other = _frame((35, "A"), (49, "OTHER"), (56, "KalshiMD"), (34, 1))
        feed.on_event(ConnEvent("frame", 1.0, 7, "prediction/MD", "", "in", logon))
        feed.on_event(ConnEvent("frame", 1.0, 8, "prediction/MD", "", "in", other))
        feed.on_event(ConnEvent("frame", 2.0, 7, "prediction/MD", "", "in", _frame((35, "V"), (263, "1"))))
        feed.on_event(ConnEvent("frame", 3.0, 7, "prediction/MD", "prediction/MD/KEY", "out",
                                _frame((35, "W"), (55, "X")), note="dropped by rule f1"))  # a mark: not on the wire
        feed.on_event(ConnEvent("frame", 3.0, 9, "prediction/NR", "prediction/NR/KEY", "in", _frame((35, "D"))))
        return [(t, m.msg_type) for _i, t, m in feed.client_rows(0.0)]

    assert asyncio.run(body()) == [(1.0, "A"), (2.0, "V")]
