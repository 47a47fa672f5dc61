"""The journal: a bounded record of recent frames in and out of every connection (control plane
view, GET /messages), plus the optional message log (logger `kalshi_fixsim.messages`) and the
per-session message log files.

A Recorder sits in front of a connection's own interceptor (faults, tests), so it sees exactly
what crossed the wire. Memory is bounded three ways (issue 11 §4, behaviour.md "Control plane"):
at most `max_entries` frames, at most `max_bytes` in all (oldest frames go first), and a frame
longer than `max_frame_bytes` is kept truncated to its first `max_frame_bytes` bytes, marked
`[truncated, N bytes]` wherever it is shown.
"""
from __future__ import annotations

import logging
import re
from collections import deque
from functools import partial
from pathlib import Path
from typing import Callable, Iterable, TextIO

from kalshi_fixsim.fixproto.codec import format_utc
from kalshi_fixsim.fixproto.render import render_block, render_line

__all__ = ["Transcript", "Recorder", "Entry", "MessageLog", "message_log_name"]

msg_log = logging.getLogger("kalshi_fixsim.messages")

ENTRY_OVERHEAD = 160  # bytes an entry costs besides its frame (object, deque slot, float): counted in the cap
_PENDING_MAX = 8      # frames of a connection that get its session id once the Logon is accepted


class Entry:
    __slots__ = ("time", "direction", "endpoint", "session", "frame", "size", "note")

    def __init__(self, time: float, direction: str, endpoint: str, session: str, frame: bytes, size: int,
                 note: str = "") -> None:
        self.time = time
        self.direction = direction
        self.endpoint = endpoint
        self.session = session
        self.frame = frame  # the first max_frame_bytes bytes when truncated
        self.size = size    # the frame's real length
        self.note = note    # a fault applied to it ("dropped by rule f3"), else ""

    @property
    def truncated(self) -> bool:
        return self.size > len(self.frame)

    @property
    def msg_type(self) -> str:
        frame = self.frame
        i = frame.find(b"\x0135=")
        if i < 0:
            return ""
        j = frame.find(b"\x01", i + 4)
        return frame[i + 4:j if j >= 0 else len(frame)].decode("latin-1")

    def names(self, cl_ord_id: str) -> bool:
        """Does the frame carry this ClOrdID (11) or OrigClOrdID (41)?"""
        value = cl_ord_id.encode("latin-1", "replace") + b"\x01"
        return b"\x0111=" + value in self.frame or b"\x0141=" + value in self.frame

    def truncation(self) -> str:
        return f" [truncated, {self.size} bytes]" if self.truncated else ""

    def mark(self) -> str:
        """What the journal says of the frame: truncated, and the fault applied to it."""
        return self.truncation() + (f" [{self.note}]" if self.note else "")

    def line(self) -> str:
        """The one-line rendering, truncation said."""
        return render_line(self.frame) + self.mark()


