"""Steps that judge what an external client sends, for the conform profiles order-entry,
market-data, drop-copy and post-trade (issue 14 §2; docs/scenarios.md "Judging a client").

    check_dialect:        {session: c, at_least: 3}
    expect_client:        {session: c, one_of: [{msg: D, fields: {ClOrdID: "${cl}"}}, {msg: F, ...}],
                           within: 20s, capture: {var: Tag}, new: false}
    expect_client_none:   {session: c, one_of: [{msg: F, fields: {OrigClOrdID: "${cl}"}}], for: 5s}
    expect_client_count:  {session: c, msg: [D, F, G], at_most: 8, at_least: 1, for: 4s}
    capture_fault:        {id: drop, capture: {cl: ClOrdID}}

A client message is what the venue's journal recorded arriving on the external session (every
connection of its key and session type: a reconnect is the same session), so the steps follow
the client across reconnects. `check_dialect` runs simulator/conform/dialect.py over the whole
journal of the session (what came before the scenario builds the checker's state: live orders,
order groups, the last ExecID seen) and fails with one line per finding on the client's messages
since the scenario started. The checks are sans-IO; `run` is runner glue (asyncio).
"""
from __future__ import annotations

import asyncio
from typing import Any

from ...fixproto.codec import FixMessage, parse
from .model import Step

__all__ = ["KINDS", "check", "run"]

KINDS = ("check_dialect", "expect_client", "expect_client_none", "expect_client_count", "capture_fault")
_KEYS = {
    "check_dialect": ("session", "at_least", "show"),
    "expect_client": ("session", "one_of", "within", "capture", "new"),
    "expect_client_none": ("session", "one_of", "for"),
    "expect_client_count": ("session", "msg", "at_most", "at_least", "for"),
    "capture_fault": ("id", "capture"),
}


# --- checking (sans-IO) ----------------------------------------------------------------------

def check(checker, kind: str, args: Any, line: int, at: str) -> Step | None:
    """StepChecker hook: the step's keys, its session (an external one), matchers and durations."""
    from .check_steps import tag_of
    from .yamlnodes import LDict, LList

    p = checker.p
    if not isinstance(args, LDict):
        p.add(line, at, f"expected a mapping ({', '.join(_KEYS[kind])})")
        return None
    for key in args:
        if key not in _KEYS[kind]:
            p.add(args.line_of(key), f"{at}.{key}", f"unknown key: expected one of {', '.join(_KEYS[kind])}")
    out: dict[str, Any] = {}
    if kind != "capture_fault":
        name = checker._session(args, at)
        if name is not None and name not in checker.external:
            p.add(args.line_of("session"), f"{at}.session", f"expected a client: external session, not {name!r} "
                                                            "(the runner's own sessions are judged by expect)")
        out["session"] = name
    if kind in ("expect_client", "expect_client_none"):
        one_of = args.get("one_of")
        alts = []
        if not isinstance(one_of, LList) or not one_of:
            p.add(args.line_of("one_of") if "one_of" in args else args.line, f"{at}.one_of",
                  "expected a non-empty list of {msg: MsgType, fields: {...}}")
        else:
            for i, alt in enumerate(one_of):
                where = f"{at}.one_of[{i}]"
                if not isinstance(alt, LDict) or "msg" not in alt or set(alt) - {"msg", "fields"}:
                    p.add(one_of.line_of(i), where, "expected {msg: MsgType, fields: {Tag: matcher}}")
                    continue
                alts.append((checker._msg(alt, where, True),
                             checker._fields(alt.get("fields"), alt.line_of("fields"), f"{where}.fields", True)))
        out["one_of"] = alts
    if kind in ("expect_client", "capture_fault"):
        capture = args.get("capture", {})
        caps = []
        if not isinstance(capture, dict) or (kind == "capture_fault" and not capture):
            p.add(args.line_of("capture") if "capture" in args else args.line, f"{at}.capture",
                  "expected a mapping: variable -> tag name")
        else:
            for var, tag in capture.items():
                if tag_of(tag) is None:
                    p.add(capture.line_of(var), f"{at}.capture.{var}", f"expected a tag name or number, not {tag!r}")
                else:
                    caps.append((str(var), tag_of(tag)))
        checker.captures.update(v for v, _ in caps)
        out["capture"] = caps
    if kind == "capture_fault":
        if args.get("id") not in checker.fault_ids:
            p.add(args.line_of("id") if "id" in args else args.line, f"{at}.id",
                  f"expected the id of a fault rule ({', '.join(sorted(checker.fault_ids)) or 'none has one'})")
        out["id"] = str(args.get("id"))
    if kind == "expect_client":
        out["within"] = checker._duration(args, "within", at, 10.0)
        out["new"] = checker._bool(args, "new", at, False)
    if kind in ("expect_client_none", "expect_client_count"):
        out["for"] = checker._duration(args, "for", at, None)
    if kind == "expect_client_count":
        msgs = args.get("msg")
        codes = []
        for m in (msgs if isinstance(msgs, list) else [msgs] if msgs is not None else []):
            code = _code(m)
            if code is None:
                p.add(args.line_of("msg"), f"{at}.msg", f"expected MsgType names or codes, not {m!r}")
            codes.append(code)
        out["msg"] = codes
        if "at_most" not in args and "at_least" not in args:
            p.add(args.line, at, "expected at_most: N and/or at_least: N")
    for key in ("at_most", "at_least"):
        if key in args and (isinstance(args[key], bool) or not isinstance(args[key], int) or args[key] < 0):
            p.add(args.line_of(key), f"{at}.{key}", "expected a count (an integer >= 0)")
    if kind in ("check_dialect", "expect_client_count"):
        out["at_least"] = args.get("at_least", 1 if kind == "check_dialect" else None)
        out["at_most"] = args.get("at_most")
    if kind == "check_dialect":
        out["show"] = args.get("show", 10)
    return Step(kind, out, line, at)


