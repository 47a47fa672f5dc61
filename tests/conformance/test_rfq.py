"""RFQ over TLS with the reference client (spec 06): creators on KalshiRT, makers on KalshiRFQ.

The full lifecycle (R, b, broadcast, S, AI, quote notifications, UA or NewOrderSingle(117),
UC, U7, U8, fills on both accounts with the side inversion), RFQ and quote cancels, expiry,
the validation checklist of spec 06 §5 (one test per rule) and the reject paths, each with
the spec's reply, a clear Text and no state change. Time is driven by calling the RFQ timer
function (`gateway.rfq.tick`) with a chosen `now` on the simulator's thread, never by waiting.
"""
from __future__ import annotations

from decimal import Decimal

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.orders import ExecutionReport
from kalshi_fixsim.client.rfq import (accept_by_order, accept_quote, quote, quote_cancel, quote_confirm, quote_request,
                        rfq_cancel)
from kalshi_fixsim.simulator.gateway import rfq as rfq_gateway
from tests.wire import run

A = "KXTEST-26JAN01-A"
B = "KXTEST-26JAN01-B"
FRAC = "KXFRAC-26JAN01-T1"
USD = 1_000_000
NO_PENDING = LogonOptions(skip_pending_exec_reports=True)
DOLLARS = LogonOptions(use_dollars=True)


def venue(fx):
    return fx.sim.venues["prediction"]


def exchange(fx, fn):
    return fx.call(lambda: fn(venue(fx).exchange))


def desk(fx, fn):
    return fx.call(lambda: fn(rfq_gateway.service_for(venue(fx)).desk))


def tick(fx, seconds: float) -> None:
    """Run the RFQ timers as if `seconds` had passed (spec 06 §1 windows)."""
    fx.call(lambda: rfq_gateway.tick(venue(fx), fx.sim.clock.now() + seconds))


def snapshot(fx):
    """What a refused request must leave unchanged: RFQs, quotes, positions, balances."""
    def take(d):
        ex = d.exchange
        return ([(r.rfq_id, r.status) for r in d._rfqs.values()], [(q.quote_id, q.state) for q in d._quotes.values()],
                {a: (ex.balance(a), ex.positions(a)) for a in ex.accounts()})
    return desk(fx, take)


def maker(fx, account="bob", **kw):
    return fx.client(account, session="RFQ", **kw)


def creator(fx, account="alice", **kw):
    return fx.client(account, session="RT", **kw)


async def open_rfq(rt, makers=(), cl="cr-1", symbol=A, qty=40, **kw) -> str:
    rt.send("R", quote_request(cl, symbol, qty, **kw))
    ack = await rt.expect("b")
    for mm in makers:
        assert (await mm.expect("R")).get(131) == ack.get(21023)
    return ack.get(21023)


async def make_quote(mm, rt, qid, rfq_id, yes=None, no=None, symbol=A):
    mm.send("S", quote(qid, rfq_id, symbol, yes=yes, no=no))
    ai = await mm.expect("AI")
    assert ai.get(297) == "10", ai
    await rt.expect("S")
    return ai


async def accepted(fx, rt, mm, side=1, qid="q-1", yes=75, no=25):
    """An RFQ, a quote, its acceptance by UA and the maker's AI 297=0."""
    rfq_id = await open_rfq(rt, [mm])
    await make_quote(mm, rt, qid, rfq_id, yes, no)
    rt.send("UA", accept_quote(qid, side, rfq_id=rfq_id, cl_ord_id="acc-1"))
    assert (await rt.expect("UC")).get(21025) == "0"
    assert (await mm.expect("AI")).get(297) == "0"
    return rfq_id


def fills(messages):
    return [ExecutionReport(m) for m in messages if m.get(35) == "8" and m.get(150) == "F"]


# --- the full lifecycle -----------------------------------------------------------------------

