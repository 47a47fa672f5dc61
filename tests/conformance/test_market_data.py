"""KalshiMD over TLS with the reference client (spec 07, 08 §7): W snapshots, X updates with
trades, Y rejects, e/f security status, margin differences, slow consumers, sequence gaps,
and a seeded random flow after which the client's rebuilt book equals the engine's."""
from __future__ import annotations

import asyncio
import random
import re
import socket
import time
from decimal import Decimal

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.orderbook import (MarketDataBooks, parse_entries, security_status_request, snapshot, subscribe,
                              unsubscribe)
from kalshi_fixsim.client.orders import new_order
from kalshi_fixsim.fixproto.codec import format_utc
from kalshi_fixsim.simulator.engine.types import Market, OrderRequest, Side, TimeInForce, Traded, STP
from kalshi_fixsim.simulator.gateway import market_data
from kalshi_fixsim.simulator.gateway.market_data import publish_status
from tests.wire import RawConnection, logon, message, run, DropFirst

A = "KXTEST-26JAN01-A"
B = "KXTEST-26JAN01-B"
FRAC = "KXFRAC-26JAN01-T1"
NO_PENDING = LogonOptions(skip_pending_exec_reports=True)
T0 = 1_767_268_800.0  # 2026-01-01 12:00:00 UTC: event times of orders placed through the engine


class FrozenClock:
    """The simulator's injected clock, stopped (at a real time: SendingTime checks pass)."""

    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def md(fx, account="carol", product="prediction", **kw):
    return fx.client(account, product, "MD", **kw)


def venue(fx, product="prediction"):
    return fx.sim.venues[product]


def place(fx, *orders, product="prediction", now=T0):
    """Rest or trade orders directly on the engine, dispatching each call's events."""
    def call():
        v = venue(fx, product)
        for req in orders:
            v.dispatch(v.exchange.new_order(req, now))
    fx.call(call)


def order(account, cl, symbol, side, cents, contracts, **kw) -> OrderRequest:
    return OrderRequest(account, cl, symbol, side, int(Decimal(str(cents)) * 100),
                        int(Decimal(str(contracts)) * 100), **kw)


def flat(msg) -> str:
    """A message body as the spec writes it: tag=value|..."""
    return "|".join(f"{t}={v}" for t, v in msg.body())


def x_entries(messages, symbol=None):
    out = []
    for m in messages:
        if m.msg_type == "X":
            out += [e for e in parse_entries(m) if symbol is None or e.symbol == symbol]
    return out


def kinds(messages) -> list[str]:
    return [m.msg_type for m in messages]


def stamp(t: float) -> tuple[str, str]:
    text = format_utc(t)
    return text[:8], text[9:]


# --- W snapshots (spec 07 §3) -----------------------------------------------------------------

def test_snapshot_lists_bids_best_first_then_offers_with_dollar_prices_and_two_decimal_sizes(fix_exchange):
    fx = fix_exchange
    t = float(int(time.time())) + 0.31
    fx.call(lambda: setattr(fx.sim, "clock", FrozenClock(t)))
    place(fx, order("alice", "b1", A, Side.BUY, 41, 80), order("alice", "b2", A, Side.BUY, 42, 100),
          order("bob", "b3", A, Side.BUY, 42, 50), order("alice", "s1", A, Side.SELL, 45, 60),
          order("bob", "s2", A, Side.SELL, 65, 7))  # a NO bid at 35¢ is a YES offer at 0.65
    place(fx, order("alice", "f1", FRAC, Side.BUY, "42.5", "2.5"))
    date, tm = stamp(t)
    ts = f"272={date}|273={tm}"

    async def scenario():
        async with md(fx) as fix:
            fix.send("V", snapshot([A, FRAC]))
            w1, w2 = await fix.expect("W"), await fix.expect("W")
            assert flat(w1) == (f"55={A}|268=4|269=0|270=0.4200|271=150.00|{ts}|269=0|270=0.4100|271=80.00|{ts}"
                                f"|269=1|270=0.4500|271=60.00|{ts}|269=1|270=0.6500|271=7.00|{ts}")
            assert flat(w2) == f"55={FRAC}|268=1|269=0|270=0.4250|271=2.50|{ts}"
    run(scenario())


