"""One FIX session (FIXT.1.1), sans-IO, for both roles.

Inputs: `receive_data` / `receive_frame` (bytes in), `handle_timer(now)`, and the API calls
(`start_logon`, `accept_logon`, `refuse_logon`, `send`, `logout`, `connection_lost`).
Outputs: `data_to_send()` (frames to write) and `drain_events()` (what happened).
Time is always passed in as `now` (epoch seconds); the next deadline is `get_timer()`.

Peer mistakes become FIX replies (Reject, Logout); `SessionError` is raised only for our
own misuse. Spec references are to ../shared/spec/01-session.md unless named otherwise.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from .codec import (BEGIN_STRING, Framer, FixMessage, GarbledFrame, encode, encode_fields, format_utc,
                    frame_body, parse, parse_utc, utc_bytes)
from .events import AppMessage, Disconnect, Event, Garbled, LoggedOn, LogonRequest, SessionReject, TestResponse
from .fields import ADMIN_MSG_TYPES, SessionRejectReason as SRR
from .numbers import MAX_SEQ, parse_int
from .resend import Retransmission
from .state import RECEIVES_APP, State, can_transition
from .store import MemoryStore, MessageStore
from .validate import validate

__all__ = [
    "Role", "SessionConfig", "Session", "SessionError", "record_offline",
    "Event", "LogonRequest", "LoggedOn", "AppMessage", "SessionReject", "Garbled", "Disconnect", "TestResponse",
]

INITIATOR = "initiator"
ACCEPTOR = "acceptor"


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


class Role:
    INITIATOR = INITIATOR
    ACCEPTOR = ACCEPTOR


class SessionError(Exception):
    """Our own misuse of the API (never a peer's mistake)."""


# --- configuration ------------------------------------------------------------------------

Signer = Callable[[str, int, str, str], list[tuple[int, object]]]


@dataclass
class SessionConfig:
    role: str
    sender_comp_id: str = ""          # ours; the acceptor may learn it only at logon
    target_comp_id: str = ""          # the peer's
    heartbeat_interval: int = 30
    retransmission: bool = False      # ResendRequest/SequenceReset supported (spec 00 §5)
    session_name: str = ""            # for texts, e.g. "KalshiNR"
    sending_time_tolerance: float | None = 30.0  # spec 01 §1.1
    logon_timeout: float = 10.0
    logout_timeout: float = 5.0
    test_request_factor: float = 1.2  # inbound silence before TestRequest, x HeartBtInt
    dead_factor: float = 2.0          # inbound silence before disconnect (spec 01 §4: ~60 s at 30 s)
    retention_seconds: float | None = None  # MessageRetentionPeriod (spec 01 §6)
    validate: bool = True
    max_queued: int = 100_000         # out-of-order messages held while a gap is resent
    resend_timeout: float = 5.0       # a gap still open this long after our ResendRequest (or its
                                      # last progress) is requested again (behaviour.md)
    logon_fields: list[tuple[int, object]] = field(default_factory=list)  # extra Logon tags


def record_offline(store: MessageStore, sender: str, target: str, msg_type: str,
                   body: Iterable[tuple[int, object]], now: float) -> int:
    """Give an application message the session's next MsgSeqNum and store it while no
    connection is up, so a retransmission session replays it after the next Logon
    (spec 01 §5.1: KalshiRT keeps continuity across reconnects)."""
    seq = store.next_sender_seq
    store.next_sender_seq = seq + 1
    header: list[tuple[int, object]] = [(35, msg_type), (49, sender), (56, target), (34, seq), (52, format_utc(now))]
    store.save(seq, now, encode(header, raw=body) if isinstance(body, bytes) else encode(header + list(body)))
    store.flush()
    return seq


class Session(Retransmission):
    def __init__(self, config: SessionConfig, store: MessageStore | None = None, *, now: float = 0.0) -> None:
        self.config = config
        self.store: MessageStore = store if store is not None else MemoryStore()
        self.state = State.CONNECTED
        self.heartbeat_interval = config.heartbeat_interval
        self.peer_logon: FixMessage | None = None
        self._framer = Framer()
        self._out: list[bytes] = []
        self._events: list[Event] = []
        self._created = now
        self._last_sent = now
        self._last_received = now
        self._test_request_id: str | None = None
        self._test_request_count = 0
        self._logout_deadline: float | None = None
        self._queue: dict[int, tuple[FixMessage, bytes] | None] = {}  # held during a gap
        self._barriers: list[Event] = []  # TestResponses acted on above a gap, told once it closes
        self._resend_at: float | None = None  # when our outstanding ResendRequest last progressed
        self._reset_requested = False  # initiator: our in-session Logon 141=Y awaits its answer
        self._pending: list[bytes | GarbledFrame] = []  # frames that arrived while LOGON_PENDING
        self._initiated = False
        # Venue misbehaviour on request (the fault API at the end of this class; issue 12 §1).
        self.sending_time_skew = 0.0   # seconds added to SendingTime(52) of what we send
        self.logon_seq_offset = 0      # added to the MsgSeqNum of our Logon answer (then kept)
        self._silent_until = 0.0       # no Heartbeat/TestRequest (nor answers) before this time
        self._reject_next: list[tuple[int, str]] = []  # Reject the next inbound messages with these
        self._heads: dict[tuple[str, str, str], bytes] = {}  # (MsgType, CompIDs) -> encoded header (_emit)

    # --- outputs ---------------------------------------------------------------------------

    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def drain_events(self) -> list[Event]:
        ev, self._events = self._events, []
        return ev

    @property
    def is_active(self) -> bool:
        return self.state is State.ACTIVE

    @property
    def closed(self) -> bool:
        return self.state is State.CLOSED

    # --- timers ----------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        st = self.state
        if st is State.CLOSED:
            return None
        if st in (State.CONNECTED, State.LOGON_PENDING, State.LOGON_SENT):
            if st is State.CONNECTED and self.config.role == INITIATOR:
                return None  # nothing to wait for until start_logon
            return self._created + self.config.logon_timeout
        hb = self.heartbeat_interval
        deadlines = [self._last_sent + hb, self._last_received + hb * self.config.dead_factor]
        if self._test_request_id is None:
            deadlines.append(self._last_received + hb * self.config.test_request_factor)
        if self._logout_deadline is not None:
            deadlines.append(self._logout_deadline)
        if self._resend_at is not None:
            deadlines.append(self._resend_at + self.config.resend_timeout)
        return min(deadlines)

    def handle_timer(self, now: float) -> None:
        st = self.state
        if st is State.CLOSED:
            return
        if st in (State.CONNECTED, State.LOGON_PENDING, State.LOGON_SENT):
            if (st is not State.CONNECTED or self.config.role == ACCEPTOR) and \
                    now >= self._created + self.config.logon_timeout:
                self._close("logon_timeout", f"No Logon completed within {self.config.logon_timeout:g} s")
            return
        if self._logout_deadline is not None and now >= self._logout_deadline:
            self._close("logout_timeout", "Peer did not answer Logout")
            return
        if self._resend_at is not None and now >= self._resend_at + self.config.resend_timeout:
            self._resend_timed_out(now)
        hb = self.heartbeat_interval
        silence = now - self._last_received
        if silence >= hb * self.config.dead_factor:
            # spec 01 §4: a peer silent for ~2 intervals is gone.
            self._logout_and_close(now, "heartbeat_timeout",
                                   f"Heartbeat timeout: nothing received for {silence:.1f} s (HeartBtInt={hb})")
            return
        if self._test_request_id is None and silence >= hb * self.config.test_request_factor:
            self._test_request_count += 1
            self._test_request_id = f"TEST{self._test_request_count}"
            self._send_admin("1", [(112, self._test_request_id)], now)
        if now - self._last_sent >= hb:
            self._send_admin("0", [], now)

    # --- initiator API ---------------------------------------------------------------------

    def start_logon(self, now: float, *, reset: bool, signer: Signer | None = None) -> None:
        """Send our Logon (spec 01 §2). `reset` sends ResetSeqNumFlag=Y and restarts both sides at 1."""
        if self.config.role != INITIATOR or self._initiated:
            raise SessionError("start_logon is for a new initiator session")
        self._initiated = True
        self._created = now
        if reset:
            self.store.reset()
        seq = self.store.next_sender_seq
        sending_time = format_utc(now)
        body: list[tuple[int, object]] = [(98, 0), (108, self.heartbeat_interval)]
        if signer is not None:
            body += signer(sending_time, seq, self.config.sender_comp_id, self.config.target_comp_id)
        if reset:
            body.append((141, "Y"))
        body.append((1137, "9"))
        body += self.config.logon_fields
        self._transition(State.LOGON_SENT)
        self._emit("A", body, now, sending_time=sending_time)

    def reset_sequence(self, now: float, *, signer: Signer | None = None) -> None:
        """Reset both directions to 1 on a logged-on session: a Logon with ResetSeqNumFlag=Y
        and MsgSeqNum 1, answered by the peer's Logon 141=Y (FIXT.1.1; spec 01 §2.2)."""
        if self.state is not State.ACTIVE:
            raise SessionError(f"cannot reset sequence numbers in state {self.state.value}")
        self.store.reset()
        self._clear_queue()
        self._reset_requested = True
        sending_time = format_utc(now)
        body: list[tuple[int, object]] = [(98, 0), (108, self.heartbeat_interval)]
        if signer is not None:
            body += signer(sending_time, 1, self.config.sender_comp_id, self.config.target_comp_id)
        body += [(141, "Y"), (1137, "9")]
        self._emit("A", body, now, sending_time=sending_time)

    # --- acceptor API ----------------------------------------------------------------------

    def accept_logon(self, now: float, *, store: MessageStore | None = None, sender_comp_id: str | None = None,
                     heartbeat_interval: int | None = None, reply_fields: Iterable[tuple[int, object]] = ()) -> None:
        """Answer the pending Logon with ours and go ACTIVE (spec 01 §2.4)."""
        if self.state is not State.LOGON_PENDING or self.peer_logon is None:
            raise SessionError("accept_logon without a pending Logon")
        logon = self.peer_logon
        if store is not None:
            self.store = store
        if sender_comp_id is not None:
            self.config.sender_comp_id = sender_comp_id
        self.config.target_comp_id = logon.get(49) or ""
        self.heartbeat_interval = heartbeat_interval or parse_int(logon.get(108), 1) or self.heartbeat_interval
        reset = logon.get(141) == "Y"
        if reset:
            self.store.reset()
        seq = parse_int(logon.get(34), 1, MAX_SEQ) or 1  # _on_message checked it
        expected = self.store.next_target_seq
        if seq < expected:
            self._logout_and_close(now, "seq_too_low",
                                   f"MsgSeqNum too low, expecting {expected} but received {seq}")
            return
        body: list[tuple[int, object]] = [(98, 0), (108, self.heartbeat_interval)]
        if reset:
            body.append((141, "Y"))
        body.append((1137, "9"))
        body.extend(reply_fields)
        if self.logon_seq_offset:  # fault API: answer the Logon with a lower/higher MsgSeqNum
            self.store.next_sender_seq = max(1, self.store.next_sender_seq + self.logon_seq_offset)
            self.logon_seq_offset = 0
        self._transition(State.ACTIVE)
        self._emit("A", body, now)
        self._last_received = now
        self._events.append(LoggedOn(logon))
        self._after_logon_seq(seq, expected, now)
        pending, self._pending = self._pending, []
        for item in pending:
            self.receive_frame(item, now)

    def refuse_logon(self, now: float, text: str, *, reject_reason: int | None = None,
                     ref_tag: int | None = None) -> None:
        """Logout with Text, then close; optionally a Reject first (clock skew: 373=10, spec 01 §11)."""
        logon = self.peer_logon
        if logon is not None:
            # Answer with the CompIDs the client used, so its engine recognises the reply.
            if not self.config.sender_comp_id:
                self.config.sender_comp_id = logon.get(56) or ""
            self.config.target_comp_id = logon.get(49) or ""
        if reject_reason is not None and logon is not None:
            self._send_reject(logon, reject_reason, text, now, ref_tag=ref_tag)
        self._logout_and_close(now, "logon_refused", text)

    # --- both roles ------------------------------------------------------------------------

    def send(self, msg_type: str, body: Iterable[tuple[int, object]], now: float) -> int:
        """Send an application message; returns its MsgSeqNum. Stored for resend."""
        if self.state not in (State.ACTIVE, State.LOGOUT_SENT):
            raise SessionError(f"cannot send {msg_type} in state {self.state.value}")
        return self._emit(msg_type, body, now)

    def test_request(self, now: float, test_req_id: str) -> None:
        """Send a TestRequest; its answer arrives as a TestResponse event (spec 01 §4)."""
        if self.state is not State.ACTIVE:
            raise SessionError(f"cannot send TestRequest in state {self.state.value}")
        self._send_admin("1", [(112, test_req_id)], now)

    def reject(self, msg: FixMessage, reason: int, text: str, now: float, *, ref_tag: int | None = None) -> None:
        """Session-level Reject of an application message the layer above found malformed
        (e.g. a ClOrdID or OrderGroupID of the wrong form: spec 09 §1)."""
        self._send_reject(msg, reason, text, now, ref_tag=ref_tag)

    def logout(self, now: float, text: str = "") -> None:
        """Start the Logout handshake (spec 01 §7)."""
        if self.state is State.ACTIVE:
            self._emit("5", [(58, text)] if text else [], now)
            self._transition(State.LOGOUT_SENT)
            self._logout_deadline = now + self.config.logout_timeout
        elif self.state is not State.CLOSED and self.state is not State.LOGOUT_SENT:
            self._logout_and_close(now, "logout", text or "Logout")

    def internal_error(self, now: float, text: str) -> None:
        """Our own failure (an exception the driver caught): Logout with Text, then close."""
        if self.state is not State.CLOSED:
            self._logout_and_close(now, "internal_error", text)

    def connection_lost(self, now: float) -> None:
        if self.state is not State.CLOSED:
            self._close("connection_lost", "Transport closed")

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Frame and process bytes; returns (and drains) the resulting events."""
        for item in self._framer.feed(data):
            self.receive_frame(item, now)
        return self.drain_events()

    def receive_frame(self, item: bytes | GarbledFrame, now: float) -> None:
        st = self.state
        if st is State.CLOSED:
            return
        if st is State.LOGON_PENDING:
            self._pending.append(item)
            return
        if isinstance(item, GarbledFrame):
            # Garbled input is ignored and does not consume a sequence number (FIX session rules).
            self._events.append(Garbled(item.reason, item.data))
            return
        self._last_received = now
        self._test_request_id = None  # any message proves the peer alive
        self._on_message(parse(item), item, now)

    # --- fault API: the venue misbehaving on purpose (simulator/faults, issue 12 §1) -----------
    # Explicit calls, so the state machine is never bent behind its back: each one does what a
    # real, buggy venue's session would, and the other side must cope (spec 01 §5, §6).

    def skip_outbound(self, count: int) -> None:
        """Skip `count` outbound MsgSeqNums: the peer sees a gap. Nothing is stored under the
        skipped numbers, so a ResendRequest over them is answered with a GapFill (spec 01 §6)."""
        if count < 1:
            raise SessionError("skip_outbound needs a count of at least 1")
        self.store.next_sender_seq += count

    def resend_stored(self, now: float, begin: int, end: int = 0, *, orig_sending_time: bool = True) -> int:
        """Send stored application messages again with PossDupFlag(43)=Y and OrigSendingTime(122),
        unasked (end 0 = the last sent). Returns how many were resent. `orig_sending_time`
        False leaves 122 out (a fault: the peer must Reject it, FIX session test case 2f)."""
        last = self.store.next_sender_seq - 1
        end = last if end == 0 or end > last else end
        count = 0
        for _seq, _sent_at, frame in self.store.fetch(max(1, begin), end):
            self._resend(parse(frame), now, orig_sending_time)
            count += 1
        return count

    def resend_frames(self, frames: Iterable[bytes], now: float, *, orig_sending_time: bool = True) -> None:
        """Send earlier frames again as PossDup duplicates (43=Y, 122=their SendingTime), with
        their own MsgSeqNum: for sessions that keep no store (NR/DC/RFQ/MD)."""
        for frame in frames:
            self._resend(parse(frame), now, orig_sending_time)

    def send_resend_request(self, now: float, begin: int, end: int = 0) -> None:
        """Ask the peer to resend BeginSeqNo(7)..EndSeqNo(16) (0 = everything after)."""
        self._emit("2", [(7, begin), (16, end)], now)

    def send_sequence_reset(self, now: float, new_seq: int, *, gap_fill: bool) -> None:
        """SequenceReset with NewSeqNo(36)=new_seq: GapFill (123=Y, carrying the next MsgSeqNum)
        or Reset; our next message then carries new_seq (a lower one is the peer's to refuse)."""
        body: list[tuple[int, object]] = [(123, "Y")] if gap_fill else []
        body.append((36, new_seq))
        self._emit("4", body, now)
        self.store.next_sender_seq = max(1, new_seq)

    def go_silent(self, until: float) -> None:
        """Send no Heartbeat or TestRequest, nor answer TestRequests, before `until`."""
        self._silent_until = until

    def reject_next_inbound(self, reason: int, text: str) -> None:
        """Answer the next inbound message (not a Logout) with Reject 373=reason instead of
        processing it; its MsgSeqNum is consumed as with any Reject (spec 09 §1)."""
        self._reject_next.append((reason, text))

    # --- inbound processing ----------------------------------------------------------------

    def _on_message(self, msg: FixMessage, frame: bytes, now: float) -> None:
        if msg.get(8) != BEGIN_STRING:
            self._logout_and_close(now, "protocol", f"Incorrect BeginString {msg.get(8)!r}, expected {BEGIN_STRING}")
            return
        msg_type = msg.get(35)
        seq_text = msg.get(34)
        if seq_text and len(seq_text) < 10 and seq_text.isdigit() and seq_text.isascii():
            seq = int(seq_text) or None  # fast path: 1..999,999,999 (0 is out of range)
        else:
            seq = parse_int(seq_text, 1, MAX_SEQ) if seq_text else None
        if seq is None:
            # spec 01 §5 rule 2: a missing MsgSeqNum terminates the session; so does one that
            # is not a number of 1..MAX_SEQ (numbers.py), there being no number to go on with.
            text = ("MsgSeqNum(34) missing" if not seq_text else
                    f"MsgSeqNum(34) must be a number 1..{MAX_SEQ}, received {_show(seq_text)}")
            self._logout_and_close(now, "protocol", text)
            return
        st = self.state
        if st is State.CONNECTED:
            if self.config.role == INITIATOR:
                self._logout_and_close(now, "protocol", f"Received 35={(msg_type or '')[:20]} before our Logon was sent")
            else:
                self._on_first_message(msg, msg_type, now)
            return
        if st is State.LOGON_SENT:
            self._on_logon_reply(msg, msg_type, seq, now)
            return
        sender, target = msg.get(49), msg.get(56)
        # Only a CompID present and wrong ends the session (373=9 + Logout); a missing or empty
        # one is an ordinary field problem (373=1 / 373=4 from validate), the session goes on.
        if (sender and sender != self.config.target_comp_id) or (target and target != self.config.sender_comp_id):
            self._send_reject(msg, SRR.COMPID_PROBLEM, "CompID problem", now,
                              ref_tag=49 if sender and sender != self.config.target_comp_id else 56)
            self._logout_and_close(now, "protocol",
                                   f"CompID problem: expected 49={self.config.target_comp_id} "
                                   f"56={self.config.sender_comp_id}")
            return
        if msg_type == "A" and msg.get(141) == "Y" and st is State.ACTIVE:
            self._on_reset_logon(msg, seq, now)  # its MsgSeqNum is 1 by definition
            return
        expected = self.store.next_target_seq
        if msg_type == "4" and msg.get(123) != "Y" and self.config.retransmission:
            # SequenceReset-Reset ignores its own MsgSeqNum (FIX session rules).
            problem = validate(msg) if self.config.validate else None
            if problem is not None:
                self._send_reject(msg, problem.reason, problem.text, now, ref_tag=problem.ref_tag)
                return
            self._on_sequence_reset(msg, seq, now, gap_fill=False)
            return
        if seq > expected:
            self._on_gap(msg, frame, seq, expected, now)
            return
        if seq < expected:
            if msg.get(43) == "Y":
                if msg.get(122) is None:
                    self._send_reject(msg, SRR.REQUIRED_TAG_MISSING, "OrigSendingTime(122) required with PossDupFlag=Y",
                                      now, ref_tag=122)
                return  # a duplicate we already processed
            self._logout_and_close(now, "seq_too_low", f"MsgSeqNum too low, expecting {expected} but received {seq}")
            return
        if self._queue and msg.get(43) != "Y":
            self._drop_stale(seq)
        self._process(msg, frame, seq, now)
        if self._queue or self._barriers or self._resend_at is not None:  # no gap: nothing to drain
            self._drain_queue(now)
            if self._resend_at is not None:
                self._resend_at = now if self._queue else None  # progress: the timeout starts again

    def _on_first_message(self, msg: FixMessage, msg_type: str | None, now: float) -> None:
        # Any reply (even a refusal) goes back with the CompIDs the peer used.
        self.config.sender_comp_id = self.config.sender_comp_id or msg.get(56) or "UNKNOWN"
        self.config.target_comp_id = msg.get(49) or "UNKNOWN"
        if msg_type != "A":
            self._logout_and_close(now, "protocol", f"First message must be Logon (35=A), received 35={(msg_type or '')[:20]}")
            return
        problem = validate(msg) if self.config.validate else None
        if problem is not None:
            self._logout_and_close(now, "logon_refused", f"Invalid Logon: {problem.text}")
            return
        self.peer_logon = msg
        self._transition(State.LOGON_PENDING)
        self._events.append(LogonRequest(msg))

    def _on_logon_reply(self, msg: FixMessage, msg_type: str | None, seq: int, now: float) -> None:
        if msg_type == "5":
            self._close("logon_refused", msg.get(58) or "Logon refused")
            return
        if msg_type == "3":
            # A refusal may be a Reject (e.g. 373=10) followed by the Logout with the Text
            # (spec 01 §11): report the Reject and wait for the Logout.
            self._events.append(SessionReject(msg))
            return
        if msg_type != "A":
            self._logout_and_close(now, "protocol", f"Expected Logon reply, received 35={(msg_type or '')[:20]}")
            return
        if msg.get(141) == "Y":
            self.store.next_target_seq = 1
        expected = self.store.next_target_seq
        if seq < expected:
            self._logout_and_close(now, "seq_too_low", f"MsgSeqNum too low, expecting {expected} but received {seq}")
            return
        if seq > expected and not self.config.retransmission:
            self._logout_and_close(now, "seq_gap", self._gap_text(expected, seq))
            return
        self.peer_logon = msg
        hb = parse_int(msg.get(108), 1)
        if hb is not None:
            self.heartbeat_interval = hb
        self._transition(State.ACTIVE)
        self._events.append(LoggedOn(msg))
        self._after_logon_seq(seq, expected, now)

    def _after_logon_seq(self, seq: int, expected: int, now: float) -> None:
        if seq == expected:
            self.store.next_target_seq = seq + 1
        elif self.config.retransmission:
            self._queue[seq] = None  # the Logon itself, already handled
            self._request_resend(expected, now)
        else:
            self._logout_and_close(now, "seq_gap", self._gap_text(expected, seq))

    def _process(self, msg: FixMessage, frame: bytes, seq: int, now: float, count: bool = True) -> None:
        """A message in sequence: validate, consume its number, dispatch by type."""
        msg_type = msg.get(35) or ""
        if count:
            self.store.next_target_seq = seq + 1
        if self._reject_next and msg_type != "5":
            reason, text = self._reject_next.pop(0)  # fault API: reject_next_inbound
            self._send_reject(msg, reason, text, now)
            return
        if self.config.validate:
            problem = validate(msg)
            if problem is not None:
                self._send_reject(msg, problem.reason, problem.text, now, ref_tag=problem.ref_tag)
                return
        tolerance = self.config.sending_time_tolerance
        if tolerance is not None:
            sent = parse_utc(msg.get(52) or "")  # validation parsed it already: a memo hit
            if sent is None or abs(now - sent) > tolerance:
                self._send_reject(msg, SRR.SENDINGTIME_ACCURACY_PROBLEM,
                                  f"SendingTime accuracy problem: more than {tolerance:g} s from server time",
                                  now, ref_tag=52)
                return
        if msg.get(43) == "Y" and self._possdup_problem(msg, now):
            return
        if msg_type not in ADMIN_MSG_TYPES:
            st = self.state
            if st is State.ACTIVE or st in RECEIVES_APP:  # `is` first: a set of enums hashes in Python
                self._events.append(AppMessage(msg, frame))
            return
        if msg_type == "0":
            test_req_id = msg.get(112)
            if test_req_id:
                self._events.append(TestResponse(test_req_id))
        elif msg_type == "1":
            self._send_admin("0", [(112, msg.get(112) or "")], now)
        elif msg_type == "2":
            self._on_resend_request(msg, now)
        elif msg_type == "3":
            self._events.append(SessionReject(msg))
        elif msg_type == "4":
            self._on_sequence_reset(msg, seq, now, gap_fill=True)
        elif msg_type == "5":
            self._on_logout(msg, now)
        elif msg_type == "A":
            self._send_reject(msg, SRR.OTHER, "Logon received on a session that is already logged on", now)

    def _possdup_problem(self, msg: FixMessage, now: float) -> bool:
        """FIX session test cases 2f/2g: a PossDup message needs OrigSendingTime(122), no later
        than its SendingTime(52); else Reject 373=1 / 373=10 and the message is not processed."""
        orig = msg.get(122)
        if orig is None:
            self._send_reject(msg, SRR.REQUIRED_TAG_MISSING, "OrigSendingTime(122) required with PossDupFlag=Y",
                              now, ref_tag=122)
            return True
        sent, first = parse_utc(msg.get(52) or ""), parse_utc(orig)
        if sent is not None and first is not None and first > sent:
            self._send_reject(msg, SRR.SENDINGTIME_ACCURACY_PROBLEM,
                              "SendingTime accuracy problem: OrigSendingTime(122) is later than SendingTime(52)",
                              now, ref_tag=122)
            return True
        return False

    def _on_logout(self, msg: FixMessage, now: float) -> None:
        text = msg.get(58) or ""
        if self.state is State.LOGOUT_SENT:
            self._close("logout", text)
        else:
            self._emit("5", [], now)
            self._close("peer_logout", text)

    def _on_reset_logon(self, msg: FixMessage, seq: int, now: float) -> None:
        """A Logon with ResetSeqNumFlag=Y on a logged-on session resets both directions to 1
        and is answered by a Logon with 141=Y (FIXT.1.1; spec 01 §2.2 allows 141 on every
        session type). Everything held for a resend is obsolete. Our own request's answer
        (reset_sequence) only sets the inbound number."""
        if self._reset_requested:  # the answer to ours: an acceptor's Logon carries no signature
            self._reset_requested = False
            self._clear_queue()
            self.store.next_target_seq = seq + 1
            return
        problem = validate(msg) if self.config.validate else None
        if problem is not None:
            self._send_reject(msg, problem.reason, problem.text, now, ref_tag=problem.ref_tag)
            return
        if seq != 1:
            self._send_reject(msg, SRR.VALUE_IS_INCORRECT,
                              f"MsgSeqNum(34) must be 1 on a Logon with ResetSeqNumFlag(141)=Y, received {seq}",
                              now, ref_tag=34)
            return
        tolerance = self.config.sending_time_tolerance
        sent = parse_utc(msg.get(52) or "")
        if tolerance is not None and (sent is None or abs(now - sent) > tolerance):
            self._send_reject(msg, SRR.SENDINGTIME_ACCURACY_PROBLEM,
                              f"SendingTime accuracy problem: more than {tolerance:g} s from server time", now,
                              ref_tag=52)
            return
        self._clear_queue()
        self.store.reset()
        self.store.next_target_seq = 2
        self._emit("A", [(98, 0), (108, self.heartbeat_interval), (141, "Y"), (1137, "9")], now)

    # --- outbound helpers ------------------------------------------------------------------

    def _emit(self, msg_type: str, body: Iterable[tuple[int, object]], now: float, *,
              sending_time: str | None = None) -> int:
        store = self.store
        seq = store.next_sender_seq
        store.next_sender_seq = seq + 1
        config = self.config
        # The header up to MsgSeqNum is the same for every message of a type on this session:
        # encoded once (issue 16), keyed by what it holds (the CompIDs are learnt at Logon).
        key = (msg_type, config.sender_comp_id, config.target_comp_id)
        head = self._heads.get(key)
        if head is None:
            head = self._head(key)
        stamp = sending_time.encode("ascii") if sending_time else utc_bytes(now + self.sending_time_skew)
        # A body already encoded (bytes: the gateway's reports, shared with the drop-copy history)
        # goes in as it is; pairs are encoded as codec.encode does.
        encoded = body if isinstance(body, bytes) else encode_fields(body)
        frame = frame_body(b"%s%d\x0152=%s\x01%s" % (head, seq, stamp, encoded))
        if msg_type not in ADMIN_MSG_TYPES and self.config.retransmission:
            store.save(seq, now, frame)
        self._write(frame, now)
        return seq

    def _head(self, key: tuple[str, str, str]) -> bytes:
        """`35=<type><SOH>49=<ours><SOH>56=<theirs><SOH>34=` as encode() writes those fields."""
        if len(self._heads) >= 64:  # CompIDs changed several times (tests): start again
            self._heads.clear()
        head = self._heads[key] = encode_fields(zip((35, 49, 56), key)) + b"34="
        return head

    def _send_admin(self, msg_type: str, body: list[tuple[int, object]], now: float) -> None:
        if now < self._silent_until and msg_type in ("0", "1"):
            self._last_sent = now  # fault API go_silent: not sent, and the timer moves on
            return
        self._emit(msg_type, body, now)

    def _write(self, frame: bytes, now: float) -> None:
        self._out.append(frame)
        self._last_sent = now

    def _send_reject(self, msg: FixMessage, reason: int, text: str, now: float, *,
                     ref_tag: int | str | None = None) -> None:
        """Reject (35=3), spec 09 §1; the rejected message keeps its sequence number consumed."""
        seq_text = msg.get(34) or ""
        body: list[tuple[int, object]] = [(45, seq_text if parse_int(seq_text, 0, MAX_SEQ) is not None else "0")]
        if ref_tag is not None:
            body.append((371, ref_tag))
        mt = msg.get(35)
        if mt and len(mt) <= 8:
            body.append((372, mt))
        body += [(373, reason), (58, text)]
        self._emit("3", body, now)

    def _logout_and_close(self, now: float, reason: str, text: str) -> None:
        self._emit("5", [(58, text)], now)
        self._close(reason, text)

    def _close(self, reason: str, text: str) -> None:
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        self._events.append(Disconnect(reason, text))

    def _transition(self, dst: State) -> None:
        if not can_transition(self.state, dst):
            raise SessionError(f"illegal transition {self.state.value} -> {dst.value}")
        self.state = dst
