"""ExecutionReport history per venue and account: what KalshiDC replays (spec 04 §2).

`Venue.dispatch` calls `record(account, body)` with every ExecutionReport body exactly as the
order's own session received it (the encoded bytes of gateway/reports.py; pairs are encoded
here). Entries are keyed by ExecID (spec 02 §8.2: `clock;event` on
exchange index 0, `clock;event;index` elsewhere) and ordered numerically, clock first, per
exchange index. The encoded body bytes are kept, so a replay is byte for byte the original
body; only the header is new. Pending and rejected reports (`-1;-1`) are not kept.

Entries older than the window (3 hours, spec 04 §2) are pruned lazily: when asked
(`prune()`, called by the drop-copy gateway before it answers) and at most once a minute
while recording. The highest ExecID pruned on each index is the window's floor: a
BeginExecID at or below it is "older than the window" (EventResendReject 21004=3).

Two backends: `MemoryHistory`, and `SqliteHistory` (its own tables in the simulator's
SQLite state file, so history survives a restart). Recording is on the order path: the
SQLite backend buffers rows and writes them in one short transaction on `flush()`, which
runs at the end of the loop turn (the `schedule` callable), every `batch` rows and before
any read; a write transaction is never left open, so the session stores that share the file
through another connection are never blocked.
"""
from __future__ import annotations

import bisect
import re
from array import array
import sqlite3
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Protocol

from kalshi_fixsim.fixproto.codec import encode
from kalshi_fixsim.fixproto.store import SqliteStore

__all__ = ["WINDOW_SECONDS", "ExecKey", "HistoryEntry", "ExecHistory", "MemoryHistory", "SqliteHistory",
           "parse_exec_id", "format_exec_id", "encode_body", "decode_body", "open_history_db",
           "history_tables"]

WINDOW_SECONDS = 3 * 3600.0   # spec 04 §2: the last 3 hours of executions
PRUNE_INTERVAL = 60.0         # seconds of clock time between prunes triggered by recording
EXEC_ID_TAG = 17

ExecKey = tuple[int, int]     # (clock, event): ExecIDs compare numerically, clock first (spec 02 §8.2)
Body = list[tuple[int, object]]
Clock = Callable[[], float]

# Digits only, at most 18 per part (fits an SQLite INTEGER); "-1;-1" (pending) does not match.
_EXEC_ID_RE = re.compile(r"(\d{1,18});(\d{1,18})(?:;(\d{1,18}))?")


def parse_exec_id(text: str | None) -> tuple[int, int, int] | None:
    """`clock;event[;index]` -> (clock, event, index); None if it is not an ExecID."""
    if not text:
        return None
    m = _EXEC_ID_RE.fullmatch(text)
    if m is None:
        return None
    clock, event, index = m.groups()
    return int(clock), int(event), int(index) if index else 0


def _exec_id_in(body: bytes) -> tuple[str, int, int, int] | None:
    """(ExecID text, clock, event, index) of an encoded body, None without one: parse_exec_id's
    rule on the bytes, without a regex (every report recorded passes here). bytes.isdigit is
    ASCII digits only, as \\d is for latin-1 text; "-1;-1" (pending) is not an ExecID."""
    i = body.find(b"\x0117=") + 4
    if i == 3:
        if not body.startswith(b"17="):
            return None
        i = 3
    raw = body[i:body.find(b"\x01", i)]
    clock, _, rest = raw.partition(b";")
    event, more, index = rest.partition(b";")
    if not (clock.isdigit() and event.isdigit() and len(clock) <= 18 and len(event) <= 18):
        return None
    if more and not (index.isdigit() and len(index) <= 18):
        return None
    return raw.decode("ascii"), int(clock), int(event), int(index) if more else 0


def format_exec_id(clock: int, event: int, index: int = 0) -> str:
    return f"{clock};{event};{index}" if index else f"{clock};{event}"


def encode_body(body: Iterable[tuple[int, object]]) -> bytes:
    """The body's `tag=value<SOH>...` bytes, encoded exactly as the session layer encodes them.
    Reports hold str and int values: those take a fast path (recording is on the order path);
    anything else (Decimal, bool, bytes, non-latin-1 text) goes through the codec itself."""
    parts = []
    for tag, value in body:
        cls = value.__class__
        if cls is not str and cls is not int:
            return _encode_slow(body)
        parts.append(f"{tag}={value}\x01")
    try:
        return "".join(parts).encode("latin-1")
    except UnicodeEncodeError:
        return _encode_slow(body)


