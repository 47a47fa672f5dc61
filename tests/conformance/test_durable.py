"""The durable venue (issue 15): with a file store the venue's state survives a clean stop and
a crash at any stage of a batch; what a client was told is there after a restart, and what
it was not told is either wholly there or not at all; the journal, RT store and drop-copy
history agree. A crash is simulated by copying the state file at a stage of the batch (what
`kill -9` at that moment leaves on disk); tests/load/test_kill9.py kills a real process."""
from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import pytest

from kalshi_fixsim.client.orders import new_order
from kalshi_fixsim.simulator import journal as journal_module
from kalshi_fixsim.simulator import ops
from kalshi_fixsim.simulator.engine.exchange import Pause
from kalshi_fixsim.simulator.engine.rfq import RfqSpec
from kalshi_fixsim.simulator.gateway import rfq as rfq_gateway
from kalshi_fixsim.simulator.journal import JournalFormatError, StateFile
from tests.wire import run

A = "KXTEST-26JAN01-A"


async def place(fix, *args, **kwargs):
    fix.send("D", new_order(*args, **kwargs))
    return await fix.collect()


def venue_state(sim) -> dict:
    """Everything a restart must bring back, comparable with ==."""
    out = {}
    for product, venue in sim.venues.items():
        ex = venue.exchange
        ex.check_invariants()
        desk = rfq_gateway.service_for(venue, sim.config.seed).desk
        out[product] = {
            "open": sorted(repr(o) for o in ex.open_orders()),              # books, queue priority, expiries
            "known": ex.known_orders(),
            "accounts": {a: (ex.balance(a), ex.available(a), sorted(ex.positions(a).items())) for a in ex.accounts()},
            "fees": ex.fees_collected,
            "groups": sorted(repr(g) for g in ex.groups()),
            "rfqs": sorted(repr(r) for r in desk.open_rfqs()),
            "ids": (ex._rng.getstate(), dict(ex._eids.clocks), ex._seq, desk._rng.getstate()),
            "paused": ex.paused,
            "markets": sorted((m.ticker, m.status.value) for m in ex.markets()),
        }
    out["ops"] = sorted(sim.ops.pauses)
    return out


def stop(fx) -> None:
    asyncio.run_coroutine_threadsafe(fx.sim.stop(), fx.runner.loop).result(10)


def busy_day(fx) -> None:
    """Orders that rest, fill and partly fill through FIX; an order group; an RFQ; a pause."""
    async def scenario():
        async with fx.client("bob") as bob, fx.client("alice", session="RT") as alice:
            await place(alice, "a1", A, "buy", 40, 10)          # rests
            await place(alice, "a2", A, "buy", 39, 5)           # rests behind it
            await place(bob, "b1", A, "sell", 40, 4)            # partly fills a1
            await alice.collect()
            await place(bob, "b2", A, "sell", 60, 7)            # rests
    run(scenario())

    def engine_side():
        sim = fx.sim
        now = sim.clock.now()
        ex = sim.venues["prediction"].exchange
        ex.create_group("carol", 0, 50, now)
        desk = rfq_gateway.service_for(sim.venues["prediction"], sim.config.seed).desk
        desk.create_rfq(RfqSpec(account="dave", client_id="q1", symbol=A, qty=1000), now)
        ops.pause(sim, "trading", now, products=["margin"])
    fx.call(engine_side)


def test_a_clean_stop_restores_books_balances_positions_groups_rfqs_pauses_and_ids(fix_exchange_factory, tmp_path):
    store = str(tmp_path / "sim.db")
    first = fix_exchange_factory(store=store)
    busy_day(first)
    before = first.call(lambda: venue_state(first.sim))
    assert before["prediction"]["open"] and before["prediction"]["groups"] and before["prediction"]["rfqs"]
    stop(first)

    second = fix_exchange_factory(store=store)
    assert second.call(lambda: venue_state(second.sim)) == before
    assert second.sim.restored.replayed == 0  # a clean stop wrote a snapshot

    async def scenario():  # the restored venue trades on: b2 rests at 60, alice lifts it
        async with second.client("alice") as alice:
            reports = await place(alice, "a3", A, "buy", 60, 7)
            assert reports[-1].get(39) == "2" and reports[-1].get(32) == "7.00"
    run(scenario())


