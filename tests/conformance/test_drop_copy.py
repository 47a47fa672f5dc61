"""Drop copy (KalshiDC, spec 04) over TLS with the reference client: replays equal, body for
body, what the order-entry session received; EventResendComplete / EventResendReject; the
session-level answers; both products; history across a simulator restart."""
from __future__ import annotations

import asyncio
import random
import time
from decimal import Decimal

import pytest

from kalshi_fixsim.client.dropcopy import Replay, event_resend_request, exec_id_key, request_replay
from kalshi_fixsim.client.orders import cancel_order, new_order, replace_order
from kalshi_fixsim.fixproto.codec import FixMessage
from kalshi_fixsim.simulator.engine.exchange import Exchange
from kalshi_fixsim.simulator.gateway import drop_copy
from kalshi_fixsim.simulator.gateway.venue import Venue
from kalshi_fixsim.simulator.history import WINDOW_SECONDS, MemoryHistory
from kalshi_fixsim.simulator.pytest_plugin import FixExchange, make_test_config
from kalshi_fixsim.simulator.server import SimulatorThread
from kalshi_fixsim.simulator.world import later
from tests.wire import run

A = "KXTEST-26JAN01-A"
SHARD = "KXSHARD-26JAN01-T1"  # exchange index 2
HEADER = {8, 9, 34, 49, 52, 56, 10, 43, 97, 122}  # what a replay may change: the header and trailer


def body_of(msg: FixMessage) -> list[tuple[int, str]]:
    return [(t, v) for t, v in msg.pairs if t not in HEADER]


def executions(messages) -> list[FixMessage]:
    """The ExecutionReports drop copy keeps: every 35=8 except pending/rejected (-1;-1)."""
    return [m for m in messages if m.get(35) == "8" and m.get(17) != "-1;-1"]


async def place(fix, *args, **kwargs) -> list[FixMessage]:
    fix.send("D", new_order(*args, **kwargs))
    return await fix.collect()


async def trading_story(fx, symbol: str = A, prefix: str = "") -> list[FixMessage]:
    """alice's NR session: an order that rests, is partly filled, amended and cancelled, and one
    that fills on arrival. Returns every message alice's session received."""
    received: list[FixMessage] = []
    async with fx.client("bob") as bob, fx.client("alice") as alice:
        received += await place(alice, prefix + "o1", symbol, "buy", 40, 10)       # rests
        await place(bob, prefix + "b1", symbol, "sell", 40, 4)                     # partial fill of o1
        received += await alice.collect()
        alice.send("G", replace_order(prefix + "o2", prefix + "o1", symbol, "buy", 8, price=41))
        received += await alice.collect()
        alice.send("F", cancel_order(prefix + "o3", prefix + "o2", symbol, "buy"))
        received += await alice.collect()
        await place(bob, prefix + "b2", symbol, "sell", 45, 3)                      # rests
        received += await place(alice, prefix + "o4", symbol, "buy", 45, 3)        # fills at once
    return received


def dc(fx, account: str = "alice_listener", product: str = "prediction", **kwargs):
    return fx.client(account, product=product, session="DC", **kwargs)


def assert_replay_equals(replay: Replay, originals: list[FixMessage]) -> None:
    assert replay.ok, replay.reject
    assert [m.get(17) for m in replay.reports] == [m.get(17) for m in originals]
    assert [body_of(m) for m in replay.reports] == [body_of(m) for m in originals]
    assert replay.count == len(originals)


# --- spec 04 §2-§4: the replay --------------------------------------------------------------

def test_replay_of_a_range_equals_the_order_entry_reports_body_for_body(fix_exchange):
    async def scenario():
        originals = executions(await trading_story(fix_exchange))
        kinds = [(m.get(150), m.get(39)) for m in originals]
        assert kinds == [("0", "0"), ("F", "1"), ("5", "1"), ("4", "4"), ("F", "2")]
        async with dc(fix_exchange) as fix:
            replay = await request_replay(fix, originals[0].get(17), originals[-1].get(17))
            assert_replay_equals(replay, originals)
            # New MsgSeqNums on the DC session, then the U2 naming the request (spec 04 §4).
            seqs = [int(m.get(34)) for m in replay.reports]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
            assert replay.complete.get(45) == str(replay.request_seq)
            assert int(replay.complete.get(34)) == seqs[-1] + 1
            assert all(m.get(97) is None and m.get(43) is None for m in replay.reports)
    run(scenario())


