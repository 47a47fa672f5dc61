"""The runner's steps that judge a client it does not drive (`client: external`; issue 14):
`expect ... from: client`, `expect_disconnect by:`, `expect_logon`, `expect_connections`,
`expect_heartbeats`, `expect_sending_time`, `expect_resend`. A mixin of runner.Runner; the session handle is an
external.ExternalPeer fed by the venue's connection events (simulator/conn_watch.py).
"""
from __future__ import annotations

import asyncio

from ...fixproto.codec import parse_utc
from .match import describe_expect, diff, message_problems

__all__ = ["JudgeSteps"]


def _secs(value: float) -> str:
    return f"{value:.2f} s"


class JudgeSteps:
    """Mixed into Runner: uses self._peer, self.vars, self.venue, StepFailed."""

    def _source(self, step):
        """Where an expect reads: the venue's messages (default) or the client's (`from: client`)."""
        peer = self._peer(step)
        if step.args.get("from") == "client":
            view = getattr(peer, "client_view", None)
            if view is None:
                raise self._failed_step(step, "from: client needs a client: external session")
            return view
        return peer

    def _failed_step(self, step, message: str):
        from .runner import StepFailed
        return StepFailed(step, message)

    def _external(self, step):
        peer = self._peer(step)
        if getattr(peer, "client_view", None) is None:
            raise self._failed_step(step, f"{step.kind} needs a client: external session")
        return peer

    def _now(self) -> float:
        return self.venue.clock.now()

    async def _connect_external(self, step, ext, acct) -> str:
        a = step.args
        loop = asyncio.get_running_loop()
        deadline = loop.time() + a["within"]
        where = f"{a['product']}/{ext.code}"
        while True:
            live = ext.current is not None and ext.current.closed is None
            if ext.logons or live:
                conn = ext.logons.popleft() if ext.logons else ext.current
                while ext.logons:  # the session is followed from its latest Logon on
                    conn = ext.logons.popleft()
                self._check_logon(step, conn)
                ext.refusals.clear()
                return f"{a['name']}: the client logged on to {where} as {a['as']}"
            if ext.refusals:
                refused = ext.refusals.popleft()
                raise self._failed_step(step, f"the venue refused the client's Logon on {where}: "
                                              f"Text(58)={refused.refused!r}" + self._logon_diff(refused))
            left = deadline - loop.time()
            if left <= 0:
                tried = len([c for c in ext.attempts if ext.maybe_mine(c)])
                raise self._failed_step(step, f"the client did not log on to {where} as {a['as']} within "
                                              f"{a['within']:g}s ({tried} connection attempt(s) seen)")
            await ext.wait_change(left)

    def _logon_diff(self, conn) -> str:
        if not conn.logon_frame:
            return ""
        return "\n" + diff(conn.logon, conn.logon_frame, "A", [])

    def _check_logon(self, step, conn) -> None:
        """The client's Logon against the step's `fields` matchers; `capture` from it."""
        a = step.args
        fields = [(t, self.vars.expand(m)) for t, m in a.get("fields", [])]
        if (fields or a.get("capture")) and conn.logon is None:
            raise self._failed_step(step, "the client's Logon was sent before the kit watched: "
                                          "its fields cannot be checked (restart the client)")
        if fields and message_problems(conn.logon, "A", fields):
            raise self._failed_step(step, "the client's Logon does not match\n"
                                    + diff(conn.logon, conn.logon_frame, "A", fields))
        for var, tag in a.get("capture", []):
            value = conn.logon.get(tag)
            if value is None:
                raise self._failed_step(step, f"capture {var}: tag {tag} is absent from the client's Logon\n"
                                        + diff(conn.logon, conn.logon_frame, "A", fields))
            self.vars.values[var] = value

    async def _do_expect_logon(self, step) -> str:
        ext, a = self._external(step), step.args
        loop = asyncio.get_running_loop()
        deadline = loop.time() + a["within"]
        while not ext.logons:
            left = deadline - loop.time()
            if left <= 0:
                tried = [c for c in ext.attempts if ext.maybe_mine(c) and c.accepted is not None]
                refused = [c.refused for c in ext.refusals]
                extra = f"; refused: {refused[-1]!r}" if refused else ""
                raise self._failed_step(step, f"no new Logon from the client within {a['within']:g}s "
                                              f"({len(tried)} connection attempt(s) so far{extra})")
            await ext.wait_change(left)
        conn = ext.logons.popleft()
        ext.refusals.clear()
        began = conn.accepted if conn.accepted is not None else conn.logged_on
        previous = ext.last_close_before(began)
        gap_text = ""
        if previous is not None:
            first = ext.first_attempt_after(previous.closed.time)
            at = first.accepted if first is not None else began
            gap = at - previous.closed.time
            gap_text = f" {_secs(gap)} after the disconnect"
            if a.get("not_before") is not None and gap < a["not_before"]:
                raise self._failed_step(step, f"reconnected after {_secs(gap)}, expected ≥ {a['not_before']:g} s "
                                              f"(the previous connection ended by the {previous.closed.by or '?'}: "
                                              f"{previous.closed.reason})")
        self._check_logon(step, conn)
        ext.drop_older(conn)
        return f"{a['session']}: the client logged on again{gap_text}"

    async def _do_expect_connections(self, step) -> str:
        ext, a = self._external(step), step.args
        loop = asyncio.get_running_loop()
        start, end = self._now(), loop.time() + a["for"]

        def counted():
            return [c for c in ext.attempts if c.accepted is not None and c.accepted >= start
                    and c.accepted <= start + a["for"] and ext.maybe_mine(c)]
        while True:
            seen = counted()
            if a.get("at_most") is not None and len(seen) > a["at_most"]:
                times = ", ".join(f"+{c.accepted - start:.2f} s" for c in seen)
                raise self._failed_step(step, f"{len(seen)} connection attempts within {a['for']:g}s, expected at "
                                              f"most {a['at_most']} (at {times})")
            left = end - loop.time()
            if left <= 0:
                break
            await ext.wait_change(left)
        seen = counted()
        if a.get("at_least") is not None and len(seen) < a["at_least"]:
            raise self._failed_step(step, f"{len(seen)} connection attempt(s) within {a['for']:g}s, expected at "
                                          f"least {a['at_least']}")
        return f"{a['session']}: {len(seen)} connection attempt(s) in {a['for']:g}s"

    def _live(self, step, ext):
        conn = ext.current
        if conn is None or conn.closed is not None:
            raise self._failed_step(step, "the client is not connected")
        return conn

    async def _watch_sent(self, step, ext, seconds: float, check) -> int:
        """Call check(message, time) for each client message of the current connection during
        `seconds` (the queue is left as it is); check(None, now) on every wake-up."""
        loop = asyncio.get_running_loop()
        conn = self._live(step, ext)
        start, end = self._now(), loop.time() + seconds
        seen = 0
        looked = 0
        while True:
            items = [r for r in ext.sent if r.conn == conn.number and r.time >= start]
            for got in items[looked:]:
                check(got, got.time)
                seen += 1
            looked = len(items)
            check(None, self._now())
            if conn.closed is not None:
                how = conn.closed
                raise self._failed_step(step, f"the connection closed (by the {how.by or '?'}: {how.reason}"
                                              f"{' ' + how.text if how.text else ''})")
            left = end - loop.time()
            if left <= 0:
                return seen
            await ext.wait_change(min(left, 0.25))

    async def _do_expect_heartbeats(self, step) -> str:
        ext, a = self._external(step), step.args
        conn = self._live(step, ext)
        interval = a.get("interval") or conn.heartbeat
        if not interval:
            raise self._failed_step(step, "the client's Logon carried no HeartBtInt(108): give interval:")
        slack = a["slack"]
        state = {"last": conn.last_sent if conn.last_sent is not None else self._now(),
                 "hb": conn.last_heartbeat, "beats": 0}

        def check(got, when) -> None:
            silent = when - state["last"]
            if silent > interval + slack:
                raise self._failed_step(step, f"the client sent nothing for {_secs(silent)}: expected a Heartbeat "
                                              f"after each HeartBtInt(108)={interval:g} s of silence (slack {slack:g} s)")
            if got is None:
                return
            if got.msg_type == "0" and got.message.get(112) is None:
                if state["hb"] is not None and when - state["hb"] < interval - slack:
                    raise self._failed_step(step, f"a Heartbeat {_secs(when - state['hb'])} after the previous "
                                                  f"one: expected ≥ HeartBtInt(108)={interval:g} s (slack {slack:g} s)"
                                                  "\n" + diff(got.message, got.frame, None, []))
                state["hb"] = when
                state["beats"] += 1
            state["last"] = when
        await self._watch_sent(step, ext, a["for"], check)
        return f"{a['session']}: traffic every ≤ {interval:g} s, {state['beats']} Heartbeat(s) in {a['for']:g}s"

    async def _do_expect_sending_time(self, step) -> str:
        ext, a = self._external(step), step.args
        tolerance = a["tolerance"]
        worst = [0.0]

        def check(got, when) -> None:
            if got is None:
                return
            sent = parse_utc(got.message.get(52) or "")
            if sent is None:
                raise self._failed_step(step, "SendingTime(52) missing or not a UTCTimestamp\n"
                                        + diff(got.message, got.frame, None, []))
            off = sent - when
            worst[0] = max(worst[0], abs(off))
            if abs(off) > tolerance:
                raise self._failed_step(step, f"SendingTime(52) is {off:+.3f} s from the venue's clock, expected "
                                              f"within ±{tolerance:g} s\n" + diff(got.message, got.frame, None, []))
        seen = await self._watch_sent(step, ext, a["for"], check)
        if not seen:
            raise self._failed_step(step, f"the client sent nothing in {a['for']:g}s (expected: "
                                          f"{describe_expect(None, [])})")
        return f"{a['session']}: {seen} message(s), SendingTime within {worst[0]:.3f} s"

    def _check_by(self, step, how) -> None:
        want = step.args.get("by") or "any"
        got = getattr(how, "by", "")
        if want != "any" and got != want:
            text = f": {how.text}" if getattr(how, "text", "") else ""
            raise self._failed_step(step, f"the connection was ended by the {got or 'unknown side'} "
                                          f"({how.reason}{text}), expected by the {want}")

    async def _do_expect_resend(self, step) -> str:
        """The client's answer to the venue's ResendRequest (spec 01 §6, FIX test case 8): every
        application message it sent in [begin, its last number] again with PossDupFlag(43)=Y and
        OrigSendingTime(122) = its first SendingTime; admin messages only gap-filled
        (SequenceReset 123=Y), never over an application message; NewSeqNo(36) never past the
        next number."""
        ext, a = self._external(step), step.args
        conn = self._live(step, ext)
        begin = a["begin"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + a["within"]
        asked = None  # the venue's ResendRequest: the answer covers what the client had sent before it
        while asked is None:
            asked = next((r for r in reversed(ext.inbox) if r.msg_type == "2" and r.conn == conn.number), None)
            if asked is None:
                if loop.time() >= deadline:
                    raise self._failed_step(step, "the venue sent no ResendRequest (add a resend_request fault first)")
                await ext.wait_change(deadline - loop.time())
        originals = {seq: v for seq, v in ext.originals.items() if v[2] <= asked.time}
        hi = max(originals) if originals else 0
        if hi < begin:
            raise self._failed_step(step, f"the client has sent nothing from MsgSeqNum {begin} on: nothing to resend")
        start = asked.time
        covered: set[int] = set()
        looked = 0
        replays = fills = 0
        while True:
            items = [r for r in ext.sent if r.conn == conn.number and r.time >= start]
            for got in items[looked:]:
                m = got.message
                kind = got.msg_type
                gap_fill = kind == "4" and m.get(123) == "Y"
                if m.get(43) != "Y" and not gap_fill:
                    if kind == "4":
                        raise self._failed_step(step, "a SequenceReset-Reset (no GapFillFlag(123)=Y) answers a "
                                                      "ResendRequest: expected replays and gap fills\n"
                                                      + diff(m, got.frame, "4", []))
                    continue
                try:
                    seq = int(m.get(34) or "")
                except ValueError:
                    continue
                if gap_fill:
                    try:
                        new_seq = int(m.get(36) or "")
                    except ValueError:
                        new_seq = 0
                    top = max(max(ext.originals or {0: 0}), hi) + 1
                    if new_seq <= seq or new_seq > top:
                        raise self._failed_step(step, f"SequenceReset-GapFill at MsgSeqNum {seq} has NewSeqNo(36)="
                                                      f"{m.get(36)}: expected more than {seq} and at most {top} "
                                                      "(the next number)\n" + diff(m, got.frame, "4", []))
                    apps = [t for t in range(seq, new_seq) if originals.get(t, ("0",))[0] not in _ADMIN]
                    if apps:
                        names = ", ".join(f"{t} ({_type_name(originals[t][0])})" for t in apps[:5])
                        raise self._failed_step(step, f"a gap fill {seq}..{new_seq - 1} skips application message(s) "
                                                      f"{names}: expected them resent with PossDupFlag(43)=Y\n"
                                                      + diff(m, got.frame, "4", []))
                    covered.update(range(seq, new_seq))
                    fills += 1
                    continue
                first = originals.get(seq)
                if first is not None:
                    if first[0] in _ADMIN and first[0] != "3":
                        raise self._failed_step(step, f"MsgSeqNum {seq} ({_type_name(first[0])}) was resent: "
                                                      "expected admin messages gap-filled (SequenceReset 123=Y)\n"
                                                      + diff(m, got.frame, None, []))
                    if kind != first[0]:
                        raise self._failed_step(step, f"MsgSeqNum {seq} resent as {_type_name(kind)}, first sent as "
                                                      f"{_type_name(first[0])}\n" + diff(m, got.frame, first[0], []))
                    if m.get(122) != first[1]:
                        raise self._failed_step(step, f"MsgSeqNum {seq} resent with OrigSendingTime(122)="
                                                      f"{m.get(122)!r}, expected its first SendingTime "
                                                      f"{first[1]!r}\n" + diff(m, got.frame, first[0], []))
                covered.add(seq)
                replays += 1
            looked = len(items)
            missing = [t for t in range(begin, hi + 1) if t not in covered]
            if not missing:
                return f"{a['session']}: {begin}..{hi} answered: {replays} replayed, {fills} gap fill(s)"
            if conn.closed is not None:
                raise self._failed_step(step, f"the connection closed before the resend of {_ranges(missing)} "
                                              f"({conn.closed.by or '?'}: {conn.closed.reason})")
            left = deadline - loop.time()
            if left <= 0:
                raise self._failed_step(step, f"the client's answer to ResendRequest {begin}..0 did not cover "
                                              f"MsgSeqNum {_ranges(missing)} within {a['within']:g}s "
                                              f"({replays} replayed, {fills} gap fill(s) seen)")
            await ext.wait_change(left)


_ADMIN = {"0", "1", "2", "3", "4", "5", "A"}


def _type_name(code: str) -> str:
    from ...fixproto.fields import MSG_TYPE_NAMES
    return f"{MSG_TYPE_NAMES.get(code, code)}({code})"


def _ranges(numbers: list[int]) -> str:
    out, run = [], []
    for n in numbers:
        if run and n == run[-1] + 1:
            run.append(n)
            continue
        if run:
            out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [n]
    if run:
        out.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(out[:8]) + (" ..." if len(out) > 8 else "")
