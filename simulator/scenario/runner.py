"""Plays a checked scenario against a venue (venues.py): setup, faults, then the steps.

One line per step while it runs; a failing step raises StepFailed with the expected-versus-
received diff; the Outcome carries the transcript (report.py renders it).
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Callable

from ...fixproto.kalshi import session_type
from .judge import JudgeSteps
from .match import Variables, diff, fix_value, message_problems
from .model import VENUE_CONTROL, Scenario, Step
from .peer import RawPeer
from .venues import NoControl

_CONTROL_OPS = {"pause": "pause", "resume": "resume", "halt": "halt_market", "unhalt": "resume_market",
                "close": "close_market", "settle": "settle_market", "reset": "reset", "maintenance": "maintenance",
                "balance": "set_balance", "tier": "set_tier", "place_order": "place_order"}
_RENAME = {"symbol": "ticker", "account": "name"}  # scenario keys -> Control argument names


class StepFailed(Exception):
    def __init__(self, step: Step, message: str) -> None:
        super().__init__(message)
        self.step, self.message = step, message


@dataclass
class Outcome:
    scenario: Scenario
    passed: bool = False
    failure: str = ""                 # the whole failure report (diff, where, last messages)
    failed_line: int = 0
    lines: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0              # wall time
    records: list = field(default_factory=list)   # transcript rows (report.py)


class Runner(JudgeSteps):
    def __init__(self, scenario: Scenario, venue, *, out: Callable[[str], None] = print, last: int = 20) -> None:
        self.sc, self.venue, self.out, self.last = scenario, venue, out, last
        self.outcome = Outcome(scenario)
        self.peers: dict[str, RawPeer] = {}
        self.stores: dict[tuple, object] = {}  # (api key, product, session) -> the client's MessageStore
        self.client_records: list = []  # (time, session, direction, frame, note) of our own sessions
        self.vars = Variables(scenario.name, scenario.seed, venue.clock, venue.accounts)
        self.started = venue.clock.now()  # conform_steps: the client messages of this scenario are judged

    # --- driving ---------------------------------------------------------------------------

    async def run(self) -> Outcome:
        started = time.perf_counter()
        try:
            await self._setup()
            await self._steps(self.sc.steps)
            self.outcome.passed = True
        except StepFailed as exc:
            self._fail(exc.step, exc.message)
        finally:
            for peer in self.peers.values():
                if peer.driver is not None and not peer.closed.done():
                    peer.abort()
            await asyncio.sleep(0)  # let the aborts reach the venue before the journal is read
            self.outcome.records = await self._records()
            await self._record_run()
            close = getattr(self.venue, "close", None)
            if close is not None:
                close()
            if not self.outcome.passed and self.outcome.failure:
                self.outcome.failure += self._recent()
            self.outcome.seconds = time.perf_counter() - started
        return self.outcome

    async def _record_run(self) -> None:
        """The verdict in the venue's web view ("Last runs", simulator/web_ops.py), where the
        venue is ours to drive; a venue without control (--target) is left alone."""
        if not self.venue.has_control:
            return
        passed = self.outcome.passed
        try:
            await self.venue.control("record_run", kind="scenario", name=self.sc.name,
                                     verdict="pass" if passed else "fail", passed=int(passed), failed=int(not passed),
                                     detail=self.outcome.failure.split("\n", 1)[0])
        except Exception:  # noqa: BLE001 - the web view's record must never change a verdict
            pass

    def _say(self, status: str, step: Step | None, text: str) -> None:
        where = f"{self.sc.file}:{step.line}" if step else str(self.sc.file)
        line = f"  {status:<4} {where} {step.path if step else 'setup'}{(' ' + text) if text else ''}"
        self.outcome.lines.append(line)
        self.out(line)

    def _fail(self, step: Step, message: str) -> None:
        self.outcome.failed_line = step.line
        self.outcome.failure = f"{self.sc.file}:{step.line}: {step.path}: {message}"
        self._say("FAIL", step, "")

    async def _setup(self) -> None:
        s, venue = self.sc.setup, self.venue
        actions = [("set_balance", dict(name=n, balance=e["balance"])) for n, e in s.accounts.items() if "balance" in e]
        actions += [("set_tier", dict(name=n, tier=e["tier"])) for n, e in s.accounts.items() if "tier" in e]
        actions += [("place_order", {k: v for k, v in o.items() if k != "line"}) for o in s.orders]
        actions += [("pause", dict(p)) for p in s.pauses]
        if not venue.has_control:
            if actions or self.sc.faults:
                self._skip(None, "setup (accounts, orders, pauses, faults) needs venue control")
            return
        fake = Step("setup", None, self.sc.line, "setup")
        for op, kwargs in actions:
            try:
                await venue.control(op, **kwargs)
            except Exception as exc:  # noqa: BLE001 - ControlError and friends: the step's failure
                raise StepFailed(fake, f"setup {op}({kwargs}): {exc}") from None
        for rule, line in self.sc.faults:
            try:
                await venue.add_fault(rule)
            except Exception as exc:  # noqa: BLE001
                raise StepFailed(Step("faults", None, line, "faults"), f"fault rule refused: {exc}") from None

    def _skip(self, step: Step | None, reason: str) -> None:
        self.outcome.skipped.append(f"{step.path if step else 'setup'}: {reason}")
        self._say("skip", step, f"({reason})")

    async def _steps(self, steps: list[Step]) -> None:
        for step in steps:
            if step.kind in VENUE_CONTROL and not self.venue.has_control:
                self._skip(step, VENUE_CONTROL[step.kind])
                continue
            try:
                detail = await getattr(self, f"_do_{step.kind}")(step)
            except StepFailed:
                raise
            except NoControl as exc:
                self._skip(step, str(exc))
                continue
            except KeyError as exc:
                raise StepFailed(step, str(exc.args[0]) if exc.args else str(exc)) from None
            except (asyncio.CancelledError, KeyboardInterrupt):
                raise
            except Exception as exc:  # noqa: BLE001 - reported as the step's failure, not a traceback
                raise StepFailed(step, f"the runner could not carry out the step: {type(exc).__name__}: {exc}") from None
            if step.kind not in ("repeat", "parallel"):
                self._say("ok", step, detail or "")

    def _peer(self, step: Step) -> RawPeer:
        name = step.args["session"]
        peer = self.peers.get(name)
        if peer is None:
            raise StepFailed(step, f"session {name!r} is not connected (its connect step did not run)")
        return peer

    # --- step kinds ------------------------------------------------------------------------

    async def _do_connect(self, step: Step) -> str:
        a = step.args
        acct = self.venue.accounts.get(a["as"])
        if acct is None:
            raise StepFailed(step, f"account {a['as']!r} has no API key on this venue (target config accounts)")
        st = session_type(a["product"], a["session"])
        if a["client"] == "external":
            if not hasattr(self.venue, "external"):
                raise StepFailed(step, "client: external needs a test's own client: run it with "
                                       "fix_exchange.run_scenario or @pytest.mark.fix_scenario")
            ext = self.venue.external(a["name"], a["product"], st.code, acct.api_key)
            self.peers[a["name"]] = ext
            return await self._connect_external(step, ext, acct)
        store = self._store(acct.api_key, a["product"], st.code)
        if a["raw"]:
            peer = RawPeer(a["name"], a["product"], st.code, acct.api_key, acct.private_key_path, self.venue.clock,
                           heartbeat=a["heartbeat"], options=a["options"],
                           logon_fields=[(t, fix_value(self.vars.expand(v))) for t, v in a["logon_fields"]],
                           deterministic=self.venue.deterministic, record=self._record, store=store)
            peer.bad_signature = a["bad_signature"]
        else:
            from .client_peer import ClientPeer
            peer = ClientPeer(a["name"], a["product"], st.code, acct.api_key, acct.private_key_path,
                              self.venue.clock, heartbeat=a["heartbeat"], options=a["options"],
                              deterministic=self.venue.deterministic, record=self._record, store=store,
                              reset=a["reset"])
        try:
            await peer.open(self.venue.connector(a["product"], st.code), a["within"])
        except (OSError, ValueError, asyncio.TimeoutError) as exc:
            raise StepFailed(step, f"cannot connect to {a['product']}/{st.code}: {exc or 'timed out'}") from None
        self.peers[a["name"]] = peer
        if not a["logon"]:
            return f"{a['name']}: connected, no Logon sent"
        try:
            peer.logon(a["reset"])
        except ValueError as exc:
            raise StepFailed(step, str(exc)) from None
        if not a["wait"]:
            return f"{a['name']}: Logon sent"
        try:
            await asyncio.wait_for(asyncio.shield(peer.logged_on), a["within"])
        except asyncio.TimeoutError:
            raise StepFailed(step, f"no Logon answer within {a['within']:g}s") from None
        except ConnectionError as exc:
            text = _logout_text(peer)
            raise StepFailed(step, f"the venue refused the Logon ({exc}){text}") from None
        while peer.inbox and peer.inbox[0].msg_type != "A":
            peer.inbox.popleft()
        if peer.inbox:
            peer.inbox.popleft()  # the Logon answer is the connect step's
        return f"{a['name']}: logged on {a['product']}/{st.code} as {a['as']}"

    def _store(self, api_key: str, product: str, code: str):
        """One store per key and session type for the whole scenario: a reconnect without
        ResetSeqNumFlag goes on with the client's sequence numbers (spec 01 §2.1, RT/PT)."""
        from ...fixproto.store import MemoryStore
        key = (api_key, product, code)
        store = self.stores.get(key)
        live = any(isinstance(p, RawPeer) and p.store is store and not p.closed.done() for p in self.peers.values())
        if store is None or live:  # a second live connection of the key gets its own numbers
            store = self.stores[key] = MemoryStore()
        return store

    async def _do_send(self, step: Step) -> str:
        peer = self._peer(step)
        fields = [(t, fix_value(self.vars.expand(v))) for t, v in step.args["fields"]]
        if peer.closed.done():
            raise StepFailed(step, "the session is closed: nothing can be sent")
        peer.send(step.args["msg"], fields)
        return f"{step.args['session']}: sent {_name(step.args['msg'])}"

    def _wanted(self, step: Step):
        a = step.args
        return a["msg"], [(t, self.vars.expand(m)) for t, m in a["fields"]]

    def _skippable(self, step: Step, got, wanted: str | None) -> bool:
        """A plain Heartbeat (no TestReqID: not an answer) is skipped unless the step wants one:
        `heartbeats: true`, or a Heartbeat without a TestReqID matcher."""
        if got.msg_type != "0" or got.message.get(112) is not None or step.args.get("heartbeats"):
            return False
        test_req = [m for tag, m in step.args.get("fields", []) if tag == 112]
        wants_plain = wanted == "0" and all(isinstance(m, dict) and (m.get("absent") is True or m.get("present") is False)
                                            for m in test_req)
        return not wants_plain

    async def _do_expect(self, step: Step) -> str:
        peer, a = self._source(step), step.args
        msg_type, fields = self._wanted(step)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + a["within"]
        while True:
            while peer.inbox:
                got = peer.inbox.popleft()
                if self._skippable(step, got, msg_type):
                    continue
                if not message_problems(got.message, msg_type, fields):
                    for var, tag in a["capture"]:
                        value = got.message.get(tag)
                        if value is None:
                            raise StepFailed(step, f"capture {var}: tag {tag} is absent\n"
                                                   + diff(got.message, got.frame, msg_type, fields))
                        self.vars.values[var] = value
                    return f"{a['session']}: got {_name(got.msg_type)}"
                if not a["any"]:
                    raise StepFailed(step, "the next message does not match\n"
                                     + diff(got.message, got.frame, msg_type, fields))
            left = deadline - loop.time()
            if left <= 0 or (peer.closed.done() and not peer.inbox):
                why = "the connection closed" if peer.closed.done() else f"nothing matching within {a['within']:g}s"
                from .match import describe_expect
                raise StepFailed(step, f"{why}; expected: {describe_expect(msg_type, fields)}")
            await peer.wait_arrival(left)

    async def _do_expect_nothing(self, step: Step) -> str:
        peer, a = self._source(step), step.args
        loop = asyncio.get_running_loop()
        deadline = loop.time() + a["for"]
        kept = []
        while True:
            while peer.inbox:
                got = peer.inbox.popleft()
                if self._skippable(step, got, "0" if "0" in a["msg"] else None):
                    continue
                if a["msg"] and got.msg_type not in a["msg"]:
                    kept.append(got)
                    continue
                peer.inbox.extendleft(reversed(kept))
                raise StepFailed(step, f"expected nothing for {a['for']:g}s, received {_name(got.msg_type)}\n"
                                 + diff(got.message, got.frame, None, []))
            left = deadline - loop.time()
            if left <= 0:
                break
            if not await peer.wait_arrival(left) and loop.time() >= deadline:
                break
            if peer.closed.done() and not peer.inbox:
                await asyncio.sleep(max(0.0, deadline - loop.time()))
                break
        peer.inbox.extendleft(reversed(kept))
        return f"{a['session']}: nothing for {a['for']:g}s"

    async def _do_expect_disconnect(self, step: Step) -> str:
        peer, a = self._peer(step), step.args
        try:
            how = await asyncio.wait_for(asyncio.shield(peer.closed), a["within"])
        except asyncio.TimeoutError:
            raise StepFailed(step, f"the session was still connected after {a['within']:g}s") from None
        self._check_by(step, how)
        by = getattr(how, "by", "")
        return f"{a['session']}: disconnected ({how.reason}{', by the ' + by if by else ''})"

    async def _do_disconnect(self, step: Step) -> str:
        peer = self._peer(step)
        peer.abort()
        await asyncio.wait_for(asyncio.shield(peer.closed), 5.0)
        return f"{step.args['session']}: dropped"

    async def _do_logout(self, step: Step) -> str:
        peer, a = self._peer(step), step.args
        peer.logout(a["text"])
        try:
            await asyncio.wait_for(asyncio.shield(peer.closed), a["within"])
        except asyncio.TimeoutError:
            raise StepFailed(step, f"no Logout answer and disconnect within {a['within']:g}s") from None
        return f"{a['session']}: logged out"

    async def _do_advance(self, step: Step) -> str:
        await self.venue.advance(step.args)
        return f"{step.args:g}s"

    async def _do_control(self, step: Step) -> str:
        args = {k: self.vars.expand(v) for k, v in step.args.items() if k != "action"}
        action = step.args["action"]
        if action not in ("place_order",):
            args = {_RENAME.get(k, k): v for k, v in args.items()}
        try:
            result = await self.venue.control(_CONTROL_OPS[action], **args)
        except NoControl:
            raise
        except Exception as exc:  # noqa: BLE001 - the control plane's answer is the failure
            raise StepFailed(step, f"control {action} failed: {exc}") from None
        if isinstance(result, dict) and "order_id" in result:
            self.vars.values.setdefault("order_id", result["order_id"])
        return action

    async def _do_fault(self, step: Step) -> str:
        a = step.args
        try:
            if "add" in a:
                await self.venue.add_fault(self.vars.expand(a["add"]))
                return f"added {a['add'].get('id') or a['add']['fault']}"
            if "remove" in a:
                await self.venue.remove_fault(a["remove"])
                return f"removed {a['remove']}"
            await self.venue.clear_faults()
            return "cleared"
        except NoControl:
            raise
        except Exception as exc:  # noqa: BLE001
            raise StepFailed(step, f"fault {next(iter(a))} failed: {exc}") from None

    async def _do_wait_fault(self, step: Step) -> str:
        a = step.args
        try:
            hits = await self.venue.wait_fault(a["id"], a["hits"], a["within"])
        except asyncio.TimeoutError:
            raise StepFailed(step, f"fault {a['id']!r} not hit {a['hits']} time(s) within {a['within']:g}s") from None
        return f"{a['id']}: {hits} hit(s)"

    async def _do_repeat(self, step: Step) -> str:
        for i in range(step.args["times"]):
            self.vars.values["i"] = str(i)
            await self._steps(step.children)
        return ""

    async def _do_parallel(self, step: Step) -> str:
        try:
            async with asyncio.TaskGroup() as group:  # a failing branch cancels the others
                for branch in step.branches:
                    group.create_task(self._steps(branch))
        except BaseExceptionGroup as group:
            failed = group.subgroup(lambda e: isinstance(e, StepFailed))
            while failed is not None and isinstance(failed.exceptions[0], BaseExceptionGroup):
                failed = failed.exceptions[0]
            if failed is not None:
                raise failed.exceptions[0] from None
            raise
        return ""

    # --- transcript ------------------------------------------------------------------------

    def _record(self, peer: RawPeer, direction: str, when: float, frame: bytes) -> None:
        session = f"{peer.product}/{peer.code}/{peer.api_key}"
        # the venue's view, as the journal: "in" = client to venue
        self.client_records.append((when, session, "in" if direction == "out" else "out", frame, ""))

    async def _records(self) -> list:
        journal = None
        try:
            journal = await self.venue.journal()
        except Exception:  # noqa: BLE001 - a venue gone: our own record is the transcript
            journal = None
        if journal is None:
            return self.client_records
        return [(e.time, e.session or f"{e.endpoint}/-", e.direction, e.frame, e.note) for e in journal]

    def _recent(self) -> str:
        from .report import recent_text
        return recent_text(self.outcome.records, self.last)


def _logout_text(peer: RawPeer) -> str:
    for got in peer.inbox:
        if got.msg_type == "5" and got.message.get(58):
            return f": Logout Text(58)={got.message.get(58)!r}"
    return ""


def _name(code: str) -> str:
    from ...fixproto.fields import MSG_TYPE_NAMES
    return MSG_TYPE_NAMES.get(code, code)


# Steps judging an external client (conform profiles): played by conform_steps.py.
from . import conform_steps as _conform  # noqa: E402

for _kind in _conform.KINDS:
    setattr(Runner, f"_do_{_kind}", lambda self, step: _conform.run(self, step))
