"""The durable venue (issue 15): the engine's inputs journaled, replayed at start-up.

Design: event sourcing at the engine boundary, as exchange-core does it. The engine objects of
a venue (the Exchange or PerpExchange, the RFQ desk, the market maker) are deterministic given
their inputs and their seeded RNGs, so the journal holds every call that changes their state
(the method, its arguments with their `now`) in the order the engine got it, and start-up
replays those calls through venues built from the config. A snapshot (the pickled engine
objects at a journal position, RNG state included) is written every SNAPSHOT_EVERY records and
at a clean stop, so a restart replays only the tail. Snapshotting the state tables directly
was the other choice: it would cost every batch a write proportional to what the batch
touched across books, ledgers, groups, expiry queues and id generators, each with its own
table to keep in step with the engine; the journal costs one small pickled row per engine
call and needs nothing from the engine but determinism, which its tests already hold.

The little state that lives above the engine (pauses and the maintenance window, the
settlement report counter and settled markets, mass-cancel ids, the last mass cancel per
account) is pickled whole into one `aux` row whenever it changed.

Everything shares one SQLite connection (WAL) with the RT/PT message stores and the drop-copy
history: `StateFile.commit()` writes them all in one transaction per batch, and the write batch
(fixproto.aio.WriteBatch) runs it before the batch's socket writes (DESIGN §3 rule 13): a
report reaches a client only once what it reports is committed, and a crash leaves each
request's state either before or after it, never half of it (one engine call, one row).
"""
from __future__ import annotations

import dataclasses
import enum
import functools
import logging
import marshal
import operator
import os
import pickle
import sqlite3
import typing
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from kalshi_fixsim.fixproto.store import SqliteStore

from .engine.types import OrderRequest

__all__ = ["FORMAT_VERSION", "SNAPSHOT_EVERY", "JournalFormatError", "StateFile", "wipe_state_file", "engine_layout",
           "EXCHANGE_CALLS", "DESK_CALLS", "MAKER_CALLS"]

log = logging.getLogger("kalshi_fixsim")

FORMAT_VERSION = 2       # of the journal, snapshot and aux rows; another value is refused, never misread
_READS = ("1", "2")      # format 1 had pickled journal rows only: read, then the file is marked 2
SNAPSHOT_EVERY = 50_000  # journal records between snapshots (and one at every clean stop)
# Commits between WAL checkpoints (StateFile.commit), instead of SQLite's own every 1000 pages
# written: a page many commits write again (the tables' last leaves, the sessions row) is copied
# to the database file once per checkpoint. The WAL grows to about 200 commits' pages (a few
# MB under load) before it is reused; durability is the same (committed = in the WAL).
CHECKPOINT_EVERY = 200

# The engine calls that change state. Reads are not journaled; setup (markets, accounts from
# the config) is rebuilt from the config at start-up.
EXCHANGE_CALLS = ("new_order", "cancel_order", "replace_order", "mass_cancel", "cancel_session_orders",
                  "expire_orders", "set_pause", "close_market", "settle_market", "create_group", "reset_group",
                  "delete_group", "trigger_group", "update_group", "deposit", "forget_final_orders")
DESK_CALLS = ("create_rfq", "submit_quote", "cancel_quote", "accept_quote", "confirm_quote", "cancel_rfq",
              "expire", "public_id")
MAKER_CALLS = ("refresh",)
# Called on every clock tick: journaled only when they did something (an empty result changed nothing).
QUIET = frozenset({"expire_orders", "expire", "forget_final_orders"})
# The engine calls around which the gateway changes the state above the engine (the aux row):
# pauses, settlement (report counter, settled markets), mass cancels (their ids, the 1/s rule).
# Other calls (orders, cancels, amends: the order path) leave it alone and skip its pickling.
AUX_CALLS = frozenset({"set_pause", "close_market", "settle_market", "mass_cancel", "deposit"})

_TABLES = (
    "CREATE TABLE IF NOT EXISTS journal_meta(key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS journal(seq INTEGER PRIMARY KEY, rec BLOB)",
    "CREATE TABLE IF NOT EXISTS journal_snapshot(id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER, state BLOB)",
    "CREATE TABLE IF NOT EXISTS journal_aux(id INTEGER PRIMARY KEY CHECK (id = 1), state BLOB)",
)


