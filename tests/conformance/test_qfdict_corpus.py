"""Every frame the simulator exchanges, in both directions, validates against the QuickFIX data
dictionaries `kalshi-fixsim dictionary` writes (issue 17 §3): so a QuickFIX, QuickFIX/J or
quickfixgo client with UseDataDictionary=Y accepts what the venue sends.

Each test drives one area with the reference client (and raw frames for the session rejects),
then validates the simulator's transcript (tests/qfdict_check.py, a QuickFIX-style validator
over the parsed XML; and QuickFIX C++ itself where libquickfix-dev or the `quickfix` bindings
are installed) and checks that the area's message types were actually produced.
"""
from __future__ import annotations

import pytest

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.dropcopy import request_replay
from kalshi_fixsim.client.orderbook import security_status_request, subscribe
from kalshi_fixsim.client.orders import cancel_order, mass_cancel, new_order, order_group, replace_order
from kalshi_fixsim.client.rfq import accept_quote, quote, quote_cancel, quote_confirm, quote_request, rfq_cancel
from kalshi_fixsim.fixproto.codec import parse
from kalshi_fixsim.fixproto.qfdict import write_dictionaries
from kalshi_fixsim.simulator.gateway import post_trade
from kalshi_fixsim.simulator.gateway import rfq as rfq_gateway
from kalshi_fixsim.simulator.gateway.market_data import publish_status
from tests.qfdict_check import QuickFixCpp, QuickFixEngine, Validator, load
from tests.wire import RawConnection, logon, message, run

A = "KXTEST-26JAN01-A"
B = "KXTEST-26JAN01-B"
PENDING = LogonOptions()  # pending reports on: ExecID -1;-1, ExecType A/E/6
RICH = LogonOptions(always_emit_new_before_trade=True, split_collateral_return=True, enable_ioc_cancel_report=True,
                    cancel_orders_on_disconnect=True)


@pytest.fixture(scope="module")
def validator(tmp_path_factory) -> Validator:
    """The XML-reading validator; where QuickFIX C++ is installed (Debian's libquickfix-dev, or
    the Python bindings `pip install quickfix-tls`), QuickFIX itself checks every frame too."""
    out = tmp_path_factory.mktemp("dict")
    transport, app = write_dictionaries(out)
    v = Validator(load(transport), load(app))
    v.engine = QuickFixEngine.load(transport, app)
    v.cpp = QuickFixCpp.build(out, transport, app)
    return v


def validate_transcript(fx, validator: Validator, *, inbound: bool = True) -> dict[tuple[str, str], int]:
    """Validate every recorded frame (inbound ones too unless `inbound` is False: a test that
    sends bad frames on purpose); return {(direction, MsgType): count}."""
    entries = fx.call(lambda: list(fx.sim.transcript.entries))
    cpp = validator.cpp.problems([e.frame for e in entries]) if validator.cpp is not None else [None] * len(entries)
    seen: dict[tuple[str, str], int] = {}
    failures = []
    for entry, cpp_problem in zip(entries, cpp):
        direction, endpoint, frame = entry.direction, entry.endpoint, entry.frame
        msg = parse(frame)
        problems = validator.validate(msg.pairs)
        if validator.engine is not None:
            engine_problem = validator.engine.problem(frame)
            problems += [f"QuickFIX: {engine_problem}"] if engine_problem else []
        problems += [f"QuickFIX C++: {cpp_problem}"] if cpp_problem else []
        if problems and (inbound or direction == "out"):
            failures.append(f"{direction} {endpoint} {frame.decode('latin-1').replace(chr(1), '|')}: {problems}")
        key = (direction, msg.msg_type)
        seen[key] = seen.get(key, 0) + 1
    assert not failures, "\n".join(failures[:10])
    return seen


def out_types(seen) -> set[str]:
    return {t for d, t in seen if d == "out"}


def sent(fx) -> list:
    """Every message the simulator sent, parsed."""
    return [parse(e.frame) for e in fx.call(lambda: list(fx.sim.transcript.entries)) if e.direction == "out"]


def tags_sent(fx) -> set[int]:
    """Every tag the simulator sent (the corpus must reach the groups and Kalshi's own tags)."""
    return {t for m in sent(fx) for t, _ in m.pairs}