def _encode_slow(body: Iterable[tuple[int, object]]) -> bytes:
    frame = encode(body)
    start = frame.index(b"\x01", frame.index(b"\x01") + 1) + 1  # after 8=...<SOH>9=...<SOH>
    return frame[start:-7]                                        # before 10=NNN<SOH>


def decode_body(data: bytes) -> list[tuple[int, str]]:
    """Fields back as (tag, str); latin-1 maps byte for byte, so encoding them again gives `data`."""
    fields = data.decode("latin-1").split("\x01")
    fields.pop()
    return [(int(tag), value) for tag, _, value in (f.partition("=") for f in fields)]


class HistoryEntry(NamedTuple):
    exec_id: str
    recorded_at: float
    body: bytes  # encoded body (see encode_body)


class ExecHistory(Protocol):
    clock: Clock | None
    late_clock: bool

    def record(self, account: str, body: Body | bytes, data: bytes | None = None) -> None: ...
    def fetch(self, account: str, index: int, begin: ExecKey, end: ExecKey, limit: int) -> list[HistoryEntry]: ...
    def latest(self, index: int) -> ExecKey | None: ...
    def floor(self, index: int) -> ExecKey | None: ...
    def prune(self, now: float | None = None) -> None: ...
    def max_clocks(self) -> dict[int, int]: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class _Base:
    """Shared bookkeeping: the clock, the venue-wide latest ExecID and floor per index."""

    def __init__(self, clock: Clock | None, window: float) -> None:
        self.clock = clock      # the Simulator's clock.now
        self.late_clock = False  # True: `clock` is a stand-in the gateway replaces at the first Logon
        self.window = window
        self._latest: dict[int, ExecKey] = {}
        self._floor: dict[int, ExecKey] = {}
        self._last_now = 0.0
        self._next_prune = 0.0

    def _now(self) -> float:
        clock = self.clock
        if clock is not None:
            self._last_now = clock()
        return self._last_now

    def _parse(self, body: Body | bytes) -> tuple[str, int, int, int] | None:
        if isinstance(body, bytes):  # an encoded body (reports.py)
            return _exec_id_in(body)
        for tag, value in body:
            if tag == EXEC_ID_TAG:
                text = str(value)
                parsed = parse_exec_id(text)
                return None if parsed is None else (text, *parsed)  # "-1;-1": not kept (spec 04 §2)
        return None

    def _note(self, index: int, key: ExecKey) -> None:
        latest = self._latest.get(index)
        if latest is None or key > latest:
            self._latest[index] = key

    def _raise_floor(self, index: int, key: ExecKey) -> None:
        floor = self._floor.get(index)
        if floor is None or key > floor:
            self._floor[index] = key

    def latest(self, index: int) -> ExecKey | None:
        """The highest ExecID recorded on an exchange index (any account of the venue)."""
        return self._latest.get(index)

    def floor(self, index: int) -> ExecKey | None:
        """The highest ExecID pruned from an index: anything at or below it left the window."""
        return self._floor.get(index)

    def max_clocks(self) -> dict[int, int]:
        """Per index, the highest ExecID clock ever seen: an engine started on this history
        continues above it, so ExecIDs stay unique and increasing across a restart."""
        out = {i: k[0] for i, k in self._floor.items()}
        for i, k in self._latest.items():
            out[i] = max(out.get(i, 0), k[0])
        return out


class _Book:
    """One (account, index)'s entries in ExecID order, as parallel lists: keys (for bisect),
    times and encoded bodies. The ExecID text is not kept: it is the key, formatted again."""

    __slots__ = ("keys", "times", "bodies")

    def __init__(self) -> None:
        self.keys: list[ExecKey] = []
        self.times = array("d")
        self.bodies: list[bytes] = []


