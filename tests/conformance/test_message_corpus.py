"""The renderer on a corpus of every MsgType the simulator sends (issue 10 §7).

The corpus is what a real simulator (the plugin's exchange) wrote to the wire while the
reference client (and a raw connection, for the session-layer paths a good client never
takes) drove every session type through the flows that make each message: read back from
the simulator's own journal. Its MsgTypes are checked against the session matrix
(`fixproto.kalshi.messages_out`, spec 00 §4), then each frame is rendered in both forms.
"""
from __future__ import annotations

import pytest

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.dropcopy import request_replay
from kalshi_fixsim.client.orderbook import market_data_request, security_status_request, subscribe
from kalshi_fixsim.client.orders import cancel_order, mass_cancel, new_order, order_group
from kalshi_fixsim.client.rfq import accept_quote, quote, quote_cancel, quote_confirm, quote_request, rfq_cancel
from kalshi_fixsim.fixproto.codec import parse
from kalshi_fixsim.fixproto.fields import MSG_TYPE_NAMES, TAG_NAMES
from kalshi_fixsim.fixproto.kalshi import PRODUCTS, messages_out, session_types
from kalshi_fixsim.fixproto.render import render_block, render_line
from kalshi_fixsim.simulator.config import JournalConfig
from kalshi_fixsim.simulator.gateway import post_trade
from tests.wire import RawConnection, logon, message, run

A = "KXTEST-26JAN01-A"
B = "KXTEST-26JAN01-B"
OPTS = LogonOptions(skip_pending_exec_reports=True)


def server_test_request(fx, user: str, code: str) -> None:
    """The server's own TestRequest on a user's session (the Session API the fault kit uses)."""
    def go():
        conn = next(c for c in fx.sim.connections if c.user == user and c.session_code == code)
        conn.driver.session.test_request(fx.sim.clock.now(), "corpus")
        conn.driver.pump()
    fx.call(go)


async def order_entry(fx):
    async with fx.client("alice", options=OPTS) as nr, fx.client("bob", options=OPTS) as bob:
        nr.send("D", new_order("c1", A, "buy", 40, 2))
        await nr.expect("8")                                          # 8 New
        bob.send("D", new_order("b1", A, "sell", 40, 1))
        await nr.expect("8")                                          # 8 Trade
        nr.send("F", cancel_order("c2", "nope", A, "buy"))
        await nr.expect("9")                                          # 9 unknown order
        nr.send("q", mass_cancel("m1"))
        await nr.expect("r")                                          # r
        nr.send("UOG", order_group("create", limit=10))
        await nr.expect("UOH")                                        # UOH
        nr.send("U1", [(21001, "1;1")])
        await nr.expect("j")                                          # j: not on NR
        nr.send("1", [])
        await nr.expect("3")                                          # 3: TestRequest without 112
        server_test_request(fx, "alice", "NR")                         # 1, answered by the client
        await nr.collect()                                            # 0: the reply to the client's TestRequest
    # leaving the block: Logout 5 from the server


async def margin(fx):
    async with fx.client("alice", "margin", "NR", options=OPTS) as nr:
        nr.send("D", new_order("mg1", "ETH-PERP", "buy", "3400", 1))
        await nr.collect()


async def resend_paths(fx):
    bob = fx.accounts["dave"]  # runs last: a raw close leaves the key busy for a moment
    conn = await RawConnection.open(fx, "prediction", "RT")
    conn.send(logon(bob, "KalshiRT"))
    await conn.expect("A")
    conn.send(message(bob, "KalshiRT", "2", 2, [(7, 1), (16, 0)]))
    await conn.expect("4")                                            # 4: the Logon is gap-filled
    conn.send(message(bob, "KalshiRT", "1", 9, [(112, "gap")]))
    await conn.expect("2")                                            # 2: 3..8 are missing
    conn.close()


async def drop_copy(fx):
    async with fx.client("alice_listener", session="DC") as dc:
        ok = await request_replay(dc, "1;1")
        assert ok.complete is not None                                # U2 (and the replayed 8s)
        bad = await request_replay(dc, "1;5", "1;2")
        assert bad.reject is not None and bad.reject.get(35) == "U3"  # U3


async def market_data(fx):
    async with fx.client("dave", session="MD") as md, fx.client("carol", options=OPTS) as nr:
        md.send("V", subscribe([A]))
        await md.expect("W")                                          # W
        nr.send("D", new_order("d1", A, "buy", 30, 1))
        await nr.expect("8")
        await md.expect("X")                                          # X
        md.send("V", market_data_request("9", [A]))
        await md.expect("Y")                                          # Y
        md.send("e", security_status_request(A))
        await md.collect()
        fx.control.halt_market(A)
        await md.expect("f")                                          # f on a status change
        fx.control.resume_market(A)
        await md.expect("f")