def test_replay_of_a_sub_range_has_exactly_the_exec_ids_inside_it(fix_exchange):
    async def scenario():
        originals = executions(await trading_story(fix_exchange))
        async with dc(fix_exchange) as fix:
            replay = await request_replay(fix, originals[1].get(17), originals[3].get(17))
            assert_replay_equals(replay, originals[1:4])
    run(scenario())


def test_end_exec_id_absent_replays_through_the_latest_exec_id(fix_exchange):
    async def scenario():
        originals = executions(await trading_story(fix_exchange))
        async with dc(fix_exchange) as fix:
            assert_replay_equals(await request_replay(fix, originals[2].get(17)), originals[2:])
    run(scenario())


def test_replay_holds_only_the_accounts_own_reports(fix_exchange):
    async def scenario():
        originals = executions(await trading_story(fix_exchange))
        async with dc(fix_exchange, "bob_listener") as fix:
            replay = await request_replay(fix, originals[0].get(17))
            # bob's: b1 trades at once, b2 rests and is filled later.
            assert replay.ok and replay.count == len(replay.reports) == 3
            assert [(m.get(11), m.get(150)) for m in replay.reports] == [("b1", "F"), ("b2", "0"), ("b2", "F")]
    run(scenario())


def test_empty_range_inside_the_window_completes_with_count_zero(fix_exchange):
    async def scenario():
        originals = executions(await trading_story(fix_exchange))
        async with fix_exchange.client("bob") as bob:   # a later ExecID that is not alice's
            later = executions(await place(bob, "b9", A, "buy", 30, 1))[0].get(17)
        async with dc(fix_exchange) as fix:
            replay = await request_replay(fix, later)        # nothing of alice's from there on
            assert replay.ok and replay.count == 0 and replay.reports == []
            replay = await request_replay(fix, later, later)
            assert replay.ok and replay.count == 0
            assert exec_id_key(later) > exec_id_key(originals[-1].get(17))
    run(scenario())


def test_replay_covers_one_exchange_index_named_by_begin_exec_id(fix_exchange):
    async def scenario():
        on_zero = executions(await trading_story(fix_exchange))
        on_two = executions(await trading_story(fix_exchange, SHARD, prefix="s"))
        assert all(m.get(17).endswith(";2") and m.get(30) == "2" for m in on_two)
        async with dc(fix_exchange) as fix:
            assert_replay_equals(await request_replay(fix, on_two[0].get(17)), on_two)
            assert_replay_equals(await request_replay(fix, on_zero[0].get(17)), on_zero)
    run(scenario())


def test_margin_drop_copy_answers_event_resend_requests_too(fix_exchange):
    async def scenario():
        async with dc(fix_exchange, product="margin") as fix:
            replay = await request_replay(fix, "1;1")
            assert replay.ok and replay.count == 0
            replay = await request_replay(fix, "1;1", "2;1")   # nothing recorded: End beyond the latest
            assert replay.reject.get(35) == "U3" and replay.reason == 4
    run(scenario())


# --- spec 04 §5: EventResendReject --------------------------------------------------------

def test_too_many_requests_get_reject_reason_1(fix_exchange):
    async def scenario():
        svc = fix_exchange.call(lambda: drop_copy.service(fix_exchange.sim.venues["prediction"]))
        async with dc(fix_exchange) as fix:
            answers = [await request_replay(fix, "1;1") for _ in range(int(svc.burst) + 1)]
            assert [a.ok for a in answers[:-1]] == [True] * int(svc.burst)
            last = answers[-1]
            assert last.reject.get(35) == "U3" and last.reason == 1
            assert last.reject.get(45) == str(last.request_seq)
    run(scenario())