class MemoryHistory(_Base):
    """The 3-hour window in memory, compactly: about 370 bytes per ExecutionReport, most of it
    the report's own body (issue 11 §4)."""

    def __init__(self, clock: Clock | None = None, *, window: float = WINDOW_SECONDS) -> None:
        super().__init__(clock, window)
        self._books: dict[tuple[str, int], _Book] = {}

    def record(self, account: str, body: Body | bytes, data: bytes | None = None) -> None:
        """`body`: pairs, or the encoded bytes the session sends; `data`: pairs already encoded (encode_body)."""
        parsed = self._parse(body)
        if parsed is None:
            return
        _text, clock, event, index = parsed
        now = self._now()
        key = (clock, event)
        book = self._books.get((account, index))
        if book is None:
            book = self._books[(account, index)] = _Book()
        keys = book.keys
        if data is None:
            data = body if isinstance(body, bytes) else encode_body(body)
        if not keys or key > keys[-1]:  # the usual case: ExecIDs increase
            keys.append(key)
            book.times.append(now)
            book.bodies.append(data)
        else:
            pos = bisect.bisect_left(keys, key)
            if pos < len(keys) and keys[pos] == key:
                book.times[pos] = now
                book.bodies[pos] = data
            else:
                keys.insert(pos, key)
                book.times.insert(pos, now)
                book.bodies.insert(pos, data)
        self._note(index, key)
        if now >= self._next_prune:
            self.prune(now)

    def fetch(self, account: str, index: int, begin: ExecKey, end: ExecKey, limit: int) -> list[HistoryEntry]:
        """Up to `limit` entries with begin <= ExecID <= end, in ExecID order."""
        book = self._books.get((account, index))
        if book is None:
            return []
        keys = book.keys
        lo = bisect.bisect_left(keys, begin)
        hi = min(bisect.bisect_right(keys, end), lo + limit)
        return [HistoryEntry(format_exec_id(*keys[i], index), book.times[i], book.bodies[i]) for i in range(lo, hi)]

    def prune(self, now: float | None = None) -> None:
        now = self._now() if now is None else now
        self._next_prune = now + PRUNE_INTERVAL
        cutoff = now - self.window
        for (_account, index), book in self._books.items():
            n = _older(book.times, cutoff)
            if n:
                self._raise_floor(index, book.keys[n - 1])
                del book.keys[:n], book.times[:n], book.bodies[:n]

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __len__(self) -> int:
        return sum(len(book.keys) for book in self._books.values())


def _older(times: array, cutoff: float) -> int:
    """How many leading entries (ExecID order) were recorded before the cutoff."""
    n = 0
    for t in times:
        if t >= cutoff:
            break
        n += 1
    return n


def open_history_db(path: str | Path) -> sqlite3.Connection:
    """The simulator's state file (opened as the session stores open it) with the history tables."""
    return history_tables(SqliteStore.open_db(path))


def history_tables(db: sqlite3.Connection) -> sqlite3.Connection:
    """Create the history tables in an open state file (the simulator's shared connection)."""
    db.execute("CREATE TABLE IF NOT EXISTS exec_history(venue TEXT, account TEXT, idx INTEGER, clock INTEGER,"
               " event INTEGER, recorded_at REAL, exec_id TEXT, body BLOB,"
               " PRIMARY KEY(venue, account, idx, clock, event)) WITHOUT ROWID")
    db.execute("CREATE INDEX IF NOT EXISTS exec_history_time ON exec_history(venue, recorded_at)")
    db.execute("CREATE TABLE IF NOT EXISTS exec_history_floor(venue TEXT, idx INTEGER, clock INTEGER,"
               " event INTEGER, PRIMARY KEY(venue, idx))")
    db.commit()
    return db