async def rfq(fx):
    async with fx.client("alice", session="RT") as rt, fx.client("bob", session="RFQ") as mm:
        rt.send("R", quote_request("cr-1", A, 40))
        rfq_id = (await rt.expect("b")).get(21023)                    # b
        await mm.expect("R")                                          # R to the maker
        mm.send("S", quote("q-1", rfq_id, A, yes=75, no=25))
        await mm.expect("AI")                                         # AI
        await rt.expect("S")                                          # S to the creator
        rt.send("UA", accept_quote("q-1", 1, rfq_id=rfq_id, cl_ord_id="acc-1"))
        await rt.expect("UC")                                         # UC
        mm.send("U7", quote_confirm("q-1", rfq_id))
        await mm.expect("U8")                                         # U8
        rt.send("R", quote_request("cr-2", B, 10))
        second = (await rt.expect("b")).get(21023)
        await mm.expect("R")
        mm.send("S", quote("q-2", second, B, yes=60, no=30))
        await mm.expect("AI")
        mm.send("Z", quote_cancel("q-2", second))
        await mm.expect("U9")                                         # U9
        rt.send("UE", rfq_cancel(rfq_id=second))
        await rt.expect("UB")                                         # UB
        await mm.expect("AG")                                         # AG to the maker
        rt.send("R", quote_request("cr-3", "KXNOPE-1", 10))
        await rt.expect("AG")                                         # AG to the creator


async def settlement(fx):
    async with fx.client("carol", options=OPTS) as c, fx.client("bob", options=OPTS) as d:
        c.send("D", new_order("s1", B, "buy", 50, 1))
        await c.expect("8")
        d.send("D", new_order("s2", B, "sell", 50, 1))
        await d.expect("8")
    async with fx.client("carol", session="PT") as pt:
        fx.call(lambda: post_trade.settle_market(fx.sim.venues["prediction"], B, "yes", None, fx.sim.clock.now()))
        await pt.expect("UMS")                                        # UMS


@pytest.fixture(scope="module")
def corpus(fix_material):
    """Every frame the simulator sent while the flows above ran, as (product, session, frame)."""
    from kalshi_fixsim.simulator.pytest_plugin import FixExchange, make_test_config
    from kalshi_fixsim.simulator.server import SimulatorThread

    ca_file, accounts, tls = fix_material
    runner = SimulatorThread(make_test_config(accounts, tls, journal=JournalConfig(max_entries=100_000,
                                                                                   max_bytes=64 * 1024 * 1024)))
    runner.start()
    try:
        fx = FixExchange(runner, accounts, ca_file)
        for flow in (order_entry, margin, drop_copy, market_data, rfq, settlement, resend_paths):
            run(flow(fx))
        entries = fx.call(lambda: list(fx.sim.transcript.entries))
    finally:
        runner.stop()
    return [(e.endpoint.split("/")[0], e.endpoint.split("/")[1], e.frame) for e in entries if e.direction == "out"]


def test_corpus_holds_every_msgtype_the_session_matrix_says_the_simulator_sends(corpus):
    sent = {parse(frame).get(35) for _, _, frame in corpus}
    matrix = set().union(*(messages_out(p, st.code) for p in PRODUCTS for st in session_types(p)))
    assert matrix - sent == set(), "never sent by the flows"
    assert sent - matrix == set(), "sent but missing from the session matrix"
    for product, code, frame in corpus:  # and each on a session the matrix allows
        assert parse(frame).get(35) in messages_out(product, code), (product, code, frame)


def test_every_frame_of_the_corpus_renders_readably_in_one_line(corpus):
    for _, _, frame in corpus:
        msg = parse(frame)
        line = render_line(frame)
        msg_type = msg.get(35)
        assert line.startswith(f"35={msg_type}({MSG_TYPE_NAMES[msg_type]}) "), line
        assert "\n" not in line
        for tag, value in msg.pairs:
            if tag in (8, 9, 10, 35):
                continue
            name = TAG_NAMES.get(tag)
            shown = f"{tag}({name})={value}" if name else f"{tag}={value}"
            assert shown in line, (shown, line)


def test_every_frame_of_the_corpus_renders_as_an_aligned_block_with_every_field(corpus):
    for _, _, frame in corpus:
        msg = parse(frame)
        rows = render_block(frame).splitlines()
        assert len(rows) == len(msg.pairs)
        for row, (tag, value) in zip(rows, msg.pairs):
            words = row.replace("- ", "", 1).split()
            assert words[0] == str(tag) and value in row
            if tag in TAG_NAMES:
                assert words[1] == TAG_NAMES[tag]
