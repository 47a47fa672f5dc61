"""The drop-copy ExecutionReport history (spec 04 §2, spec 02 §8.2), both backends."""
from __future__ import annotations

from decimal import Decimal

import pytest

from kalshi_fixsim.fixproto.codec import encode
from kalshi_fixsim.simulator.history import (WINDOW_SECONDS, MemoryHistory, SqliteHistory, decode_body, encode_body,
                               open_history_db, parse_exec_id)

HOUR = 3600.0


class FakeClock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def body(exec_id: str, cl: str = "c1", extra=()) -> list[tuple[int, object]]:
    out: list[tuple[int, object]] = [(37, "o-1"), (11, cl), (17, exec_id), (150, "0"), (39, "0"), (54, 1),
                                     (55, "KXTEST-26JAN01-A"), (151, "10.00"), (6, Decimal("0.4500")),
                                     (58, "caf\u00e9 \u2603")]  # latin-1 and non-latin-1 text
    out += list(extra)
    return out


@pytest.fixture(params=["memory", "sqlite"])
def make(request, tmp_path):
    """make(clock) -> a fresh history of the parametrized backend."""
    path = tmp_path / "sim.db"

    def factory(clock=None, **kwargs):
        if request.param == "memory":
            history = MemoryHistory(clock, **kwargs)
        else:
            history = SqliteHistory(open_history_db(path), "prediction", clock, **kwargs)
        return history

    return factory


def ids(entries) -> list[str]:
    return [e.exec_id for e in entries]


ALL = ((0, 0), (10 ** 18, 0))


def test_exec_id_parsing_accepts_two_or_three_digit_parts_only():
    assert parse_exec_id("4;7") == (4, 7, 0)
    assert parse_exec_id("4;7;1") == (4, 7, 1)
    for bad in ("-1;-1", "4", "4;", ";7", "4;7;", "4;7;1;2", "a;b", " 4;7", "4;7 ", "", None, "4;+7"):
        assert parse_exec_id(bad) is None, bad


def test_entries_are_ordered_numerically_clock_first_not_as_text(make):
    h = make(FakeClock())
    for exec_id in ("10;1", "9;1", "10;10", "10;2", "100;1", "9;12"):
        h.record("alice", body(exec_id))
    assert ids(h.fetch("alice", 0, *ALL, 100)) == ["9;1", "9;12", "10;1", "10;2", "10;10", "100;1"]
    assert h.latest(0) == (100, 1)


def test_range_is_inclusive_and_limited(make):
    h = make(FakeClock())
    for exec_id in ("1;1", "1;2", "2;1", "3;1", "3;2"):
        h.record("alice", body(exec_id))
    assert ids(h.fetch("alice", 0, (1, 2), (3, 1), 100)) == ["1;2", "2;1", "3;1"]
    assert ids(h.fetch("alice", 0, (1, 2), (3, 1), 2)) == ["1;2", "2;1"]
    assert ids(h.fetch("alice", 0, (3, 2), (1, 1), 100)) == []  # begin after end: nothing


def test_history_is_per_account_and_per_exchange_index(make):
    h = make(FakeClock())
    h.record("alice", body("1;1"))
    h.record("bob", body("1;2"))
    h.record("alice", body("1;1;2"))
    h.record("alice", body("2;1"))
    assert ids(h.fetch("alice", 0, *ALL, 100)) == ["1;1", "2;1"]
    assert ids(h.fetch("bob", 0, *ALL, 100)) == ["1;2"]
    assert ids(h.fetch("alice", 2, *ALL, 100)) == ["1;1;2"]
    assert h.latest(0) == (2, 1) and h.latest(2) == (1, 1) and h.latest(1) is None
    assert h.max_clocks() == {0: 2, 2: 1}


def test_pending_and_rejected_reports_are_not_kept(make):
    h = make(FakeClock())
    h.record("alice", body("-1;-1"))
    h.record("alice", [(37, "o-1"), (11, "c1")])  # no ExecID at all
    assert h.fetch("alice", 0, *ALL, 100) == [] and h.latest(0) is None


def test_bodies_come_back_byte_for_byte(make):
    h = make(FakeClock())
    original = body("5;3", cl="x/y:z=1", extra=[(21009, Decimal("12.5000")), (1057, "Y"), (704, 3)])
    h.record("alice", original)
    (entry,) = h.fetch("alice", 0, *ALL, 10)
    assert entry.body == encode_body(original)
    # Re-encoding the decoded fields under a new header gives the original body bytes.
    frame = encode([(35, "8"), (34, 99)] + decode_body(entry.body))
    assert frame == encode([(35, "8"), (34, 99)] + original)


@pytest.mark.parametrize("value", ["40", "caf\u00e9", 7, True, Decimal("1.50"), "\u2603", b"raw"])
def test_encode_body_matches_the_codec_for_every_value_type(value):
    fields = [(11, "c-1"), (17, "1;1"), (58, value), (54, 2)]
    frame = encode([(35, "8")] + fields)
    assert b"\x0135=8\x01" + encode_body(fields) + b"10=" in frame


def test_the_time_recorded_comes_from_the_clock(make):
    clock = FakeClock()
    h = make(clock)
    h.record("alice", body("1;1"))
    clock.t += 5
    h.record("alice", body("1;2"))
    assert [e.recorded_at for e in h.fetch("alice", 0, *ALL, 10)] == [clock.t - 5, clock.t]


