"""Market close and settlement over TLS with the reference client (spec 05, spec 02 §4 and
§9 #16, spec 01 §2.2 tag 20127), plus the UMS layout and its reassembly by the client."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.orders import ExecutionReport, new_order
from kalshi_fixsim.client.settlement import Party, SettlementReassembler, parse_parties
from kalshi_fixsim.fixproto.codec import FixMessage, encode, parse
from kalshi_fixsim.simulator.engine.settlement import Settlement, SettlementEntry
from kalshi_fixsim.simulator.engine.types import MarketStatus, OrderRequest, Side
from kalshi_fixsim.simulator.gateway import market_data, post_trade
from tests.wire import run

A = "KXTEST-26JAN01-A"
B = "KXTEST-26JAN01-B"
FRAC = "KXFRAC-26JAN01-T1"
NO_PENDING = LogonOptions(skip_pending_exec_reports=True)
OPT_IN = LogonOptions(receive_settlement_reports=True)
OPT_OUT = LogonOptions(receive_settlement_reports=False)
_ids = itertools.count(1)

# spec 05 §3: top-level fields, then per party entry the nested collateral and fee groups.
HEAD_TAGS = [20105, 55, 715, 20106, 20107, 730, 893, 20108]
ENTRY_TAGS = [20109, 20110, 704, 705, 1703, 1704, 1705, 136, 137, 138, 139, 891]


def venue(fx):
    return fx.sim.venues["prediction"]


def engine(fx, fn):
    return fx.call(lambda: fn(venue(fx).exchange))


def settle(fx, ticker, result, price=None, **kwargs) -> Settlement:
    return fx.call(lambda: post_trade.settle_market(venue(fx), ticker, result, price, fx.sim.clock.now(), **kwargs))


def position(fx, buyer, seller, cents, qty, symbol=A, *, buyer_sub=0, seller_sub=0) -> None:
    """`buyer` gets `qty` YES and `seller` `qty` NO, straight through the engine."""
    def go(ex):
        now = fx.sim.clock.now()
        n = next(_ids)
        ex.new_order(OrderRequest(seller, f"s{n}", symbol, Side.SELL, round(cents * 100), round(qty * 100),
                                  subaccount=seller_sub), now)
        events = ex.new_order(OrderRequest(buyer, f"b{n}", symbol, Side.BUY, round(cents * 100), round(qty * 100),
                                           subaccount=buyer_sub), now)
        assert events[-1].order.status.value == "2"
    engine(fx, go)


def ums(messages) -> list[FixMessage]:
    return [m for m in messages if m.msg_type == "UMS"]


def tags(msg: FixMessage) -> list[int]:
    return [t for t, _ in msg.body()]


# --- UMS layout and reassembly (no network) ----------------------------------------------------

def _settlement(n_entries: int) -> Settlement:
    entries = [SettlementEntry("acct", i, 100 * i, 0, 10_000 * i, 0) for i in range(n_entries)]
    return Settlement("KXS-1", "scalar", Decimal("30.60"), entries)


def _wire(body) -> FixMessage:
    """A body as a client would parse it off the wire."""
    return parse(encode([(35, "UMS"), (49, "KalshiPT"), (56, "k"), (34, 1), (52, "20260101-00:00:00.000")]
                        + list(body)))


def test_ums_field_order_is_spec_05_section_3_with_groups_inside_each_party_entry():
    s = Settlement("KXSCALAR-26JAN01", "scalar", Decimal("30.60"),
                   [SettlementEntry("acct-9", 0, 155, 0, 470_000, 4_300)])
    ids = iter(["stl-0002"])
    (body,) = post_trade.ums_pages(s, s.entries, lambda: next(ids), datetime(2026, 1, 1, 12, tzinfo=timezone.utc)
                                   .timestamp())
    # the spec's scalar example, with 20106 (number of pages) added and 893 in its table position
    assert body == [(20105, "stl-0002"), (55, "KXSCALAR-26JAN01"), (715, "20260101"), (20106, 1),
                    (20107, "scalar"), (730, "30.60"), (893, "Y"), (20108, 1),
                    (20109, "acct-9"), (20110, 24), (704, "1.55"), (705, "0.00"), (1703, 1), (1704, "0.47"),
                    (1705, "PAYOUT"), (136, 1), (137, "0.0043"), (138, "USD"), (139, 4), (891, 0)]


def test_ums_pages_hold_at_most_page_size_entries_with_distinct_ids_and_last_fragment_on_the_last():
    s = _settlement(7)
    ids = iter(f"stl-{i}" for i in range(1, 10))
    pages = [_wire(b) for b in post_trade.ums_pages(s, s.entries, lambda: next(ids), 0.0, page_size=3)]
    assert [p.get(20105) for p in pages] == ["stl-1", "stl-2", "stl-3"]
    assert [p.get(20106) for p in pages] == ["3", "3", "3"]  # number of pages, on every page
    assert [p.get(893) for p in pages] == ["N", "N", "Y"]
    assert [p.get(20108) for p in pages] == ["3", "3", "1"] and {p.get(55) for p in pages} == {"KXS-1"}
    assert all(tags(p) == HEAD_TAGS + ENTRY_TAGS * int(p[20108]) for p in pages)
    (batch,) = SettlementReassembler().feed(pages)
    assert [p.id for p in batch.parties] == ["acct"] + [f"acct/{i}" for i in range(1, 7)]
    assert batch.report_ids == ("stl-1", "stl-2", "stl-3") and batch.total_reports == 3


def test_reassembler_reads_entries_by_tag_and_treats_a_page_without_893_as_complete():
    msg = _wire([(20105, "r1"), (55, "X"), (715, "20260101"), (20107, "Yes"), (730, "100.00"), (20108, 2),
                 (20109, "p1"), (20110, 24), (1703, 1), (1705, "PAYOUT"), (1704, "3.00"), (705, "0.00"),
                 (704, "3.00"), (136, 1), (137, "0.00"), (138, "USD"), (139, 4), (891, 0),
                 (20109, "p2"), (20110, 24), (705, "2.50")])
    r = SettlementReassembler()
    (batch,) = r.feed([msg])
    assert (batch.symbol, batch.result, batch.price, batch.total_reports) == ("X", "yes", Decimal("100.00"), None)
    assert batch.parties == (Party("p1", Decimal("3.00"), Decimal(0), Decimal("3.00"), Decimal(0), "24", "PAYOUT"),
                             Party("p2", short_qty=Decimal("2.50")))
    assert r.pending == {}


def test_reassembler_keeps_batches_of_different_symbols_apart():
    s1, s2 = _settlement(3), Settlement("KXS-2", "no", Decimal("0.00"), [SettlementEntry("b", 0, 0, 100, 10_000, 0)])
    ids = iter(f"id{i}" for i in range(10))
    nxt = lambda: next(ids)  # noqa: E731
    p1 = [_wire(b) for b in post_trade.ums_pages(s1, s1.entries, nxt, 0.0, page_size=2)]
    p2 = [_wire(b) for b in post_trade.ums_pages(s2, s2.entries, nxt, 0.0, page_size=2)]
    r = SettlementReassembler()
    assert r.add(p1[0]) is None and r.pending == {"KXS-1": 1}
    assert [b.symbol for b in r.feed(p2 + p1[1:])] == ["KXS-2", "KXS-1"]
    assert r.add(p1[0]) is None  # a first page again starts a new batch
    assert r.pending == {"KXS-1": 1}


def test_parse_parties_ends_the_last_entry_at_a_trailing_last_fragment():
    msg = _wire([(20105, "r"), (55, "X"), (715, "20260101"), (20107, "no"), (730, "0.00"), (20108, 1),
                 (20109, "p"), (20110, 24), (704, "1.00"), (705, "0.00"), (893, "Y")])
    assert parse_parties(msg) == [Party("p", long_qty=Decimal("1.00"))]


# --- market close (spec 02 §4, §9 #16) -------------------------------------------------------

def test_market_close_cancels_resting_orders_4_4_and_c_c_with_use_expired_ord_status(fix_exchange):
    async def scenario():
        expired = LogonOptions(skip_pending_exec_reports=True, use_expired_ord_status=True)
        async with fix_exchange.client("alice", options=NO_PENDING) as alice, \
                fix_exchange.client("bob", "prediction", "RT", options=expired) as bob:
            alice.send("D", new_order("a1", A, "buy", 40, 10))
            bob.send("D", new_order("b1", A, "sell", 60, 5))
            bob.send("D", new_order("b2", B, "sell", 60, 5))
            await alice.collect()
            await bob.collect()
            fix_exchange.call(lambda: post_trade.close_market(venue(fix_exchange), A, fix_exchange.sim.clock.now()))
            (a,) = [ExecutionReport(m) for m in await alice.collect()]
            (b,) = [ExecutionReport(m) for m in await bob.collect()]
            assert (a.kinds, a.cl_ord_id, a.text, a.leaves_qty, a.cum_qty) == (("4", "4"), "a1", None, 0, 0)
            assert (b.kinds, b.cl_ord_id, b.text) == (("C", "C"), "b1", None)
    run(scenario())
    assert engine(fix_exchange, lambda ex: (ex.reserved("alice"), ex.reserved("bob"), ex.market(A).status)) == \
        (0, 5 * 400_000, MarketStatus.CLOSED)  # bob's order in market B still holds its collateral


def test_orders_into_a_closed_or_settled_market_are_rejected_market_already_closed(fix_exchange):
    fix_exchange.call(lambda: post_trade.close_market(venue(fix_exchange), A, fix_exchange.sim.clock.now()))
    settle(fix_exchange, B, "yes")

    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            for cl, symbol in (("o1", A), ("o2", B)):
                fix.send("D", new_order(cl, symbol, "buy", 40, 1))
                (r,) = [ExecutionReport(m) for m in await fix.collect()]
                assert (r.kinds, r.ord_rej_reason, r.text) == (("8", "8"), 2, "MARKET_ALREADY_CLOSED")
    run(scenario())


def test_settling_an_open_market_sends_the_close_cancels_first(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as alice:
            alice.send("D", new_order("a1", A, "buy", 40, 10))
            await alice.collect()
            s = settle(fix_exchange, A, "no")
            assert [e.order.client_order_id for e in s.cancels] == ["a1"]
            assert [ExecutionReport(m).kinds for m in await alice.collect()] == [("4", "4")]
    run(scenario())


# --- settlement reports (spec 05 §1-§3) ------------------------------------------------------

def test_settlement_pays_positions_and_sends_each_pt_session_its_own_accounts_entries(fix_exchange):
    position(fix_exchange, "alice", "bob", 40, 10)  # alice pays $4.00 (YES), bob $6.00 (NO)

    async def scenario():
        async with fix_exchange.client("alice", "prediction", "PT") as alice, \
                fix_exchange.client("bob", "prediction", "PT") as bob:
            s = settle(fix_exchange, A, "yes")
            date = datetime.fromtimestamp(s.time, timezone.utc).strftime("%Y%m%d")
            (a,) = ums(await alice.collect())
            (b,) = ums(await bob.collect())
            assert a.body()[1:] == [(55, A), (715, date), (20106, "1"), (20107, "yes"), (730, "100.00"), (893, "Y"),
                                    (20108, "1"), (20109, "alice"), (20110, "24"), (704, "10.00"), (705, "0.00"),
                                    (1703, "1"), (1704, "10.00"), (1705, "PAYOUT"), (136, "1"), (137, "0.00"),
                                    (138, "USD"), (139, "4"), (891, "0")]
            assert [(p.id, p.long_qty, p.short_qty, p.payout, p.fee) for p in parse_parties(b)] == \
                [("bob", 0, Decimal("10.00"), Decimal("0.00"), 0)]
            assert a.get(20105) != b.get(20105)
    run(scenario())
    assert engine(fix_exchange, lambda ex: (ex.balance("alice"), ex.balance("bob"), ex.positions("alice"))) == \
        (1_006_000_000, 994_000_000, {})
    fix_exchange.call(lambda: venue(fix_exchange).exchange.check_invariants())


def test_ums_goes_to_pt_by_default_and_to_rt_only_with_20127_y(fix_exchange):
    position(fix_exchange, "alice", "bob", 40, 1)
    position(fix_exchange, "carol", "dave", 40, 1)

    async def scenario():
        async with fix_exchange.client("alice", "prediction", "PT", options=OPT_OUT) as pt_off, \
                fix_exchange.client("bob", "prediction", "PT") as pt_on, \
                fix_exchange.client("carol", "prediction", "RT", options=OPT_IN) as rt_in, \
                fix_exchange.client("dave", "prediction", "RT") as rt_default:
            settle(fix_exchange, A, "no")
            sessions = {"pt_off": pt_off, "pt_on": pt_on, "rt_in": rt_in, "rt_default": rt_default}
            got = {name: len(ums(await fix.collect())) for name, fix in sessions.items()}
            assert got == {"pt_off": 0, "pt_on": 1, "rt_in": 1, "rt_default": 0}
    run(scenario())


def test_scalar_settlement_reports_the_sub_cent_remainder_as_a_fee(fix_exchange):
    position(fix_exchange, "alice", "bob", 50, Decimal("1.55"), FRAC)

    async def scenario():
        async with fix_exchange.client("alice", "prediction", "PT") as alice:
            settle(fix_exchange, FRAC, "scalar", Decimal("30.60"))
            (batch,) = SettlementReassembler().feed(await alice.collect())
            assert (batch.result, batch.price) == ("scalar", Decimal("30.60"))
            (party,) = batch.parties
            assert (party.long_qty, party.payout, party.fee, party.value) == \
                (Decimal("1.55"), Decimal("0.47"), Decimal("0.0043"), Decimal("0.4743"))
    run(scenario())
    # 1000 - 0.775 + 0.47; bob: 1000 - 0.775 + 1.07 (1.0757 -> fee 0.0057)
    assert engine(fix_exchange, lambda ex: (ex.balance("alice"), ex.balance("bob"), ex.fees_collected)) == \
        (999_695_000, 1_000_295_000, 10_000)


def test_large_settlement_is_paginated_and_reassembled_by_the_client(fix_exchange):
    for sub in range(1, 8):
        position(fix_exchange, "alice", "bob", 30, sub, buyer_sub=sub)

    async def scenario():
        async with fix_exchange.client("alice", "prediction", "PT") as alice:
            settle(fix_exchange, A, "yes", page_size=3)
            pages = ums(await alice.collect())
            assert [(p.get(20106), p.get(893), p.get(20108)) for p in pages] == \
                [("3", "N", "3"), ("3", "N", "3"), ("3", "Y", "1")]
            assert len({p.get(20105) for p in pages}) == 3 and {p.get(55) for p in pages} == {A}
            (batch,) = SettlementReassembler().feed(pages)
            assert [(p.id, p.long_qty, p.payout) for p in batch.parties] == \
                [(f"alice/{i}", Decimal(i), Decimal(i)) for i in range(1, 8)]
    run(scenario())


def test_settlement_through_allocaccount_trades_reports_each_subaccount(fix_exchange):
    async def scenario():
        async with fix_exchange.client("bob", options=NO_PENDING) as bob:
            for i in range(1, 4):
                bob.send("D", new_order(f"b{i}", A, "sell", 45, i))
            await bob.collect()
        async with fix_exchange.client("alice", options=NO_PENDING) as alice:
            for i in range(1, 4):
                alice.send("D", new_order(f"a{i}", A, "buy", 45, i, subaccount=i))
            await alice.collect()
        async with fix_exchange.client("alice", "prediction", "PT") as pt:
            settle(fix_exchange, A, "no", page_size=2)
            (batch,) = SettlementReassembler().feed(await pt.collect())
            assert [(p.id, p.long_qty, p.payout) for p in batch.parties] == \
                [(f"alice/{i}", Decimal(i), 0) for i in range(1, 4)]
            assert len(batch.report_ids) == 2
    run(scenario())


@pytest.mark.parametrize("session, options", [("PT", None), ("RT", OPT_IN)])
def test_a_session_away_during_settlement_gets_the_ums_by_resend_after_reconnecting(fix_exchange, session, options):
    position(fix_exchange, "alice", "bob", 40, 2)

    async def scenario():
        fix = fix_exchange.client("alice", "prediction", session, options=options)
        await fix.connect()
        await fix.logout()
        settle(fix_exchange, A, "yes")
        await fix.connect()  # no reset: the gap is filled by resend, PossDup=Y
        (msg,) = ums(await fix.collect())
        assert msg.get(43) == "Y" and msg.get(55) == A
        assert parse_parties(msg)[0].payout == Decimal("2.00")
        await fix.logout()
    run(scenario())


def test_a_pt_session_that_opted_out_gets_nothing_stored_while_away(fix_exchange):
    position(fix_exchange, "alice", "bob", 40, 2)

    async def scenario():
        fix = fix_exchange.client("alice", "prediction", "PT", options=OPT_OUT)
        await fix.connect()
        await fix.logout()
        settle(fix_exchange, A, "yes")
        await fix.connect()
        assert ums(await fix.collect()) == []
        await fix.logout()
    run(scenario())


def test_settling_twice_is_refused_with_market_already_settled(fix_exchange):
    position(fix_exchange, "alice", "bob", 40, 1)

    async def scenario():
        async with fix_exchange.client("alice", "prediction", "PT") as alice:
            settle(fix_exchange, A, "yes")
            with pytest.raises(post_trade.SettlementError) as err:
                settle(fix_exchange, A, "no")
            assert isinstance(err.value, ValueError) and err.value.code == "MARKET_ALREADY_SETTLED"
            assert len(ums(await alice.collect())) == 1
    run(scenario())
    assert engine(fix_exchange, lambda ex: ex.balance("alice")) == 1_000_600_000


@pytest.mark.parametrize("ticker, result, price, code", [
    ("NOPE", "yes", None, "MARKET_NOT_FOUND"),
    (A, "maybe", None, "INVALID_RESULT"),
    (A, "scalar", "101", "INVALID_PRICE"),
])
def test_bad_settlement_requests_raise_value_error_and_change_nothing(fix_exchange, ticker, result, price, code):
    with pytest.raises(ValueError, match=code):
        settle(fix_exchange, ticker, result, price)
    assert engine(fix_exchange, lambda ex: ex.market(A).status) is MarketStatus.OPEN


def test_pt_is_read_only_application_messages_get_bmr_380_3(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", "prediction", "PT") as fix:
            fix.send("D", new_order("o1", A, "buy", 40, 1))
            bmr = await fix.expect("j")
            assert (bmr.get(380), bmr.get(372)) == ("3", "D")
    run(scenario())


def test_settlement_publishes_security_status_100_then_101(fix_exchange, monkeypatch):
    seen = []
    monkeypatch.setattr(market_data, "publish_status",
                        lambda v, ticker, status: seen.append((ticker, status, v.exchange.market(ticker).status)),
                        raising=False)
    settle(fix_exchange, A, "yes")
    assert seen == [(A, 100, MarketStatus.CLOSED), (A, 101, MarketStatus.SETTLED)]


def test_md_status_subscribers_see_determined_then_settled(fix_exchange):
    if not hasattr(market_data, "publish_status"):
        pytest.skip("market data gateway without publish_status")

    async def scenario():
        async with fix_exchange.client("alice", "prediction", "MD") as md:
            md.send("e", [(263, 1), (55, A)])
            await md.collect()
            settle(fix_exchange, A, "yes")
            statuses = [(m.get(55), m.get(326)) for m in await md.collect() if m.msg_type == "f"]
            assert statuses == [(A, "100"), (A, "101")]
    run(scenario())