def _code(value: Any) -> str | None:
    from .check_steps import msg_code
    return msg_code(value)


# --- running (glue) --------------------------------------------------------------------------

class ClientFeed:
    """Frames of one external session (every connection of its key on its endpoint), in the
    order the venue saw them, from the venue's connection events (external.ConnFeed); fault
    marks (frames that did not cross as recorded) are left out. Unlike the peer's queues
    nothing is consumed: a step reads from any point."""

    def __init__(self, product: str, code: str, api_key: str, loop: asyncio.AbstractEventLoop) -> None:
        self.endpoint, self.api_key, self.loop = f"{product}/{code}", api_key, loop
        self.prefix = f"{product}/{code}/{api_key}"
        self.mine: set[int] = set()   # connection numbers that are this key's
        self.rows: list[tuple[float, str, FixMessage]] = []   # (time, "in"/"out", message)
        self._waiters: list[asyncio.Future] = []

    def on_event(self, ev) -> None:
        if ev.kind != "frame" or ev.endpoint != self.endpoint or ev.note or not ev.frame.startswith(b"8="):
            return
        if ev.session == self.prefix:
            self.mine.add(ev.conn)
        msg = parse(ev.frame)
        if ev.conn not in self.mine:
            # before its Logon is accepted a connection has no session id: the Logon names the key
            if ev.direction != "in" or msg.get(35) != "A" or msg.get(49) != self.api_key:
                return
            self.mine.add(ev.conn)
        self.rows.append((ev.time, ev.direction, msg))
        for w in self._waiters:
            if not w.done():
                w.set_result(None)
        self._waiters.clear()

    async def wait(self, timeout: float) -> None:
        if timeout <= 0:
            return
        fut = self.loop.create_future()
        self._waiters.append(fut)
        try:
            await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            pass

    def client_rows(self, since: float, start: int = 0):
        for i in range(start, len(self.rows)):
            t, d, m = self.rows[i]
            if d == "in" and t >= since:
                yield i, t, m


def _feed(runner, step: Step) -> ClientFeed:
    from .runner import StepFailed

    name = step.args["session"]
    feeds = runner.__dict__.setdefault("_client_feeds", {})
    if name in feeds:
        return feeds[name]
    peer = runner.peers.get(name)
    conn_feed = getattr(runner.venue, "feed", None)
    if peer is None or not hasattr(peer, "api_key") or conn_feed is None:
        raise StepFailed(step, f"session {name!r} is not a connected client: external session")
    feed = ClientFeed(peer.product, peer.code, peer.api_key, asyncio.get_running_loop())
    for event in conn_feed.history:
        feed.on_event(event)
    conn_feed.peers.append(feed)
    feeds[name] = feed
    return feed


def _since(runner) -> float:
    return getattr(runner, "started", 0.0)


def _matches(msg: FixMessage, alts, variables) -> bool:
    from .match import message_problems
    return any(not message_problems(msg, mt, [(t, variables.expand(m)) for t, m in fields]) for mt, fields in alts)


def _describe(alts, variables) -> str:
    from .match import describe_expect
    return " or ".join(describe_expect(mt, [(t, variables.expand(m)) for t, m in fields]) for mt, fields in alts)


def _show(msg: FixMessage) -> str:
    from ...fixproto.render import render_line
    return render_line(msg)


async def run(runner, step: Step) -> str:
    return await globals()[f"_run_{step.kind}"](runner, step)


async def _run_expect_client(runner, step: Step) -> str:
    from .runner import StepFailed

    feed, a = _feed(runner, step), step.args
    loop = asyncio.get_running_loop()
    deadline = loop.time() + a["within"]
    start = runner.__dict__.setdefault("_client_cursor", {}).get(a["session"], 0)
    since = _since(runner)
    if a["new"]:  # only what the client sends from now on
        since, start = runner.venue.clock.now(), len(feed.rows)
    seen = 0
    while True:
        for i, _t, msg in list(feed.client_rows(since, start)):
            start = i + 1
            seen += 1
            if _matches(msg, a["one_of"], runner.vars):
                for var, tag in a["capture"]:
                    if msg.get(tag) is None:
                        raise StepFailed(step, f"capture {var}: tag {tag} is absent from {_show(msg)}")
                    runner.vars.values[var] = msg.get(tag)
                runner._client_cursor[a["session"]] = start  # noqa: SLF001
                return f"{a['session']}: the client sent {msg.msg_type}"
        left = deadline - loop.time()
        if left <= 0:
            last = [m for _i, _t, m in feed.client_rows(since)][-3:]
            shown = "".join(f"\n    {_show(m)}" for m in last) or " nothing"
            raise StepFailed(step, f"the client sent nothing matching within {a['within']:g}s; expected: "
                                   f"{_describe(a['one_of'], runner.vars)}; it sent {seen} other message(s), "
                                   f"the last:{shown}")
        await feed.wait(left)


