"""The margin (perps) product over TLS with the reference client (spec 08): dollar prices,
fills and net positions, banding, initial margin, bad input, order groups, mass cancel, drop
copy and market data, all on the margin endpoints."""
from __future__ import annotations

from decimal import Decimal

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.dropcopy import request_replay
from kalshi_fixsim.client.orderbook import MarketDataBooks, subscribe
from kalshi_fixsim.client.orders import CancelReject, ExecutionReport, mass_cancel, new_order, order_group, replace_order
from tests.wire import run

ETH = "ETH-PERP"
NO_PENDING = LogonOptions(skip_pending_exec_reports=True)


def reports(messages) -> list[ExecutionReport]:
    return [ExecutionReport(m) for m in messages if m.get(35) == "8"]


async def place(fix, *args, **kwargs) -> list:
    fix.send("D", new_order(*args, **kwargs))
    return await fix.collect()


def margin(fx, account="alice", session="NR", **kw):
    return fx.client(account, "margin", session, **kw)


def engine(fx, fn):
    return fx.call(lambda: fn(fx.sim.venues["margin"].exchange))


def rejected(out) -> ExecutionReport:
    (rep,) = reports(out)
    assert rep.kinds == ("8", "8"), rep.msg
    return rep


def test_crossing_two_accounts_reports_dollar_prices_and_net_long_short(fix_exchange):
    async def scenario():
        async with margin(fix_exchange, "bob", options=NO_PENDING) as bob, \
                margin(fix_exchange, "alice", options=NO_PENDING) as alice:
            rest = reports(await place(bob, "b1", ETH, "sell", "3500.2500", 2))
            assert rest[0].msg.get(44) == "3500.2500" and rest[0].msg.get(60)
            out = reports(await place(alice, "a1", ETH, "buy", "3501", 2))
            trade = out[-1]
            assert trade.msg.get(31) == "3500.2500" and trade.msg.get(32) == "2.00"
            assert (trade.long_qty, trade.short_qty) == (Decimal("2.00"), 0)
            maker = reports(await bob.collect())[-1]
            assert (maker.long_qty, maker.short_qty) == (0, Decimal("2.00"))
        assert engine(fix_exchange, lambda ex: (ex.position("alice", ETH), ex.position("bob", ETH))) == (200, -200)
        fix_exchange.call(lambda: fix_exchange.sim.venues["margin"].exchange.check_invariants())
    run(scenario())


def test_prices_are_dollars_even_when_logon_asks_for_cents(fix_exchange):
    async def scenario():
        async with margin(fix_exchange, options=LogonOptions(use_dollars=False)) as fix:
            out = reports(await place(fix, "a1", ETH, "buy", "19.5", 1))
            assert out[-1].kinds == ("0", "0") and out[-1].msg.get(44) == "19.5000"
    run(scenario())


def test_band_rejects_a_bid_below_the_band_and_accepts_one_inside(fix_exchange):
    async def scenario():
        async with margin(fix_exchange, "bob", options=NO_PENDING) as bob, \
                margin(fix_exchange, "alice", options=NO_PENDING) as alice:
            await place(bob, "b1", ETH, "buy", "3000", 1)
            rep = rejected(await place(alice, "a1", ETH, "buy", "2399.9999", 1))
            assert (rep.ord_rej_reason, rep.text) == (11, "INVALID_ORDER")
            assert reports(await place(alice, "a2", ETH, "buy", "2400", 1))[-1].kinds == ("0", "0")
            alice.send("G", replace_order("a3", "a2", ETH, "buy", 1, price="1000"))
            (cxl,) = [CancelReject(m) for m in await alice.collect() if m.get(35) == "9"]
            assert (cxl.msg.get(102), cxl.text) == ("99", "INVALID_PRICE")
        assert engine(fix_exchange, lambda ex: ex.order_by_client_id("alice", "a2").price) == 2400 * 10_000
    run(scenario())


