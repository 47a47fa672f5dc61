"""Order entry over TLS with the reference client: every report sequence of spec 02 §9,
the bad-input answers of spec 02/09, and who receives which report."""
from __future__ import annotations

from decimal import Decimal

import pytest

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.orders import CancelReject, ExecutionReport, cancel_order, mass_cancel, new_order, replace_order
from kalshi_fixsim.fixproto.codec import format_utc
from kalshi_fixsim.simulator.config import FeeConfig
from tests.wire import run

A = "KXTEST-26JAN01-A"
NO_PENDING = LogonOptions(skip_pending_exec_reports=True)


def reports(messages) -> list[ExecutionReport]:
    return [ExecutionReport(m) for m in messages if m.get(35) == "8"]


def kinds(messages) -> list[tuple[str, str]]:
    return [r.kinds for r in reports(messages)]


async def place(fix, *args, **kwargs) -> list:
    fix.send("D", new_order(*args, **kwargs))
    return await fix.collect()


def engine(fx, fn):
    """Read the prediction engine's state on its own thread."""
    return fx.call(lambda: fn(fx.sim.venues["prediction"].exchange))


# --- spec 02 §9 report sequences -----------------------------------------------------------

def test_seq1_order_that_rests_gets_pending_new_then_new(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice") as fix:
            out = await place(fix, "o1", A, "buy", 40, 10)
            assert kinds(out) == [("A", "A"), ("0", "0")]
            pending, new = reports(out)
            assert pending.exec_id == "-1;-1" and new.leaves_qty == Decimal("10.00") and new.cum_qty == 0
            assert new.msg.get(38) == "10.00" and new.price == 40 and new.msg.get(30) == "0"
    run(scenario())


def test_seq1_skip_pending_exec_reports_removes_the_pending_new(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            assert kinds(await place(fix, "o1", A, "buy", 40, 10)) == [("0", "0")]
    run(scenario())


async def rest_ask(fx, account, cl, price, qty, symbol=A):
    async with fx.client(account, options=NO_PENDING) as maker:
        assert kinds(await place(maker, cl, symbol, "sell", price, qty)) == [("0", "0")]


async def sell_as(fx, account, cl, price, qty, symbol=A):
    """Another account's sell order, which may trade at once."""
    async with fx.client(account, options=NO_PENDING) as other:
        return reports(await place(other, cl, symbol, "sell", price, qty))


def test_seq2_partial_fill_on_arrival_folds_the_ack_into_the_first_trade(fix_exchange):
    async def scenario():
        await rest_ask(fix_exchange, "bob", "b1", 55, 4)
        async with fix_exchange.client("alice") as fix:
            out = await place(fix, "o1", A, "buy", 60, 10)
            assert kinds(out) == [("A", "A"), ("F", "1")]
            trade = reports(out)[1]
            assert (trade.last_px, trade.last_qty, trade.cum_qty, trade.leaves_qty) == (55, 4, 4, 6)
            assert trade.aggressor is True and trade.long_qty == 4 and trade.short_qty == 0
    run(scenario())


def test_seq2_always_emit_new_before_trade_sends_a_standalone_new(fix_exchange):
    async def scenario():
        await rest_ask(fix_exchange, "bob", "b1", 55, 4)
        async with fix_exchange.client("alice", options=LogonOptions(always_emit_new_before_trade=True)) as fix:
            assert kinds(await place(fix, "o1", A, "buy", 60, 10)) == [("A", "A"), ("0", "0"), ("F", "1")]
    run(scenario())


def test_seq3_and_seq4_sweep_of_several_levels_reports_each_fill_and_ends_filled(fix_exchange):
    async def scenario():
        async with fix_exchange.client("bob", options=NO_PENDING) as maker:
            await place(maker, "b1", A, "sell", 50, 3)
            await place(maker, "b2", A, "sell", 52, 3)
            async with fix_exchange.client("alice", options=NO_PENDING) as fix:
                out = await place(fix, "o1", A, "buy", 52, 6)
                assert kinds(out) == [("F", "1"), ("F", "2")]
                assert [r.last_px for r in reports(out)] == [50, 52] and reports(out)[-1].avg_px == 51
            # seq 5: the resting orders were filled later: their owner sees F/2 for each.
            assert kinds(await maker.collect()) == [("F", "2"), ("F", "2")]
    run(scenario())


def test_seq6_ioc_partial_fill_with_enable_ioc_cancel_report_gets_a_cancel_for_the_rest(fix_exchange):
    async def scenario():
        await rest_ask(fix_exchange, "bob", "b1", 55, 4)
        opts = LogonOptions(skip_pending_exec_reports=True, enable_ioc_cancel_report=True)
        async with fix_exchange.client("alice", options=opts) as fix:
            out = await place(fix, "o1", A, "buy", 60, 10, tif="ioc")
            assert kinds(out) == [("F", "1"), ("4", "4")]
            assert reports(out)[1].text == "IMMEDIATE_OR_CANCELLED" and reports(out)[1].leaves_qty == 0
    run(scenario())


def test_seq6_ioc_partial_fill_without_the_flag_ends_on_the_trade_report(fix_exchange):
    async def scenario():
        await rest_ask(fix_exchange, "bob", "b1", 55, 4)
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            out = await place(fix, "o1", A, "buy", 60, 10, tif="ioc")
            assert kinds(out) == [("F", "4")] and reports(out)[0].leaves_qty == 0
    run(scenario())


@pytest.mark.parametrize("tif,text", [("ioc", "IMMEDIATE_OR_CANCELLED"), ("fok", "FOK_INSUFFICIENT_VOLUME")])
def test_seq7_seq8_ioc_or_fok_that_cannot_trade_is_cancelled_with_text(fix_exchange, tif, text):
    async def scenario():
        await rest_ask(fix_exchange, "bob", "b1", 55, 4)
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            out = await place(fix, "o1", A, "buy", 60 if tif == "fok" else 50, 10, tif=tif)
            assert kinds(out) == [("4", "4")] and reports(out)[0].text == text
            assert reports(out)[0].cum_qty == 0
    run(scenario())


def test_seq9_post_only_order_that_would_cross_is_cancelled_not_rested(fix_exchange):
    async def scenario():
        await rest_ask(fix_exchange, "bob", "b1", 55, 4)
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            out = await place(fix, "o1", A, "buy", 55, 1, post_only=True)
            assert kinds(out) == [("4", "4")] and reports(out)[0].text == "POST_ONLY_CROSS"
        assert engine(fix_exchange, lambda ex: len(ex.open_orders(account="alice"))) == 0
    run(scenario())


def test_seq10_self_trade_taker_at_cross_cancels_the_incoming_order(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            await place(fix, "r1", A, "sell", 55, 5)
            out = await place(fix, "t1", A, "buy", 55, 5)
            assert kinds(out) == [("0", "0"), ("4", "4")]
            assert reports(out)[1].text == "TAKER_CANCEL_FOR_SELF_TRADE_PREVENTION"
            assert engine(fix_exchange, lambda ex: [o.client_order_id for o in ex.open_orders(account="alice")]) == ["r1"]
    run(scenario())


def test_seq11_self_trade_maker_mode_cancels_own_resting_order_and_keeps_matching(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            await place(fix, "r1", A, "sell", 54, 5)
            await rest_ask(fix_exchange, "bob", "b1", 55, 5)
            out = await place(fix, "t1", A, "buy", 55, 5, stp=2)
            cancels = [r for r in reports(out) if r.kinds == ("4", "4")]
            assert [(c.cl_ord_id, c.text) for c in cancels] == [("r1", "MAKER_CANCEL_FOR_SELF_TRADE_PREVENTION")]
            assert [r.kinds for r in reports(out) if r.cl_ord_id == "t1"][-1] == ("F", "2")
    run(scenario())


def test_seq13_cancel_gets_pending_cancel_then_canceled_naming_both_ClOrdIDs(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice") as fix:
            await place(fix, "o1", A, "buy", 40, 10)
            fix.send("F", cancel_order("c1", "o1", A, "buy"))
            out = await fix.collect()
            assert kinds(out) == [("6", "6"), ("4", "4")]
            done = reports(out)[1]
            assert (done.cl_ord_id, done.orig_cl_ord_id, done.leaves_qty) == ("c1", "o1", 0)
    run(scenario())


def test_seq14_replace_gets_pending_replace_then_replaced_with_new_terms(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice") as fix:
            await place(fix, "o1", A, "buy", 40, 10)
            fix.send("G", replace_order("o2", "o1", A, "buy", 12, price=42))
            out = await fix.collect()
            assert kinds(out) == [("E", "E"), ("5", "0")]
            done = reports(out)[1]
            assert (done.cl_ord_id, done.orig_cl_ord_id, done.order_qty, done.price) == ("o2", "o1", 12, 42)
    run(scenario())


def test_seq15_replace_down_to_the_filled_quantity_cancels_the_order(fix_exchange):
    async def scenario():
        await rest_ask(fix_exchange, "bob", "b1", 40, 4)
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            await place(fix, "o1", A, "buy", 40, 10)
            fix.send("G", replace_order("o2", "o1", A, "buy", 4))
            out = await fix.collect()
            assert kinds(out) == [("4", "4")] and reports(out)[0].cum_qty == 4
    run(scenario())


@pytest.mark.parametrize("expired_flag,expected", [(False, ("4", "4")), (True, ("C", "C"))])
def test_seq16_gtd_expiry_is_cancelled_or_expired_per_use_expired_ord_status(fix_exchange, expired_flag, expected):
    import time

    async def scenario():
        opts = LogonOptions(skip_pending_exec_reports=True, use_expired_ord_status=expired_flag)
        async with fix_exchange.client("alice", options=opts) as fix:
            await place(fix, "o1", A, "buy", 40, 10, tif="gtd", expire_time=format_utc(time.time() + 0.5))
            report = ExecutionReport(await fix.expect("8", timeout=10))
            assert report.kinds == expected and report.cl_ord_id == "o1"
    run(scenario())


def test_seq19_mass_cancel_reports_then_cancels_every_order_of_the_session(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            await place(fix, "o1", A, "buy", 40, 10)
            await place(fix, "o2", A, "sell", 60, 10)
            fix.send("q", mass_cancel("m1"))
            out = await fix.collect()
            assert [m.get(35) for m in out] == ["r", "8", "8"] and out[0].get(531) == "6"
            assert sorted(r.cl_ord_id for r in reports(out)) == ["o1", "o2"] and set(kinds(out)) == {("4", "4")}
            fix.send("q", mass_cancel("m2"))  # a second one within the second is refused (spec 02 §11)
            bmr = await fix.expect("j")
            assert bmr.get(380) == "8"
    run(scenario())


def test_seq20_cancel_orders_on_disconnect_cancels_and_the_listener_sees_it(fix_exchange):
    async def scenario():
        listener_opts = LogonOptions(listener_session=True, skip_pending_exec_reports=True)
        async with fix_exchange.client("alice_listener", options=listener_opts) as listener:
            fix = fix_exchange.client("alice", options=LogonOptions(cancel_orders_on_disconnect=True,
                                                                    skip_pending_exec_reports=True))
            await fix.connect()
            await place(fix, "o1", A, "buy", 40, 10)
            await fix.logout()
            seen = reports(await listener.collect())
            assert [r.kinds for r in seen] == [("0", "0"), ("4", "4")]
        assert engine(fix_exchange, lambda ex: ex.open_orders(account="alice")) == []
    run(scenario())


# --- matching, money and routing -----------------------------------------------------------

def test_a_yes_buyer_and_a_no_buyer_match_and_both_see_the_fill(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as yes, \
                fix_exchange.client("bob", options=NO_PENDING) as no:
            await place(no, "n1", A, "no", 45, 10)  # buy NO at 55c == sell YES at 45c
            out = await place(yes, "y1", A, "yes", 45, 10)
            theirs = reports(await no.collect())
            assert kinds(out) == [("F", "2")] and [r.kinds for r in theirs] == [("F", "2")]
            mine = reports(out)[0]
            assert mine.trade_id == theirs[0].trade_id and mine.aggressor and not theirs[0].aggressor
            assert (mine.long_qty, theirs[0].short_qty) == (10, 10)
    run(scenario())


def test_balances_and_positions_are_right_to_the_cent_after_fills_cancels_and_fees(fix_exchange_factory):
    fx = fix_exchange_factory(fees=FeeConfig(taker_rate=Decimal("0.07"), maker_rate=Decimal("0")))

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as alice, fx.client("bob", options=NO_PENDING) as bob:
            await place(bob, "b1", A, "sell", 40, 10)
            await place(bob, "b2", A, "sell", 70, 5)
            fix_out = await place(alice, "a1", A, "buy", 40, 10)
            trade = reports(fix_out)[0]
            # taker fee: 0.07 x 10 x 0.40 x 0.60 = $0.168 -> $0.1680; cost 10 x $0.40 = $4.00.
            assert trade.fee == Decimal("0.1680") and trade.balance_change == Decimal("-4.1680")
            bob.send("F", cancel_order("c2", "b2", A, "sell"))
            await bob.collect()
    run(scenario())
    assert engine(fx, lambda ex: (ex.balance("alice"), ex.balance("bob"), ex.available("bob"))) == \
        (995_832_000, 994_000_000, 994_000_000)
    assert engine(fx, lambda ex: (ex.position("alice", A), ex.position("bob", A))) == (1000, -1000)


def test_a_listener_sees_the_accounts_fills_from_other_sessions_and_cannot_trade(fix_exchange):
    async def scenario():
        opts = LogonOptions(listener_session=True, skip_pending_exec_reports=True)
        async with fix_exchange.client("bob_listener", "prediction", "RT", options=opts) as listener:
            await rest_ask(fix_exchange, "bob", "b1", 55, 4)
            async with fix_exchange.client("alice", options=NO_PENDING) as alice:
                await place(alice, "a1", A, "buy", 55, 4)
            assert kinds(await listener.collect()) == [("0", "0"), ("F", "2")]
            listener.send("D", new_order("l1", A, "buy", 10, 1))
            bmr = await listener.expect("j")
            assert (bmr.get(380), bmr.get(379)) == ("6", "l1")
    run(scenario())


def test_rt_reports_produced_while_disconnected_are_recovered_by_resend(fix_exchange):
    async def scenario():
        fix = fix_exchange.client("alice", "prediction", "RT", options=NO_PENDING)
        await fix.connect()
        await place(fix, "o1", A, "buy", 40, 10)
        await fix.logout()
        await sell_as(fix_exchange, "bob", "b1", 40, 10)  # fills alice's order while she is away
        await fix.connect()  # resumes: the fill is replayed with PossDup
        report = ExecutionReport(await fix.expect("8"))
        assert report.kinds == ("F", "2") and report.msg.get(43) == "Y"
        await fix.logout()
    run(scenario())


def test_an_order_on_exchange_index_2_reports_that_index_in_exec_id_and_last_mkt(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            new = reports(await place(fix, "o1", "KXSHARD-26JAN01-T1", "buy", 40, 1))[0]
            assert new.msg.get(30) == "2" and new.exec_id.count(";") == 2 and new.exec_id.endswith(";2")
    run(scenario())


def test_use_dollars_session_reads_and_reports_fixed_point_dollar_prices(fix_exchange):
    async def scenario():
        opts = LogonOptions(use_dollars=True, skip_pending_exec_reports=True)
        async with fix_exchange.client("alice", options=opts) as fix:
            new = reports(await place(fix, "o1", "KXFRAC-26JAN01-T1", "buy", "0.405", "2.50"))[0]
            assert new.msg.get(44) == "0.4050" and new.msg.get(38) == "2.50"
    run(scenario())


# --- bad input (spec 02 §8.5/§10, 09): the documented answer and nothing changes ------------

@pytest.mark.parametrize("args,kwargs,code,text", [
    (("o1", "KXNOPE-1", "buy", 40, 1), {}, 1, "MARKET_NOT_FOUND"),
    (("o1", "KXCLOSED-26JAN01-T1", "buy", 40, 1), {}, 2, "MARKET_ALREADY_CLOSED"),
    (("o1", "KXINIT-26JAN01-T1", "buy", 40, 1), {}, 2, "MARKET_INACTIVE"),
    (("o1", A, "buy", 0, 1), {}, 11, "INVALID_PRICE"),
    (("o1", A, "buy", 100, 1), {}, 11, "INVALID_PRICE"),
    (("o1", A, "buy", "40.5", 1), {}, 11, "INVALID_PRICE"),
    (("o1", A, "buy", 40, 0), {}, 13, "INVALID_ORDER"),
    (("o1", A, "buy", 40, -2), {}, 13, "INVALID_ORDER"),
    (("o1", A, "buy", 40, "1.5"), {}, 13, "INVALID_ORDER"),
    (("o1", A, "buy", 40, 1), {"tif": "gtd"}, 11, "INVALID_ORDER"),
    (("o1", A, "buy", 90, 20000), {}, 3, "INSUFFICIENT_BALANCE"),
    (("o1", A, "buy", 40, 1), {"subaccount": 64}, 15, "CUSTOMER_ACCOUNT_NOT_FOUND"),
    (("o1", A, "buy", 40, 1), {"order_group": "00000000-0000-4000-8000-000000000000"}, 11, "ORDER_GROUP_NOT_FOUND"),
])
def test_refused_new_orders_get_a_rejected_report_and_change_nothing(fix_exchange, args, kwargs, code, text):
    before = engine(fix_exchange, lambda ex: (ex.balance("alice"), ex.available("alice"), len(ex.open_orders())))

    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            out = reports(await place(fix, *args, **kwargs))
            assert [(r.kinds, r.ord_rej_reason, r.text) for r in out] == [(("8", "8"), code, text)]
            assert out[0].cum_qty == 0 and out[0].leaves_qty == 0 and out[0].exec_id == "-1;-1"
    run(scenario())
    assert engine(fix_exchange, lambda ex: (ex.balance("alice"), ex.available("alice"), len(ex.open_orders()))) \
        == before


def test_order_type_other_than_limit_is_rejected_as_invalid_order(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            body = [(t, "1" if t == 40 else v) for t, v in new_order("o1", A, "buy", 40, 1)]
            fix.send("D", body)
            out = reports(await fix.collect())
            assert [(r.kinds, r.ord_rej_reason) for r in out] == [(("8", "8"), 11)]
    run(scenario())


def test_duplicate_clordid_of_an_open_order_is_rejected_103_6(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            await place(fix, "o1", A, "buy", 40, 1)
            out = reports(await place(fix, "o1", A, "buy", 41, 1))
            assert [(r.kinds, r.ord_rej_reason, r.text) for r in out] == [(("8", "8"), 6, "ORDER_ALREADY_EXISTS")]
    run(scenario())


def test_malformed_clordid_is_a_session_reject_on_tag_11(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            fix.send("D", new_order("bad id!", A, "buy", 40, 1))
            reject = await fix.expect("3")
            assert (reject.get(373), reject.get(371)) == ("5", "11")
    run(scenario())


@pytest.mark.parametrize("request_kind", ["cancel", "replace"])
def test_cancel_or_replace_of_unknown_or_foreign_orders_gets_order_cancel_reject_unknown_order(
        fix_exchange, request_kind):
    async def scenario():
        async with fix_exchange.client("bob", options=NO_PENDING) as bob:
            await place(bob, "b1", A, "buy", 40, 1)
            async with fix_exchange.client("alice", options=NO_PENDING) as fix:
                for orig in ("nope", "b1"):  # unknown, and another account's order
                    if request_kind == "cancel":
                        fix.send("F", cancel_order("c-" + orig, orig, A, "buy"))
                    else:
                        fix.send("G", replace_order("c-" + orig, orig, A, "buy", 2))
                    rej = CancelReject(await fix.expect("9"))
                    assert (rej.reason, rej.response_to) == (1, "1" if request_kind == "cancel" else "2")
        assert engine(fix_exchange, lambda ex: ex.order_by_client_id("bob", "b1").qty) == 100
    run(scenario())


def test_amending_a_filled_order_or_below_the_filled_quantity_is_refused(fix_exchange):
    async def scenario():
        await rest_ask(fix_exchange, "bob", "b1", 40, 6)
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            await place(fix, "o1", A, "buy", 40, 10)  # 6 filled, 4 resting
            fix.send("G", replace_order("o2", "o1", A, "buy", 5))
            rej = CancelReject(await fix.expect("9"))
            assert (rej.reason, rej.text, rej.ord_status) == (2, "INVALID_AMEND_QTY_FOR_ORDER", "1")
            await place(fix, "o3", A, "buy", 45, 1)  # the best bid, so bob's sell fills it
            await sell_as(fix_exchange, "bob", "b2", 45, 1)
            await fix.collect()
            fix.send("G", replace_order("o4", "o3", A, "buy", 2))
            rej = CancelReject(await fix.expect("9"))
            assert (rej.reason, rej.text) == (2, "CANNOT_UPDATE_FILLED_ORDER")
            fix.send("F", cancel_order("c3", "o3", A, "buy"))
            assert CancelReject(await fix.expect("9")).reason == 0  # too late to cancel
    run(scenario())


def test_replace_with_an_off_grid_price_is_refused_and_the_order_is_unchanged(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            await place(fix, "o1", A, "buy", 40, 10)
            fix.send("G", replace_order("o2", "o1", A, "buy", 10, price=100))
            rej = CancelReject(await fix.expect("9"))
            assert (rej.reason, rej.text) == (99, "INVALID_PRICE")
    run(scenario())
    assert engine(fix_exchange, lambda ex: ex.order_by_client_id("alice", "o1").price) == 4000


def test_new_order_may_carry_transact_time_and_a_stale_one_is_rejected_103_8(fix_exchange):
    import time

    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            fresh = new_order("o1", A, "buy", 40, 1) + [(60, format_utc(time.time()))]
            fix.send("D", fresh)
            assert kinds(await fix.collect()) == [("0", "0")]  # 60 accepted on D (spec 02 §3)
            fix.send("D", new_order("o2", A, "buy", 40, 1) + [(60, format_utc(time.time() - 120))])
            out = reports(await fix.collect())
            assert [(r.kinds, r.ord_rej_reason, r.text) for r in out] == [(("8", "8"), 8, "STALE_ORDER")]
    run(scenario())