def test_snapshot_prices_are_dollars_even_when_the_session_asked_for_cents_or_dollars(fix_exchange):
    fx = fix_exchange
    place(fx, order("alice", "b1", A, Side.BUY, 42, 1))

    async def scenario():
        for account, opts in (("carol", LogonOptions(use_dollars=False)), ("dave", LogonOptions(use_dollars=True))):
            async with md(fx, account, options=opts) as fix:
                fix.send("V", snapshot([A]))
                entry, = parse_entries(await fix.expect("W"))
                assert (entry.price, str(entry.price), str(entry.size)) == (Decimal("0.42"), "0.4200", "1.00")
    run(scenario())


def test_unknown_ticker_gets_an_empty_snapshot_not_a_reject(fix_exchange):
    async def scenario():
        async with md(fix_exchange) as fix:
            fix.send("V", subscribe(["KXNOPE-26JAN01-T1"]))
            out = await fix.collect()
            assert [flat(m) for m in out] == ["55=KXNOPE-26JAN01-T1|268=0"]
    run(scenario())


def test_snapshot_only_request_sends_one_w_per_symbol_and_no_updates(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with md(fx) as fix:
            fix.send("V", snapshot([A, B, A]))  # a symbol named twice gets one W
            assert [(m.msg_type, m.get(55)) for m in await fix.collect()] == [("W", A), ("W", B)]
            place(fx, order("alice", "b1", A, Side.BUY, 40, 1))
            assert await fix.collect() == []
    run(scenario())


def test_restricted_keys_may_use_market_data(fix_exchange):
    async def scenario():
        async with md(fix_exchange, "restricted") as fix:
            fix.send("V", subscribe([A]))
            assert kinds(await fix.collect()) == ["W"]
    run(scenario())


# --- X updates (spec 07 §4) -------------------------------------------------------------------

def test_level_changes_are_change_with_the_absolute_size_and_delete_with_zero(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with md(fx) as fix:
            fix.send("V", subscribe([A]))
            assert flat(await fix.expect("W")) == f"55={A}|268=0"
            place(fx, order("alice", "b1", A, Side.BUY, 40, 3))     # new level: 1 Change (spec 07 §4)
            place(fx, order("bob", "b2", A, Side.BUY, 40, 2))       # same level grows to 5
            place(fx, order("bob", "s1", A, Side.SELL, 70, 1))
            date, tm = stamp(T0)
            out = await fix.collect()
            assert [flat(m) for m in out] == [
                f"268=1|279=1|55={A}|269=0|270=0.4000|271=3.00|272={date}|273={tm}",
                f"268=1|279=1|55={A}|269=0|270=0.4000|271=5.00|272={date}|273={tm}",
                f"268=1|279=1|55={A}|269=1|270=0.7000|271=1.00|272={date}|273={tm}"]
            ex = venue(fx).exchange
            fx.call(lambda: venue(fx).dispatch(ex.cancel_order("alice", "b1", "c1", side=Side.BUY, symbol=A,
                                                               now=T0)))
            fx.call(lambda: venue(fx).dispatch(ex.cancel_order("bob", "b2", "c2", side=Side.BUY, symbol=A, now=T0)))
            changed, deleted = x_entries(await fix.collect())
            assert (changed.action, changed.size) == ("1", Decimal("2"))
            assert (deleted.action, deleted.entry_type, deleted.price, str(deleted.size)) == \
                ("2", "0", Decimal("0.4"), "0.00")
    run(scenario())


def test_a_trade_comes_first_with_the_yes_price_size_and_aggressor_side_then_the_levels(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with md(fx) as fix:
            fix.send("V", subscribe([A]))
            await fix.expect("W")
            async with fx.client("bob", options=NO_PENDING) as bob:
                bob.send("D", new_order("s1", A, "sell", 55, 4))
                await bob.expect("8")
                await fix.collect()  # the offer's own X
                async with fx.client("alice", options=NO_PENDING) as alice:
                    alice.send("D", new_order("b1", A, "buy", 60, 10))  # takes 4 at 55¢, rests 6 at 60¢
                    await alice.expect("8")
                    alice.send("D", new_order("b2", A, "buy", 61, 1))
                    await alice.expect("8")
                    bob.send("D", new_order("s2", A, "sell", 60, 2))   # a seller takes 1 at 61¢ and 1 at 60¢
                    await bob.expect("8")
            out = await fix.collect()
        first, second, third = out
        e = parse_entries(first)
        assert [(x.action, x.entry_type, x.price, x.size, x.aggressor_side) for x in e] == [
            ("0", "2", Decimal("0.55"), Decimal("4"), "1"),          # trade: taker bought YES
            ("1", "0", Decimal("0.60"), Decimal("6"), None),         # the taker's rest
            ("2", "1", Decimal("0.55"), Decimal("0"), None)]         # the offer it emptied
        assert re.fullmatch(r"\d{8}", e[0].date) and re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", e[0].time)
        assert "|2446=1" in flat(first) and flat(first).index("|2446=1") < flat(first).index("|279=1")
        assert [(x.entry_type, x.price) for x in parse_entries(second)] == [("0", Decimal("0.61"))]
        e = parse_entries(third)  # one X for the whole sweep: every trade first
        assert [(x.action, x.entry_type, x.price, x.size, x.aggressor_side) for x in e] == [
            ("0", "2", Decimal("0.61"), Decimal("1"), "2"),           # taker sold YES
            ("0", "2", Decimal("0.60"), Decimal("1"), "2"),
            ("2", "0", Decimal("0.61"), Decimal("0"), None),
            ("1", "0", Decimal("0.60"), Decimal("5"), None)]
    run(scenario())


def test_one_session_gets_one_x_per_batch_for_all_its_markets(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with md(fx) as fix, md(fx, "dave") as other:
            fix.send("V", subscribe([A, B]))
            other.send("V", subscribe([B]))
            assert kinds(await fix.collect()) == ["W", "W"] and kinds(await other.collect()) == ["W"]
            session = "prediction/NR/test"
            place(fx, order("alice", "a1", A, Side.BUY, 40, 1, session=session),
                  order("alice", "b1", B, Side.BUY, 30, 1, session=session))
            await fix.collect(), await other.collect()
            fx.call(lambda: venue(fx).dispatch(venue(fx).exchange.mass_cancel("alice", session, T0)))
            mine, theirs = await fix.collect(), await other.collect()
            assert kinds(mine) == ["X"] and [(e.symbol, e.action) for e in x_entries(mine)] == [(A, "2"), (B, "2")]
            assert [(e.symbol, e.action) for e in x_entries(theirs)] == [(B, "2")]
    run(scenario())


def test_unsubscribe_one_symbol_stops_only_its_updates_without_a_reply(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with md(fx) as fix:
            fix.send("V", subscribe([A, B]))
            await fix.collect()
            fix.send("V", unsubscribe([A, "KXNOT-SUBSCRIBED"]))
            assert await fix.collect() == []
            place(fx, order("alice", "a1", A, Side.BUY, 40, 1), order("alice", "b1", B, Side.BUY, 40, 1))
            assert [e.symbol for e in x_entries(await fix.collect())] == [B]
    run(scenario())


def test_unsubscribe_without_146_stops_every_subscription(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with md(fx) as fix:
            fix.send("V", subscribe([A, B]))
            await fix.collect()
            fix.send("V", unsubscribe())
            assert await fix.collect() == []
            place(fx, order("alice", "a1", A, Side.BUY, 40, 1), order("alice", "b1", B, Side.BUY, 40, 1))
            assert await fix.collect() == []
            assert fx.call(lambda: (dict(venue(fx).services["md"].subscribers),
                                    fx.sim.venues["prediction"].exchange.book(A).changes)) == ({}, None)
    run(scenario())


def test_resubscribing_sends_a_fresh_snapshot_and_keeps_one_subscription(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with md(fx) as fix:
            fix.send("V", subscribe([A]))
            await fix.collect()
            place(fx, order("alice", "a1", A, Side.BUY, 40, 1))
            fix.send("V", subscribe([A]))
            out = await fix.collect()
            assert kinds(out) == ["X", "W"] and len(parse_entries(out[1])) == 1
            place(fx, order("alice", "a2", A, Side.BUY, 41, 1))
            assert kinds(await fix.collect()) == ["X"]
    run(scenario())


def test_a_market_created_after_the_subscription_is_published_in_full(fix_exchange):
    fx = fix_exchange
    late = "KXLATE-26JAN01-T1"

    async def scenario():
        async with md(fx) as fix:
            fix.send("V", subscribe([late]))
            assert flat(await fix.expect("W")) == f"55={late}|268=0"
            fx.call(lambda: venue(fx).exchange.add_market(Market(late)))
            fx.call(lambda: venue(fx).exchange.new_order(order("alice", "a0", late, Side.BUY, 30, 2), T0))
            place(fx, order("alice", "a1", late, Side.BUY, 40, 1))
            books = MarketDataBooks()
            books.apply_all(await fix.collect())
            assert books[late].bids == [(Decimal("0.40"), Decimal("1")), (Decimal("0.30"), Decimal("2"))]
    run(scenario())


def test_disconnect_drops_every_subscription(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with md(fx) as fix:
            fix.send("V", subscribe([A]))
            fix.send("e", security_status_request(A))
            await fix.collect()
        service = fx.call(lambda: venue(fx).services["md"])
        state = fx.call(lambda: (dict(service.subscribers), dict(service.subscriptions),
                                 dict(service.status_subscribers), venue(fx).exchange.book(A).changes))
        assert state == ({}, {}, {}, None)
    run(scenario())


# --- Y MarketDataRequestReject (spec 07 §5) ---------------------------------------------------

def test_unsupported_subscription_request_type_is_rejected_281_4(fix_exchange):
    async def scenario():
        async with md(fix_exchange) as fix:
            fix.send("V", [(263, "5"), (146, 1), (55, A)])
            y, = await fix.collect()
            assert (y.msg_type, y.get(281)) == ("Y", "4") and "SubscriptionRequestType(263)=5" in y.get(58)
    run(scenario())


def test_snapshot_or_subscribe_without_146_is_rejected_281_2(fix_exchange):
    async def scenario():
        async with md(fix_exchange) as fix:
            for body in ([(263, "1")], [(263, "0"), (146, 0)]):
                fix.send("V", body)
                y, = await fix.collect()
                assert (y.msg_type, y.get(281)) == ("Y", "2") and "NoRelatedSym(146)" in y.get(58)
    run(scenario())


def test_more_than_500_symbols_in_one_request_is_rejected_281_2(fix_exchange):
    async def scenario():
        async with md(fix_exchange) as fix:
            fix.send("V", subscribe([f"KXMANY-{i}" for i in range(501)]))
            y, = await fix.collect()
            assert (y.msg_type, y.get(281), y.get(58)) == (
                "Y", "2", "Too many symbols in one MarketDataRequest: 501, limit 500")
            fix.send("V", snapshot([f"KXMANY-{i}" for i in range(500)]))
            assert kinds(await fix.collect()) == ["W"] * 500
    run(scenario())


def test_more_subscriptions_than_the_session_limit_is_rejected_281_2_as_a_whole(fix_exchange, monkeypatch):
    monkeypatch.setattr(market_data, "MAX_SUBSCRIPTIONS_PER_SESSION", 3)

    async def scenario():
        async with md(fix_exchange) as fix:
            fix.send("V", subscribe(["S1", "S2"]))
            assert kinds(await fix.collect()) == ["W", "W"]
            fix.send("V", subscribe(["S2", "S3", "S4"]))
            y, = await fix.collect()
            assert (y.msg_type, y.get(281)) == ("Y", "2")
            assert y.get(58).startswith("Too many subscriptions for this session: 2 active + 2 new, limit 3")
            fix.send("V", subscribe(["S1", "S3"]))  # S1 again costs nothing
            assert kinds(await fix.collect()) == ["W", "W"]
    run(scenario())


def test_unsubscribe_with_a_symbol_but_no_146_is_a_session_reject_not_a_stop_all(fix_exchange):
    async def scenario():
        async with md(fix_exchange) as fix:
            fix.send("V", subscribe([A]))
            await fix.collect()
            fix.send("V", [(263, "2"), (55, A)])
            reject, = await fix.collect()
            assert (reject.msg_type, reject.get(373), reject.get(371)) == ("3", "1", "146")
    run(scenario())


# --- e / f security status (spec 07 §6) -------------------------------------------------------

def test_security_status_is_sent_on_changes_only_and_settled_ends_the_subscription(fix_exchange):
    fx = fix_exchange
    pred = lambda: venue(fx)  # noqa: E731

    async def scenario():
        async with md(fx) as fix, md(fx, "dave") as other:
            fix.send("e", security_status_request(A))
            fix.send("e", security_status_request("KXUNKNOWN-1"))  # accepted silently
            assert await fix.collect() == []  # no initial status
            assert fx.call(lambda: publish_status(pred(), A, 2)) == 1
            assert fx.call(lambda: publish_status(pred(), B, 2)) == 0
            f, = await fix.collect()
            assert flat(f) == f"55={A}|326=2"
            assert await other.collect() == []
            for code in (3, 100, 101, 3):
                fx.call(lambda c=code: publish_status(pred(), A, c))
            assert [m.get(326) for m in await fix.collect()] == ["3", "100", "101"]  # 101 ends it
            fix.send("e", security_status_request(B))
            fix.send("e", security_status_request(B, subscribe=False))
            await fix.collect()
            fx.call(lambda: publish_status(pred(), B, 2))
            assert await fix.collect() == []
    run(scenario())


def test_security_status_request_with_263_other_than_1_or_2_is_rejected_373_5(fix_exchange):
    async def scenario():
        async with md(fix_exchange) as fix:
            for value in ("0", "7"):
                fix.send("e", [(263, value), (55, A)])
                reject, = await fix.collect()
                assert (reject.msg_type, reject.get(373), reject.get(371)) == ("3", "5", "263")
    run(scenario())


def test_publish_status_before_any_md_session_is_a_no_op(fix_exchange):
    assert fix_exchange.call(lambda: publish_status(venue(fix_exchange), A, 2)) == 0


# --- margin (spec 08 §7) ----------------------------------------------------------------------

def test_margin_md_has_no_entry_timestamps_and_answers_e_with_bmr_380_3(fix_exchange):
    fx = fix_exchange
    perp = "KXPERP-TEST"
    fx.call(lambda: venue(fx, "margin").exchange.add_market(Market(perp)))
    place(fx, order("alice", "m1", perp, Side.SELL, 52, 3), product="margin")

    async def scenario():
        async with md(fx, product="margin") as fix:
            fix.send("V", subscribe([perp]))
            assert flat(await fix.expect("W")) == f"55={perp}|268=1|269=1|270=0.5200|271=3.00"
            place(fx, order("bob", "m2", perp, Side.BUY, 53, 1), product="margin")
            assert [flat(m) for m in await fix.collect()] == [
                f"268=2|279=0|55={perp}|269=2|270=0.5200|271=1.00|2446=1|279=1|55={perp}|269=1|270=0.5200|271=2.00"]
            fix.send("e", security_status_request(perp))
            bmr, = await fix.collect()
            assert (bmr.msg_type, bmr.get(380), bmr.get(372)) == ("j", "3", "e")
    run(scenario())


# --- fan-out, slow consumers, gaps (spec 07 §1) -----------------------------------------------

def _shrink_socket_buffers(fx, slow, account: str) -> None:
    """Small kernel buffers on the slow connection, so that what it leaves unread backs up into
    the gateway's send buffer after kilobytes instead of the megabytes of loopback autotuning."""
    sock = slow.driver.transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    def server_side():
        conn, = [c for c in fx.sim.connections if c.session_code == "MD" and c.user == account]
        conn.driver.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    fx.call(server_side)


class LogoutRecorder:
    """Server-side interceptor: keeps the Logouts the gateway writes (a dropped connection's
    unsent bytes, its Logout included, never reach the peer)."""

    def __init__(self, sent: list[str]) -> None:
        self.sent = sent

    def inbound(self, frame):
        return [frame]

    def outbound(self, frame):
        if b"\x0135=5\x01" in frame:
            self.sent.append(frame.decode("latin-1"))
        return [frame]


def test_a_subscriber_that_stops_reading_is_dropped_while_another_keeps_receiving(fix_exchange_factory):
    logouts: list[str] = []
    fx = fix_exchange_factory(
        interceptor_factory=lambda product, code: LogoutRecorder(logouts) if code == "MD" else None)
    fx.call(lambda: setattr(fx.sim, "max_send_buffer", 32 * 1024))

    def churn(start: int, n: int) -> None:
        """n orders resting then cancelled: two X per order for each subscriber."""
        def call():
            v = venue(fx)
            for k in range(start, start + n):
                v.dispatch(v.exchange.new_order(order("alice", f"o{k}", A, Side.BUY, 1 + k % 98, 1), T0))
                v.dispatch(v.exchange.cancel_order("alice", f"o{k}", f"c{k}", side=Side.BUY, symbol=A, now=T0))
        fx.call(call)

    def md_users() -> list[str]:
        return fx.call(lambda: sorted(c.user for c in fx.sim.connections if c.session_code == "MD"))

    async def scenario():
        async with md(fx) as slow, md(fx, "dave") as fast:
            for c in (slow, fast):
                c.send("V", subscribe([A]))
                await c.collect()
            _shrink_socket_buffers(fx, slow, "carol")
            slow.driver.transport.pause_reading()
            received = rounds = 0
            while "carol" in md_users():
                assert rounds < 200, "the slow consumer was never dropped"
                churn(rounds * 50, 50)
                received += len(await fast.collect())
                rounds += 1
            churn(rounds * 50, 50)  # the fast one still gets every update
            received += len(await fast.collect())
            assert received == (rounds + 1) * 100 and fast.is_active and md_users() == ["dave"]
            subs = fx.call(lambda: [list(s) for s in venue(fx).services["md"].subscribers.values()])
            assert [[c.user for c in s] for s in subs] == [["dave"]]
            assert len(logouts) == 1 and "\x0158=Slow consumer: more than 32768 bytes unread" in logouts[0]
            slow.driver.transport.resume_reading()
            await slow.wait_closed()
    run(scenario())


def test_a_sequence_gap_from_the_client_ends_the_md_session(fix_exchange):
    carol = fix_exchange.accounts["carol"]

    async def scenario():
        conn = await RawConnection.open(fix_exchange, "prediction", "MD")
        conn.send(logon(carol, "KalshiMD"))
        assert (await conn.read()).get(35) == "A"
        conn.send(message(carol, "KalshiMD", "V", 2, subscribe([A])))
        assert (await conn.expect("W")).get(55) == A
        conn.send(message(carol, "KalshiMD", "V", 5, subscribe([B])))
        out = await conn.read_until_closed()
        assert out[-1].get(35) == "5" and out[-1].get(58) == (
            "MsgSeqNum too high, expecting 3 but received 5; KalshiMD has no retransmission: "
            "reconnect with ResetSeqNumFlag=Y")
    run(scenario())
    assert fix_exchange.call(lambda: dict(venue(fix_exchange).services["md"].subscribers)) == {}


def test_a_lost_update_is_a_gap_that_ends_the_session_and_a_fresh_subscription_resyncs(fix_exchange):
    fx = fix_exchange


    async def scenario():
        fix = md(fx, interceptor=DropFirst("X"))
        await fix.connect()
        fix.send("V", subscribe([A]))
        await fix.expect("W")
        place(fx, order("alice", "a1", A, Side.BUY, 40, 1))   # this X is lost on the way
        place(fx, order("alice", "a2", A, Side.BUY, 41, 1))   # the next one reveals the gap
        gone = await fix.wait_closed()
        assert gone.reason == "seq_gap", gone
        await fix.connect()  # reconnect with reset, drop the books, subscribe again (spec 07 §1)
        books = MarketDataBooks()
        fix.send("V", subscribe([A]))
        books.apply(await fix.expect("W"))
        assert books[A].bids == [(Decimal("0.41"), Decimal("1")), (Decimal("0.40"), Decimal("1"))]
        await fix.close()
    run(scenario())


# --- the key test: a random flow rebuilt from W + X equals the engine ------------------------

def _engine_levels(ex, symbol):
    book = ex.book(symbol)
    conv = lambda levels: [(Decimal(p) / 10_000, Decimal(q) / 100) for p, q, _ in levels]  # noqa: E731
    return conv(book.levels(Side.BUY)), conv(book.levels(Side.SELL))


class RandomFlow:
    """A seeded mix of orders, cancels, replaces and mass cancels by four accounts on two
    markets (a whole-cent one and a deci-cent fractional one), dispatched like the gateway."""

    ACCOUNTS = ("alice", "bob", "carol", "dave")
    SYMBOLS = (A, FRAC)

    def __init__(self, fx, seed: int) -> None:
        self.fx = fx
        self.rng = random.Random(seed)
        self.now = T0
        self.n = 0
        self.counts = {"orders": 0, "cancels": 0, "replaces": 0, "mass": 0, "trades": 0}
        self.traded = {s: Decimal(0) for s in self.SYMBOLS}  # taker volume per market
        self.counting = False

    def _price(self, symbol, side, book) -> int:
        rng = self.rng
        if symbol == A:
            mid = 5000 + rng.randint(-15, 15) * 100
            return max(100, min(9900, mid + (rng.randint(0, 3) * 100 if rng.random() < 0.2 else 0)))
        return max(10, min(9990, 5000 + rng.randint(-150, 150) * 10))

    def _qty(self, symbol) -> int:
        return self.rng.randint(1, 1000) if symbol == FRAC else self.rng.randint(1, 10) * 100

    def step(self, ex) -> list:
        rng = self.rng
        self.n += 1
        self.now += 0.001
        roll = rng.random()
        account = rng.choice(self.ACCOUNTS)
        session = f"flow/{account}"
        opens = ex.open_orders()
        if roll < 0.55 or not opens:
            symbol = rng.choice(self.SYMBOLS)
            side = rng.choice((Side.BUY, Side.SELL))
            tif = rng.choice((TimeInForce.GTC,) * 8 + (TimeInForce.IOC, TimeInForce.FOK))
            req = OrderRequest(account, f"o{self.n}", symbol, side, self._price(symbol, side, ex.book(symbol)),
                               self._qty(symbol), tif=tif, post_only=rng.random() < 0.05,
                               stp=rng.choice((STP.TAKER_AT_CROSS, STP.MAKER)), session=session)
            self.counts["orders"] += 1
            return ex.new_order(req, self.now)
        target = rng.choice(opens)
        if roll < 0.78:
            self.counts["cancels"] += 1
            out = ex.cancel_order(target.account, target.client_order_id, f"c{self.n}", side=target.side,
                                  symbol=target.symbol, now=self.now)
        elif roll < 0.99:
            self.counts["replaces"] += 1
            unit = 100 if target.symbol == A else 1
            qty = target.cum + rng.randint(1, 10) * unit if rng.random() < 0.7 else max(target.cum + unit,
                                                                                     target.qty - unit)
            price = target.price if rng.random() < 0.4 else self._price(target.symbol, target.side, None)
            out = ex.replace_order(target.account, target.client_order_id, f"r{self.n}", qty=qty, price=price,
                                   side=target.side, symbol=target.symbol, now=self.now)
        else:
            self.counts["mass"] += 1
            out = ex.mass_cancel(target.account, target.session, self.now)
        return out if isinstance(out, list) else []

    def run(self, steps: int) -> None:
        def call():
            v = venue(self.fx)
            for _ in range(steps):
                events = self.step(v.exchange)
                if self.counting:
                    for ev in events:
                        if isinstance(ev, Traded) and ev.fill.aggressor:
                            self.counts["trades"] += 1
                            self.traded[ev.order.symbol] += Decimal(ev.fill.qty) / 100
                v.dispatch(events)
            v.exchange.check_invariants()
        self.fx.call(call)


def test_a_book_rebuilt_from_w_and_x_equals_the_engine_after_a_seeded_random_flow(fix_exchange):
    fx = fix_exchange
    for name in RandomFlow.ACCOUNTS:
        fx.call(lambda n=name: venue(fx).exchange.deposit(n, 10**12))
    flow = RandomFlow(fx, seed=20260704)

    async def scenario():
        async with md(fx) as fix, md(fx, "margin_only", product="margin") as unrelated:
            flow.run(200)  # a book to snapshot
            books = MarketDataBooks()
            fix.send("V", subscribe(list(RandomFlow.SYMBOLS)))
            books.apply_all(await fix.collect())
            assert all(books[s].snapshots == 1 for s in RandomFlow.SYMBOLS)
            flow.counting = True
            for _ in range(40):
                flow.run(50)
                books.apply_all(fix.drain())
                await asyncio.sleep(0)
            books.apply_all(await fix.collect())
            assert await unrelated.collect() == []
        for symbol in RandomFlow.SYMBOLS:
            bids, asks = fx.call(lambda s=symbol: _engine_levels(venue(fx).exchange, s))
            assert (books[symbol].bids, books[symbol].asks) == (bids, asks), symbol
            assert bids or asks
            assert sum(t.size for t in books[symbol].trades) == flow.traded[symbol]
        assert flow.counts["orders"] >= 1_000 and flow.counts["trades"] >= 100, flow.counts
        assert min(flow.counts.values()) > 0, flow.counts
    run(scenario(), timeout=120)
