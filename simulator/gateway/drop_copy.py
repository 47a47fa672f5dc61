"""KalshiDC (both products): EventResendRequest U1 -> the account's past ExecutionReports,
then EventResendComplete U2 or EventResendReject U3 (spec 04).

The reports come from the venue's history (simulator/history.py), which keeps each body as
the order's own session received it; a replay sends those bodies again with new MsgSeqNums
(spec 04 §2), without PossResend/PossDup. Malformed ExecID text is a session Reject 373=6
(spec 04 §5, spec 09 §1); the range checks answer U3 (spec 04 §5):

  1 RATE_LIMITED            a token bucket per API key (`DropCopyService.rate` / `.burst`)
  2 SERVER_ERROR            the venue keeps no history
  3 BEGIN_EXECID_TOO_SMALL  BeginExecID at or below the highest ExecID that left the 3-hour window
  4 END_EXECID_TOO_LARGE    EndExecID beyond the latest ExecID of its exchange index, Begin > End,
                            or Begin and End on different exchange indexes

U2 and U3 carry only the dictionary's fields (45, 21003 / 45, 21004): a validating client
would reject a Text the dictionary does not define for them; the reason is logged instead.

A long replay is sent in chunks of `CHUNK` reports, one chunk per loop turn, and waits while
the connection has more than `HIGH_WATER` bytes unsent, so other sessions are served in
between and a slow reader is paced instead of being dropped as a slow consumer. Requests on
one session are answered in order: a second U1 waits for the first replay's U2.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Callable

from kalshi_fixsim.fixproto.codec import FixMessage
from kalshi_fixsim.fixproto.fields import EventResendRejectReason as ERR, SessionRejectReason as SRR

from ..history import ExecKey, WINDOW_SECONDS, decode_body, format_exec_id, parse_exec_id
from . import HANDLERS, LIFECYCLE, Connection
from .venue import Venue

__all__ = ["DropCopyService", "service", "on_event_resend_request", "CHUNK", "HIGH_WATER"]

log = logging.getLogger("kalshi_fixsim.drop_copy")

CHUNK = 256               # reports sent per loop turn
HIGH_WATER = 1 << 20      # bytes queued on the connection before the replay waits
WAIT = 0.005              # seconds between checks while the connection drains
_ALL_SESSIONS = ("NR", "RT", "DC", "PT", "RFQ", "MD")
_FORMAT = "clock;event (exchange index 0) or clock;event;exchange_index, digits only"


class _Bucket:
    __slots__ = ("tokens", "updated")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens, self.updated = tokens, now


Later = Callable[[float, Callable[[], None]], bool]  # (delay, fn) -> scheduled? (False: no loop)


class DropCopyService:
    """Per-venue drop-copy state: rate-limit buckets per API key and the replays under way.

    `later(delay, fn)` runs fn on a later loop turn (the wiring gives the event loop's, see
    simulator/world.py: the gateway does no I/O itself); without it a replay goes out at once."""

    def __init__(self, rate: float = 1.0, burst: float = 5.0, later: Later | None = None) -> None:
        self.rate = rate     # U1 per second per API key (spec 04 §5 open question: 1/s)
        self.burst = burst   # requests allowed back to back
        self.later = later
        self.buckets: dict[str, _Bucket] = {}
        self.queues: dict[object, deque[_Replay]] = {}  # connection -> its replays, first is running

    def allow(self, key: str, now: float) -> bool:
        """Take one token from the key's bucket; False when it is empty (spec 04 §5, code 1)."""
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + max(0.0, now - bucket.updated) * self.rate)
            bucket.updated = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True


def service(venue: Venue) -> DropCopyService:
    svc = venue.services.get("drop_copy")
    if svc is None:
        svc = venue.services["drop_copy"] = DropCopyService()
    return svc  # type: ignore[return-value]


# --- replay --------------------------------------------------------------------------------

_DONE, _MORE, _WAIT, _DEAD = range(4)


def _driver(conn: Connection):
    return getattr(conn, "driver", None)


class _Replay:
    def __init__(self, conn: Connection, ref_seq: str, index: int, begin: ExecKey, end: ExecKey) -> None:
        self.conn, self.ref_seq, self.index = conn, ref_seq, index
        self.next, self.end = begin, end
        self.count = 0

    def step(self) -> int:
        conn = self.conn
        driver = _driver(conn)
        if driver is not None:
            if not driver.session.is_active:
                return _DEAD
            transport = driver.transport
            if transport is not None and transport.get_write_buffer_size() > HIGH_WATER:
                return _WAIT
        history = conn.venue.history
        entries = history.fetch(conn.user, self.index, self.next, self.end, CHUNK) if history is not None else []
        for entry in entries:
            if not conn.send("8", decode_body(entry.body)):
                return _DEAD  # the connection is closing
        self.count += len(entries)
        if len(entries) == CHUNK:
            clock, event, _ = parse_exec_id(entries[-1].exec_id)  # type: ignore[misc]
            self.next = (clock, event + 1)  # the smallest ExecID after the last one sent
            return _MORE
        conn.send("U2", [(45, self.ref_seq), (21003, self.count)])  # spec 04 §4
        return _DONE