class SqliteHistory(_Base):
    """One venue's history in a shared SQLite file; rows are buffered and written on flush()."""

    @staticmethod
    def clear(db: sqlite3.Connection, venue: str) -> None:
        """Forget a venue's history (the control plane's reset to the start state)."""
        with db:
            db.execute("DELETE FROM exec_history WHERE venue=?", (venue,))
            db.execute("DELETE FROM exec_history_floor WHERE venue=?", (venue,))

    def __init__(self, db: sqlite3.Connection, venue: str, clock: Clock | None = None, *,
                 window: float = WINDOW_SECONDS, batch: int = 512,
                 schedule: Callable[[Callable[[], None]], None] | None = None, commit: bool = True) -> None:
        super().__init__(clock, window)
        self._db = db
        # False: the connection's owner commits (journal.StateFile, one transaction per batch).
        self.autocommit = commit
        self.venue = venue
        self.batch = batch
        self.schedule = schedule    # runs flush at the end of the loop turn (set by the wiring)
        self._pending: list[tuple] = []
        self._prune_due: float | None = None
        for idx, clock_, event in db.execute(
                "SELECT idx, clock, event FROM exec_history_floor WHERE venue=?", (venue,)):
            self._floor[idx] = (clock_, event)
        for idx, clock_, event in db.execute(
                "SELECT h.idx, h.clock, MAX(h.event) FROM exec_history h JOIN"
                " (SELECT idx, MAX(clock) AS c FROM exec_history WHERE venue=? GROUP BY idx) m"
                " ON h.idx = m.idx AND h.clock = m.c WHERE h.venue=? GROUP BY h.idx, h.clock", (venue, venue)):
            self._latest[idx] = (clock_, event)

    def record(self, account: str, body: Body | bytes, data: bytes | None = None) -> None:
        """`body`: pairs, or the encoded bytes the session sends; `data`: pairs already encoded (encode_body)."""
        parsed = self._parse(body)
        if parsed is None:
            return
        text, clock, event, index = parsed
        now = self._now()
        first = not self._pending
        self._pending.append((self.venue, account, index, clock, event, now, text,
                              data if data is not None else body if isinstance(body, bytes) else encode_body(body)))
        self._note(index, (clock, event))
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_INTERVAL
            self._prune_due = now
        if len(self._pending) >= self.batch:
            self.flush()
        elif first and self.schedule is not None:
            self.schedule(self.flush)

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        prune_at, self._prune_due = self._prune_due, None
        if not pending and prune_at is None:
            return
        db = self._db
        if pending:
            db.executemany("INSERT OR REPLACE INTO exec_history(venue, account, idx, clock, event, recorded_at,"
                           " exec_id, body) VALUES (?,?,?,?,?,?,?,?)", pending)
        if prune_at is not None:
            self._delete_old(prune_at)
        if self.autocommit:
            db.commit()

    def fetch(self, account: str, index: int, begin: ExecKey, end: ExecKey, limit: int) -> list[HistoryEntry]:
        self.flush()
        return [HistoryEntry(text, at, bytes(body)) for text, at, body in self._db.execute(
            "SELECT exec_id, recorded_at, body FROM exec_history WHERE venue=? AND account=? AND idx=?"
            " AND (clock, event) >= (?, ?) AND (clock, event) <= (?, ?) ORDER BY clock, event LIMIT ?",
            (self.venue, account, index, begin[0], begin[1], end[0], end[1], limit))]

    def prune(self, now: float | None = None) -> None:
        now = self._now() if now is None else now
        self._next_prune = now + PRUNE_INTERVAL
        self._prune_due = now
        self.flush()

    def _delete_old(self, now: float) -> None:
        cutoff = now - self.window
        db = self._db
        rows = db.execute(
            "SELECT h.idx, h.clock, MAX(h.event) FROM exec_history h JOIN"
            " (SELECT idx, MAX(clock) AS c FROM exec_history WHERE venue=? AND recorded_at < ? GROUP BY idx) m"
            " ON h.idx = m.idx AND h.clock = m.c WHERE h.venue=? AND h.recorded_at < ? GROUP BY h.idx, h.clock",
            (self.venue, cutoff, self.venue, cutoff)).fetchall()
        if not rows:
            return
        for idx, clock, event in rows:
            self._raise_floor(idx, (clock, event))
            floor = self._floor[idx]
            db.execute("INSERT OR REPLACE INTO exec_history_floor(venue, idx, clock, event) VALUES (?,?,?,?)",
                       (self.venue, idx, floor[0], floor[1]))
        db.execute("DELETE FROM exec_history WHERE venue=? AND recorded_at < ?", (self.venue, cutoff))

    def close(self) -> None:
        """Write what is buffered (the connection belongs to whoever opened it)."""
        self.flush()

    def __len__(self) -> int:
        self.flush()
        return self._db.execute("SELECT COUNT(*) FROM exec_history WHERE venue=?", (self.venue,)).fetchone()[0]
