"""The RFQ / quote state machine of engine/rfq.py (spec 06 §1, §2, §4), FIX-free: every step,
the side inversion on acceptance, execution on the ledger, timers driven by `now`."""
from __future__ import annotations

import random

import pytest

from kalshi_fixsim.simulator.engine.accounts import FeeSchedule
from kalshi_fixsim.simulator.engine.exchange import Exchange
from kalshi_fixsim.simulator.engine.rfq import (COMBO_STRUCTURE, AcceptSpec, Leg, QuoteClosed, QuoteExecuted, QuoteSpec,
                                  QuoteState, Refusal, Refuse, RfqClosed, RfqDesk, RfqSpec, RfqStatus)
from kalshi_fixsim.simulator.engine.types import (Accepted, Canceled, CancelReason, Market, MarketStatus, OrderStatus, Side,
                                    Traded)

from .engine_helpers import req

T = "KXRFQ-26JAN01-T1"
FRAC = "KXRFQ-26JAN01-F"
USD = 1_000_000
T0 = 1_000.0


def make(fees: FeeSchedule | None = None, **desk_options):
    ex = Exchange(rng=random.Random(1), fees=fees)
    ex.add_market(Market(T, "KXRFQ-26JAN01", "KXRFQ"))
    ex.add_market(Market(FRAC, "KXRFQ-26JAN01", "KXRFQ", price_structure="deci_cent", fractional=True,
                         exchange_index=2))
    for name in ("alice", "bob", "carol"):
        ex.add_account(name, 1_000 * USD)
    return ex, RfqDesk(ex, random.Random(2), **desk_options)


def ok(result):
    assert not isinstance(result, Refusal), result
    return result


def refused(result, kind: Refuse) -> Refusal:
    assert isinstance(result, Refusal) and result.kind is kind, result
    return result


def open_rfq(desk, account="alice", client_id="cr-1", qty=4000, now=T0, **kw):
    rfq, notices = ok(desk.create_rfq(RfqSpec(account, client_id, symbol=kw.pop("symbol", T), qty=qty, **kw), now))
    return rfq


def quote(desk, rfq, maker="bob", qid="q-1", yes=7500, no=2500, now=T0 + 1, **kw):
    q, _ = ok(desk.submit_quote(QuoteSpec(maker, qid, rfq.rfq_id, rfq.symbol, yes, no, **kw), now))
    return q


def traded(events):
    return [e for e in events if isinstance(e, Traded)]


def executed(ex, desk, side=Side.BUY, qty=None, yes=7500, no=2500):
    rfq = open_rfq(desk)
    q = quote(desk, rfq, yes=yes, no=no)
    ok(desk.accept_quote(AcceptSpec("alice", q.quote_id, side, qty=qty), T0 + 2))
    ok(desk.confirm_quote("bob", q.quote_id, T0 + 3))
    notices = desk.expire(T0 + 3 + desk.execution_delay)
    ex.check_invariants()
    return rfq, q, notices


# --- RFQ creation -------------------------------------------------------------------------

def test_create_rfq_opens_it_with_a_server_uuid_and_a_lifetime():
    ex, desk = make()
    rfq = open_rfq(desk)
    assert rfq.status is RfqStatus.OPEN and len(rfq.rfq_id) == 36 and rfq.rfq_id != "cr-1"
    assert rfq.expires == T0 + desk.rfq_ttl and desk.open_rfqs("alice") == [rfq]


def test_ids_come_from_the_injected_rng_deterministically():
    ids = []
    for _ in range(2):
        _, desk = make()
        rfq = open_rfq(desk)
        ids.append((rfq.rfq_id, desk.public_id("alice")))
    assert ids[0] == ids[1]


def test_public_ids_are_pseudonymous_and_stable_per_account():
    _, desk = make()
    assert desk.public_id("alice") == desk.public_id("alice") != desk.public_id("bob")
    assert "alice" not in desk.public_id("alice")