def _enqueue(conn: Connection, replay: _Replay) -> None:
    svc = service(conn.venue)
    queue = svc.queues.get(conn)
    if queue:
        queue.append(replay)  # answered after the replay under way
        return
    svc.queues[conn] = deque([replay])
    _pump(svc, conn)


def _pump(svc: DropCopyService, conn: Connection) -> None:
    queue = svc.queues.get(conn)
    while queue:
        state = queue[0].step()
        if state == _DONE:
            queue.popleft()
            continue
        if state == _DEAD:
            break
        later = svc.later
        if later is not None and later(WAIT if state == _WAIT else 0.0, lambda: _pump(svc, conn)):
            return  # the rest on a later loop turn: other sessions are served meanwhile
        if state == _WAIT:
            break  # no loop to wait on (cannot happen with a live transport)
    if svc.queues.get(conn) is queue:
        svc.queues.pop(conn, None)


# --- EventResendRequest --------------------------------------------------------------------

def _resend_reject(conn: Connection, ref_seq: str, reason: int, why: str) -> None:
    log.info("U3 %s key=%s 21004=%d: %s", conn.product, getattr(conn, "api_key_id", ""), reason, why)
    conn.send("U3", [(45, ref_seq), (21004, reason)])  # spec 04 §5


def _show(key: ExecKey, index: int) -> str:
    return format_exec_id(key[0], key[1], index)


def on_event_resend_request(conn: Connection, msg: FixMessage) -> None:
    begin_text = msg.get(21001)
    begin = parse_exec_id(begin_text)
    if begin is None:  # spec 04 §5: malformed ExecID text -> Reject 373=6
        conn.reject(msg, SRR.INCORRECT_DATA_FORMAT,
                    f"BeginExecID(21001)={begin_text!r} is not an ExecID: expected {_FORMAT}", 21001)
        return
    end_text = msg.get(21002)
    end = None
    if end_text is not None:
        end = parse_exec_id(end_text)
        if end is None:
            conn.reject(msg, SRR.INCORRECT_DATA_FORMAT,
                        f"EndExecID(21002)={end_text!r} is not an ExecID: expected {_FORMAT}", 21002)
            return
    ref_seq = msg.get(34) or "0"
    venue = conn.venue
    svc = service(venue)
    if not svc.allow(getattr(conn, "api_key_id", "") or conn.session_id, conn.now()):
        _resend_reject(conn, ref_seq, ERR.RATE_LIMITED,
                       f"more than {svc.rate:g} EventResendRequest/s (burst {svc.burst:g}) for this API key")
        return
    history = venue.history
    if history is None:
        _resend_reject(conn, ref_seq, ERR.SERVER_ERROR, "this venue keeps no execution history")
        return
    history.prune()
    index, begin_key = begin[2], begin[:2]
    floor = history.floor(index)
    if floor is not None and begin_key <= floor:
        _resend_reject(conn, ref_seq, ERR.BEGIN_EXECID_TOO_SMALL,
                       f"BeginExecID {begin_text} is older than the {WINDOW_SECONDS / 3600:g}-hour window "
                       f"(ExecIDs up to {_show(floor, index)} have left it)")
        return
    latest = history.latest(index)
    if end is not None:
        end_key = end[:2]
        if end[2] != index:  # spec 04 §3: a range covers one exchange index
            _resend_reject(conn, ref_seq, ERR.END_EXECID_TOO_LARGE,
                           f"EndExecID {end_text} is on exchange index {end[2]}, BeginExecID on {index}")
            return
        if latest is None or end_key > latest:
            _resend_reject(conn, ref_seq, ERR.END_EXECID_TOO_LARGE,
                           f"EndExecID {end_text} is beyond the latest ExecID "
                           f"{_show(latest, index) if latest else '(none)'} of exchange index {index}")
            return
        if begin_key > end_key:
            _resend_reject(conn, ref_seq, ERR.END_EXECID_TOO_LARGE,
                           f"BeginExecID {begin_text} is after EndExecID {end_text}")
            return
    else:
        end_key = latest if latest is not None else (0, 0)  # spec 04 §3: default = latest on the index
    _enqueue(conn, _Replay(conn, ref_seq, index, begin_key, end_key))  # empty range: U2 21003=0


HANDLERS[("DC", "U1")] = on_event_resend_request


# --- lifecycle -----------------------------------------------------------------------------

class _ClockBinder:
    """A history built without the Simulator's clock (`build_venues(config)`) gets it when the
    first session of its venue logs on, which is before any of its reports can be recorded."""

    def attached(self, conn: Connection) -> None:
        history = conn.venue.history
        if history is not None and getattr(history, "late_clock", False):
            sim = getattr(conn, "sim", None)
            history.clock = sim.clock.now if sim is not None else conn.now  # type: ignore[attr-defined]
            history.late_clock = False  # type: ignore[attr-defined]

    def detached(self, conn: Connection) -> None:
        if conn.session_code == "DC":
            service(conn.venue).queues.pop(conn, None)  # replays of a closed connection stop


_BINDER = _ClockBinder()
for _code in _ALL_SESSIONS:
    LIFECYCLE.setdefault(_code, []).append(_BINDER)