def test_order_entry_traffic_validates(fix_exchange, validator):
    fx = fix_exchange

    async def scenario():
        async with fx.client("bob", options=RICH) as bob, fx.client("alice", options=PENDING) as alice:
            alice.send("D", new_order("o1", A, "buy", 40, 10))                  # A + 0: rests
            await alice.collect()
            bob.send("D", new_order("b1", A, "sell", 40, 4))                    # trades: F on both
            await bob.collect(), await alice.collect()
            alice.send("G", replace_order("o2", "o1", A, "buy", 8, price=41))  # E + 5
            await alice.collect()
            alice.send("F", cancel_order("o3", "o2", A, "buy"))                # 6 + 4
            await alice.collect()
            alice.send("F", cancel_order("o4", "nope", A, "buy"))              # OrderCancelReject
            alice.send("D", new_order("o5", "KXNOPE-1", "buy", 40, 1))         # 8: unknown symbol
            alice.send("D", new_order("o6", B, "buy", 30, 2))
            alice.send("q", mass_cancel("m1"))                                 # r
            alice.send("UOG", order_group("create", limit=5))                  # UOH
            alice.send("V", subscribe([A]))                                    # BMR: not on NR
            alice.send("1", [(112, "probe")])                                  # Heartbeat 112=probe
            await alice.collect()
            bob.send("D", new_order("b2", B, "sell", 45, 3, tif="ioc"))        # IOC cancel report
            await bob.collect()
        async with fx.client("carol", product="margin", options=PENDING) as carol:
            carol.send("D", new_order("c1", "ETH-PERP", "buy", "3500.0000", 1))
            await carol.collect()
    run(scenario())
    seen = validate_transcript(fx, validator)
    assert {"A", "8", "9", "r", "UOH", "j", "0", "5"} <= out_types(seen)
    # trade reports with their fee and collateral groups, the IOC cancel, the reject reasons
    assert {31, 32, 136, 137, 1703, 1704, 880, 1057, 102, 103, 380} <= tags_sent(fx)
    assert {"A", "D", "G", "F", "q", "UOG", "V", "1", "5"} <= {t for d, t in seen if d == "in"}


def test_session_level_answers_validate(fix_exchange, validator):
    fx = fix_exchange
    alice = fx.accounts["alice"]

    async def scenario():
        raw = await RawConnection.open(fx, "prediction", "NR")
        raw.send(logon(alice, "KalshiNR"))
        await raw.expect("A")
        raw.send(message(alice, "KalshiNR", "F", 2, [(11, "x"), (41, "y"), (54, "1"), (55, A), (424242, "x")]))
        await raw.expect("3")                                                   # Reject 373=3
        raw.send(message(alice, "KalshiNR", "D", 3, [(11, "x")]))
        await raw.expect("3")                                                   # Reject 373=1
        raw.send(message(alice, "KalshiNR", "5", 4))
        await raw.expect("5")
        await raw.read_until_closed()
        async with fx.client("alice", session="RT") as rt:                     # RT: resend with gap fill
            rt.send("D", new_order("r1", A, "buy", 40, 1))
            await rt.collect()
            rt.send("2", [(7, 1), (16, 0)])
            await rt.collect()
    run(scenario())
    seen = validate_transcript(fx, validator, inbound=False)
    assert {"A", "3", "5", "4", "8"} <= out_types(seen) and ("in", "2") in seen
    # what the venue rejected, a validating QuickFIX engine would have refused to parse too
    frames = [e.frame for e in fx.call(lambda: list(fx.sim.transcript.entries))
              if e.direction == "in" and parse(e.frame).get(34) in ("2", "3") and parse(e.frame).get(56) == "KalshiNR"]
    assert [validator.validate(parse(f).pairs)[0].split(":")[0] for f in frames] == ["424242", "NewOrderSingle"]
    if validator.cpp is not None:  # and so does QuickFIX C++ itself
        answers = validator.cpp.problems(frames)
        assert answers[0].startswith("Invalid tag number") and answers[1].startswith("Required tag missing")