def test_second_open_rfq_on_a_ticker_without_replace_existing_is_refused_with_rfq_already_exists():
    _, desk = make()
    open_rfq(desk)
    r = refused(desk.create_rfq(RfqSpec("alice", "cr-2", symbol=T, qty=100), T0), Refuse.RFQ_EXISTS)
    assert r.text == "RFQ already exists" and len(desk.open_rfqs()) == 1


def test_replace_existing_closes_older_rfqs_but_keeps_the_newest_existing_one():
    _, desk = make(max_open_rfqs=10)
    first = open_rfq(desk, client_id="cr-1")
    second = open_rfq(desk, client_id="cr-2", replace_existing=True)
    assert first.status is RfqStatus.OPEN  # at most two remain open (spec 06 §1)
    third, notices = ok(desk.create_rfq(RfqSpec("alice", "cr-3", symbol=T, qty=100, replace_existing=True), T0))
    assert first.status is RfqStatus.REPLACED and second.status is RfqStatus.OPEN
    assert [type(n) for n in notices] == [RfqClosed] and notices[0].rfq is first
    assert [r.client_id for r in desk.open_rfqs("alice")] == ["cr-2", "cr-3"]


def test_open_rfq_limit_per_account_is_refused_as_exceeds_limit():
    _, desk = make(max_open_rfqs=1)
    open_rfq(desk)
    refused(desk.create_rfq(RfqSpec("alice", "cr-2", symbol=FRAC, qty=100), T0), Refuse.TOO_MANY_RFQS)


def test_other_accounts_rfqs_do_not_count_towards_the_limits():
    _, desk = make()
    open_rfq(desk, "alice")
    open_rfq(desk, "bob")
    assert len(desk.open_rfqs()) == 2


def test_fractional_sizes_need_a_fractional_market():
    _, desk = make()
    refused(desk.create_rfq(RfqSpec("alice", "c", symbol=T, qty=150), T0), Refuse.INVALID_QUANTITY)
    assert open_rfq(desk, symbol=FRAC, qty=150).qty == 150


def test_rfq_on_a_market_that_is_not_open_is_refused():
    ex, desk = make()
    ex.market(T).status = MarketStatus.CLOSED
    refused(desk.create_rfq(RfqSpec("alice", "c", symbol=T, qty=100), T0), Refuse.MARKET_CLOSED)


# --- quotes -------------------------------------------------------------------------------

def test_quote_is_pending_and_sized_for_the_full_rfq():
    _, desk = make()
    q = quote(desk, open_rfq(desk))
    assert q.state is QuoteState.PENDING and (q.yes_size, q.no_size) == (4000, 4000)


def test_quote_with_one_price_offers_only_that_side():
    _, desk = make()
    q = quote(desk, open_rfq(desk), yes=6000, no=0)
    assert (q.yes_size, q.no_size) == (4000, 0)


def test_cash_sized_rfq_derives_contracts_from_each_price():
    _, desk = make()
    rfq = open_rfq(desk, qty=None, cash=250 * USD)
    q = quote(desk, rfq, yes=6000, no=3800)
    # hitting YES (creator buys NO at 40c): 625 contracts; hitting NO (buys YES at 62c): 403 whole contracts
    assert (q.yes_size, q.no_size) == (62_500, 40_300)


def test_newer_quote_of_the_same_maker_replaces_the_pending_one():
    _, desk = make()
    rfq = open_rfq(desk)
    old = quote(desk, rfq, qid="q-1")
    new, notices = ok(desk.submit_quote(QuoteSpec("bob", "q-2", rfq.rfq_id, T, 7000, 2000), T0 + 2))
    assert old.state is QuoteState.REPLACED and new.state is QuoteState.PENDING
    assert len(notices) == 1 and isinstance(notices[0], QuoteClosed) and notices[0].quote is old


def test_quotes_of_different_makers_coexist_privately():
    _, desk = make()
    rfq = open_rfq(desk)
    a, b = quote(desk, rfq, "bob", "q-b"), quote(desk, rfq, "carol", "q-c")
    assert a.state is b.state is QuoteState.PENDING and len(rfq.quotes) == 2