def test_rate_limit_is_per_api_key_and_refills_over_time(fix_exchange):
    async def scenario():
        venue = fix_exchange.sim.venues["prediction"]
        svc = fix_exchange.call(lambda: drop_copy.service(venue))
        fix_exchange.call(lambda: (setattr(svc, "burst", 1.0), setattr(svc, "rate", 1e-9)))
        async with dc(fix_exchange) as fix, dc(fix_exchange, "bob_listener") as other:
            assert (await request_replay(fix, "1;1")).ok
            assert (await request_replay(fix, "1;1")).reason == 1
            assert (await request_replay(other, "1;1")).ok       # another key has its own bucket
            bucket = svc.buckets[fix_exchange.accounts["alice_listener"].api_key]
            fix_exchange.call(lambda: setattr(bucket, "updated", bucket.updated - 2e9))  # time passes
            assert (await request_replay(fix, "1;1")).ok
    run(scenario())


def test_end_exec_id_beyond_the_latest_gets_reject_reason_4(fix_exchange):
    async def scenario():
        originals = executions(await trading_story(fix_exchange))
        last = exec_id_key(originals[-1].get(17))
        async with dc(fix_exchange) as fix:
            beyond = f"{last[1] + 1};1"   # no engine call after the story
            replay = await request_replay(fix, originals[0].get(17), beyond)
            assert replay.reject.get(35) == "U3" and replay.reason == 4 and replay.reports == []
            assert replay.reject.get(45) == str(replay.request_seq)
    run(scenario())


def test_begin_after_end_gets_reject_reason_4(fix_exchange):
    async def scenario():
        originals = executions(await trading_story(fix_exchange))
        async with dc(fix_exchange) as fix:
            replay = await request_replay(fix, originals[2].get(17), originals[1].get(17))
            assert replay.reject.get(35) == "U3" and replay.reason == 4
    run(scenario())


def test_begin_and_end_on_different_exchange_indexes_get_reject_reason_4(fix_exchange):
    async def scenario():
        on_zero = executions(await trading_story(fix_exchange))
        on_two = executions(await trading_story(fix_exchange, SHARD, prefix="s"))
        async with dc(fix_exchange) as fix:
            replay = await request_replay(fix, on_zero[0].get(17), on_two[-1].get(17))
            assert replay.reject.get(35) == "U3" and replay.reason == 4
    run(scenario())


