"""Message stores: sequence numbers and sent application messages, for resend.

Only application messages are stored; a sequence number with no stored message was an
admin message and is gap-filled on resend (spec 01 §6). Messages older than the
retention period are pruned; `pruned_through` remembers the highest pruned number so a
ResendRequest reaching back past it can be rejected (spec 01 §6, MessageRetentionPeriod).
"""
from __future__ import annotations

import sqlite3
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

__all__ = ["MessageStore", "MemoryStore", "SqliteStore", "StoredMessage"]

StoredMessage = tuple[int, float, bytes]  # (seq, sent_at epoch seconds, frame)


class MessageStore(Protocol):
    next_sender_seq: int
    next_target_seq: int
    pruned_through: int

    def save(self, seq: int, sent_at: float, frame: bytes) -> None: ...
    def fetch(self, begin: int, end: int) -> list[StoredMessage]: ...
    def prune(self, before: float) -> None: ...
    def reset(self) -> None: ...
    def flush(self) -> None: ...


class MemoryStore:
    """In-memory store (tests, the client, non-persistent simulators)."""

    def __init__(self) -> None:
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self.pruned_through = 0
        self._messages: OrderedDict[int, tuple[float, bytes]] = OrderedDict()

    def save(self, seq: int, sent_at: float, frame: bytes) -> None:
        self._messages[seq] = (sent_at, frame)

    def fetch(self, begin: int, end: int) -> list[StoredMessage]:
        return [(s, t, f) for s, (t, f) in self._messages.items() if begin <= s <= end]

    def prune(self, before: float) -> None:
        while self._messages:
            seq, (sent_at, _) = next(iter(self._messages.items()))
            if sent_at >= before:
                break
            del self._messages[seq]
            self.pruned_through = seq

    def reset(self) -> None:
        self.next_sender_seq = 1
        self.next_target_seq = 1
        self.pruned_through = 0
        self._messages.clear()

    def flush(self) -> None:
        pass

    def __len__(self) -> int:
        return len(self._messages)


class SqliteStore:
    """One session's store inside a shared SQLite file (WAL; commits batched by flush())."""

    def __init__(self, db: sqlite3.Connection, session_key: str, *, commit: bool = True) -> None:
        self._db = db
        self.autocommit = commit  # False: the connection's owner commits once per batch
        self.key = session_key
        row = db.execute(
            "SELECT next_sender, next_target, pruned_through FROM sessions WHERE key=?", (session_key,)
        ).fetchone()
        if row is None:
            db.execute("INSERT INTO sessions(key, next_sender, next_target, pruned_through) VALUES (?,1,1,0)",
                       (session_key,))
            row = (1, 1, 0)
        self._sender, self._target, self._pruned = row
        self._dirty = True
        self._rows: list[tuple[str, int, float, bytes]] = []  # saved, written by flush() (one executemany)

    @staticmethod
    def open_db(path: str | Path) -> sqlite3.Connection:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), isolation_level="DEFERRED", check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS sessions(key TEXT PRIMARY KEY, next_sender INTEGER,"
                   " next_target INTEGER, pruned_through INTEGER)")
        db.execute("CREATE TABLE IF NOT EXISTS messages(key TEXT, seq INTEGER, sent_at REAL, frame BLOB,"
                   " PRIMARY KEY(key, seq))")
        db.commit()
        return db

    # Sequence numbers are plain attributes for the session's hot path; flush() persists them.
    @property
    def next_sender_seq(self) -> int:
        return self._sender

    @next_sender_seq.setter
    def next_sender_seq(self, value: int) -> None:
        self._sender = value
        self._dirty = True

    @property
    def next_target_seq(self) -> int:
        return self._target

    @next_target_seq.setter
    def next_target_seq(self, value: int) -> None:
        self._target = value
        self._dirty = True

    @property
    def pruned_through(self) -> int:
        return self._pruned

    def save(self, seq: int, sent_at: float, frame: bytes) -> None:
        self._rows.append((self.key, seq, sent_at, frame))
        self._dirty = True

    def _write_rows(self) -> None:
        rows, self._rows = self._rows, []
        if rows:
            self._db.executemany("INSERT OR REPLACE INTO messages(key, seq, sent_at, frame) VALUES (?,?,?,?)", rows)

    def fetch(self, begin: int, end: int) -> list[StoredMessage]:
        self._write_rows()
        return [(s, t, bytes(f)) for s, t, f in self._db.execute(
            "SELECT seq, sent_at, frame FROM messages WHERE key=? AND seq BETWEEN ? AND ? ORDER BY seq",
            (self.key, begin, end))]

    def prune(self, before: float) -> None:
        self._write_rows()
        row = self._db.execute("SELECT MAX(seq) FROM messages WHERE key=? AND sent_at < ?",
                               (self.key, before)).fetchone()
        if row and row[0] is not None:
            self._db.execute("DELETE FROM messages WHERE key=? AND seq <= ?", (self.key, row[0]))
            self._pruned = max(self._pruned, row[0])
            self._dirty = True

    def reset(self) -> None:
        self._rows = []
        self._db.execute("DELETE FROM messages WHERE key=?", (self.key,))
        self._sender, self._target, self._pruned = 1, 1, 0
        self._dirty = True

    def flush(self) -> None:
        if self._dirty:
            self._write_rows()
            self._db.execute("UPDATE sessions SET next_sender=?, next_target=?, pruned_through=? WHERE key=?",
                             (self._sender, self._target, self._pruned, self.key))
            if self.autocommit:
                self._db.commit()
            self._dirty = False