def test_a_live_quote_id_of_another_maker_cannot_be_reused():
    _, desk = make()
    rfq = open_rfq(desk)
    quote(desk, rfq, "bob", "q-1")
    refused(desk.submit_quote(QuoteSpec("carol", "q-1", rfq.rfq_id, T, 7000, 0), T0), Refuse.QUOTE_ID_IN_USE)


def test_post_only_quote_that_would_cross_the_public_book_is_refused():
    ex, desk = make()
    ok(ex.new_order(req("carol", "ask", Side.SELL, 70, 5, symbol=T), T0))
    rfq = open_rfq(desk)
    refused(desk.submit_quote(QuoteSpec("bob", "q", rfq.rfq_id, T, 7000, 0, post_only=True), T0),
            Refuse.POST_ONLY_CROSS)
    quote(desk, rfq, yes=6900, no=0, post_only=True)


# --- acceptance, confirmation, execution ----------------------------------------------------

def test_accept_moves_the_quote_to_accepted_with_a_confirm_deadline():
    _, desk = make()
    q = quote(desk, open_rfq(desk))
    got, events = ok(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY, client_id="acc-1"), T0 + 2))
    assert got is q and q.state is QuoteState.ACCEPTED and q.qty == 4000 and events == []
    assert q.confirm_by == T0 + 2 + 30 and desk.next_deadline() == T0 + 32


def test_confirm_moves_it_to_confirmed_and_arms_the_execution_timer():
    _, desk = make()
    q = quote(desk, open_rfq(desk))
    ok(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY), T0 + 2))
    _, notices = ok(desk.confirm_quote("bob", "q-1", T0 + 5))
    assert q.state is QuoteState.CONFIRMED and q.execute_at == T0 + 20 and notices == []
    assert desk.expire(T0 + 19.9) == [] and q.state is QuoteState.CONFIRMED


def test_execution_at_the_timer_trades_both_accounts_and_closes_the_rfq():
    ex, desk = make()
    rfq, q, notices = executed(ex, desk)
    assert [type(n) for n in notices] == [QuoteExecuted, RfqClosed]
    assert q.state is QuoteState.EXECUTED and rfq.status is RfqStatus.EXECUTED
    assert desk.open_rfqs() == [] and desk.next_deadline() is None
    events = notices[0].events
    assert [type(e) for e in events] == [Accepted, Traded, Accepted, Traded]
    taker, maker = traded(events)
    assert taker.fill.trade_id == maker.fill.trade_id and taker.fill.aggressor and not maker.fill.aggressor
    assert taker.order.status is maker.order.status is OrderStatus.FILLED
    assert ex.order(taker.order.order_id).cum == 4000


def test_a_confirmed_quote_due_in_a_pause_waits_for_the_resume_to_trade():
    from kalshi_fixsim.simulator.engine.exchange import Pause
    ex, desk = make()
    rfq = open_rfq(desk)
    q = quote(desk, rfq)
    ok(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY), T0 + 2))
    ok(desk.confirm_quote("bob", "q-1", T0 + 3))
    ex.set_pause(Pause.TRADING, T0 + 4)
    assert desk.expire(q.execute_at + 1) == [] and q.state is QuoteState.CONFIRMED  # spec 10 §2: no trade
    assert desk.next_deadline() != q.execute_at  # the clock work does not spin on the overdue timer
    assert ex.position("alice", T) == 0
    ex.set_pause(None, q.execute_at + 2)
    notices = desk.expire(q.execute_at + 2)
    assert [type(n) for n in notices] == [QuoteExecuted, RfqClosed] and ex.position("alice", T) == 4000
    ex.check_invariants()


def test_side_1_hits_the_no_price_creator_buys_yes_at_one_minus_no():
    ex, desk = make()
    executed(ex, desk, Side.BUY, yes=7500, no=2500)  # spec 06 §2.9 worked example
    assert ex.position("alice", T) == 4000 and ex.position("bob", T) == -4000
    assert ex.balance("alice") == 1_000 * USD - 30 * USD  # 40 x 75c
    assert ex.balance("bob") == 1_000 * USD - 10 * USD    # 40 NO x 25c


