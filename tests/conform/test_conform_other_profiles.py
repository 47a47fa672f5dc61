"""The market-data, drop-copy and post-trade conform cases against the reference bot (each
passes) and against a bot with one flaw (the case fails, saying what was expected and what came)."""
from __future__ import annotations

import pytest

from .profile_cases import bot, failure, play

CASES = [  # (case, session, flaw that fails it, what the failure says)
    ("market-data/subscribe.yaml", "MD", "bad-md-request",
     "expected: MsgType(35)=MarketDataRequest(V), SubscriptionRequestType(263)=1, Symbol(55)=KXTEST-26JAN01-A"),
    ("market-data/teardown_resubscribe.yaml", "MD", "subscribe-once",
     "expected: MsgType(35)=MarketDataRequest(V), SubscriptionRequestType(263)=1"),
    ("drop-copy/resend_request.yaml", "DC", "bad-exec-id",
     "BeginExecID(21001)='latest': expected an ExecID clock;event or clock;event;exchange_index (spec 04 §3"),
    ("drop-copy/resend_advances.yaml", "DC", "dc-from-start",
     "BeginExecID(21001)='0;0': expected a request from the last ExecID the client has seen"),
    ("post-trade/settlement_pages.yaml", "PT", "reject-pages",
     "expected none of MsgType(35)=Reject(3) or MsgType(35)=BusinessMessageReject(j) or MsgType(35)=Logout(5)"),
]


@pytest.mark.parametrize("case, session", [c[:2] for c in CASES], ids=[c[0] for c in CASES])
def test_reference_bot_passes_case(fix_exchange, tmp_path, case, session):
    play(fix_exchange, tmp_path, case, lambda: bot(fix_exchange, session=session), session=session)


@pytest.mark.parametrize("case, session, flaw, says", CASES, ids=[c[2] for c in CASES])
def test_flawed_bot_fails_case_saying_what_was_expected(fix_exchange, tmp_path, case, session, flaw, says):
    report = failure(fix_exchange, tmp_path, case, lambda: bot(fix_exchange, session=session, flaw=flaw), session=session)
    assert says in report, report
