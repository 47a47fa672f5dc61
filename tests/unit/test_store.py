"""Message stores: resend material and sequence numbers (spec 01 §6), memory and SQLite."""
from __future__ import annotations

import pytest

from kalshi_fixsim.fixproto.store import MemoryStore, SqliteStore


@pytest.fixture(params=["memory", "sqlite"])
def make_store(request, tmp_path):
    if request.param == "memory":
        store = MemoryStore()
        return lambda: store
    db = SqliteStore.open_db(tmp_path / "state" / "sim.db")
    return lambda: SqliteStore(db, "prediction/RT/key")


def test_store_returns_saved_messages_in_a_range_in_order(make_store):
    store = make_store()
    for seq in (2, 3, 5):
        store.save(seq, 100.0 + seq, b"frame-%d" % seq)
    assert store.fetch(3, 10) == [(3, 103.0, b"frame-3"), (5, 105.0, b"frame-5")]


def test_prune_drops_messages_older_than_the_retention_window_and_remembers_how_far(make_store):
    store = make_store()
    for seq in (1, 2, 3):
        store.save(seq, 100.0 * seq, b"x")
    store.prune(before=250.0)
    assert [s for s, _, _ in store.fetch(1, 3)] == [3] and store.pruned_through == 2


def test_reset_restarts_both_directions_at_one_and_forgets_messages(make_store):
    store = make_store()
    store.next_sender_seq, store.next_target_seq = 7, 9
    store.save(6, 1.0, b"x")
    store.reset()
    assert (store.next_sender_seq, store.next_target_seq, store.fetch(1, 10)) == (1, 1, [])


def test_sqlite_store_keeps_sequence_numbers_and_messages_across_a_restart(tmp_path):
    path = tmp_path / "sim.db"
    store = SqliteStore(SqliteStore.open_db(path), "prediction/RT/key")
    store.next_sender_seq, store.next_target_seq = 12, 34
    store.save(11, 5.0, b"report")
    store.flush()
    reopened = SqliteStore(SqliteStore.open_db(path), "prediction/RT/key")
    assert (reopened.next_sender_seq, reopened.next_target_seq) == (12, 34)
    assert reopened.fetch(1, 20) == [(11, 5.0, b"report")]


def test_sqlite_sessions_in_one_file_do_not_share_state(tmp_path):
    db = SqliteStore.open_db(tmp_path / "sim.db")
    a, b = SqliteStore(db, "prediction/RT/a"), SqliteStore(db, "margin/RT/a")
    a.next_sender_seq = 50
    a.save(49, 1.0, b"a-only")
    assert b.next_sender_seq == 1 and b.fetch(1, 100) == []