def test_side_2_hits_the_yes_price_creator_buys_no_at_one_minus_yes():
    ex, desk = make()
    _, _, notices = executed(ex, desk, Side.SELL, yes=7500, no=2500)
    assert ex.position("alice", T) == -4000 and ex.position("bob", T) == 4000
    assert ex.balance("alice") == 1_000 * USD - 10 * USD  # 40 NO x 25c
    assert ex.balance("bob") == 1_000 * USD - 30 * USD    # 40 YES x 75c
    taker, maker = traded(notices[0].events)
    assert (taker.order.side, maker.order.side, taker.fill.price) == (Side.SELL, Side.BUY, 7500)


def test_partial_accept_trades_the_accepted_quantity_only():
    ex, desk = make()
    executed(ex, desk, qty=1500)
    assert ex.position("alice", T) == 1500


def test_execution_charges_taker_fee_to_the_creator_and_maker_fee_to_the_maker():
    from decimal import Decimal
    ex, desk = make(FeeSchedule(Decimal("0.07"), Decimal("0.0175")))
    _, _, notices = executed(ex, desk)
    taker, maker = traded(notices[0].events)
    assert taker.fill.fee == 525_000 and maker.fill.fee == 131_300  # 0.07/0.0175 x 40 x .75 x .25, up to $0.0001
    assert ex.fees_collected == taker.fill.fee + maker.fill.fee


def test_execution_redeems_pairs_against_an_opposite_position():
    ex, desk = make()
    executed(ex, desk, Side.SELL)               # alice: 40 NO
    before = ex.balance("alice")
    rfq = open_rfq(desk, client_id="cr-9")
    q = quote(desk, rfq, "carol", "q-9", yes=0, no=4000)
    ok(desk.accept_quote(AcceptSpec("alice", q.quote_id, Side.BUY), T0 + 100))
    ok(desk.confirm_quote("carol", q.quote_id, T0 + 100))
    desk.expire(T0 + 200)
    assert ex.position("alice", T) == 0
    assert ex.balance("alice") == before - 24 * USD + 40 * USD  # paid 60c x 40, redeemed 40 pairs
    ex.check_invariants()


def test_zero_execution_delay_executes_on_confirm():
    ex, desk = make(execution_delay=0)
    q = quote(desk, open_rfq(desk))
    ok(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY), T0 + 2))
    _, notices = ok(desk.confirm_quote("bob", "q-1", T0 + 3))
    assert isinstance(notices[0], QuoteExecuted) and q.state is QuoteState.EXECUTED


def test_unconfirmed_accepted_quote_is_voided_when_the_window_lapses():
    _, desk = make()
    rfq = open_rfq(desk)
    q = quote(desk, rfq)
    ok(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY), T0 + 2))
    assert desk.expire(T0 + 31.9) == []
    notices = desk.expire(T0 + 32)
    assert q.state is QuoteState.VOIDED and isinstance(notices[0], QuoteClosed) and notices[0].was_accepted
    assert rfq.status is RfqStatus.OPEN  # the creator may accept another quote
    refused(desk.confirm_quote("bob", "q-1", T0 + 33), Refuse.EXPIRED)


def test_combo_rfqs_use_the_hvm_windows():
    ex, desk = make()
    legs = (Leg("KXRFQ-26JAN01", T, "yes"), Leg("KXRFQ-26JAN01", FRAC, "no"))
    rfq, _ = ok(desk.create_rfq(RfqSpec("alice", "c", qty=100, collection="KXMVE", legs=legs), T0))
    quote(desk, rfq, yes=5000, no=4000)
    q, _ = ok(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY), T0 + 2))
    assert q.confirm_by == T0 + 5
    ok(desk.confirm_quote("bob", "q-1", T0 + 3))
    assert q.execute_at == T0 + 4


def test_execution_voids_the_quote_when_a_side_can_no_longer_pay():
    ex, desk = make()
    q = quote(desk, open_rfq(desk))
    ok(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY), T0 + 2))
    ok(desk.confirm_quote("bob", "q-1", T0 + 3))
    ex.deposit("alice", -ex.available("alice"))
    notices = desk.expire(T0 + 18)
    assert q.state is QuoteState.VOIDED and isinstance(notices[0], QuoteClosed) and notices[0].was_accepted
    assert ex.positions("alice") == {} and ex.positions("bob") == {}
    ex.check_invariants()