def test_entries_older_than_three_hours_are_pruned_and_raise_the_floor(make):
    clock = FakeClock()
    h = make(clock)
    h.record("alice", body("1;1"))
    h.record("bob", body("1;2"))
    clock.t += 2 * HOUR
    h.record("alice", body("2;1"))
    clock.t += WINDOW_SECONDS - 2 * HOUR + 1   # the first two are now 3 h + 1 s old
    h.prune()
    assert ids(h.fetch("alice", 0, *ALL, 10)) == ["2;1"] and h.fetch("bob", 0, *ALL, 10) == []
    assert h.floor(0) == (1, 2)       # the highest ExecID that left the window, any account
    assert h.latest(0) == (2, 1)
    assert h.max_clocks() == {0: 2}


def test_pruning_is_lazy_and_also_happens_while_recording(make):
    clock = FakeClock()
    h = make(clock)
    h.record("alice", body("1;1"))
    clock.t += WINDOW_SECONDS + 10
    assert h.floor(0) is None          # nothing pruned until asked or until the next record
    h.record("alice", body("2;1"))
    assert ids(h.fetch("alice", 0, *ALL, 10)) == ["2;1"] and h.floor(0) == (1, 1)


def test_a_second_record_of_the_same_exec_id_replaces_the_first(make):
    h = make(FakeClock())
    h.record("alice", body("3;1", cl="first"))
    h.record("alice", body("3;1", cl="second"))
    (entry,) = h.fetch("alice", 0, *ALL, 10)
    assert dict(decode_body(entry.body))[11] == "second"


def test_sqlite_history_survives_reopening_the_file(tmp_path):
    path = tmp_path / "sim.db"
    clock = FakeClock()
    first = SqliteHistory(open_history_db(path), "prediction", clock)
    first.record("alice", body("1;1"))
    clock.t += WINDOW_SECONDS + 1
    first.record("alice", body("7;3"))       # prunes 1;1: the floor is persisted too
    first.record("alice", body("7;4;2"))
    first.record("alice", body("8;1", cl="margin-side"))
    first.flush()
    first_bodies = [e.body for e in first.fetch("alice", 0, *ALL, 10)]
    again = SqliteHistory(open_history_db(path), "prediction", clock)
    assert ids(again.fetch("alice", 0, *ALL, 10)) == ["7;3", "8;1"]
    assert [e.body for e in again.fetch("alice", 0, *ALL, 10)] == first_bodies
    assert again.latest(0) == (8, 1) and again.latest(2) == (7, 4) and again.floor(0) == (1, 1)
    assert again.max_clocks() == {0: 8, 2: 7}
    assert SqliteHistory(open_history_db(path), "margin", clock).latest(0) is None  # venues are separate


def test_sqlite_history_batches_writes_and_schedules_one_flush_per_batch(tmp_path):
    path = tmp_path / "sim.db"
    scheduled = []
    h = SqliteHistory(open_history_db(path), "prediction", FakeClock(), schedule=scheduled.append, batch=3)
    h.record("alice", body("1;1"))
    h.record("alice", body("1;2"))
    assert scheduled == [h.flush]                # one flush at the end of the loop turn
    reader = open_history_db(path)
    assert reader.execute("SELECT COUNT(*) FROM exec_history").fetchone()[0] == 0  # not yet written
    assert ids(h.fetch("alice", 0, *ALL, 10)) == ["1;1", "1;2"]                   # a read flushes
    assert reader.execute("SELECT COUNT(*) FROM exec_history").fetchone()[0] == 2
    for exec_id in ("2;1", "2;2", "2;3"):        # a full batch is written at once
        h.record("alice", body(exec_id))
    assert reader.execute("SELECT COUNT(*) FROM exec_history").fetchone()[0] == 5
    # No write transaction is left open: another connection can write the same file at once.
    reader.execute("INSERT INTO sessions(key, next_sender, next_target, pruned_through) VALUES ('k',1,1,0)")
    reader.commit()


def test_memory_and_sqlite_backends_agree(tmp_path):
    clock = FakeClock()
    memory = MemoryHistory(clock)
    sqlite = SqliteHistory(open_history_db(tmp_path / "sim.db"), "prediction", clock)
    for i, exec_id in enumerate(("3;1", "1;1", "2;5;1", "2;1", "10;1", "2;2")):
        clock.t += HOUR
        for h in (memory, sqlite):
            h.record("alice" if i % 2 else "bob", body(exec_id, cl=f"c{i}"))
    for h in (memory, sqlite):
        h.prune()
    for account in ("alice", "bob"):
        for index in (0, 1):
            assert memory.fetch(account, index, *ALL, 100) == sqlite.fetch(account, index, *ALL, 100)
    assert [memory.floor(i) for i in (0, 1)] == [sqlite.floor(i) for i in (0, 1)]
    assert [memory.latest(i) for i in (0, 1)] == [sqlite.latest(i) for i in (0, 1)]


def test_an_encoded_body_is_kept_as_sent_and_keyed_by_its_exec_id(make):
    """The gateway records the bytes it sends (gateway/reports.py): kept as they are, ExecID
    found in them, pending ones (-1;-1) not kept, same entries as the pairs would give."""
    h = make(FakeClock())
    for exec_id in ("2;1;3", "1;7;3"):
        h.record("alice", encode_body(body(exec_id)))
    h.record("alice", encode_body(body("-1;-1")))
    h.record("alice", encode_body([(17, "4;1;3"), (37, "o-9")]))  # ExecID as the first field
    got = h.fetch("alice", 3, *ALL, 100)
    assert ids(got) == ["1;7;3", "2;1;3", "4;1;3"]
    assert got[0].body == encode_body(body("1;7;3")) and decode_body(got[1].body) == decode_body(encode_body(body("2;1;3")))
    assert h.latest(3) == (4, 1)