def test_full_lifecycle_with_accept_quote_fills_both_accounts_with_the_side_inversion(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, maker(fx, "bob") as bob, maker(fx, "carol") as carol:
            rt.send("R", quote_request("cr-1", A, 40))
            ack = await rt.expect("b")  # spec 06 §2.3
            rfq_id = ack.get(21023)
            assert (ack.get(131), ack.get(303), ack.get(100)) == ("cr-1", "1", "0") and rfq_id != "cr-1"
            for mm in (bob, carol):  # spec 06 §2.2: the broadcast carries the server id, never the account
                r = await mm.expect("R")
                assert (r.get(131), r.get(146), r.get(55), r.get(38)) == (rfq_id, "1", A, "40.00")
                assert r.get(448).startswith("comm-") and "alice" not in str(r)
            bob.send("S", quote("q-b", rfq_id, A, yes=75, no=25))
            ai = await bob.expect("AI")  # spec 06 §2.5 (a)
            assert [ai.get(t) for t in (117, 131, 297, 38, 132, 133, 134, 135)] == \
                ["q-b", rfq_id, "10", "40.00", "75", "25", "40.00", "40.00"]
            carol.send("S", quote("q-c", rfq_id, A, yes=70, no=20))
            assert (await carol.expect("AI")).get(297) == "10"
            notes = [await rt.expect("S"), await rt.expect("S")]  # spec 06 §2.4: prices in dollars
            assert [(n.get(117), n.get(132), n.get(133), n.get(452)) for n in notes] == \
                [("q-b", "0.7500", "0.2500", "35"), ("q-c", "0.7000", "0.2000", "35")]
            assert notes[0].get(448) != notes[1].get(448) and notes[0].get(38) == "40.00"
            assert not [m for m in await carol.collect() if m.get(35) == "S"]  # quotes are private
            rt.send("UA", accept_quote("q-b", 1, rfq_id=rfq_id, qty=40, cl_ord_id="acc-1"))
            uc = await rt.expect("UC")  # spec 06 §2.9
            assert [uc.get(t) for t in (117, 21025, 21024, 11)] == ["q-b", "0", "q-b", "acc-1"]
            ai = await bob.expect("AI")  # (b): ACCEPTED, 54 echoes the creator's Side
            assert [ai.get(t) for t in (117, 297, 54, 38)] == ["q-b", "0", "1", "40.00"]
            bob.send("U7", quote_confirm("q-b", rfq_id))
            u8 = await bob.expect("U8")  # spec 06 §2.7
            assert (u8.get(117), u8.get(21010)) == ("q-b", "0")
            assert not fills(await rt.collect())  # the execution timer runs first (15 s)
            tick(fx, 16)
            (mine,) = fills(await rt.collect())
            # UA 54=1 hits bob's NO 25c: alice buys YES at 75c
            assert (mine.side, mine.last_px, mine.last_qty, mine.ord_status, mine.aggressor) == (1, 75, 40, "2", True)
            assert mine.cl_ord_id == "acc-1" and mine.balance_change == Decimal("-30.0000")
            bob_msgs = await bob.collect()
            (theirs,) = fills(bob_msgs)  # the maker's report arrives on its RFQ session
            assert (theirs.side, theirs.last_px, theirs.cl_ord_id, theirs.aggressor) == (2, 75, "q-b", False)
            assert theirs.trade_id == mine.trade_id and theirs.short_qty == 40
            assert [m.get(58) for m in bob_msgs if m.get(35) == "AG"] == ["RFQ_CLOSED: executed"]
            assert [m.get(131) for m in await carol.collect() if m.get(35) == "AG"] == [rfq_id]
        assert exchange(fx, lambda ex: (ex.position("alice", A), ex.position("bob", A))) == (4000, -4000)
        assert exchange(fx, lambda ex: (ex.balance("alice"), ex.balance("bob"))) == (970 * USD, 990 * USD)
        exchange(fx, lambda ex: ex.check_invariants())
    run(scenario())


def test_accept_by_new_order_single_with_quote_id_fills_with_the_side_inversion(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob:
            rfq_id = await open_rfq(rt, [bob])
            await make_quote(bob, rt, "q-1", rfq_id, 75, 25)
            # spec 02 §5.7: 54=2 hits the YES price 75c: alice sells YES at 75 = buys NO at 25c
            rt.send("D", accept_by_order("o-1", "q-1", A, "sell", 75, 40, rfq_id=rfq_id))
            acks = [ExecutionReport(m) for m in await rt.collect() if m.get(35) == "8"]
            assert [r.kinds for r in acks] == [("A", "A"), ("0", "0")] and acks[1].cl_ord_id == "o-1"
            ai = await bob.expect("AI")
            assert (ai.get(297), ai.get(54)) == ("0", "2")
            bob.send("U7", quote_confirm("q-1"))
            assert (await bob.expect("U8")).get(21010) == "0"
            tick(fx, 16)
            (mine,) = fills(await rt.collect())
            assert (mine.side, mine.last_px, mine.order_id, mine.ord_status) == (2, 75, acks[1].order_id, "2")
            assert mine.short_qty == 40 and mine.balance_change == Decimal("-10.0000")
            (theirs,) = fills(await bob.collect())
            assert (theirs.side, theirs.long_qty) == (1, 40)
        assert exchange(fx, lambda ex: (ex.position("alice", A), ex.position("bob", A))) == (-4000, 4000)
        exchange(fx, lambda ex: ex.check_invariants())
    run(scenario())


def test_maker_fills_also_reach_the_makers_listener_sessions(fix_exchange):
    fx = fix_exchange
    listen = LogonOptions(listener_session=True, skip_pending_exec_reports=True)

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob, fx.client("bob_listener", session="NR", options=listen) as ls:
            await accepted(fx, rt, bob)
            bob.send("U7", quote_confirm("q-1"))
            await bob.expect("U8")
            tick(fx, 16)
            (seen,) = fills(await ls.collect())
            assert seen.cl_ord_id == "q-1" and seen.side == 2
    run(scenario())


def test_cash_sized_rfq_reports_the_contracts_each_side_buys(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob:
            rt.send("R", quote_request("cr-1", A, cash="250.00"))
            rfq_id = (await rt.expect("b")).get(21023)
            r = await bob.expect("R")
            assert (r.get(152), r.get(38)) == ("250.0000", None)
            bob.send("S", quote("q-1", rfq_id, A, yes=60, no=38))
            ai = await bob.expect("AI")
            note = await rt.expect("S")
            # hitting YES 60c buys NO at 40c: 625 contracts; hitting NO 38c buys YES at 62c: 403 whole
            for msg in (ai, note):
                assert (msg.get(134), msg.get(135), msg.get(38)) == ("625.00", "403.00", None)
    run(scenario())


def test_combo_rfq_resolves_its_market_in_the_ack_and_the_broadcast(fix_exchange):
    fx = fix_exchange
    legs = [("KXTEST-26JAN01", A, "yes"), ("KXTEST-26JAN01", B, "no")]

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob:
            rt.send("R", quote_request("cr-1", None, "2.5", collection="KXMVE", legs=legs))
            ack = await rt.expect("b")  # spec 06 §2.3: the resolved ticker in 55
            combo = ack.get(55)
            assert combo.startswith("KXMVE-") and exchange(fx, lambda ex: ex.market(combo)) is not None
            r = await bob.expect("R")
            assert (r.get(55), r.get(20180), r.get(20181), r.get_all(20183)) == (combo, "KXMVE", "2", [A, B])
    run(scenario())


def test_invalid_combo_is_ag_99_with_its_mve_reason_and_offending_legs(fix_exchange):
    legs = [("KXTEST-26JAN01", A, "yes"), ("KXTEST-26JAN01", A, "yes")]

    async def scenario():
        async with creator(fix_exchange) as rt:
            rt.send("R", quote_request("cr-1", None, 5, collection="KXMVE", legs=legs))
            ag = await rt.expect("AG")  # spec 06 §2.8
            assert [ag.get(t) for t in (131, 658, 20187, 20185, 20186)] == \
                ["cr-1", "99", "duplicated_legs", "1", A]
    run(scenario())


def test_prefer_better_quote_accepts_the_best_quote_and_names_it(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob, maker(fx, "carol") as carol:
            rfq_id = await open_rfq(rt, [bob, carol])
            await make_quote(bob, rt, "q-b", rfq_id, 70, 25)
            await make_quote(carol, rt, "q-c", rfq_id, 68, 28)
            rt.send("UA", accept_quote("q-b", 1, prefer_better=True))
            uc = await rt.expect("UC")  # spec 06 §2.9: 21024 names the quote actually accepted
            assert (uc.get(117), uc.get(21025), uc.get(21024)) == ("q-b", "0", "q-c")
            assert (await carol.expect("AI")).get(297) == "0"
            assert not [m for m in await bob.collect() if m.get(35) == "AI"]
    run(scenario())


# --- cancels and timers -----------------------------------------------------------------------

def test_rfq_cancel_answers_ub_0_and_tells_makers_with_ag(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob:
            rfq_id = await open_rfq(rt, [bob])
            rt.send("UE", rfq_cancel(rfq_id=rfq_id))
            ub = await rt.expect("UB")  # spec 06 §2.10: 131 is the creator's id
            assert [ub.get(t) for t in (131, 21013, 21023)] == ["cr-1", "0", rfq_id]
            ag = await bob.expect("AG")
            assert (ag.get(131), ag.get(658), ag.get(58)) == (rfq_id, "99", "RFQ_CLOSED: cancelled by its creator")
        assert desk(fx, lambda d: d.open_rfqs()) == []
    run(scenario())


def test_quote_cancel_answers_u9_then_ai_cancelled(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob:
            rfq_id = await open_rfq(rt, [bob])
            await make_quote(bob, rt, "q-1", rfq_id, 60, 30)
            bob.send("Z", quote_cancel("q-1", rfq_id))
            u9, ai = [m for m in await bob.collect() if m.get(35) in ("U9", "AI")]
            assert (u9.get(35), u9.get(117), u9.get(298)) == ("U9", "q-1", "0")
            assert (ai.get(35), ai.get(117), ai.get(297)) == ("AI", "q-1", "17")
            rt.send("UA", accept_quote("q-1", 1))
            assert (await rt.expect("UC")).get(58) == "EXPIRED"
    run(scenario())


def test_rfq_expiry_sends_unsolicited_ub_2_to_the_creator_and_ag_to_makers(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob:
            rfq_id = await open_rfq(rt, [bob])
            tick(fx, desk(fx, lambda d: d.rfq_ttl) + 1)
            ub = await rt.expect("UB")
            assert [ub.get(t) for t in (131, 21013, 21023, 58)] == ["cr-1", "2", rfq_id, "RFQ_CLOSED: expired"]
            assert (await bob.expect("AG")).get(131) == rfq_id
    run(scenario())


def test_accepted_quote_not_confirmed_in_time_is_voided_for_both_sides(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob:
            await accepted(fx, rt, bob)
            tick(fx, 31)  # spec 06 §1: confirm within 30 s
            ai = await bob.expect("AI")
            assert (ai.get(297), ai.get(58)) == ("17", "EXPIRED")
            uc = await rt.expect("UC")
            assert (uc.get(117), uc.get(21025), uc.get(11), uc.get(58)) == ("q-1", "1", "acc-1", "EXPIRED")
            bob.send("U7", quote_confirm("q-1"))
            assert (await bob.expect("U8")).get(21010) == "1"
        assert exchange(fx, lambda ex: ex.positions("alice")) == {}
    run(scenario())


def test_new_quote_replaces_the_makers_previous_quote(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob:
            rfq_id = await open_rfq(rt, [bob])
            await make_quote(bob, rt, "q-1", rfq_id, 60, 30)
            bob.send("S", quote("q-2", rfq_id, A, yes=62, no=30))
            old, new = [m for m in await bob.collect() if m.get(35) == "AI"]
            assert (old.get(117), old.get(297), old.get(58)) == ("q-1", "17", "REPLACED")
            assert (new.get(117), new.get(297)) == ("q-2", "10")
    run(scenario())


# --- spec 06 §5 validation checklist: R -------------------------------------------------------

def _ag(messages):
    (ag,) = [m for m in messages if m.get(35) == "AG"]
    return ag.get(131), ag.get(658), ag.get(58)


def test_checklist_r_no_related_sym_must_be_1(fix_exchange):
    async def scenario():
        async with creator(fix_exchange) as rt:
            rt.send("R", [(131, "cr-1"), (146, 2), (55, A), (38, "1"), (55, B), (38, "1")])
            assert _ag(await rt.collect()) == ("cr-1", "99", "INVALID_PARAMETERS: NoRelatedSym(146) must be 1")
    run(scenario())


def test_checklist_r_exactly_one_of_symbol_or_mve_legs(fix_exchange):
    legs = [("KXTEST-26JAN01", A, "yes"), ("KXTEST-26JAN01", B, "no")]

    async def scenario():
        async with creator(fix_exchange) as rt:
            rt.send("R", quote_request("cr-1", A, 5, collection="KXMVE", legs=legs))
            rt.send("R", quote_request("cr-2", None, 5))
            both, neither = [m for m in await rt.collect() if m.get(35) == "AG"]
            for ag in (both, neither):
                assert ag.get(658) == "99" and "exactly one of Symbol(55) or MultivariateCollectionTicker" in ag.get(58)
        assert desk(fix_exchange, lambda d: d.open_rfqs()) == []
    run(scenario())


def test_checklist_r_needs_order_qty_or_cash_order_qty(fix_exchange):
    async def scenario():
        async with creator(fix_exchange) as rt:
            rt.send("R", quote_request("cr-1", A))
            assert _ag(await rt.collect()) == \
                ("cr-1", "99", "INVALID_PARAMETERS: send exactly one of OrderQty(38) or CashOrderQty(152)")
    run(scenario())


def test_checklist_r_order_qty_positive_in_hundredths(fix_exchange):
    async def scenario():
        async with creator(fix_exchange) as rt:
            rt.send("R", quote_request("cr-1", A, 0))
            rt.send("R", quote_request("cr-2", A, "1.005"))
            zero, fine = [m for m in await rt.collect() if m.get(35) == "AG"]
            assert zero.get(58).startswith("INVALID_QUANTITY: OrderQty(38) must be greater than 0")
            assert fine.get(58) == "INVALID_PARAMETERS: OrderQty(38) must be in steps of 0.01"
    run(scenario())


def test_checklist_r_unknown_ticker_is_ag_unknown_symbol(fix_exchange):
    async def scenario():
        async with creator(fix_exchange) as rt:
            rt.send("R", quote_request("cr-1", "KXNOPE-1", 5))
            assert _ag(await rt.collect()) == ("cr-1", "1", "UNKNOWN_SYMBOL: no market KXNOPE-1")
    run(scenario())


def test_checklist_r_insufficient_funds_is_ag_insufficient_credit(fix_exchange):
    fx = fix_exchange
    exchange(fx, lambda ex: ex.deposit("alice", -ex.available("alice")))

    async def scenario():
        async with creator(fx) as rt:
            rt.send("R", quote_request("cr-1", A, 5))
            assert _ag(await rt.collect())[1] == "11"
    run(scenario())


def test_checklist_r_second_open_rfq_on_a_ticker_is_rfq_already_exists(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob:
            await open_rfq(rt, [bob])
            before = snapshot(fx)
            rt.send("R", quote_request("cr-2", A, 10))
            assert _ag(await rt.collect()) == ("cr-2", "99", "RFQ already exists")
            assert not [m for m in await bob.collect() if m.get(35) == "R"] and snapshot(fx) == before
            rt.send("R", quote_request("cr-3", A, 10, replace_existing=True))  # spec 06 §1: 21016=Y
            assert (await rt.expect("b")).get(131) == "cr-3"
    run(scenario())


def test_checklist_r_too_many_open_rfqs_is_ag_exceeds_limit(fix_exchange):
    fx = fix_exchange
    desk(fx, lambda d: setattr(d, "max_open_rfqs", 1))

    async def scenario():
        async with creator(fx) as rt:
            await open_rfq(rt)
            before = snapshot(fx)
            rt.send("R", quote_request("cr-2", B, 10))
            assert _ag(await rt.collect()) == \
                ("cr-2", "3", "QUOTE_REQUEST_EXCEEDS_LIMIT: at most 1 open RFQs per account")
            assert snapshot(fx) == before
    run(scenario())


def test_checklist_r_listener_session_gets_bmr_not_authorized(fix_exchange):
    listen = LogonOptions(listener_session=True, skip_pending_exec_reports=True)

    async def scenario():
        async with creator(fix_exchange, "alice_listener", options=listen) as rt:
            rt.send("R", quote_request("cr-1", A, 5))
            rt.send("UA", accept_quote("q-1", 1))
            rt.send("UE", rfq_cancel("cr-1"))
            bmrs = [m for m in await rt.collect() if m.get(35) == "j"]
            assert [(m.get(372), m.get(380)) for m in bmrs] == [("R", "6"), ("UA", "6"), ("UE", "6")]
        assert desk(fix_exchange, lambda d: d.open_rfqs()) == []
    run(scenario())


def test_checklist_r_restricted_key_may_neither_create_rfqs_nor_accept_quotes(fix_exchange):
    async def scenario():
        async with fix_exchange.client("restricted", session="NR") as nr:
            nr.send("R", quote_request("cr-1", A, 5))  # R is not offered on KalshiNR
            nr.send("D", accept_by_order("o-1", "q-1", A, "buy", 50, 1))
            bmr_r, bmr_d = [m for m in await nr.collect() if m.get(35) == "j"]
            assert bmr_r.get(380) == "3"
            assert bmr_d.get(380) == "6" and "sub-account-restricted" in bmr_d.get(58)
    run(scenario())


def test_read_only_key_may_not_quote_on_kalshi_rfq(fix_exchange):
    async def scenario():
        async with maker(fix_exchange, "readonly") as mm:
            mm.send("S", quote("q-1", "rfq-x", A, yes=50))
            mm.send("Z", quote_cancel("q-1"))
            mm.send("U7", quote_confirm("q-1"))
            bmrs = [m for m in await mm.collect() if m.get(35) == "j"]
            assert [(m.get(372), m.get(380)) for m in bmrs] == [("S", "6"), ("Z", "6"), ("U7", "6")]
    run(scenario())


# --- checklist: S -----------------------------------------------------------------------------

async def _quote_reject(fx, body_of, *, options=None, account="bob"):
    """Send a quote built by body_of(rfq_id); return the AI 297=5 and check nothing changed."""
    async with creator(fx) as rt, maker(fx, account, options=options) as mm:
        rfq_id = await open_rfq(rt, [mm])
        before = snapshot(fx)
        mm.send("S", body_of(rfq_id))
        (ai,) = [m for m in await mm.collect() if m.get(35) == "AI"]
        assert ai.get(297) == "5" and ai.get(132) is None and snapshot(fx) == before
        assert not [m for m in await rt.collect() if m.get(35) == "S"]
        return ai


def test_checklist_s_quote_req_id_must_be_an_open_rfq_foreign_id(fix_exchange):
    async def scenario():
        ai = await _quote_reject(fix_exchange, lambda rfq_id: quote("q-1", "cr-1", A, yes=50))
        assert ai.get(58).startswith("NOT_FOUND: QuoteReqID(131)=cr-1 is not an RFQ of this exchange")
    run(scenario())


def test_checklist_s_quote_req_id_must_be_an_open_rfq_expired(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob:
            rfq_id = await open_rfq(rt, [bob])
            tick(fx, desk(fx, lambda d: d.rfq_ttl) + 1)
            await bob.expect("AG")
            before = snapshot(fx)
            bob.send("S", quote("q-1", rfq_id, A, yes=50))
            ai = await bob.expect("AI")
            assert (ai.get(297), ai.get(58)) == ("5", f"EXPIRED: RFQ {rfq_id} is closed (expired)")
            assert snapshot(fx) == before
    run(scenario())


def test_checklist_s_symbol_must_equal_the_rfq_market(fix_exchange):
    async def scenario():
        ai = await _quote_reject(fix_exchange, lambda rfq_id: quote("q-1", rfq_id, B, yes=50))
        assert ai.get(58) == f"INVALID_PARAMETERS: Symbol(55)={B} is not the RFQ's market {A}"
    run(scenario())


def test_checklist_s_needs_at_least_one_non_zero_price(fix_exchange):
    async def scenario():
        ai = await _quote_reject(fix_exchange, lambda rfq_id: quote("q-1", rfq_id, A, yes=0, no=0))
        assert ai.get(58) == "INVALID_PRICE: quote a YES price (132), a NO price (133) or both"
    run(scenario())


def test_checklist_s_prices_within_0_to_99_cents(fix_exchange):
    async def scenario():
        ai = await _quote_reject(fix_exchange, lambda rfq_id: quote("q-1", rfq_id, A, yes=100))
        assert ai.get(58) == "INVALID_PRICE: prices must be between 0 and 99 cents"
    run(scenario())


def test_checklist_s_yes_plus_no_at_most_one_dollar(fix_exchange):
    async def scenario():
        ai = await _quote_reject(fix_exchange, lambda rfq_id: quote("q-1", rfq_id, A, yes=60, no=41))
        assert ai.get(58) == "INVALID_PRICE: YES price + NO price must not exceed $1.00"
    run(scenario())


def test_checklist_s_prices_on_the_market_grid(fix_exchange):
    async def scenario():
        ai = await _quote_reject(fix_exchange, lambda rfq_id: quote("q-1", rfq_id, A, yes="0.7550"), options=DOLLARS)
        assert ai.get(58) == "INVALID_PRICE: YES price 75.5c is not on the linear_cent price grid"
    run(scenario())


def test_checklist_s_alloc_account_must_be_the_restricted_keys_sub_account(fix_exchange):
    fx = fix_exchange

    async def scenario():
        ai = await _quote_reject(fx, lambda rfq_id: quote("q-1", rfq_id, A, yes=50, subaccount=5), account="restricted")
        assert ai.get(58) == "NOT_AUTHORIZED: this API key is restricted to sub-account 3, not AllocAccount(79)=5"
        async with creator(fx) as rt, maker(fx, "restricted") as mm:  # omitted: pinned to the key's (spec 00 §3.2)
            rfq_id = await open_rfq(rt, [mm], cl="cr-2", symbol=B)
            mm.send("S", quote("q-2", rfq_id, B, yes=50))
            ai = await mm.expect("AI")
            assert (ai.get(297), ai.get(79)) == ("10", "3")
    run(scenario())


# --- checklist: UA ----------------------------------------------------------------------------

async def _accept_reject(fx, body_of, *, yes=75, no=25, prepare=None):
    """An RFQ with bob's quote q-1; send UA body_of(rfq_id); return the UC after checking it
    was refused and nothing changed."""
    async with creator(fx) as rt, maker(fx) as bob:
        rfq_id = await open_rfq(rt, [bob])
        await make_quote(bob, rt, "q-1", rfq_id, yes, no)
        if prepare is not None:
            prepare()
        before = snapshot(fx)
        rt.send("UA", body_of(rfq_id))
        uc = await rt.expect("UC")
        assert uc.get(21025) == "1" and uc.get(21024) is None and snapshot(fx) == before
        assert not [m for m in await bob.collect() if m.get(35) == "AI"]
        return uc


def test_checklist_ua_quote_must_exist(fix_exchange):
    async def scenario():
        uc = await _accept_reject(fix_exchange, lambda rfq_id: accept_quote("q-nope", 1))
        assert (uc.get(117), uc.get(58)) == ("q-nope", "NOT_FOUND")
    run(scenario())


def test_checklist_ua_rfq_id_must_match(fix_exchange):
    async def scenario():
        uc = await _accept_reject(fix_exchange, lambda rfq_id: accept_quote("q-1", 1, rfq_id="other-rfq"))
        assert uc.get(58) == "NOT_FOUND"
    run(scenario())


def test_checklist_ua_side_needs_a_non_zero_price(fix_exchange):
    async def scenario():
        uc = await _accept_reject(fix_exchange, lambda rfq_id: accept_quote("q-1", 1), yes=60, no=0)
        assert uc.get(58) == "INVALID_PRICE: the quote has no NO price to accept with Side(54)=1"
    run(scenario())


def test_checklist_ua_quantity_at_most_the_rfq_size(fix_exchange):
    async def scenario():
        uc = await _accept_reject(fix_exchange, lambda rfq_id: accept_quote("q-1", 1, qty=41))
        assert uc.get(58) == "INVALID_QUANTITY: OrderQty(38) must be more than 0 and at most 40"
    run(scenario())


def test_checklist_ua_creator_balance_must_cover_the_trade(fix_exchange):
    fx = fix_exchange

    def drain():
        exchange(fx, lambda ex: ex.deposit("alice", -ex.available("alice")))

    async def scenario():
        uc = await _accept_reject(fx, lambda rfq_id: accept_quote("q-1", 1), prepare=drain)
        assert uc.get(58) == "INSUFFICIENT_BALANCE"
    run(scenario())


def test_checklist_ua_accepting_ones_own_quote_is_refused(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt:  # one connection per key: alice quotes between two RT logons
            rfq_id = await open_rfq(rt)
        async with maker(fx, "alice") as mm:
            mm.send("S", quote("q-own", rfq_id, A, yes=60, no=30))
            assert (await mm.expect("AI")).get(297) == "10"
        before = snapshot(fx)
        async with creator(fx) as rt:
            rt.send("UA", accept_quote("q-own", 1, rfq_id=rfq_id))
            uc = await rt.expect("UC")
            assert (uc.get(21025), uc.get(58)) == ("1", "SELF_TRADE: you cannot accept a quote of your own account")
        assert snapshot(fx) == before
    run(scenario())


def test_checklist_ua_expired_quote_by_new_order_single_is_er_reject_103_8(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx, options=NO_PENDING) as rt, maker(fx) as bob:
            rfq_id = await open_rfq(rt, [bob])
            await make_quote(bob, rt, "q-1", rfq_id, 75, 25)
            bob.send("Z", quote_cancel("q-1"))
            await bob.collect()
            rt.send("D", accept_by_order("o-1", "q-1", A, "buy", 75, 40))
            (rej,) = [ExecutionReport(m) for m in await rt.collect() if m.get(35) == "8"]
            assert (rej.kinds, rej.ord_rej_reason, rej.text, rej.cl_ord_id) == (("8", "8"), 8, "EXPIRED", "o-1")
    run(scenario())


# --- checklist: U7, Z, UE ---------------------------------------------------------------------

def test_checklist_u7_only_for_an_accepted_quote_within_the_window(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob:
            rfq_id = await open_rfq(rt, [bob])
            await make_quote(bob, rt, "q-1", rfq_id, 75, 25)
            bob.send("U7", quote_confirm("q-1"))
            u8 = await bob.expect("U8")
            assert (u8.get(21010), u8.get(58)) == ("1", "QUOTE_NOT_ACCEPTED: quote q-1 has not been accepted")
            bob.send("U7", quote_confirm("q-nope"))
            assert (await bob.expect("U8")).get(58) == "NOT_FOUND: no quote q-nope of yours"
    run(scenario())


def test_checklist_z_quote_must_exist_and_be_cancellable(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, maker(fx) as bob, maker(fx, "carol") as carol:
            rfq_id = await accepted(fx, rt, bob)
            await carol.collect()
            carol.send("Z", quote_cancel("q-1"))  # another maker's quote: not found for carol
            u9 = await carol.expect("U9")
            assert (u9.get(298), u9.get(58)) == ("1", "NOT_FOUND: no quote q-1 of yours")
            bob.send("U7", quote_confirm("q-1", rfq_id))
            await bob.expect("U8")
            before = snapshot(fx)
            bob.send("Z", quote_cancel("q-1"))
            u9 = await bob.expect("U9")
            assert (u9.get(298), u9.get(58)) == ("1", "QUOTE_CONFIRMED: a confirmed quote can no longer be withdrawn")
            assert snapshot(fx) == before
    run(scenario())


def test_checklist_ue_rfq_must_exist_belong_to_the_sender_and_be_open(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with creator(fx) as rt, creator(fx, "dave") as other:
            rfq_id = await open_rfq(rt)
            other.send("UE", rfq_cancel(rfq_id=rfq_id))  # not dave's
            ub = await other.expect("UB")
            assert (ub.get(21013), ub.get(58), ub.get(21023)) == ("1", "NOT_FOUND: no such RFQ of yours", rfq_id)
            rt.send("UE", rfq_cancel("cr-1"))
            assert (await rt.expect("UB")).get(21013) == "0"
            rt.send("UE", rfq_cancel("cr-1"))
            ub = await rt.expect("UB")
            assert (ub.get(131), ub.get(21013), ub.get(58)) == \
                ("cr-1", "1", f"EXPIRED: RFQ {rfq_id} is already canceled")
            rt.send("UE", [])
            assert (await rt.expect("j")).get(380) == "5"
    run(scenario())