def test_a_crash_with_no_snapshot_replays_the_journal_to_the_same_state(fix_exchange_factory, tmp_path):
    store = tmp_path / "sim.db"
    first = fix_exchange_factory(store=str(store))
    busy_day(first)
    before = first.call(lambda: venue_state(first.sim))
    image = crash_image(first, tmp_path / "crash")  # no clean stop: the file as kill -9 leaves it
    second = fix_exchange_factory(store=str(image))
    assert second.sim.restored.replayed > 0 and second.sim.restored.failed == 0
    assert second.call(lambda: venue_state(second.sim)) == before


def test_snapshots_every_n_records_and_replays_only_the_tail(fix_exchange_factory, tmp_path, monkeypatch):
    monkeypatch.setattr(journal_module, "SNAPSHOT_EVERY", 3)
    store = tmp_path / "sim.db"
    first = fix_exchange_factory(store=str(store))
    busy_day(first)
    before = first.call(lambda: venue_state(first.sim))
    assert first.sim.state_file.snapshot_seq > 0
    image = crash_image(first, tmp_path / "crash")
    second = fix_exchange_factory(store=str(image))
    assert second.sim.restored.snapshot_seq > 0 and second.sim.restored.replayed < 3
    assert second.call(lambda: venue_state(second.sim)) == before


def crash_image(fx, folder: Path) -> Path:
    """The state file as it is on disk now (committed transactions only), copied on the loop."""
    folder.mkdir(parents=True, exist_ok=True)

    def copy() -> Path:
        return copy_files(fx.sim.state_file.path, folder)
    return fx.call(copy)