def test_order_beyond_available_margin_is_rejected_insufficient_balance(fix_exchange):
    async def scenario():
        async with margin(fix_exchange, options=NO_PENDING) as fix:  # $1,000 at 10%: 2 ETH need $700
            assert reports(await place(fix, "a1", ETH, "buy", "3500", 2))[-1].kinds == ("0", "0")
            rep = rejected(await place(fix, "a2", ETH, "buy", "3500", 1))
            assert (rep.ord_rej_reason, rep.text) == (3, "INSUFFICIENT_BALANCE")
        assert engine(fix_exchange, lambda ex: ex.reserved("alice")) == 700 * 1_000_000
    run(scenario())


def test_each_market_holds_margin_at_its_own_rate(fix_exchange):
    async def scenario():
        # $1,000: BTC-PERP has its own 5% rate (2 BTC at $10,000 = $1,000); ETH-PERP the product's 10%
        async with margin(fix_exchange, options=NO_PENDING) as fix:
            assert reports(await place(fix, "b1", "BTC-PERP", "buy", "10000", 2))[-1].kinds == ("0", "0")
            rep = rejected(await place(fix, "e1", ETH, "buy", "1000", 1))  # $100 at 10%: nothing is left
            assert (rep.ord_rej_reason, rep.text) == (3, "INSUFFICIENT_BALANCE")
        assert engine(fix_exchange, lambda ex: ex.reserved("alice")) == 1_000 * 1_000_000
    run(scenario())


def test_bad_input_gets_the_documented_rejects_and_changes_nothing(fix_exchange):
    async def scenario():
        async with margin(fix_exchange, options=NO_PENDING) as fix:
            cases = [
                (("p1", "KXTEST-26JAN01-A", "buy", "0.40", 1), {}, 1, "MARKET_NOT_FOUND"),
                (("p2", ETH, "buy", "3500", "1.5"), {}, 13, "INVALID_ORDER"),
                (("p3", ETH, "buy", "3500.00001", 1), {}, 11, "INVALID_PRICE"),
            ]
            for args, kw, code, text in cases:
                rep = rejected(await place(fix, *args, **kw))
                assert (rep.ord_rej_reason, rep.text) == (code, text), args
            body = new_order("p4", ETH, "buy", "3500", 1) + [(100, "2")]  # no ExDestination on margin
            fix.send("D", body)
            rep = rejected(await fix.collect())
            assert rep.ord_rej_reason == 1
        async with fix_exchange.client("alice", options=NO_PENDING) as pred:
            rep = rejected(await place(pred, "p5", ETH, "buy", 40, 1))
            assert rep.text == "MARKET_NOT_FOUND"
        assert engine(fix_exchange, lambda ex: ex.open_orders()) == []
    run(scenario())


def test_rfq_messages_on_margin_get_business_reject_unsupported_message_type(fix_exchange):
    async def scenario():
        async with margin(fix_exchange) as fix:
            fix.send("R", [(131, "r1"), (146, 1), (55, ETH), (38, "1")])
            (bmr,) = [m for m in await fix.collect() if m.get(35) == "j"]
            assert bmr.get(380) == "3"
    run(scenario())


def test_order_groups_and_mass_cancel_throttled_to_one_per_second(fix_exchange):
    async def scenario():
        async with margin(fix_exchange, options=NO_PENDING) as fix:
            fix.send("UOG", order_group("create", limit=5))
            uoh = await fix.expect("UOH")
            assert uoh.get(20130) and uoh.get(79) is None  # spec 08 §4: no sub-account fields
            out = reports(await place(fix, "a1", ETH, "buy", "3000", 1, order_group=uoh.get(20130)))
            assert out[-1].kinds == ("0", "0")
            fix.send("q", mass_cancel("m1"))
            first = await fix.collect()
            assert [m.get(35) for m in first].count("r") == 1
            assert [r.kinds for r in reports(first)] == [("4", "4")]
            fix.send("q", mass_cancel("m2"))
            second = await fix.collect()
            assert [m.get(380) for m in second if m.get(35) == "j"] == ["8"]
    run(scenario())


