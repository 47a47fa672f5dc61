"""The order-entry conform cases (scenarios/conform/order-entry/) against the reference bot
(every case passes) and against clients with one bug each (the case fails, saying what was
expected and what came)."""
from __future__ import annotations

import pytest

from kalshi_fixsim.simulator.scenario.pytest_glue import ScenarioFailed

from .profile_cases import CASES, bot, failure, play, raw

ORDER_ENTRY = sorted(p.name for p in (CASES / "order-entry").glob("*.yaml"))
MANDATORY = [c for c in ORDER_ENTRY if c != "cancel_order_on_pause.yaml"]


@pytest.mark.parametrize("case", MANDATORY)
def test_reference_bot_passes_order_entry_case(fix_exchange, tmp_path, case):
    play(fix_exchange, tmp_path, f"order-entry/{case}", lambda: bot(fix_exchange, session="NR"), session="NR")


# (case, flaw of tests/conform/flawed_bot.py, what the failure must say)
FLAWED = [
    ("rate_limit_backoff.yaml", "retry-hot", "expected at most 8 of D, F, G, q in 4s"),
    ("exchange_unavailable.yaml", "forget-unavailable", "the client sent nothing matching within 15s; expected: "
                                                        "MsgType(35)=NewOrderSingle(D), ClOrdID(11)="),
    ("late_report.yaml", "drop-late-reports", "expected: MsgType(35)=OrderCancelRequest(F), OrigClOrdID(41)="),
    ("unsolicited_cancel.yaml", "ignore-unsolicited-cancel", "expected none of MsgType(35)=OrderCancelRequest(F), "
                                                             "OrigClOrdID(41)="),
    ("cancel_reject.yaml", "retry-cancel-reject", "expected none of MsgType(35)=OrderCancelRequest(F)"),
    ("trading_pause.yaml", "hammer-on-pause", "expected at most 8 of D, F, G in 4s"),
    ("duplicate_reports.yaml", "count-possresend", "expected none of MsgType(35)=OrderCancelRequest(F), "
                                                   "OrigClOrdID(41)="),
]


@pytest.mark.parametrize("case, flaw, says", FLAWED, ids=[f[1] for f in FLAWED])
def test_flawed_bot_fails_its_order_entry_case_saying_what_was_expected(fix_exchange, tmp_path, case, flaw, says):
    report = failure(fix_exchange, tmp_path, f"order-entry/{case}", lambda: bot(fix_exchange, session="NR", flaw=flaw), session="NR")
    assert says in report, report
    assert "the client sent" in report or "dialect finding" in report


@pytest.mark.parametrize("bug, says", [
    ("reuse-clordid", "ClOrdID(11)='"),
    ("dollars-on-cents", "Price(44)='0.10': expected integer cents 1-99 on a cents session"),
])
def test_raw_client_bug_fails_the_dialect_case_with_one_line_per_finding(fix_exchange, tmp_path, bug, says):
    report = failure(fix_exchange, tmp_path, "order-entry/dialect.yaml", lambda: raw(fix_exchange, session="NR", bug=bug), session="NR")
    assert "dialect finding(s) in" in report and says in report and "(spec 02 §" in report, report


def test_correct_raw_client_passes_the_dialect_case(fix_exchange, tmp_path):
    play(fix_exchange, tmp_path, "order-entry/dialect.yaml", lambda: raw(fix_exchange, session="NR"), session="NR")