def test_accept_through_a_new_order_single_reports_its_order_accepted_then_filled():
    ex, desk = make()
    q = quote(desk, open_rfq(desk))
    got, events = ok(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY, client_id="o-1", limit_price=7500,
                                                qty=4000), T0 + 2))
    assert got is q and q.via_order and [type(e) for e in events] == [Accepted]
    assert events[0].order.client_order_id == "o-1"
    ok(desk.confirm_quote("bob", "q-1", T0 + 3))
    (done, _closed) = desk.expire(T0 + 18)
    taker = traded(done.events)[0]
    assert taker.order.order_id == events[0].order.order_id and taker.rested
    assert [type(e) for e in done.events] == [Traded, Accepted, Traded]
    ex.check_invariants()


def test_a_new_order_single_whose_quote_is_voided_is_cancelled():
    _, desk = make()
    quote(desk, open_rfq(desk))
    ok(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY, client_id="o-1", limit_price=7500), T0 + 2))
    (closed,) = desk.expire(T0 + 40)
    (cancel,) = closed.events
    assert isinstance(cancel, Canceled) and cancel.reason is CancelReason.EXPIRY
    assert cancel.order.status is OrderStatus.CANCELED and cancel.order.leaves == 0


def test_new_order_single_price_is_a_limit_on_the_trade_price():
    _, desk = make()
    quote(desk, open_rfq(desk))
    refused(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY, client_id="o", limit_price=7400), T0),
            Refuse.INVALID_PRICE)
    ok(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY, client_id="o", limit_price=8000), T0))


def test_prefer_better_quote_picks_the_best_price_for_the_creator():
    _, desk = make()
    rfq = open_rfq(desk)
    quote(desk, rfq, "bob", "q-b", yes=7000, no=2500)
    quote(desk, rfq, "carol", "q-c", yes=6800, no=2800)
    q, _ = ok(desk.accept_quote(AcceptSpec("alice", "q-b", Side.BUY, prefer_better=True), T0 + 2))
    assert q.quote_id == "q-c" and q.trade_price(Side.BUY) == 7200  # buys YES at 72c, not 75c


def test_another_quote_of_an_rfq_being_executed_cannot_be_accepted():
    _, desk = make()
    rfq = open_rfq(desk)
    quote(desk, rfq, "bob", "q-b")
    quote(desk, rfq, "carol", "q-c")
    ok(desk.accept_quote(AcceptSpec("alice", "q-b", Side.BUY), T0 + 2))
    refused(desk.accept_quote(AcceptSpec("alice", "q-c", Side.BUY), T0 + 2), Refuse.ALREADY_ACCEPTED)


def test_accepting_a_quote_of_ones_own_account_is_refused():
    _, desk = make()
    rfq = open_rfq(desk)
    quote(desk, rfq, "alice", "q-own")
    refused(desk.accept_quote(AcceptSpec("alice", "q-own", Side.BUY), T0 + 2), Refuse.SELF_TRADE)


# --- cancels and expiry ---------------------------------------------------------------------

def test_maker_cancels_a_pending_quote():
    _, desk = make()
    q = quote(desk, open_rfq(desk))
    _, notices = ok(desk.cancel_quote("bob", "q-1", T0 + 2))
    assert q.state is QuoteState.CANCELLED and not notices[0].was_accepted
    refused(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY), T0 + 3), Refuse.EXPIRED)


def test_maker_may_withdraw_an_accepted_quote_before_confirming():
    _, desk = make()
    q = quote(desk, open_rfq(desk))
    ok(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY), T0 + 2))
    _, notices = ok(desk.cancel_quote("bob", "q-1", T0 + 3))
    assert q.state is QuoteState.CANCELLED and notices[0].was_accepted


