"""Fault injection wired into a running Simulator (issue 12): the glue around simulator/faults.

- Connections: while any rule is installed, every connection's transcript recorder hands its
  frames to a `ConnectionFaults` (frame, transport and session faults); with no rule the
  recorder's inner interceptor is what it was, so frames never reach fault code.
- Gateway: `gateway.fault_gate` (inbound venue faults) and, while a venue rule acts on what is
  sent, each connection's `send_hook` (late, missing, duplicated ExecutionReports).
- Logon and accept paths: `refuse_logon` and `refuse_connections`.
- Rules that act "now", rule lifetimes (clock task), reset, and the config's `faults:` list.
- One model, four doors (DESIGN §3 rule 14): `add(dict)` is what Python, HTTP, CLI and YAML call.
"""
from __future__ import annotations

import asyncio
import logging
import weakref
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Iterable

from kalshi_fixsim.fixproto.codec import FixMessage, encode
from kalshi_fixsim.fixproto.fields import ADMIN_MSG_TYPES

from .faults import ConnectionFaults, FaultEngine, RuleError, RuleState, describe
from .faults.frames import msg_type_of
from .gateway import GATES, fault_gate as gate_module

if TYPE_CHECKING:
    from .server import GatewayConnection, Simulator

__all__ = ["FaultService", "install", "RuleError"]

log = logging.getLogger("kalshi_fixsim.faults")
_LASTING = frozenset({"sending_time_skew"})  # "now" faults that last while the rule is installed
_GATED = [0]  # simulators of this process with rules installed (see FaultService._gate)


