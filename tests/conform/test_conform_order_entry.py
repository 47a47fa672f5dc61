"""The order-entry profile (scenarios/conform/order-entry/) through `conform.run`: every
mandatory case passes for the reference bot; a bot with one flaw (tests/conform/flawed_bot.py)
or the raw client with one bug fails exactly the case of that flaw, saying what was expected and
what came (the raw client's ClOrdID and dollar bugs: test_grading.py). `pytest -m conform_full`
adds RT and margin and the slow-failing flaws."""
from __future__ import annotations

import pytest

from .profile_cases import BOT, failure_of, flawed, grade, start_side_by_side, verdicts

full_only = pytest.mark.conform_full  # opt-in: pytest -m conform_full (tests/conform/conftest.py)


# (case id, flaw of tests/conform/flawed_bot.py, what the failure must say, fails fast)
FLAWS = [
    ("OE02", "retry-hot", "expected at most 8 of D, F, G, q in 4s; the client sent", True),
    ("OE03", "forget-unavailable", "the client sent nothing matching within 15s; expected: "
                                   "MsgType(35)=NewOrderSingle(D), ClOrdID(11)=", False),
    ("OE04", "drop-late-reports", "expected: MsgType(35)=OrderCancelRequest(F), OrigClOrdID(41)=", False),
    ("OE06", "ignore-unsolicited-cancel", "expected none of MsgType(35)=OrderCancelRequest(F), OrigClOrdID(41)=",
     True),
    ("OE07", "retry-cancel-reject", "expected none of MsgType(35)=OrderCancelRequest(F)", True),
    ("OE08", "hammer-on-pause", "expected at most 8 of D, F, G in 4s; the client sent", True),
    ("OE10", "count-possresend", "expected none of MsgType(35)=OrderCancelRequest(F), OrigClOrdID(41)=", True),
]


@pytest.fixture(scope="module", autouse=True)
def _side_by_side(tmp_path_factory):
    """The default runs below, started at once (profile_cases.start_side_by_side)."""
    jobs = [("order-entry", "NR", BOT), ("order-entry", "RT", BOT, "margin", ["OE01", "OE03"])]
    jobs += [("order-entry", "NR", flawed(flaw), "prediction", [case_id]) for case_id, flaw, _s, fast in FLAWS if fast]
    pool = start_side_by_side(tmp_path_factory.mktemp("order-entry"), jobs)
    yield
    pool.shutdown(wait=True)


def test_reference_bot_passes_every_mandatory_order_entry_case_on_prediction_nr(tmp_path):
    result, lines = grade(tmp_path, "order-entry", "NR", BOT)
    got = verdicts(result)
    assert {"OE01", "OE02", "OE03", "OE04", "OE05", "OE06", "OE07", "OE08", "OE10"} <= set(got)
    assert result.passed and result.exit_code == 0, "\n".join(lines)
    assert got["OE09"] == "PASS"  # optional: the bot sends CancelOrderOnPause(21006)=Y and lets the pause cancel


def test_reference_bot_passes_the_dialect_and_unavailable_cases_on_margin_rt(tmp_path):
    result, lines = grade(tmp_path, "order-entry", "RT", BOT, product="margin", only=["OE01", "OE03"])
    assert verdicts(result) == {"OE01": "PASS", "OE03": "PASS"}, "\n".join(lines)


@full_only
@pytest.mark.parametrize("product, session", [("prediction", "RT"), ("margin", "NR"), ("margin", "RT")])
def test_reference_bot_passes_every_mandatory_order_entry_case(tmp_path, product, session):
    result, lines = grade(tmp_path, "order-entry", session, BOT, product=product)
    assert result.passed, "\n".join(lines)


@pytest.mark.parametrize("case_id, flaw, says", [pytest.param(*f[:3], marks=() if f[3] else full_only) for f in FLAWS],
                         ids=[f[1] for f in FLAWS])
def test_flawed_bot_fails_its_case_saying_what_was_expected_and_what_came(tmp_path, case_id, flaw, says):
    result, _ = grade(tmp_path, "order-entry", "NR", flawed(flaw), only=[case_id])
    report = failure_of(result, case_id)
    assert says in report, report
    assert not result.passed and result.exit_code != 0