def test_margin_drop_copy_replays_the_order_entry_reports(fix_exchange):
    async def scenario():
        async with margin(fix_exchange, options=NO_PENDING) as fix:
            originals = reports(await place(fix, "a1", ETH, "buy", "3000", 1))
        async with margin(fix_exchange, "alice_listener", "DC") as dc:
            replay = await request_replay(dc, originals[0].exec_id)
            assert replay.ok and [m.get(17) for m in replay.reports] == [r.exec_id for r in originals]
            assert replay.reports[0].get(44) == "3000.0000"
    run(scenario())


def test_market_data_book_rebuilt_from_w_and_x_equals_the_engines(fix_exchange):
    async def scenario():
        async with margin(fix_exchange, "carol", "MD") as md, margin(fix_exchange, options=NO_PENDING) as fix:
            books = MarketDataBooks()
            md.send("V", subscribe([ETH]))
            books.apply(await md.expect("W"))
            await place(fix, "a1", ETH, "buy", "300.5", 2)
            await place(fix, "a2", ETH, "sell", "310", 1)
            await place(fix, "a3", ETH, "buy", "300.5", 1)
            books.apply_all(await md.collect())
            assert books[ETH].bids == [(Decimal("300.5000"), Decimal("3.00"))]
            assert books[ETH].asks == [(Decimal("310.0000"), Decimal("1.00"))]
        book = engine(fix_exchange, lambda ex: (ex.book(ETH).best_bid(), ex.book(ETH).best_ask()))
        assert book == (3_005_000, 3_100_000)
    run(scenario())


def test_margin_reports_a_stale_order_with_ord_rej_reason_5(fix_exchange):
    import time

    from kalshi_fixsim.client import LogonOptions
    from kalshi_fixsim.client.orders import ExecutionReport, new_order
    from kalshi_fixsim.fixproto.codec import format_utc
    from tests.wire import run

    async def scenario():
        opts = LogonOptions(skip_pending_exec_reports=True)
        async with fix_exchange.client("alice", "margin", "NR", options=opts) as fix:
            fix.send("D", new_order("s1", "ETH-PERP", "buy", "3000", 1) + [(60, format_utc(time.time() - 120))])
            out = [ExecutionReport(m) for m in await fix.collect() if m.get(35) == "8"]
            assert [(r.kinds, r.ord_rej_reason, r.text) for r in out] == [(("8", "8"), 5, "STALE_ORDER")]
    run(scenario())


def test_market_data_book_equals_the_engines_after_a_seeded_random_flow(fix_exchange):
    import random

    from kalshi_fixsim.simulator.engine.types import OrderRequest, Side

    rng = random.Random(6)

    def flow():
        venue = fix_exchange.sim.venues["margin"]
        ex = venue.exchange
        for name in ("alice", "bob"):
            ex.deposit(name, 10 ** 12)
        live = []
        for k in range(400):
            if live and rng.random() < 0.3:
                account, cl, side = live.pop(rng.randrange(len(live)))
                result = ex.cancel_order(account, cl, f"c{k}", side=side, symbol=ETH, now=0.0)
                venue.dispatch([] if not isinstance(result, list) else result)
                continue
            account, side = rng.choice(("alice", "bob")), rng.choice((Side.BUY, Side.SELL))
            price = (3000 + rng.randint(-40, 40)) * 10_000
            events = ex.new_order(OrderRequest(account=account, client_order_id=f"o{k}", symbol=ETH, side=side,
                                               price=price, qty=rng.randint(1, 5) * 100, session=None), 0.0)
            venue.dispatch(events)
            live.append((account, f"o{k}", side))
        ex.check_invariants()
        return [[(Decimal(p) / 10_000, Decimal(q) / 100) for p, q, _ in ex.book(ETH).levels(s, 1000)]
                for s in (Side.BUY, Side.SELL)]

    async def scenario():
        async with margin(fix_exchange, "carol", "MD") as md:
            books = MarketDataBooks()
            md.send("V", subscribe([ETH]))
            books.apply(await md.expect("W"))
            bids, asks = fix_exchange.call(flow)
            books.apply_all(await md.collect())
            assert (books[ETH].bids, books[ETH].asks) == (bids, asks) and bids and asks
    run(scenario())