class FaultService:
    def __init__(self, sim: "Simulator") -> None:
        self.sim = sim
        self.engine = FaultEngine(sim.config.seed, sim.clock.now)
        self.engine.listeners.append(self._sync)
        self.engine.on_end.append(self._ended)
        self.engine.on_hit.append(self._hit)
        self._waiters: list[tuple[str, int, asyncio.Future]] = []
        self.rolled_quotes: dict[str, set[str]] = {}  # product -> quote ids an rfq_roll made vanish
        self._resync_due = False
        self.conns: "weakref.WeakSet[GatewayConnection]" = weakref.WeakSet()
        self._hook = gate_module.send_hook(self._schedule)
        self._venue_out = False
        self._gated = False  # counted in _GATED while this simulator has rules
        sim.clock_tasks.append(self.engine.tick)
        sim.reset_hooks.append(self.reset)
        self.install_config()

    # --- the one model: plain data in, plain data out ----------------------------------------

    def add(self, rule: dict) -> RuleState:
        """Check and install one rule (RuleError naming the field: nothing installed)."""
        accounts = {a.user for a in self.sim.config.accounts} | {a.name for a in self.sim.config.accounts}
        api_keys = [a.api_key for a in self.sim.config.accounts]
        state = self.engine.install(self.engine.parse(rule, accounts=accounts, api_keys=api_keys))
        log.info("fault rule %s installed: %s", state.id, state.rule.as_dict())
        return state

    def remove(self, rule_id: str) -> RuleState:
        return self.engine.remove(rule_id)

    def clear(self) -> int:
        return self.engine.clear()

    def list(self) -> list[dict]:
        return [s.as_dict() for s in self.engine.states()]

    def get(self, rule_id: str) -> dict | None:
        state = self.engine.get(rule_id)
        return state.as_dict() if state is not None else None

    @staticmethod
    def catalogue() -> list[dict]:
        return describe()

    def install_config(self) -> None:
        """The config's `faults:` list (checked when the config was loaded), active from start."""
        for rule in getattr(self.sim.config, "faults", ()) or ():
            self.add(dict(rule))

    def reset(self) -> None:
        """POST /reset: the rules added since start-up go; the config's come back fresh."""
        self.rolled_quotes.clear()
        self.engine.clear()
        self.install_config()

    def close(self) -> None:
        """The simulator stops: its rules no longer keep the gate in gateway.GATES."""
        self._gate(False)

    # --- connections -----------------------------------------------------------------------

    def attach(self, conn: "GatewayConnection") -> None:
        """A new connection (from Simulator._new_driver): refused, or given the fault layer."""
        self.conns.add(conn)
        conn.accepted_at = conn.now()  # _sent(): frames of this connection only, not of earlier ones
        driver = conn.driver
        if conn.recorder is not None and conn.recorder.inner is not None:
            driver.enable_actions()  # an interceptor_factory's interceptor may return actions too
        made = driver.on_connection_made

        def on_made(d) -> None:
            state = self.engine.refuse_connection(conn)
            if state is not None:
                how = state.rule.params["how"]
                conn.recorder.mark("in", b"", self.engine.record(state, conn, "inbound",
                                                                 f"connection refused ({how})", conn.now()))
                d.close_transport(reset=how == "rst")
                return
            if made is not None:
                made(d)
        driver.on_connection_made = on_made
        self._equip(conn)

    def logon_refusal(self, conn: "GatewayConnection", msg: FixMessage, decision: Any = None) -> str | None:
        """The Logout Text of a refuse_logon rule firing on this (authenticated) Logon; else a
        logon_seq rule firing on it sets the Logon answer's MsgSeqNum offset."""
        if self.engine.empty:
            return None
        ctx = conn
        account = getattr(decision, "account", None)
        if account is not None:  # the selector sees who is logging on
            ctx = SimpleNamespace(product=conn.product, session_code=conn.session_code, user=account.user,
                                  api_key_id=account.api_key,
                                  session_id=f"{conn.product}/{conn.session_code}/{account.api_key}")
        found = self.engine.logon_refusal(ctx, msg.get(49) or "")
        if found is None:
            seq = self.engine.logon_seq(ctx, msg.get(49) or "")
            if seq is not None and conn.driver is not None:  # the Logon answer's MsgSeqNum moves
                offset = seq.rule.params["offset"]
                conn.driver.session.logon_seq_offset = offset
                self.mark(conn, "in", msg, self.engine.record(seq, conn, "inbound",
                                                              f"Logon answered with MsgSeqNum {offset:+d}", conn.now()))
            return None
        state, text = found
        self.mark(conn, "in", msg, self.engine.record(state, conn, "inbound", "Logon refused", conn.now()))
        return text

    def _equip(self, conn: "GatewayConnection") -> None:
        recorder = conn.recorder
        if recorder is None:
            return
        want = not self.engine.idle
        layer = recorder.inner
        if want and not isinstance(layer, ConnectionFaults):
            if conn.driver is not None:
                conn.driver.enable_actions()  # the fault layer may return waits, closes, RSTs
            recorder.inner = ConnectionFaults(self.engine, conn, lambda c=conn: c.driver.session if c.driver else None,
                                              inner=layer, mark=recorder.mark, sent=lambda admin=False, c=conn: self._sent(c, admin),
                                              on_idle=self._resync_soon)
        elif not want and isinstance(layer, ConnectionFaults) and not layer.busy:
            recorder.inner = layer.inner  # (a busy layer stays until what it holds is out: on_idle)
        conn.send_hook = self._hook if self._venue_out else None

    def _sent(self, conn: "GatewayConnection", admin: bool = False) -> list[bytes]:
        """Application frames this connection sent, oldest first (from the transcript). Frames of
        an earlier connection of the same session id are left out: after a reset their numbers
        mean nothing to the client (a `resend` of them would be a gap, not a duplicate).
        `admin`: the session messages (not Logon/Logout) instead, for a `resend` where the
        connection carried no application message yet."""
        since = getattr(conn, "accepted_at", 0.0)
        return [e.frame for e in self.sim.transcript.entries
                if e.direction == "out" and e.session == conn.session_id and not e.note and not e.truncated
                and e.time >= since and ((msg_type_of(e.frame) not in ADMIN_MSG_TYPES) if not admin
                                         else msg_type_of(e.frame) in ("0", "1", "2", "3", "4"))]

    def _gate(self, want: bool) -> None:
        """gateway.fault_gate sits first in gateway.GATES only while some simulator in this
        process has rules: without any, application messages never call into fault code."""
        if want == self._gated:
            return
        self._gated = want
        _GATED[0] += 1 if want else -1
        gate = gate_module.fault_gate
        if _GATED[0] > 0 and gate not in GATES:
            GATES.insert(0, gate)  # before the rate limiter: a fault acts whatever the real limits say
        elif _GATED[0] == 0 and gate in GATES:
            GATES.remove(gate)

    def _sync(self) -> None:
        self._gate(not self.engine.idle or any(self.rolled_quotes.values()))
        self._venue_out = any(s.active and s.rule.kind.family == "venue" and "outbound" in s.rule.directions
                              for s in self.engine.states())
        for conn in list(self.conns):
            self._equip(conn)
        for state in self.engine.now_rules():
            self._act_now(state)

    def _act_now(self, state: RuleState) -> None:
        """A rule that acts now: on every live connection its selector takes, then it is spent."""
        engine = self.engine
        rule = state.rule
        now = self.sim.clock.now()
        if rule.fault in ("control", "rfq_roll"):  # once for the venue, not per connection
            if engine.fire(state, now):
                if rule.fault == "control":
                    what = self.run_control(rule.params, None, None, product=rule.products[0])
                else:
                    what = gate_module.rfq_roll(self, self.sim.venues["prediction"], now)
                engine.record(state, None, "inbound", what, now)
        else:
            for conn in sorted(self.sim.connections, key=lambda c: c.session_id):
                if conn.driver is None or not engine.selects(rule, conn):
                    continue
                if not engine.fire(state, now):
                    if not state.active:
                        break
                    continue
                if rule.fault == "unsolicited_cancel":
                    what = gate_module.unsolicited_cancel(conn, rule.params.get("cl_ord_id"), now)
                    conn.recorder.mark("out", b"", engine.record(state, conn, "outbound", what, now))
                    continue
                layer = conn.recorder.inner
                if not isinstance(layer, ConnectionFaults):
                    continue
                inbound, outbound = layer.act_now(state, now)
                conn.driver.run_actions(inbound, outbound)
        state.applied_now = True
        if rule.fault not in _LASTING:  # a skew lasts until the rule goes; the rest are done
            engine._end(state, "applied")  # noqa: SLF001 - the engine's own bookkeeping

    def wait_hits(self, rule_id: str, count: int = 1) -> "asyncio.Future[int]":
        """A future (on the simulator's loop) done when the rule has `count` hits (scenarios:
        "wait for a fault hit"); KeyError for an unknown id."""
        state = self.engine.rules[rule_id]
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if state.hits >= count:
            future.set_result(state.hits)
        else:
            self._waiters.append((rule_id, count, future))
        return future

    def _hit(self, state: RuleState) -> None:
        if not self._waiters:
            return
        keep = []
        for rule_id, count, future in self._waiters:
            if future.done():
                continue
            if rule_id == state.rule.id and state.hits >= count:
                future.set_result(state.hits)
            else:
                keep.append((rule_id, count, future))
        self._waiters = keep

    def _ended(self, state: RuleState) -> None:
        if state.rule.fault == "sending_time_skew":
            for session in state.touched:
                session.sending_time_skew = 0.0
            state.touched.clear()
        # A spent rule can apply no more: once none can, the fault layer comes off the connections
        # (after the frame being processed, never in the middle of it).
        self._resync_soon()

    def _resync_soon(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if not self._resync_due:
            self._resync_due = True
            loop.call_soon(self._resync)

    def _resync(self) -> None:
        self._resync_due = False
        self._sync()

    # --- venue helpers -----------------------------------------------------------------------

    def _schedule(self, seconds: float, fn) -> None:
        loop = asyncio.get_running_loop()
        if seconds <= 0:
            # After the current read is done, before the next one: call_soon's handle is queued
            # ahead of the I/O callbacks the next poll adds (a call_later(0) timer is not).
            loop.call_soon(fn)
        else:
            loop.call_later(seconds, fn)

    def mark(self, conn: "GatewayConnection", direction: str, msg: FixMessage | None, text: str) -> None:
        if conn.recorder is not None:
            frame = encode([(t, v) for t, v in msg.pairs if t not in (8, 9, 10)]) if msg is not None else b""
            conn.recorder.mark(direction, frame, text)

    def mark_body(self, conn: "GatewayConnection", msg_type: str, body: Iterable[tuple[int, Any]], text: str) -> None:
        if conn.recorder is not None:
            frame = ("35=%s|" % msg_type + "|".join(f"{t}={v}" for t, v in body)).encode("latin-1", "replace")
            conn.recorder.mark("out", frame.replace(b"|", b"\x01"), text)

    def run_control(self, params: dict, conn: "GatewayConnection | None", msg: FixMessage | None, *,
                    product: str = "prediction") -> str:
        """The `control` fault: a control-plane operation, run now (spec 10 §2 pauses, halts...),
        on the product of the message's connection (or the rule's first product)."""
        from .control import ControlError

        control = self.sim.control
        op = params["op"]
        product = conn.product if conn is not None else product
        ticker = params.get("ticker") or (msg.get(55) if msg is not None else None)
        try:
            if op == "pause":
                control.pause(params.get("kind") or "trading", product)
            elif op == "resume":
                control.resume(product)
            elif op in ("halt", "resume_market", "close_market"):
                if not ticker:
                    return f"not applied ({op} needs a ticker)"
                getattr(control, {"halt": "halt_market"}.get(op, op))(ticker, product=product)
            elif op == "settle_market":
                if not ticker:
                    return "not applied (settle needs a ticker)"
                control.settle_market(ticker, params.get("result") or "yes", params.get("price"), product=product)
            elif op == "maintenance":
                control.maintenance(params.get("mode") or "continuity")
        except ControlError as exc:
            return f"not applied ({exc.message})"
        return f"ran {op}" + (f" {ticker}" if ticker and op not in ("pause", "resume", "maintenance") else "")


def install(sim: "Simulator") -> FaultService:
    return FaultService(sim)