def copy_files(path: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(path).name
    for suffix in ("", "-wal"):
        if Path(path + suffix).exists():
            shutil.copyfile(path + suffix, str(target) + suffix)
    return target


def rt_frames(sim) -> list[bytes]:
    """Every frame the RT stores keep for resend, as the restarted simulator's file holds them."""
    return [bytes(f) for (f,) in sim.state_file.db.execute(
        "SELECT frame FROM messages WHERE key LIKE 'prediction/RT/%'")]


def history_bodies(sim) -> list[bytes]:
    return [bytes(b) for (b,) in sim.state_file.db.execute("SELECT body FROM exec_history")]


@pytest.mark.parametrize("stage", ["commit", "write", "written"])
def test_a_crash_at_any_stage_of_a_batch_leaves_the_request_before_or_after_never_half(
        fix_exchange_factory, tmp_path, stage):
    """stage "commit": just before the batch's commit; "write": committed, not yet written to
    the client; "written": after the socket write. The new order (a5) is in the book, the RT
    store and the drop-copy history of the restarted venue all together, or in none of them."""
    store = str(tmp_path / "sim.db")
    first = fix_exchange_factory(store=store)
    images: list[Path] = []

    def hook(at: str) -> None:
        sim = first.sim
        if at == "commit" and sim.state_file._pending:
            hook.armed = True
        if getattr(hook, "armed", False) and at == stage:
            hook.armed = False
            images.append(copy_files(sim.state_file.path, tmp_path / f"crash-{stage}"))

    async def scenario():
        async with first.client("alice", session="RT") as alice:
            await place(alice, "a4", A, "buy", 30, 2)  # acknowledged before the crash
            before = first.call(lambda: venue_state(first.sim))
            first.call(lambda: setattr(first.sim.batch, "stage", hook))
            reports = await place(alice, "a5", A, "buy", 31, 3)
            first.call(lambda: setattr(first.sim.batch, "stage", None))
            assert [r.get(11) for r in reports] and reports[-1].get(39) == "0"
            return before
    before = run(scenario())
    after = first.call(lambda: venue_state(first.sim))
    assert len(images) == 1
    second = fix_exchange_factory(store=str(images[0]))
    state = second.call(lambda: venue_state(second.sim))
    ex = second.sim.venues["prediction"].exchange
    in_book = second.call(lambda: ex.order_by_client_id("alice", "a5")) is not None
    in_rt = any(b"\x0111=a5\x01" in f for f in second.call(lambda: rt_frames(second.sim)))
    in_history = any(b"11=a5\x01" in b for b in second.call(lambda: history_bodies(second.sim)))
    assert second.call(lambda: ex.order_by_client_id("alice", "a4")) is not None  # acknowledged: kept
    if stage == "commit":  # nothing of a5 was committed, and the client was never told of it
        assert state == before and not (in_book or in_rt or in_history)
    else:                  # committed whole (and, for "written", acknowledged)
        assert (in_book, in_rt, in_history) == (True, True, True)
        assert state == after


def test_ctl_reset_starts_the_journal_again_from_the_configured_state(fix_exchange_factory, tmp_path):
    store = str(tmp_path / "sim.db")
    first = fix_exchange_factory(store=store)
    pristine = first.call(lambda: venue_state(first.sim))
    busy_day(first)
    first.control.reset()
    stop(first)
    second = fix_exchange_factory(store=store)
    restored = second.call(lambda: venue_state(second.sim))
    assert restored["prediction"]["open"] == pristine["prediction"]["open"] == []
    assert restored["prediction"]["accounts"] == pristine["prediction"]["accounts"]


def test_maintenance_in_continuity_mode_keeps_the_books_and_sequence_numbers(fix_exchange_factory, tmp_path):
    """The Thursday window (spec 10 §1), continuity mode: sessions are dropped, the venue then
    restarts on its file; books, balances and RT sequence numbers are all still there."""
    store = str(tmp_path / "sim.db")
    first = fix_exchange_factory(store=store)
    busy_day(first)
    now = first.call(first.sim.clock.now)
    first.call(lambda: ops.maintenance(first.sim, now, mode="continuity", duration=1.0))
    before = first.call(lambda: venue_state(first.sim))
    seqs = first.call(lambda: {k: (s.next_sender_seq, s.next_target_seq) for k, s in first.sim.stores._stores.items()})
    stop(first)
    second = fix_exchange_factory(store=store)
    assert second.call(lambda: venue_state(second.sim)) == before
    for key, pair in seqs.items():
        product, code, api_key = key.split("/")
        assert second.call(lambda: second.sim.stores.get(product, code, api_key)) is not None
        got = second.call(lambda: second.sim.stores.get(product, code, api_key))
        assert (got.next_sender_seq, got.next_target_seq) == pair


def test_a_journal_of_another_format_is_refused_with_one_line(tmp_path):
    path = tmp_path / "sim.db"
    StateFile(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE journal_meta SET value='99' WHERE key='format'")
    db.commit()
    db.close()
    with pytest.raises(JournalFormatError) as info:
        StateFile(path)
    message = str(info.value)
    assert "\n" not in message and "format 99" in message and "--fresh" in message and str(path) in message


def test_pause_kind_survives_in_the_engine_and_in_ops(fix_exchange_factory, tmp_path):
    store = str(tmp_path / "sim.db")
    first = fix_exchange_factory(store=store)
    now = first.call(first.sim.clock.now)
    first.call(lambda: ops.pause(first.sim, "exchange", now, products=["prediction"]))
    image = crash_image(first, tmp_path / "crash")
    second = fix_exchange_factory(store=str(image))
    assert second.sim.venues["prediction"].exchange.paused is Pause.EXCHANGE
    assert "prediction" in second.sim.ops.pauses


def test_a_state_file_from_an_engine_with_another_layout_is_refused_with_one_line(fix_exchange_factory, tmp_path):
    store = str(tmp_path / "sim.db")
    first = fix_exchange_factory(store=store)
    busy_day(first)
    stop(first)
    db = sqlite3.connect(store)
    db.execute("UPDATE journal_meta SET value='0123456789abcdef' WHERE key='layout'")
    db.commit()
    db.close()
    with pytest.raises(JournalFormatError) as info:
        StateFile(store)
    message = str(info.value)
    assert "\n" not in message and "layout 0123456789abcdef" in message and "--fresh" in message


def test_serve_refuses_another_journal_format_in_one_line_and_fresh_starts_over(tmp_path, capsys):
    from tests.conformance.serving import Served, make_workspace
    config = make_workspace(tmp_path, store="state/sim.db")
    path = tmp_path / "state" / "sim.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    StateFile(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE journal_meta SET value='99' WHERE key='format'")
    db.commit()
    db.close()
    from kalshi_fixsim.simulator.cli import main
    capsys.readouterr()  # what `init` said
    assert main(["serve", "--config", str(config), "--control-port", "-1"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "format 99" in err[0] and "--fresh" in err[0]
    with Served(config, "--control-port", "-1", "--fresh") as served:
        assert served.ready


def test_after_a_restart_reports_for_an_rt_session_not_yet_back_go_to_its_store_for_resend(
        fix_exchange_factory, tmp_path):
    store = str(tmp_path / "sim.db")
    first = fix_exchange_factory(store=store)

    async def rest():
        async with first.client("alice", session="RT") as alice:
            await place(alice, "r1", A, "buy", 44, 2)
    run(rest())
    image = crash_image(first, tmp_path / "crash")
    second = fix_exchange_factory(store=str(image))

    async def fill():  # bob takes alice's bid before alice's RT session logs on again
        async with second.client("bob") as bob:
            reports = await place(bob, "t1", A, "sell", 44, 2)
            assert reports[-1].get(39) == "2"
    run(fill())
    fills = [f for f in second.call(lambda: rt_frames(second.sim)) if b"\x0111=r1\x01" in f and b"\x01150=F\x01" in f]
    assert fills, "alice's fill is kept in her RT store for resend"


def test_a_crash_is_a_disconnect_orders_of_cancel_on_disconnect_sessions_are_cancelled_at_restart(
        fix_exchange_factory, tmp_path):
    from kalshi_fixsim.client import LogonOptions
    store = str(tmp_path / "sim.db")
    first = fix_exchange_factory(store=store)
    images: list[Path] = []

    async def rest():
        async with first.client("alice", session="RT", options=LogonOptions(cancel_orders_on_disconnect=True)) as a, \
                first.client("bob") as bob:
            await place(a, "c1", A, "buy", 41, 2)
            await place(bob, "k1", A, "buy", 42, 2)           # bob did not ask: his order stays
            images.append(crash_image(first, tmp_path / "crash"))  # while both are connected
    run(rest())
    second = fix_exchange_factory(store=str(images[0]))
    ex = second.sim.venues["prediction"].exchange
    assert second.call(lambda: [o.client_order_id for o in ex.open_orders()]) == ["k1"]  # spec 01 §7
    cancels = [f for f in second.call(lambda: rt_frames(second.sim)) if b"\x0111=c1\x01" in f and b"\x01150=4\x01" in f]
    assert cancels, "alice's RT store has the cancel for resend"
    third = fix_exchange_factory(store=str(copy_files(second.sim.state_file.path, tmp_path / "again")))
    assert third.call(lambda: [o.client_order_id for o in third.sim.venues["prediction"].exchange.open_orders()]) \
        == ["k1"]  # the cancel is journaled: not done again, not undone


def test_a_pt_session_away_across_a_restart_finds_its_settlement_report_in_its_store(
        fix_exchange_factory, tmp_path):
    """spec 05 §1: a settlement made while a PT session is away is kept for it to resend, a
    crash and restart in between included (the recipients are part of the durable state)."""
    first = fix_exchange_factory(store=str(tmp_path / "sim.db"))

    async def trade():
        async with first.client("bob", session="PT"):  # bob receives settlement reports from now on
            pass
        async with first.client("alice") as alice, first.client("bob") as bob:
            await place(bob, "s1", A, "sell", 40, 1)
            assert (await place(alice, "b1", A, "buy", 40, 1))[-1].get(39) == "2"
    run(trade())
    image = crash_image(first, tmp_path / "crash")
    second = fix_exchange_factory(store=str(image))
    second.control.settle_market(A, "no")

    def pt_frames() -> list[bytes]:
        return [bytes(f) for (f,) in second.sim.state_file.db.execute(
            "SELECT frame FROM messages WHERE key LIKE 'prediction/PT/%'")]
    assert any(b"\x0135=UMS\x01" in f for f in second.call(pt_frames)), "bob's UMS is kept for resend"
