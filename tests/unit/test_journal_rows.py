"""The venue journal's row formats (simulator/journal.py): the order path's compact rows and
the pickled rows of every other call (and of state files written before the compact rows)."""
from __future__ import annotations

import pickle
import sqlite3

from kalshi_fixsim.simulator.engine.types import STP, OrderRequest, Side, TimeInForce
from kalshi_fixsim.simulator.journal import FORMAT_VERSION, StateFile


class _Engine:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def new_order(self, req, now):
        self.calls.append(("new_order", req, now))
        return ["an event"]

    def cancel_order(self, account, orig, cl, *, side, now):
        self.calls.append(("cancel_order", account, orig, cl, side, now))
        return ["an event"]


class Account(str):
    """A str subclass: marshal refuses it, pickle keeps it."""


def _request(**kw) -> OrderRequest:
    base = dict(account="alice", client_order_id="c1", symbol="KXTEST", side=Side.SELL, price=4_500, qty=250,
                tif=TimeInForce.GTD, expire_time=1_796_000_123.5, post_only=True, stp=STP.MAKER, max_cost=9_000_000,
                cancel_on_pause=True, order_group="g1", subaccount=3, party_id="cust", session="prediction/NR/k")
    base.update(kw)
    return OrderRequest(**base)


def _journal(tmp_path, *calls):
    state = StateFile(tmp_path / "sim.db")
    engine = _Engine()
    state.instrument(engine, "prediction", "exchange", ("new_order", "cancel_order"))
    for name, args, kwargs in calls:
        getattr(engine, name)(*args, **kwargs)
    state.commit()
    return state


def test_orders_replay_from_their_compact_rows_as_the_same_request_and_time(tmp_path):
    req, plain = _request(), _request(expire_time=None, max_cost=None, order_group=None, party_id=None, tif=TimeInForce.IOC)
    state = _journal(tmp_path, ("new_order", (req, 1_796_000_000.25), {}), ("new_order", (plain, 1_796_000_001.0), {}))
    rows = [bytes(r) for r, in state.db.execute("SELECT rec FROM journal ORDER BY seq")]
    assert all(r[:1] == b"M" for r in rows) and all(len(r) < 200 for r in rows)
    records = [rec for _seq, rec in state.records()]
    assert records == [("prediction", "exchange", "new_order", (req, 1_796_000_000.25), {}),
                       ("prediction", "exchange", "new_order", (plain, 1_796_000_001.0), {})]
    assert records[0][3][0].side is Side.SELL and records[0][3][0].tif is TimeInForce.GTD


def test_other_calls_and_orders_holding_more_than_plain_values_are_pickled(tmp_path):
    odd = _request(account=Account("alice"))
    state = _journal(tmp_path, ("cancel_order", ("alice", "c1", "c2"), {"side": Side.BUY, "now": 5.0}),
                     ("new_order", (odd, 6.0), {}))
    rows = [bytes(r) for r, in state.db.execute("SELECT rec FROM journal ORDER BY seq")]
    assert [r[:1] for r in rows] == [b"\x80", b"\x80"]
    (_, first), (_, second) = state.records()
    assert first == ("prediction", "exchange", "cancel_order", ("alice", "c1", "c2"), {"side": Side.BUY, "now": 5.0})
    assert type(second[3][0].account) is Account


def test_a_state_file_of_format_1_replays_its_pickled_rows_and_is_marked_format_2(tmp_path):
    path = tmp_path / "sim.db"
    StateFile(path).close()
    db = sqlite3.connect(path)
    old = ("prediction", "exchange", "new_order", (_request(), 7.0), {})
    db.execute("INSERT INTO journal(seq, rec) VALUES (1, ?)", (pickle.dumps(old, protocol=5),))
    db.execute("UPDATE journal_meta SET value='1' WHERE key='format'")
    db.commit()
    db.close()
    state = StateFile(path)
    assert [rec for _seq, rec in state.records()] == [old]
    state.db.commit()
    assert state.db.execute("SELECT value FROM journal_meta WHERE key='format'").fetchone()[0] == str(FORMAT_VERSION) == "2"


def test_the_wal_goes_back_into_the_database_file_every_checkpoint_every_commits(tmp_path):
    """SQLite's own checkpoint is off (it would copy the same hot pages again and again); the
    state file checkpoints every CHECKPOINT_EVERY commits, so the WAL stays bounded."""
    from kalshi_fixsim.simulator.journal import CHECKPOINT_EVERY
    state = StateFile(tmp_path / "sim.db")
    engine = _Engine()
    state.instrument(engine, "prediction", "exchange", ("new_order",))
    main = tmp_path / "sim.db"
    wal = tmp_path / "sim.db-wal"
    start = main.stat().st_size
    for i in range(CHECKPOINT_EVERY - 1):
        engine.new_order(_request(client_order_id=f"c{i}"), float(i))
        state.commit()
    assert main.stat().st_size == start  # everything so far is in the WAL only
    engine.new_order(_request(client_order_id="last"), 1e6)
    state.commit()
    assert main.stat().st_size > start  # the checkpoint wrote the journal's pages into the file
    grown = wal.stat().st_size
    for i in range(3 * CHECKPOINT_EVERY):
        engine.new_order(_request(client_order_id=f"d{i}"), float(i))
        state.commit()
    assert wal.stat().st_size <= grown * 2  # reused from its start after each checkpoint, not grown
    assert len(list(state.records())) == 4 * CHECKPOINT_EVERY