def test_a_confirmed_quote_can_no_longer_be_withdrawn_by_either_side():
    _, desk = make()
    rfq = open_rfq(desk)
    quote(desk, rfq)
    ok(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY), T0 + 2))
    ok(desk.confirm_quote("bob", "q-1", T0 + 3))
    refused(desk.cancel_quote("bob", "q-1", T0 + 4), Refuse.CONFIRMED)
    refused(desk.cancel_rfq("alice", T0 + 4, rfq_id=rfq.rfq_id), Refuse.CONFIRMED)


def test_creator_cancels_the_rfq_and_its_quotes_die():
    _, desk = make()
    rfq = open_rfq(desk)
    q = quote(desk, rfq)
    got, notices = ok(desk.cancel_rfq("alice", T0 + 2, client_id="cr-1"))
    assert got is rfq and rfq.status is RfqStatus.CANCELED and q.state is QuoteState.CLOSED
    assert [type(n) for n in notices] == [QuoteClosed, RfqClosed]
    refused(desk.submit_quote(QuoteSpec("carol", "q-2", rfq.rfq_id, T, 5000, 0), T0 + 3), Refuse.EXPIRED)


def test_rfq_expires_at_the_end_of_its_lifetime():
    _, desk = make(rfq_ttl=60)
    rfq = open_rfq(desk)
    assert desk.next_deadline() == T0 + 60 and desk.expire(T0 + 59) == []
    (closed,) = desk.expire(T0 + 60)
    assert isinstance(closed, RfqClosed) and rfq.status is RfqStatus.EXPIRED and desk.open_rfqs() == []


def test_rfq_expires_when_its_market_stops_trading():
    ex, desk = make()
    rfq = open_rfq(desk)
    ex.market(T).status = MarketStatus.CLOSED
    desk.expire(T0 + 1)
    assert rfq.status is RfqStatus.EXPIRED


def test_a_confirmed_quote_executes_even_if_the_rfq_lifetime_ends_first():
    ex, desk = make(rfq_ttl=10)
    rfq = open_rfq(desk)
    quote(desk, rfq)
    ok(desk.accept_quote(AcceptSpec("alice", "q-1", Side.BUY), T0 + 2))
    ok(desk.confirm_quote("bob", "q-1", T0 + 3))
    desk.expire(T0 + 11)
    assert rfq.status is RfqStatus.OPEN
    desk.expire(T0 + 18)
    assert rfq.status is RfqStatus.EXECUTED and ex.position("alice", T) == 4000


# --- combos (MVE) ---------------------------------------------------------------------------

def test_combo_legs_resolve_to_one_market_created_once():
    ex, desk = make()
    legs = (Leg("KXRFQ-26JAN01", T, "yes"), Leg("KXRFQ-26JAN01", FRAC, "no"))
    a, _ = ok(desk.create_rfq(RfqSpec("alice", "c1", qty=100, collection="KXMVE", legs=legs), T0))
    b, _ = ok(desk.create_rfq(RfqSpec("bob", "c2", qty=100, collection="KXMVE", legs=legs[::-1]), T0))
    assert a.symbol == b.symbol and a.symbol.startswith("KXMVE-")
    assert ex.market(a.symbol).price_structure == COMBO_STRUCTURE


@pytest.mark.parametrize("legs, reason", [
    ((Leg("KXRFQ-26JAN01", T, "yes"), Leg("KXRFQ-26JAN01", T, "yes")), "duplicated_legs"),
    ((Leg("KXRFQ-26JAN01", T, "yes"), Leg("KXRFQ-26JAN01", T, "no")), "conflicting_leg_outcomes"),
    ((Leg("KXRFQ-26JAN01", T, "yes"), Leg("KXOTHER", "KXNOPE-1", "yes")), "invalid_market_combination"),
    ((Leg("KXRFQ-26JAN01", T, "yes"),), "invalid_market_combination"),
])
def test_invalid_combo_is_refused_with_its_mve_reason_and_offending_legs(legs, reason):
    _, desk = make()
    r = refused(desk.create_rfq(RfqSpec("alice", "c", qty=100, collection="KXMVE", legs=legs), T0),
                Refuse.INVALID_COMBO)
    assert r.mve_reason == reason and (r.offending or len(legs) == 1)
