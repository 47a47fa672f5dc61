"""The whole grading matrix (opt-in: `pytest -m conform_full`, about 25 minutes on 2 cores):
every case of every profile, both products, every session type, for the reference bot and the
raw client (every case PASS, optional ones included); the session profile for the Node client;
each bug of the raw client over the whole profile of its session type (exactly its cases fail).
test_grading.py runs a few cases of each in the default suite."""
from __future__ import annotations

import pytest

from .grading import BOT_CMD, BUGS, NODE, NODE_CMD, ORDER_BUGS, check_failures, failed_ids, grade, raw_cmd

pytestmark = pytest.mark.conform_full

SESSIONS = {"prediction": "NR,DC,RT,PT,RFQ,MD", "margin": "NR,DC,RT,MD"}
PROFILES = "session,order-entry,market-data,drop-copy,post-trade"


@pytest.mark.parametrize("product", sorted(SESSIONS))
@pytest.mark.parametrize("client", ["bot", "raw"])
def test_correct_client_passes_every_case_of_every_profile(tmp_path, client, product):
    cmd = BOT_CMD if client == "bot" else raw_cmd()
    result = grade(cmd, report=tmp_path, profile=PROFILES, product=product, session=SESSIONS[product])
    assert result.counts()["FAIL"] == 0 and result.counts()["PASS"] > 0, result.summary()


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("product", sorted(SESSIONS))
def test_node_client_passes_every_session_case(tmp_path, product):
    result = grade(NODE_CMD, report=tmp_path, product=product, session=SESSIONS[product])
    assert result.counts()["FAIL"] == 0, result.summary()


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_each_bug_fails_exactly_its_cases_over_the_whole_session_profile(tmp_path, bug):
    session, expected, _passing, says = BUGS[bug]
    result = grade(raw_cmd(bug), report=tmp_path, session=session)
    assert failed_ids(result) == expected, result.summary()
    check_failures(result, says)


@pytest.mark.parametrize("bug", sorted(ORDER_BUGS))
def test_each_order_bug_fails_exactly_its_cases_over_the_order_entry_profile(tmp_path, bug):
    session, expected, _passing, says = ORDER_BUGS[bug]
    result = grade(raw_cmd(bug), report=tmp_path, profile="order-entry", session=session)
    assert failed_ids(result) == expected, result.summary()
    check_failures(result, says)
