"""The market-data, drop-copy and post-trade profiles through `conform.run`: every case passes
for the reference bot; a bot with one flaw fails exactly its case, saying what was expected."""
from __future__ import annotations

import pytest

from .profile_cases import BOT, failure_of, flawed, grade, start_side_by_side, verdicts

PROFILES = [("market-data", "MD", {"MD01", "MD02"}), ("drop-copy", "DC", {"DC01", "DC02"}),
            ("post-trade", "PT", {"PT01"})]
FLAWS = [  # (profile, session, case id, flaw, what the failure says)
    ("market-data", "MD", "MD01", "bad-md-request",
     "expected: MsgType(35)=MarketDataRequest(V), SubscriptionRequestType(263)=1, Symbol(55)=KXTEST-26JAN01-A"),
    pytest.param("market-data", "MD", "MD02", "subscribe-once",  # waits out its 10 s: the full matrix only
                 "expected: MsgType(35)=MarketDataRequest(V), SubscriptionRequestType(263)=1",
                 marks=pytest.mark.conform_full),
    ("drop-copy", "DC", "DC01", "bad-exec-id",
     "BeginExecID(21001)='latest': expected an ExecID clock;event or clock;event;exchange_index (spec 04 §3"),
    ("drop-copy", "DC", "DC02", "dc-from-start",
     "BeginExecID(21001)='0;0': expected a request from the last ExecID the client has seen"),
    ("post-trade", "PT", "PT01", "reject-pages",
     "expected none of MsgType(35)=Reject(3) or MsgType(35)=BusinessMessageReject(j) or MsgType(35)=Logout(5)"),
]


@pytest.fixture(scope="module", autouse=True)
def _side_by_side(tmp_path_factory):
    """The default runs below, started at once (profile_cases.start_side_by_side)."""
    jobs = [(profile, session, BOT) for profile, session, _ids in PROFILES]
    jobs += [(f[0], f[1], flawed(f[3]), "prediction", [f[2]]) for f in FLAWS if not hasattr(f, "marks")]  # not the opt-in one
    pool = start_side_by_side(tmp_path_factory.mktemp("profiles"), jobs)
    yield
    pool.shutdown(wait=True)


@pytest.mark.parametrize("profile, session, ids", PROFILES, ids=[p[0] for p in PROFILES])
def test_reference_bot_passes_every_case_of_the_profile(tmp_path, profile, session, ids):
    result, lines = grade(tmp_path, profile, session, BOT)
    assert verdicts(result) == {i: "PASS" for i in ids}, "\n".join(lines)


@pytest.mark.conform_full
@pytest.mark.parametrize("profile, session, ids", PROFILES[:2], ids=[p[0] for p in PROFILES[:2]])
def test_reference_bot_passes_every_case_of_the_profile_on_margin(tmp_path, profile, session, ids):
    result, lines = grade(tmp_path, profile, session, BOT, product="margin")
    assert verdicts(result) == {i: "PASS" for i in ids}, "\n".join(lines)


@pytest.mark.parametrize("profile, session, case_id, flaw, says", FLAWS,
                         ids=[(f.values if hasattr(f, "values") else f)[3] for f in FLAWS])
def test_flawed_bot_fails_its_case_saying_what_was_expected(tmp_path, profile, session, case_id, flaw, says):
    result, _ = grade(tmp_path, profile, session, flawed(flaw), only=[case_id])
    report = failure_of(result, case_id)
    assert says in report, report
