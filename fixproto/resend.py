"""Retransmission for `Session` (spec 01 §5-§6): the gap queue, our ResendRequests and their
timeout, SequenceReset, and answering the peer's ResendRequest. A mixin: it works on the
Session's own state (config, store, _queue, _resend_at) and helpers (_process, _emit, ...).

The rules that keep a held message from ever blocking the session (issue 11 §2):
* admin messages above a gap (Heartbeat, TestRequest, ResendRequest, Reject) are acted on at once
  (a Heartbeat's TestResponse is told when the gap closes);
* a new (not PossDup) message numbered N drops held messages numbered N or more; a
  SequenceReset-Reset or an in-session reset drops everything held; a gap fill what it covers;
* a gap still open `resend_timeout` after our ResendRequest (or its last progress) is
  requested again.
7, 16 and 36 are validated before use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .codec import FixMessage, encode, format_utc, parse
from .fields import SessionRejectReason as SRR
from .numbers import MAX_SEQ, int_problem
from .state import RECEIVES_APP

if TYPE_CHECKING:
    from .session import SessionConfig
    from .store import MessageStore

__all__ = ["Retransmission", "ANSWER_AT_ONCE"]

# Admin messages acted on even when they arrive above a gap (they are queued as consumed). A
# Heartbeat is acted on too (it proves the peer alive), but the TestResponse it carries is told
# only once the gap is closed: the Heartbeat answering our TestRequest is a barrier, "everything
# I sent before this is with you" (FixClient.sync relies on it), and a gap fill may well cover
# the Heartbeat's own number, so holding the frame itself could lose it.
ANSWER_AT_ONCE = frozenset({"0", "1", "2", "3"})


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


class Retransmission:
    config: "SessionConfig"
    store: "MessageStore"
    _queue: dict[int, tuple[FixMessage, bytes] | None]
    _resend_at: float | None

    def _gap_text(self, expected: int, seq: int) -> str:
        name = self.config.session_name or "this session"
        return (f"MsgSeqNum too high, expecting {expected} but received {seq}; {name} has no "
                f"retransmission: reconnect with ResetSeqNumFlag=Y")

    def _on_gap(self, msg: FixMessage, frame: bytes, seq: int, expected: int, now: float) -> None:
        """spec 01 §5 rule 4: recoverable by ResendRequest only on retransmission sessions."""
        msg_type = msg.get(35)
        if msg_type == "5":
            self._process(msg, frame, seq, now, count=False)
            return
        if not self.config.retransmission:
            self._logout_and_close(now, "seq_gap", self._gap_text(expected, seq))
            return
        if msg.get(43) != "Y":
            self._drop_stale(seq)
        if len(self._queue) >= self.config.max_queued:
            self._logout_and_close(now, "protocol", "Too many messages queued while waiting for a resend")
            return
        if msg_type in ANSWER_AT_ONCE:
            # A held message never blocks the session: a ResendRequest, TestRequest, Heartbeat or
            # Reject is acted on at once, even while we wait for our resend (standard FIX); its
            # number is consumed when the gap closes.
            events = len(self._events)
            self._process(msg, frame, seq, now, count=False)
            if msg_type == "0":  # a barrier: its TestResponse waits until the gap is closed
                self._barriers.extend(self._events[events:])
                del self._events[events:]
            self._queue[seq] = None
        else:
            self._queue[seq] = (msg, frame)
        if self._resend_at is None:
            self._request_resend(expected, now)

    def _drop_stale(self, seq: int) -> None:
        """A new (not PossDup) message numbered `seq` came after every held message, so a held
        message numbered seq or higher was sent under an obsolete numbering (a bogus MsgSeqNum,
        a number from before a reset): it is dropped, and the resend still outstanding (16=0:
        through the peer's last message) covers anything genuine."""
        stale = [s for s in self._queue if s >= seq]
        for s in stale:
            del self._queue[s]

    def _clear_queue(self) -> None:
        self._queue.clear()
        self._resend_at = None
        self._release_barriers()

    def _release_barriers(self) -> None:
        if self._barriers:
            self._events.extend(self._barriers)
            self._barriers.clear()

    def _request_resend(self, begin: int, now: float) -> None:
        """One ResendRequest outstanding at a time; EndSeqNo=0 covers every later gap."""
        self._resend_at = now
        self._send_admin("2", [(7, begin), (16, 0)], now)

    def _resend_timed_out(self, now: float) -> None:
        """The gap is still open resend_timeout after our request (or its last progress): ask
        again from the expected number, so a lost answer never stalls the session."""
        if not self._queue:
            self._resend_at = None
            return
        self._request_resend(self.store.next_target_seq, now)

    def _drain_queue(self, now: float) -> None:
        queue = self._queue
        while queue and self.state in RECEIVES_APP:
            expected = self.store.next_target_seq
            if expected not in queue:
                if min(queue) < expected:  # superseded by a gap fill
                    for s in [s for s in queue if s < expected]:
                        del queue[s]
                    continue
                break
            item = queue.pop(expected)
            if item is None:
                self.store.next_target_seq = expected + 1
            else:
                self._process(item[0], item[1], expected, now)
        if not queue:
            self._resend_at = None
            self._release_barriers()

    def _on_sequence_reset(self, msg: FixMessage, seq: int, now: float, *, gap_fill: bool) -> None:
        if not self.config.retransmission:
            self._send_reject(msg, SRR.INVALID_MSGTYPE, self._no_retransmission("SequenceReset(35=4)"), now, ref_tag=35)
            return
        new = self._seq_field(msg, 36, 1, now)  # validated before use (issue 11 §2)
        if new is None:
            return
        current = self.store.next_target_seq
        if new < current:  # FIX session test cases 10e, 11c: Reject 373=5, nothing changes
            self._send_reject(msg, SRR.VALUE_IS_INCORRECT,
                              f"NewSeqNo(36)={new} would lower the expected MsgSeqNum {current}", now, ref_tag=36)
            return
        self.store.next_target_seq = new
        if not gap_fill:
            # Everything held arrived before the reset, numbered under the numbering it ends.
            self._clear_queue()

    def _seq_field(self, msg: FixMessage, tag: int, lo: int, now: float) -> int | None:
        """A sequence-number field (7, 16, 36) of 0/1..MAX_SEQ, or None after a Reject naming it."""
        text = msg.get(tag)
        if not text:
            reason, what = (SRR.REQUIRED_TAG_MISSING, "missing") if text is None else \
                (SRR.TAG_SPECIFIED_WITHOUT_A_VALUE, "without a value")
        else:
            code = SRR.INCORRECT_DATA_FORMAT if text[:1] == "-" else int_problem(text, lo, MAX_SEQ)
            if code is None:
                return int(text)
            reason, what = code, f"must be a number {lo}..{MAX_SEQ}, received {_show(text)}"
        name = {7: "BeginSeqNo", 16: "EndSeqNo", 36: "NewSeqNo"}[tag]
        self._send_reject(msg, reason, f"{name}({tag}) {what}", now, ref_tag=tag)
        return None

    def _no_retransmission(self, what: str) -> str:
        name = self.config.session_name or "this session"
        return f"{what} is not supported on {name}: no retransmission; reconnect with ResetSeqNumFlag=Y"

    def _on_resend_request(self, msg: FixMessage, now: float) -> None:
        """spec 01 §6: replay stored application messages with PossDup, gap-fill the rest."""
        if not self.config.retransmission:
            self._send_reject(msg, SRR.INVALID_MSGTYPE, self._no_retransmission("ResendRequest(35=2)"), now, ref_tag=35)
            return
        begin = self._seq_field(msg, 7, 1, now)  # validated before use (issue 11 §2)
        end = self._seq_field(msg, 16, 0, now) if begin is not None else None
        if begin is None or end is None:
            return
        last_sent = self.store.next_sender_seq - 1
        if end == 0 or end > last_sent:
            end = last_sent
        if begin < 1 or begin > last_sent:
            self._send_reject(msg, SRR.VALUE_IS_INCORRECT,
                              f"BeginSeqNo(7)={begin} is outside the sent range 1..{last_sent}", now, ref_tag=7)
            return
        if begin > end:
            self._send_reject(msg, SRR.VALUE_IS_INCORRECT, f"BeginSeqNo(7)={begin} is after EndSeqNo(16)={end}",
                              now, ref_tag=16)
            return
        if self.config.retention_seconds is not None:
            self.store.prune(now - self.config.retention_seconds)
        if begin <= self.store.pruned_through:
            hours = (self.config.retention_seconds or 0) / 3600
            self._send_reject(msg, SRR.VALUE_IS_INCORRECT,
                              f"BeginSeqNo(7)={begin} is older than the MessageRetentionPeriod ({hours:g} h)",
                              now, ref_tag=7)
            return
        next_seq = begin
        for seq, _sent_at, frame in self.store.fetch(begin, end):
            if seq > next_seq:
                self._gap_fill(next_seq, seq, now)
            self._resend(parse(frame), now)
            next_seq = seq + 1
        if next_seq <= end:
            self._gap_fill(next_seq, end + 1, now)

    def _gap_fill(self, seq: int, new_seq: int, now: float) -> None:
        stamp = format_utc(now)
        self._write(encode([(35, "4"), (49, self.config.sender_comp_id), (56, self.config.target_comp_id),
                            (34, seq), (43, "Y"), (52, stamp), (122, stamp), (123, "Y"), (36, new_seq)]), now)

    def _resend(self, original: FixMessage, now: float, orig_sending_time: bool = True) -> None:
        header = [(35, original.get(35)), (49, original.get(49)), (56, original.get(56)), (34, original.get(34)),
                  (43, "Y"), (52, format_utc(now))]
        if orig_sending_time:  # False only as a fault (a PossDup the peer must Reject, FIX test case 2f)
            header.append((122, original.get(52)))
        self._write(encode(header + original.body()), now)