class Transcript:
    def __init__(self, clock: Callable[[], float], maxlen: int = 2000, *, max_bytes: int = 8 * 1024 * 1024,
                 max_frame_bytes: int = 64 * 1024, log_messages: bool = False,
                 message_log: str | Path | None = None) -> None:
        self.clock = clock
        self.max_entries = maxlen
        self.max_bytes = max_bytes
        self.max_frame_bytes = max_frame_bytes
        self.log_messages = log_messages
        self.entries: deque[Entry] = deque()
        self.bytes = 0  # frames kept + ENTRY_OVERHEAD each
        self.files = MessageLog(Path(message_log)) if message_log is not None else None
        self.added = 0  # frames ever added: the id of the newest (web view, GET /messages/{id})
        self.count: Callable[[str, str, str, bytes], None] | None = None  # metrics (simulator/metrics.py)

    @classmethod
    def from_config(cls, clock: Callable[[], float], journal) -> "Transcript":
        return cls(clock, journal.max_entries, max_bytes=journal.max_bytes,
                   max_frame_bytes=journal.max_frame_bytes, log_messages=journal.log_messages,
                   message_log=journal.message_log)

    def recorder(self, product: str, code: str, inner=None, *, comp_id: str = "") -> "Recorder":
        return Recorder(self, f"{product}/{code}", inner, comp_id=comp_id)

    def add(self, direction: str, endpoint: str, session: str, frame: bytes, note: str = "") -> Entry:
        size = len(frame)
        if size > self.max_frame_bytes:
            frame = frame[:self.max_frame_bytes]  # the large original is not kept alive
        entry = Entry(self.clock(), direction, endpoint, session, frame, size, note)
        self.added += 1
        if self.count is not None and not note:  # a fault mark is not a message on the wire
            self.count(direction, endpoint, session, frame)
        entries = self.entries
        entries.append(entry)
        self.bytes += len(frame) + ENTRY_OVERHEAD
        if len(entries) > self.max_entries or self.bytes > self.max_bytes:
            self._evict()
        if self.log_messages:
            msg_log.info("%s %-3s %s", session or f"{endpoint}/-", direction, entry.line())
        return entry

    def add_received(self, endpoint: str, session: str, frame: bytes) -> None:
        """`add("in", ...)` of one frame, for `Recorder.inbound_recorder` (never with the message
        log on, no fault mark): what `add` does for it, without the checks that cannot apply."""
        size = len(frame)
        kept = frame[:self.max_frame_bytes] if size > self.max_frame_bytes else frame
        entry = Entry(self.clock(), "in", endpoint, session, kept, size)
        self.added += 1
        if self.count is not None:
            self.count("in", endpoint, session, kept)
        entries = self.entries
        entries.append(entry)
        self.bytes += len(kept) + ENTRY_OVERHEAD
        if len(entries) > self.max_entries or self.bytes > self.max_bytes:
            self._evict()

    def add_sent(self, endpoint: str, session: str, frames: list[bytes]) -> None:
        """`add("out", ...)` for each frame of one write (Recorder.outbound_all, never with the
        message log on): one clock read for the write, the per-frame work in one loop (issue 16)."""
        now = self.clock()
        entries = self.entries
        count = self.count
        cap = self.max_frame_bytes
        kept = 0
        for whole in frames:
            size = len(whole)
            frame = whole[:cap] if size > cap else whole
            entry = Entry(now, "out", endpoint, session, frame, size)
            entries.append(entry)
            kept += len(frame) + ENTRY_OVERHEAD
            if count is not None:
                count("out", endpoint, session, frame)
        self.added += len(frames)
        self.bytes += kept
        if len(entries) > self.max_entries or self.bytes > self.max_bytes:
            self._evict()

    def _evict(self) -> None:
        entries = self.entries
        while len(entries) > self.max_entries or (self.bytes > self.max_bytes and len(entries) > 1):
            old = entries.popleft()
            self.bytes -= len(old.frame) + ENTRY_OVERHEAD

    def clear(self) -> None:
        """Forget every frame (the control plane's reset); log files are kept."""
        self.entries.clear()
        self.bytes = 0

    def close(self) -> None:
        if self.files is not None:
            self.files.close()

    def select(self, limit: int = 100, session: str | None = None, msg_type: str | None = None,
               cl_ord_id: str | None = None) -> list[Entry]:
        """Newest last. `session` is a session id (prediction/NR/<key>) or a prefix of one
        (prediction/NR); `cl_ord_id` matches ClOrdID(11) or OrigClOrdID(41)."""
        rows = []
        for e in reversed(self.entries):
            if session and e.session != session and not e.session.startswith(session.rstrip("/") + "/"):
                continue
            if msg_type and e.msg_type != msg_type:
                continue
            if cl_ord_id and not e.names(cl_ord_id):
                continue
            rows.append(e)
            if len(rows) >= limit:
                break
        rows.reverse()
        return rows

    def recent(self, limit: int = 100, session: str | None = None, msg_type: str | None = None,
               cl_ord_id: str | None = None) -> list[dict]:
        """Time, direction ("in"/"out"), endpoint, session id, the frame as text ("|" for SOH),
        its real size and whether the journal kept only its start."""
        return [{"time": e.time, "direction": e.direction, "endpoint": e.endpoint, "session": e.session,
                 "frame": e.frame.decode("latin-1").replace("\x01", "|") + e.truncation(), "size": e.size,
                 "truncated": e.truncated, **({"fault": e.note} if e.note else {})}
                for e in self.select(limit, session, msg_type, cl_ord_id)]

    def text(self, limit: int = 100, session: str | None = None, msg_type: str | None = None,
             cl_ord_id: str | None = None, *, multiline: bool = False) -> str:
        """The selected frames for people: one line each, or the aligned block form."""
        out = []
        for e in self.select(limit, session, msg_type, cl_ord_id):
            head = f"{format_utc(e.time)} {e.session or e.endpoint + '/-'} {e.direction}"
            if multiline:
                out.append(f"{head}{e.mark()}\n{render_block(e.frame)}\n")
            else:
                out.append(f"{head} {e.line()}")
        return "\n".join(out) + ("\n" if out else "")


