"""Frame, transport and session faults on one connection: frames in, frames and actions out.

A `ConnectionFaults` is the interceptor of one connection while any rule is installed (the
simulator removes it when none is, so a run without faults pays nothing per frame). For each
frame it asks the engine which rules select this connection and direction, which of them
fire, and returns what the driver should do instead of passing the frame on: nothing
(dropped), other bytes (corrupted, duplicated, sliced), or transport actions
(fixproto/actions.py: waits, closes, RST). Session faults call the explicit fault API of the
connection's fixproto Session. Every application is marked next to the frame in the
transcript ("dropped by rule f3").
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Any, Callable, Iterable

from kalshi_fixsim.fixproto.actions import Close, HalfClose, Later, PauseReading, Wait
from kalshi_fixsim.fixproto.codec import Framer, GarbledFrame, parse
from kalshi_fixsim.fixproto.fields import ADMIN_MSG_TYPES

from . import frames as F
from .engine import Context, FaultEngine, RuleState

__all__ = ["ConnectionFaults", "Mark"]

log = logging.getLogger("kalshi_fixsim.faults")

Mark = Callable[[str, bytes, str], None]  # (direction "in"/"out", frame, text)
_FAMILIES = ("transport", "frame", "session")
_CORRUPTING = frozenset({"corrupt_checksum", "corrupt_body_length", "garble", "truncate"})
_RECENT_OUT = 200  # application frames kept for the resend fault on sessions without a store


class ConnectionFaults:
    def __init__(self, engine: FaultEngine, ctx: Context, session_of: Callable[[], Any], *,
                 inner=None, mark: Mark | None = None, sent: Callable[[], list[bytes]] | None = None,
                 on_idle: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.ctx = ctx
        self.session_of = session_of
        self.inner = inner
        self.mark = mark or (lambda d, f, t: None)
        self._cache: dict[str, tuple[int, str, list[RuleState]]] = {}
        self._held: dict[str, list] = {}        # direction -> [frame, frames still to pass, rule id]
        self._coalesce: dict[str, list[bytes]] = {}
        self._coalesce_gen = 0
        self._budget: int | None = None          # close_after_bytes: outbound bytes left
        self._withhold: list = []                # skip_seq how=hold: [frames still to hold, rule state]
        self._budget_how = "fin"
        self.recent_out: deque[bytes] = deque(maxlen=_RECENT_OUT)
        self.sent = sent  # the application frames this connection sent before (the transcript)
        self.on_idle = on_idle  # told when the last frame or byte count this layer holds is done

    # --- interceptor -----------------------------------------------------------------------

    def inbound(self, frame: bytes) -> Iterable[Any]:
        items = self._safe("inbound", frame)
        inner = self.inner
        if inner is None:
            return items
        out: list[Any] = []
        for item in items:
            out.extend(inner.inbound(item) if isinstance(item, bytes) else (item,))
        return out

    def outbound(self, frame: bytes) -> Iterable[Any]:
        inner = self.inner
        out: list[Any] = []
        for item in (inner.outbound(frame) if inner is not None else (frame,)):
            out.extend(self._safe("outbound", item) if isinstance(item, bytes) else (item,))
        if self._budget is not None:
            out = self._spend(out)
        return out

    @property
    def busy(self) -> bool:
        """Frames or counts still held (reorder, coalesce, skip_seq hold, close_after_bytes):
        the layer must stay on the connection until they are done, even with no rule left."""
        return bool(self._held or self._coalesce or self._withhold or self._budget is not None)

    def _done_holding(self) -> None:
        if not self.busy and self.on_idle is not None:
            self.on_idle()

    # --- rules -----------------------------------------------------------------------------

    def _rules(self, direction: str) -> list[RuleState]:
        engine = self.engine
        key = self.ctx.session_id
        cached = self._cache.get(direction)
        if cached is not None and cached[0] == engine.version and cached[1] == key:
            return cached[2]
        # refuse_logon and logon_seq act on the authenticated Logon, where the selector knows the
        # account (fault_service.logon_refusal); here the Logon's sender is not known yet
        states = [s for s in engine.candidates(self.ctx, direction, _FAMILIES, ("message", "logon"))
                  if s.rule.fault not in ("refuse_logon", "logon_seq")]
        self._cache[direction] = (engine.version, key, states)
        return states

    def _safe(self, direction: str, frame: bytes) -> list[Any]:
        """A bug of ours in a fault must not take the connection down: logged, frame passed on."""
        try:
            return self._apply(direction, frame)
        except Exception:  # noqa: BLE001 - DESIGN §3 rule 12: our bug, logged once, never a crash
            log.exception("fault rule failed on a %s frame; passed on unchanged", direction)
            return [frame]

    def _apply(self, direction: str, frame: bytes) -> list[Any]:
        states = self._rules(direction)
        if self.sent is None:  # no transcript to replay from: keep the recent frames ourselves
            if direction == "outbound" and F.msg_type_of(frame) not in ADMIN_MSG_TYPES:
                self.recent_out.append(frame)
        if not states and not self._held and not self._coalesce and not self._withhold:
            return [frame]
        mt = F.msg_type_of(frame)
        engine = self.engine
        now = engine.clock()
        msg = None
        pre: list[Any] = []
        post: list[Any] = []
        out: bytes | None = frame
        corrupted = False
        d = "in" if direction == "inbound" else "out"
        for state in states:
            rule = state.rule
            if "logon" in rule.kind.triggers and mt != "A":
                continue
            if rule.msg_types is not None and mt not in rule.msg_types:
                continue
            if rule.needs_fields:
                if msg is None:
                    msg = parse(frame)
                if not engine.matches(rule, mt, msg.get):
                    continue
            if out is None or not engine.fire(state, now):
                continue
            out, what = self._do(state, direction, out, pre, post, now)
            corrupted = corrupted or rule.fault in _CORRUPTING
            self.mark(d, frame, engine.record(state, self.ctx, direction, what, now))
        if direction == "outbound" and self._withhold and out is not None:
            out = self._hold_back(frame, now)
        items: list[Any] = pre
        if out is not None:
            if direction == "inbound" and corrupted:
                items.extend(_reframe(out))
            else:
                items.append(out)
        items.extend(post)
        held = self._held.get(direction)
        if held is not None and out is not None and held[0] is not out:
            held[1] -= 1
            if held[1] <= 0:
                del self._held[direction]
                items.append(held[0])
                self._done_holding()
        return items

    def _do(self, state: RuleState, direction: str, frame: bytes, pre: list, post: list,
            now: float) -> tuple[bytes | None, str]:
        """Apply one fault to one frame: (what passes on, the mark text's verb)."""
        rule = state.rule
        p = rule.params
        name = rule.fault
        if name == "drop":
            return None, "dropped"
        if name == "duplicate":
            post[:0] = [frame] * p["copies"]
            return frame, f"duplicated x{p['copies']}"
        if name in ("delay", "jitter"):
            seconds = self.engine.sample_delay(state)
            pre.append(Wait(seconds))
            return frame, f"delayed {seconds * 1000:.0f} ms"
        if name == "bandwidth":
            rate = p["bytes_per_second"]
            size = max(1, rate // 20)
            pieces: list[Any] = []
            for chunk in F.chunks(frame, size):
                pieces += [chunk, Wait(len(chunk) / rate)]
            post[:0] = pieces
            return None, f"limited to {rate} B/s"
        if name == "slice":
            pieces = []
            for chunk in F.chunks(frame, p["bytes"]):
                pieces += [chunk, Wait(p["pause_ms"] / 1000.0)]
            post[:0] = pieces[:-1]
            return None, f"sliced into {p['bytes']}-byte writes"
        if name == "coalesce":
            return self._coalesce_frame(direction, frame, post, p), f"coalesced ({p['count']} per write)"
        if name == "reorder":
            if direction in self._held:  # one held frame per direction at a time
                return frame, "not reordered (one frame held already)"
            held = [frame, p["after"], rule.id]
            self._held[direction] = held
            post.append(Later(p["max_wait_ms"] / 1000.0, lambda: self._release(direction, held)))
            return None, f"held for reordering after {p['after']} frame(s)"
        if name == "stall":
            seconds = p["ms"] / 1000.0
            if direction == "outbound":
                pre.append(Wait(seconds))
                return frame, f"writes stalled {p['ms']:g} ms"
            post.append(PauseReading(seconds))
            return frame, f"reads stalled {p['ms']:g} ms"
        if name in ("reset", "close"):
            reset = name == "reset" or p.get("how") == "rst"
            verb = "reset (RST)" if reset else "closed"
            if p["before"]:
                pre.append(Close(reset=reset))
                return None, f"connection {verb} before this frame"
            post.append(Close(reset=reset))
            return frame, f"connection {verb} after this frame"
        if name == "half_close":
            post.append(HalfClose())
            return frame, "write side shut (half-close) after this frame"
        if name == "close_after_bytes":
            self._budget, self._budget_how = p["bytes"], p["how"]
            return frame, f"closing after {p['bytes']} more bytes"
        if name == "corrupt_checksum":
            return F.corrupt_checksum(frame), "CheckSum corrupted"
        if name == "corrupt_body_length":
            return F.corrupt_body_length(frame, p["delta"]), f"BodyLength corrupted by {p['delta']:+d}"
        if name == "garble":
            return F.garble(frame, p["bytes"], state.rng), f"{p['bytes']} bytes garbled"
        if name == "truncate":
            cut = F.truncate(frame, p["keep"])
            return cut, f"truncated to {len(cut)} bytes"
        what = self.session_fault(state, now)
        return frame, what

    def _hold_back(self, frame: bytes, now: float) -> bytes | None:
        """skip_seq how=hold: this frame took its MsgSeqNum (and its place in an RT store) but
        is not sent; the client sees the gap and may ask for it again."""
        left, state = self._withhold
        self.mark("out", frame, self.engine.record(state, self.ctx, "outbound", "held back (numbered, not sent)",
                                                   now))
        if left <= 1:
            self._withhold = []
            self._done_holding()
        else:
            self._withhold[0] = left - 1
        return None

    def _release(self, direction: str, held: list) -> list[bytes]:
        if self._held.get(direction) is held:
            del self._held[direction]
            self._done_holding()
            return [held[0]]
        return []

    def _coalesce_frame(self, direction: str, frame: bytes, post: list, p: dict) -> bytes | None:
        buf = self._coalesce.setdefault(direction, [])
        buf.append(frame)
        if len(buf) >= p["count"]:
            del self._coalesce[direction]
            self._coalesce_gen += 1
            self._done_holding()
            return b"".join(buf)
        if len(buf) == 1:
            gen = self._coalesce_gen

            def flush() -> list[bytes]:
                if self._coalesce_gen != gen or direction not in self._coalesce:
                    return []
                self._coalesce_gen += 1
                data = b"".join(self._coalesce.pop(direction))
                self._done_holding()
                return [data]
            post.append(Later(p["max_wait_ms"] / 1000.0, flush))
        return None

    def _spend(self, items: list[Any]) -> list[Any]:
        """close_after_bytes: cut the stream after the budget, then close."""
        out: list[Any] = []
        for item in items:
            if self._budget is None:
                out.append(item)
                continue
            if not isinstance(item, bytes):
                out.append(item)
                continue
            if len(item) < self._budget:
                self._budget -= len(item)
                out.append(item)
                continue
            out.append(item[:self._budget])
            out.append(Close(reset=self._budget_how == "rst"))
            self._budget = None
            self._done_holding()
            return out  # nothing after the close
        return out

    # --- session faults: the Session's explicit fault API (fixproto/session.py) -------------

    def session_fault(self, state: RuleState, now: float) -> str:
        session = self.session_of()
        rule = state.rule
        p = rule.params
        name = rule.fault
        if session is None or session.closed:
            return "not applied (no session)"
        if not session.is_active and name not in ("logout",):
            return "not applied (session not logged on)"
        if name == "skip_seq":
            if p["how"] == "hold":
                self._withhold = [p["count"], state]
                return f"the next {p['count']} outbound message(s) held back"
            session.skip_outbound(p["count"])
            return f"skipped {p['count']} outbound MsgSeqNum(s)"
        if name == "resend":
            count = 0
            if session.config.retransmission:
                last = session.store.next_sender_seq - 1
                count = session.resend_stored(now, max(1, last - p["count"] + 1), last,
                                              orig_sending_time=p["orig_sending_time"])
            if not count:  # no store, or nothing stored yet: the frames this connection carried
                earlier = self.sent() if self.sent is not None else list(self.recent_out)
                if not earlier and self.sent is not None:
                    earlier = self.sent(admin=True)  # no application message yet: its session messages
                frames = earlier[-p["count"]:]
                session.resend_frames(frames, now, orig_sending_time=p["orig_sending_time"])
                count = len(frames)
            return f"resent {count} message(s) with PossDup"
        if name == "test_request":
            session.test_request(now, p["test_req_id"])
            return f"TestRequest {p['test_req_id']} sent"
        if name == "resend_request":
            session.send_resend_request(now, p["begin"], p["end"])
            return f"ResendRequest {p['begin']}..{p['end']} sent"
        if name == "sequence_reset":
            new_seq = p["new_seq"] if p["new_seq"] is not None else session.store.next_sender_seq + 10
            session.send_sequence_reset(now, new_seq, gap_fill=p["gap_fill"])
            return f"SequenceReset {'GapFill' if p['gap_fill'] else 'Reset'} to {new_seq} sent"
        if name == "logout":
            session.logout(now, p["text"])
            return "logged out"
        if name == "silence":
            session.go_silent(now + p["ms"] / 1000.0)
            return f"silent for {p['ms']:g} ms"
        if name == "sending_time_skew":
            session.sending_time_skew = p["seconds"]
            state.touched.append(session)
            return f"SendingTime skewed {p['seconds']:+g} s"
        if name == "reject_inbound":
            session.reject_next_inbound(p["reason"], p["text"])
            return f"rejected (373={p['reason']})"
        return "not applied"

    def act_now(self, state: RuleState, now: float) -> tuple[list[Any], list[Any]]:
        """A rule that acts now on this connection: (inbound lane items, outbound lane items)."""
        rule = state.rule
        name = rule.fault
        p = rule.params
        inbound: list[Any] = []
        outbound: list[Any] = []
        direction = rule.directions[0] if len(rule.directions) == 1 else "outbound"
        if name in ("reset", "close"):
            outbound.append(Close(reset=name == "reset" or p.get("how") == "rst"))
            what = "connection reset (RST)" if outbound[0].reset else "connection closed"
        elif name == "stall":
            if direction == "outbound":
                outbound.append(Wait(p["ms"] / 1000.0))
            else:
                inbound.append(PauseReading(p["ms"] / 1000.0))
            what = f"{'writes' if direction == 'outbound' else 'reads'} stalled {p['ms']:g} ms"
        elif name == "half_close":
            outbound.append(HalfClose())
            what = "write side shut (half-close)"
        elif name == "close_after_bytes":
            self._budget, self._budget_how = p["bytes"], p["how"]
            what = f"closing after {p['bytes']} more bytes"
        else:
            what = self.session_fault(state, now)
        self.mark("out" if direction == "outbound" else "in", b"", self.engine.record(state, self.ctx, direction,
                                                                                       what, now))
        return inbound, outbound


def _reframe(data: bytes) -> list[Any]:
    """What a framer makes of corrupted inbound bytes: GarbledFrames (or a frame, if still valid)."""
    items = Framer().feed(data)
    return list(items) if items else [GarbledFrame(data, "incomplete frame (truncated by a fault rule)")]