class JournalFormatError(ValueError):
    """The state file holds a journal this simulator cannot read; str() is the one-line message."""


# Modules whose objects the journal and snapshots pickle (the engine, the market maker, ops state).
_PICKLED_MODULES = ("kalshi_fixsim.simulator.marketmaker", "kalshi_fixsim.simulator.ops")


@functools.lru_cache(maxsize=1)
def engine_layout() -> str:
    """A fingerprint of how the pickled classes keep their state: each class's dataclass
    fields, slots, enum members and the attribute names its __init__ uses. A state file
    written by an engine with another layout is refused (never misread, issue 15 §1)."""
    import dataclasses
    import enum
    import hashlib
    import importlib
    import pkgutil

    from . import engine
    names = [f"{engine.__name__}.{m.name}" for m in pkgutil.iter_modules(engine.__path__)]
    parts = []
    for module_name in sorted(names) + list(_PICKLED_MODULES):
        module = importlib.import_module(module_name)
        for name, obj in sorted(vars(module).items()):
            if not isinstance(obj, type) or obj.__module__ != module_name:
                continue
            if issubclass(obj, enum.Enum):
                layout = [f"{m.name}={m.value!r}" for m in obj]
            else:
                layout = [f.name for f in dataclasses.fields(obj)] if dataclasses.is_dataclass(obj) else []
                layout += list(getattr(obj, "__slots__", ()))
                init = obj.__dict__.get("__init__")
                if init is not None and hasattr(init, "__code__"):
                    layout += sorted(init.__code__.co_names)
            parts.append(f"{module_name}.{name}:{','.join(layout)}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def wipe_state_file(path: str | Path) -> None:
    """`serve --fresh`: remove the state file (and its WAL) so the venue starts from the config."""
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass


# --- the order path's rows -----------------------------------------------------------------
# Every order is one journal row, written before its report leaves (write-ahead). Pickling an
# OrderRequest (a dataclass holding enums) takes about 7 µs and 470 bytes; the same call as
# plain values, marshal'ed, 1.7 µs and 170 bytes (issue 16). The row is b"M" + marshal of
# (product, target, the request's fields in dataclass order with enums as their values, now);
# pickle rows start with b"\x80". Anything else than plain values (a subclass, a Decimal)
# makes marshal refuse, and that call is pickled as every other call is.
_COMPACT = b"M"
_REQUEST_FIELDS = tuple(f.name for f in dataclasses.fields(OrderRequest))
_request_values = operator.attrgetter(*_REQUEST_FIELDS)
_REQUEST_ENUMS = tuple((i, cls) for i, cls in enumerate(
    typing.get_type_hints(OrderRequest)[f] for f in _REQUEST_FIELDS) if isinstance(cls, type) and issubclass(cls, enum.Enum))


def _compact_order(product: str, target: str, args: tuple) -> bytes | None:
    """`new_order(request, now)` as a compact row, or None (then it is pickled)."""
    if len(args) != 2 or args[0].__class__ is not OrderRequest:
        return None
    values = list(_request_values(args[0]))
    for i, _cls in _REQUEST_ENUMS:
        values[i] = values[i].value
    try:
        return _COMPACT + marshal.dumps((product, target, tuple(values), args[1]), 4)
    except ValueError:  # not plain values
        return None


def _load_compact(rec: bytes) -> tuple:
    product, target, values, now = marshal.loads(rec[1:])
    values = list(values)
    for i, cls in _REQUEST_ENUMS:
        values[i] = cls(values[i])
    return product, target, "new_order", (OrderRequest(*values), now), {}


class StateFile:
    """The simulator's one SQLite state file: message stores, drop-copy history, the journal."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.db: sqlite3.Connection = SqliteStore.open_db(path)
        self.db.execute("PRAGMA wal_autocheckpoint=0")  # commit() checkpoints (CHECKPOINT_EVERY)
        for sql in _TABLES:
            self.db.execute(sql)
        self._check_format()
        self.db.commit()
        self.flushers: list[Callable[[], None]] = []   # stores and histories write their rows here
        self.on_record: Callable[[], None] | None = None  # schedules a commit (the write batch's touch)
        self.aux_source: Callable[[], Any] | None = None
        self.snapshot_source: Callable[[], bytes] | None = None
        self._pending: list[tuple[int, bytes]] = []
        row = self.db.execute("SELECT MAX(seq) FROM journal").fetchone()
        snap = self.db.execute("SELECT seq FROM journal_snapshot WHERE id=1").fetchone()
        self.snapshot_seq = snap[0] if snap else 0
        self.seq = max(row[0] or 0, self.snapshot_seq)
        aux = self.db.execute("SELECT state FROM journal_aux WHERE id=1").fetchone()
        self._aux_written: bytes | None = bytes(aux[0]) if aux else None
        self.closed = False
        self.aux_dirty = True  # the state above the engine may have changed: written at the next commit
        self.depth = 0         # > 0 inside a journaled call: the calls it makes are part of it
        self.commits = 0

    def _check_format(self) -> None:
        db = self.db
        row = db.execute("SELECT value FROM journal_meta WHERE key='format'").fetchone()
        if row is None:
            used = db.execute("SELECT 1 FROM sessions LIMIT 1").fetchone() or db.execute(
                "SELECT name FROM sqlite_master WHERE name='exec_history'").fetchone() and db.execute(
                "SELECT 1 FROM exec_history LIMIT 1").fetchone()
            if used:
                raise JournalFormatError(
                    f"store: {self.path} was written by a simulator without a venue journal (format 0); this one "
                    f"reads format {FORMAT_VERSION}: start with `kalshi-fixsim serve --fresh` (discards that state) "
                    f"or set store to another file")
            db.execute("INSERT INTO journal_meta(key, value) VALUES ('format', ?)", (str(FORMAT_VERSION),))
        elif row[0] in _READS and row[0] != str(FORMAT_VERSION):
            db.execute("UPDATE journal_meta SET value=? WHERE key='format'", (str(FORMAT_VERSION),))
        elif row[0] != str(FORMAT_VERSION):
            raise JournalFormatError(
                f"store: {self.path} holds a venue journal of format {row[0]}; this simulator reads format "
                f"{FORMAT_VERSION}: start with `kalshi-fixsim serve --fresh` (discards that state) or set store "
                f"to another file")
        layout = engine_layout()
        found = db.execute("SELECT value FROM journal_meta WHERE key='layout'").fetchone()
        holds_state = db.execute("SELECT 1 FROM journal LIMIT 1").fetchone() or db.execute(
            "SELECT 1 FROM journal_snapshot LIMIT 1").fetchone() or db.execute("SELECT 1 FROM journal_aux LIMIT 1").fetchone()
        if found is not None and found[0] != layout and holds_state:
            raise JournalFormatError(
                f"store: {self.path} was written by a simulator whose engine keeps its state differently (layout "
                f"{found[0]}, this one {layout}): start with `kalshi-fixsim serve --fresh` (discards that state) or "
                f"set store to another file")
        db.execute("INSERT OR REPLACE INTO journal_meta(key, value) VALUES ('layout', ?)", (layout,))

    # --- recording ------------------------------------------------------------------------

    def instrument(self, obj: object, product: str, target: str, names: tuple[str, ...]) -> None:
        """Journal every outermost call of `names` on `obj` (instance attributes wrapping the
        methods; the engine's calls to itself, and to the objects it drives, are part of it)."""
        for name in names:
            obj.__dict__[name] = self._wrap(getattr(type(obj), name).__get__(obj), product, target, name)

    def _wrap(self, method: Callable, product: str, target: str, name: str) -> Callable:
        quiet = name in QUIET
        aux = name in AUX_CALLS
        compact = name == "new_order" and target == "exchange"
        journal = self

        def journaled(*args, **kwargs):
            if journal.depth:
                return method(*args, **kwargs)
            rec = (compact and not kwargs and _compact_order(product, target, args)
                   or pickle.dumps((product, target, name, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL))
            journal.depth = 1
            try:
                result = method(*args, **kwargs)
            finally:
                journal.depth = 0
                # Recorded even if it raised (our bug): replay repeats the call and its effects exactly.
                if not quiet or result:
                    journal.seq += 1
                    journal._pending.append((journal.seq, rec))
                    if aux:
                        journal.aux_dirty = True
                    if journal.on_record is not None:
                        journal.on_record()
            return result

        journaled.__wrapped__ = method  # type: ignore[attr-defined]
        return journaled

    @staticmethod
    @contextmanager
    def unwrapped(objects: list[object]) -> Iterator[None]:
        """The objects without their journaling wrappers (for pickling a snapshot)."""
        saved = []
        for obj in objects:
            wrappers = {k: v for k, v in vars(obj).items() if hasattr(v, "__wrapped__")}
            for k in wrappers:
                del obj.__dict__[k]
            saved.append((obj, wrappers))
        try:
            yield
        finally:
            for obj, wrappers in saved:
                obj.__dict__.update(wrappers)

    # --- the batch's one transaction ------------------------------------------------------

    def commit(self) -> None:
        """Write everything the batch produced (stores, history, journal, aux) in one transaction."""
        if self.closed:
            return
        db = self.db
        for flush in self.flushers:
            flush()
        pending = self._pending
        if pending:
            self._pending = []
            db.executemany("INSERT INTO journal(seq, rec) VALUES (?, ?)", pending)
            if self.snapshot_source is not None and self.seq - self.snapshot_seq >= SNAPSHOT_EVERY:
                self._write_snapshot()
        self._write_aux()
        if db.in_transaction:
            db.commit()
            self.commits += 1
            if self.commits % CHECKPOINT_EVERY == 0:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _write_aux(self) -> None:
        """The state above the engine changes with an engine call or a control operation (which
        mark it dirty); other batches (most of them: heartbeats, rejects) skip the pickling."""
        if self.aux_source is None or not self.aux_dirty:
            return
        self.aux_dirty = False
        data = pickle.dumps(self.aux_source(), protocol=pickle.HIGHEST_PROTOCOL)
        if data != self._aux_written:
            self.db.execute("INSERT OR REPLACE INTO journal_aux(id, state) VALUES (1, ?)", (data,))
            self._aux_written = data

    def _write_snapshot(self) -> None:
        assert self.snapshot_source is not None
        state = self.snapshot_source()
        self.db.execute("INSERT OR REPLACE INTO journal_snapshot(id, seq, state) VALUES (1, ?, ?)", (self.seq, state))
        self.db.execute("DELETE FROM journal WHERE seq <= ?", (self.seq,))
        self.snapshot_seq = self.seq

    def snapshot(self) -> None:
        """A snapshot now (a clean stop), committed: the next start-up replays nothing."""
        self.aux_dirty = True
        self.commit()
        if self.snapshot_source is not None and self.seq > self.snapshot_seq:
            self._write_snapshot()
            self.db.commit()

    # --- start-up -------------------------------------------------------------------------

    def load_snapshot(self) -> Any | None:
        row = self.db.execute("SELECT state FROM journal_snapshot WHERE id=1").fetchone()
        return pickle.loads(row[0]) if row else None

    def load_aux(self) -> Any | None:
        return pickle.loads(self._aux_written) if self._aux_written is not None else None

    def records(self) -> Iterator[tuple[int, tuple]]:
        """The journal after the snapshot, in order: (seq, (product, target, method, args, kwargs))."""
        for seq, rec in self.db.execute("SELECT seq, rec FROM journal WHERE seq > ? ORDER BY seq",
                                        (self.snapshot_seq,)):
            yield seq, _load_compact(rec) if rec[:1] == _COMPACT else pickle.loads(rec)

    def clear(self) -> None:
        """`ctl reset`: the configured start state; the journal starts again."""
        self._pending = []
        with self.db:
            self.db.execute("DELETE FROM journal")
            self.db.execute("DELETE FROM journal_snapshot")
            self.db.execute("DELETE FROM journal_aux")
        self.seq = self.snapshot_seq = 0
        self._aux_written = None
        self.aux_dirty = True

    def close(self) -> None:
        self.closed = True
        self.db.close()