class Recorder:
    """The interceptor of one connection: records, then hands over to the inner interceptor."""

    def __init__(self, transcript: Transcript, endpoint: str, inner=None, *, comp_id: str = "") -> None:
        self.transcript = transcript
        self.endpoint = endpoint
        self.inner = inner
        self.comp_id = comp_id  # our CompID on this connection (message log file names)
        self._session = ""
        self._pending: list[Entry] = []  # this connection's frames before its Logon was accepted

    @property
    def session(self) -> str:
        return self._session

    @session.setter
    def session(self, session_id: str) -> None:
        """Set once the Logon is accepted: the frames that led to it get the session id too."""
        self._session = session_id
        for entry in self._pending:
            entry.session = session_id
            self._file(entry)
        self._pending = []

    def _record(self, direction: str, frame: bytes, note: str = "") -> None:
        entry = self.transcript.add(direction, self.endpoint, self._session, frame, note)
        if not self._session:
            if len(self._pending) < _PENDING_MAX:
                self._pending.append(entry)
        elif self.transcript.files is not None:
            self._file(entry)

    def _file(self, entry: Entry) -> None:
        files = self.transcript.files
        if files is not None and entry.session:
            files.write(entry, self.comp_id)

    def inbound(self, frame: bytes) -> Iterable[bytes]:
        self._record("in", frame)
        return self.inner.inbound(frame) if self.inner is not None else (frame,)

    def inbound_recorder(self) -> Callable[[bytes], None] | None:
        """For the frames of one read (the driver's read path, fixproto/aio.py): a callable that
        records one inbound frame exactly as `inbound` does, one C-level call to
        `Transcript.add_received` instead of three Python calls per frame (issue 16); None when
        `inbound` must run per frame: an inner interceptor (faults, tests), frames before the
        Logon, the message log or files, or `_record`/`inbound` replaced on this recorder (a
        connection watch wraps `_record`)."""
        transcript = self.transcript
        if self.inner is not None or not self._session or transcript.files is not None or transcript.log_messages \
                or "_record" in self.__dict__ or "inbound" in self.__dict__:
            return None
        return partial(transcript.add_received, self.endpoint, self._session)

    def outbound(self, frame: bytes) -> Iterable[bytes]:
        if self.inner is None:  # the usual case: one frame out, as it was sent
            self._record("out", frame)
            return (frame,)
        frames = self.inner.outbound(frame)
        for out in frames:
            if isinstance(out, bytes):  # not the transport actions a fault may return
                self._record("out", out)
        return frames

    def outbound_all(self, frames: list[bytes]) -> list[bytes] | None:
        """The frames of one write, recorded as `outbound` records them, in one call (the
        driver's write path, fixproto/aio.py); None when there is more to do per frame (an
        inner interceptor, frames before the Logon, message log or files, a connection watch
        wrapping `_record` (simulator/conn_watch.py)): then `outbound` runs."""
        transcript = self.transcript
        if self.inner is not None or not self._session or transcript.files is not None or transcript.log_messages \
                or "_record" in self.__dict__:
            return None
        transcript.add_sent(self.endpoint, self._session, frames)
        return frames

    def mark(self, direction: str, frame: bytes, note: str) -> None:
        """A fault applied to a frame: recorded next to it ("dropped by rule f3")."""
        self._record(direction, frame, note)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def message_log_name(session_id: str, comp_id: str) -> str:
    """QuickFIX's file name for a session, from our side: BeginString-SenderCompID-TargetCompID,
    the margin product as the session qualifier: `FIXT.1.1-KalshiNR-<api key>.messages.log`,
    `FIXT.1.1-KalshiNR-<api key>-margin.messages.log`."""
    product, code, key = (session_id.split("/", 2) + ["", ""])[:3]
    name = f"FIXT.1.1-{_UNSAFE.sub('_', comp_id or 'Kalshi' + code)}-{_UNSAFE.sub('_', key)}"
    if product != "prediction":
        name += f"-{_UNSAFE.sub('_', product)}"
    return name + ".messages.log"


class MessageLog:
    """One append-only file per session id in a folder, one line per frame: time (UTC, the
    simulator's clock), direction, the one-line rendering."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: dict[str, TextIO] = {}
        self._broken = False
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"journal.message_log / --message-log: cannot create the folder {folder}: "
                             f"{exc.strerror or exc}; give a writable folder") from None

    def path(self, session_id: str, comp_id: str) -> Path:
        return self.folder / message_log_name(session_id, comp_id)

    def write(self, entry: Entry, comp_id: str) -> None:
        if self._broken:
            return
        try:
            f = self._files.get(entry.session)
            if f is None:
                f = self._files[entry.session] = open(self.path(entry.session, comp_id), "a", encoding="utf-8",
                                                      buffering=1)  # line-buffered: readable while running
            f.write(f"{format_utc(entry.time)} {entry.direction:<3} {entry.line()}\n")
        except OSError as exc:  # disk full, folder removed: say it once, never stop the session
            self._broken = True
            msg_log.warning("message log files in %s stopped: %s", self.folder, exc)

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()