class ShiftClock:
    """Wall time plus an offset, shared by the simulator and its clients (SendingTime stays valid)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset


def test_begin_exec_id_older_than_the_three_hour_window_gets_reject_reason_3(fix_material):
    ca_file, accounts, tls = fix_material
    clock = ShiftClock()
    runner = SimulatorThread(make_test_config(accounts, tls), clock=clock)
    runner.start()
    fx = FixExchange(runner, accounts, ca_file)

    async def scenario():
        async with fx.client("alice", clock=clock) as alice:
            old = executions(await place(alice, "o1", A, "buy", 40, 10))
        clock.offset += WINDOW_SECONDS + 60   # three hours and a minute later
        async with fx.client("alice", clock=clock) as alice:
            new = executions(await place(alice, "o2", A, "buy", 41, 10))
        async with dc(fx, clock=clock) as fix:
            replay = await request_replay(fix, old[0].get(17))
            assert replay.reject.get(35) == "U3" and replay.reason == 3
            assert_replay_equals(await request_replay(fix, new[0].get(17)), new)
    try:
        run(scenario())
    finally:
        runner.stop()


# --- session-level answers (spec 04 §1, §5; spec 09 §1-§2) ---------------------------------

@pytest.mark.parametrize("tag", [21001, 21002])
@pytest.mark.parametrize("text", ["abc", "12", "1;", "1;2;3;4", "-1;-1", "1;x"])
def test_malformed_exec_id_gets_session_reject_incorrect_data_format(fix_exchange, tag, text):
    async def scenario():
        async with dc(fix_exchange) as fix:
            body = [(21001, text)] if tag == 21001 else [(21001, "1;1"), (21002, text)]
            seq = fix.send("U1", body)
            rej = await fix.expect("3")
            assert (rej.get(45), rej.get(371), rej.get(372), rej.get(373)) == (str(seq), str(tag), "U1", "6")
            assert rej.get(58)
            assert (await request_replay(fix, "1;1")).ok      # the session carries on
    run(scenario())


def test_missing_begin_exec_id_gets_session_reject_required_tag_missing(fix_exchange):
    async def scenario():
        async with dc(fix_exchange) as fix:
            seq = fix.send("U1", [(21002, "5;1")])
            rej = await fix.expect("3")
            assert (rej.get(45), rej.get(371), rej.get(373)) == (str(seq), "21001", "1")
    run(scenario())


def test_event_resend_request_on_order_entry_gets_business_reject_unsupported(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice") as fix:
            seq = fix.send("U1", event_resend_request("1;1"))
            bmr = await fix.expect("j")
            assert (bmr.get(45), bmr.get(372), bmr.get(380)) == (str(seq), "U1", "3")
    run(scenario())


def test_new_order_on_drop_copy_gets_business_reject_unsupported(fix_exchange):
    async def scenario():
        async with dc(fix_exchange) as fix:
            seq = fix.send("D", new_order("o1", A, "buy", 40, 1))
            bmr = await fix.expect("j")
            assert (bmr.get(45), bmr.get(372), bmr.get(380)) == (str(seq), "D", "3")
    run(scenario())


# --- history survives a restart (file store) -------------------------------------------------

def test_replay_after_a_simulator_restart_with_a_file_store(fix_exchange_factory, tmp_path):
    store = str(tmp_path / "sim.db")
    first = fix_exchange_factory(store=store)
    originals = executions(run(trading_story(first)))
    asyncio.run_coroutine_threadsafe(first.sim.stop(), first.runner.loop).result(10)  # the restart

    second = fix_exchange_factory(store=store)

    async def scenario():
        async with dc(second) as fix:
            assert_replay_equals(await request_replay(fix, originals[0].get(17)), originals)
        async with second.client("alice") as alice:       # ExecIDs continue above the stored ones
            new = executions(await place(alice, "n1", A, "buy", 30, 1))
        assert exec_id_key(new[0].get(17)) > exec_id_key(originals[-1].get(17))
        assert new[0].get(37) not in {m.get(37) for m in originals}  # OrderIDs are never reissued either
        async with dc(second) as fix:
            assert_replay_equals(await request_replay(fix, originals[0].get(17)), originals + new)
    run(scenario())


# --- long replays ----------------------------------------------------------------------------

def synthetic(exec_id: str, n: int) -> list[tuple[int, object]]:
    return [(37, "o-1"), (11, f"c{n}"), (17, exec_id), (150, "0"), (39, "0"), (54, 1), (55, A),
            (151, "1.00"), (14, "0.00"), (6, "0"), (38, "1.00"), (44, "40"), (30, "0")]


def test_a_long_replay_arrives_complete_and_in_exec_id_order(fix_exchange):
    total = 3 * drop_copy.CHUNK + 7
    venue = fix_exchange.sim.venues["prediction"]

    def fill():
        for n in range(total):
            venue.history.record("alice", synthetic(f"{n // 10 + 1};{n % 10 + 1}", n))

    async def scenario():
        async with dc(fix_exchange) as fix:
            fix_exchange.call(fill)  # after a Logon: the history has the simulator's clock
            replay = await request_replay(fix, "1;1")
            assert replay.ok and replay.count == total == len(replay.reports)
            assert [m.get(11) for m in replay.reports] == [f"c{n}" for n in range(total)]
    run(scenario())


class FakeConn:
    """Just what the drop-copy handler uses of a gateway connection."""
    product, session_code, user, api_key_id, session_id = "prediction", "DC", "alice", "k", "prediction/DC/k"

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.sent: list[tuple[str, list]] = []

    def send(self, msg_type: str, body: list) -> int:
        self.sent.append((msg_type, body))
        return len(self.sent)

    def reject(self, msg, reason, text, ref_tag=None) -> None:
        self.sent.append(("3", [(373, reason), (371, ref_tag)]))

    def now(self) -> float:
        return 0.0


def venue_with_history() -> Venue:
    venue = Venue("prediction", Exchange(rng=random.Random(0)))
    venue.history = MemoryHistory(lambda: 0.0)
    venue.services["drop_copy"] = drop_copy.DropCopyService(later=later)
    return venue


def test_a_long_replay_yields_to_the_loop_between_chunks():
    venue = venue_with_history()
    total = 2 * drop_copy.CHUNK + 1
    for n in range(total):
        venue.history.record("alice", synthetic(f"{n + 1};1", n))
    conn = FakeConn(venue)
    request = FixMessage([(35, "U1"), (34, "2"), (21001, "1;1")])

    async def scenario():
        drop_copy.on_event_resend_request(conn, request)
        assert len(conn.sent) == drop_copy.CHUNK          # one chunk now, the rest on later turns
        await asyncio.sleep(0)
        assert len(conn.sent) == 2 * drop_copy.CHUNK      # one chunk per loop turn
        for _ in range(10):
            await asyncio.sleep(0)
        assert [t for t, _ in conn.sent] == ["8"] * total + ["U2"]
        assert conn.sent[-1][1] == [(45, "2"), (21003, total)]
    run(scenario())


def test_without_an_event_loop_a_long_replay_goes_out_at_once():
    venue = venue_with_history()
    total = 2 * drop_copy.CHUNK + 1
    for n in range(total):
        venue.history.record("alice", synthetic(f"{n + 1};1", n))
    conn = FakeConn(venue)
    drop_copy.on_event_resend_request(conn, FixMessage([(35, "U1"), (34, "2"), (21001, "1;1")]))
    assert [t for t, _ in conn.sent] == ["8"] * total + ["U2"]


def test_requests_on_one_session_are_answered_in_order():
    venue = venue_with_history()
    for n in range(drop_copy.CHUNK + 5):
        venue.history.record("alice", synthetic(f"{n + 1};1", n))
    conn = FakeConn(venue)

    async def scenario():
        drop_copy.on_event_resend_request(conn, FixMessage([(35, "U1"), (34, "2"), (21001, "1;1")]))
        drop_copy.on_event_resend_request(conn, FixMessage([(35, "U1"), (34, "3"), (21001, "3;1"), (21002, "4;1")]))
        for _ in range(10):
            await asyncio.sleep(0)
        completes = [(i, dict(b)[45]) for i, (t, b) in enumerate(conn.sent) if t == "U2"]
        assert [ref for _, ref in completes] == ["2", "3"]
        assert completes[0][0] == drop_copy.CHUNK + 5 and completes[1][0] == len(conn.sent) - 1
        assert len(conn.sent) == drop_copy.CHUNK + 5 + 1 + 2 + 1
    run(scenario())


def test_quantities_in_replayed_bodies_keep_their_text(fix_exchange):
    async def scenario():
        async with fix_exchange.client("bob") as bob, fix_exchange.client("alice") as alice:
            await place(bob, "b1", "KXFRAC-26JAN01-T1", "sell", 40, "2.50")
            originals = executions(await place(alice, "o1", "KXFRAC-26JAN01-T1", "buy", 40, "1.25"))
        assert originals and Decimal(originals[0].get(32)) == Decimal("1.25")
        async with dc(fix_exchange) as fix:
            assert_replay_equals(await request_replay(fix, originals[0].get(17)), originals)
    run(scenario())


def test_reset_with_a_file_store_keeps_one_state_file_connection_and_keeps_recording(fix_exchange_factory,
                                                                                     tmp_path):
    fx = fix_exchange_factory(store=str(tmp_path / "sim.db"))
    old = fx.call(lambda: fx.sim.venues["prediction"].history._db)
    fx.call(fx.sim.reset)
    # The history shares the simulator's one state-file connection (issue 15): none opened per reset.
    assert fx.call(lambda: fx.sim.venues["prediction"].history._db) is old is fx.sim.state_file.db

    async def scenario():
        async with fx.client("alice") as alice:
            await place(alice, "r1", A, "buy", 30, 1)
    run(scenario())
    assert fx.call(lambda: len(fx.sim.venues["prediction"].history)) == 1