async def _run_expect_client_none(runner, step: Step) -> str:
    from .runner import StepFailed

    feed, a = _feed(runner, step), step.args
    loop = asyncio.get_running_loop()
    begin = runner.venue.clock.now()
    deadline = loop.time() + a["for"]
    while True:
        for _i, t, msg in feed.client_rows(begin):
            if _matches(msg, a["one_of"], runner.vars):
                raise StepFailed(step, f"expected none of {_describe(a['one_of'], runner.vars)} for {a['for']:g}s; "
                                       f"the client sent after {t - begin:.2f}s: {_show(msg)}")
        left = deadline - loop.time()
        if left <= 0:
            return f"{a['session']}: none for {a['for']:g}s"
        await feed.wait(left)


async def _run_expect_client_count(runner, step: Step) -> str:
    from .runner import StepFailed

    feed, a = _feed(runner, step), step.args
    loop = asyncio.get_running_loop()
    begin = runner.venue.clock.now()
    deadline = loop.time() + a["for"]
    wanted = set(a["msg"])

    def count() -> list:
        return [(t, m) for _i, t, m in feed.client_rows(begin) if t <= begin + a["for"] and m.msg_type in wanted]

    while True:
        got = count()
        if a["at_most"] is not None and len(got) > a["at_most"]:
            t, m = got[a["at_most"]]
            raise StepFailed(step, f"expected at most {a['at_most']} of {', '.join(sorted(wanted))} in "
                                   f"{a['for']:g}s; the client sent {len(got)} by {t - begin:.2f}s, the last: {_show(m)}")
        left = deadline - loop.time()
        if left <= 0:
            break
        await feed.wait(left)
    got = count()
    if a["at_least"] is not None and len(got) < a["at_least"]:
        raise StepFailed(step, f"expected at least {a['at_least']} of {', '.join(sorted(wanted))} in {a['for']:g}s; "
                               f"the client sent {len(got)}")
    return f"{a['session']}: {len(got)} in {a['for']:g}s"


async def _run_capture_fault(runner, step: Step) -> str:
    """The frame a fault rule acted on (its journal mark names the rule): capture its fields."""
    from .runner import StepFailed

    a = step.args
    journal = await runner.venue.journal() or []
    mark = f"by rule {a['id']}"
    for entry in reversed(journal):
        if entry.note and entry.note.endswith(mark):
            msg = parse(entry.frame if entry.frame.endswith(b"\x01") else entry.frame + b"\x01")
            for var, tag in a["capture"]:
                if msg.get(tag) is None:
                    raise StepFailed(step, f"capture {var}: tag {tag} is absent from the frame rule "
                                           f"{a['id']!r} acted on: {_show(msg)}")
                runner.vars.values[var] = msg.get(tag)
            return f"{a['id']}: captured {', '.join(v for v, _ in a['capture'])}"
    raise StepFailed(step, f"fault rule {a['id']!r} has acted on no frame yet (wait_fault first)")


async def _run_check_dialect(runner, step: Step) -> str:
    from ..conform.dialect import Dialect
    from .runner import StepFailed

    a = step.args
    peer = runner.peers.get(a["session"])
    if peer is None or not hasattr(peer, "api_key"):
        raise StepFailed(step, f"session {a['session']!r} is not a connected client: external session")
    product, code = peer.product, peer.code
    markets = await runner.venue.control("markets", product=product)
    journal = await runner.venue.journal() or []
    dialect = Dialect(product, code, markets)
    since = _since(runner)
    findings, judged, inside = [], 0, False
    for entry in journal:
        if not entry.session or not entry.session.startswith(peer.prefix) or entry.note \
                or not entry.frame.startswith(b"8="):
            continue
        msg = parse(entry.frame)
        if not inside and entry.time >= since:
            inside = True
            dialect.begin_window()
        before = dialect.checked
        got = dialect.observe(entry.direction, msg, entry.time)
        if entry.time >= since:
            findings += got
            judged += dialect.checked - before
    if findings:
        lines = [f.line() for f in findings]
        shown = "\n".join(f"    {line}" for line in lines[:a["show"]])
        more = f"\n    ... and {len(lines) - a['show']} more" if len(lines) > a["show"] else ""
        raise StepFailed(step, f"{len(lines)} dialect finding(s) in {judged} client message(s):\n{shown}{more}")
    if a["at_least"] and judged < a["at_least"]:
        raise StepFailed(step, f"expected at least {a['at_least']} client application message(s) to judge, "
                               f"the client sent {judged}")
    return f"{a['session']}: {judged} client message(s), no finding"