def test_market_data_and_drop_copy_and_settlement_traffic_validates(fix_exchange, validator):
    fx = fix_exchange
    pred = fx.sim.venues["prediction"]

    async def scenario():
        async with fx.client("carol", session="MD") as md:
            md.send("V", subscribe([A, B]))
            md.send("e", security_status_request(A))
            await md.collect()
            async with fx.client("alice") as alice, fx.client("bob") as bob:
                alice.send("D", new_order("o1", A, "buy", 40, 5))
                await alice.collect()
                bob.send("D", new_order("b1", A, "sell", 40, 5))               # X with a trade entry
                await bob.collect()
                exec_ids = [m.get(17) for m in await alice.collect() if m.get(35) == "8" and m.get(17) != "-1;-1"]
            await md.collect()
            fx.call(lambda: publish_status(pred, A, 2))                         # f
            await md.collect()
            async with fx.client("alice_listener", session="DC") as dc, fx.client("alice", session="PT") as pt:
                replay = await request_replay(dc, exec_ids[0])                  # ER replay + U2
                assert replay.ok and replay.reports, replay.reject
                fx.call(lambda: post_trade.settle_market(pred, A, "yes", None, fx.sim.clock.now()))
                await pt.collect()                                              # UMS
    run(scenario())
    seen = validate_transcript(fx, validator)
    assert {"W", "X", "f", "U2", "UMS", "8"} <= out_types(seen)


def test_rfq_traffic_validates(fix_exchange, validator):
    fx = fix_exchange
    venue = fx.sim.venues["prediction"]

    async def scenario():
        async with fx.client("alice", session="RT") as rt, fx.client("bob", session="RFQ") as mm:
            rt.send("R", quote_request("cr-1", A, 40))
            rfq_id = (await rt.expect("b")).get(21023)
            await mm.expect("R")
            mm.send("S", quote("q-1", rfq_id, A, yes=75, no=25))
            await mm.expect("AI")
            await rt.expect("S")
            rt.send("UA", accept_quote("q-1", 1, rfq_id=rfq_id, cl_ord_id="acc-1"))
            await rt.expect("UC")
            await mm.expect("AI")
            mm.send("U7", quote_confirm("q-1", rfq_id))
            await mm.expect("U8")
            fx.call(lambda: rfq_gateway.tick(venue, fx.sim.clock.now() + 16))   # execution: fills
            await rt.collect(), await mm.collect()
            rt.send("R", quote_request("cr-2", B, 10))
            rfq2 = (await rt.expect("b")).get(21023)
            await mm.expect("R")
            mm.send("S", quote("q-2", rfq2, B, yes=60, no=30))
            await mm.expect("AI")
            mm.send("Z", quote_cancel("q-2", rfq2))                             # U9 + AI cancelled
            await mm.collect()
            rt.send("UE", rfq_cancel("cr-2", rfq2))                             # UB, AG to makers
            await rt.collect(), await mm.collect()
    run(scenario())
    seen = validate_transcript(fx, validator)
    assert {"b", "R", "AI", "S", "UC", "U8", "U9", "UB", "AG", "8"} <= out_types(seen)
    assert {"R", "S", "UA", "U7", "Z", "UE"} <= {t for d, t in seen if d == "in"}


def test_operations_listeners_and_margin_traffic_validates(fix_exchange, validator):
    fx = fix_exchange
    expired = LogonOptions(skip_pending_exec_reports=True, use_expired_ord_status=True, cancel_order_on_pause=True)

    async def scenario():
        async with fx.client("alice_listener", session="RT",
                             options=LogonOptions(listener_session=True, skip_pending_exec_reports=True)) as listener, \
                fx.client("alice", options=expired) as alice, fx.client("dave", "margin", "MD") as mmd:
            mmd.send("V", subscribe(["ETH-PERP", "BTC-PERP"]))                # margin W: no entry times
            alice.send("D", new_order("o1", A, "buy", 40, 2))
            alice.send("D", new_order("o2", B, "buy", 41, 2, tif="gtc"))
            await alice.collect()
            fx.control.pause("trading")                                         # pause: refused orders
            alice.send("D", new_order("o3", A, "buy", 40, 1))
            await alice.collect()
            fx.control.resume()
            fx.control.halt_market(A)
            fx.control.close_market(B)                                          # C/C cancels (21012=Y)
            await alice.collect(), await listener.collect(), await mmd.collect()
            listener.send("D", new_order("l1", A, "buy", 40, 1))                # BMR: listener
            await listener.collect()
    run(scenario())
    seen = validate_transcript(fx, validator)
    assert {"8", "j", "W"} <= out_types(seen)
    exec_types = {m.get(150) for m in sent(fx) if m.get(35) == "8"}
    assert {"0", "8", "4", "C"} <= exec_types  # acks, the refused order, the pause and close cancels
