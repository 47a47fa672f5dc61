"""The fault engine: installed rules, their triggers, hit counts and seeded randomness (sans-IO).

`FaultEngine` holds the rules (issue 12 §2). Whether a rule fires on a message is decided here,
deterministically: each rule has its own RNG seeded from the simulator's seed and the rule's
id, and draws from it only for messages its selector and match already accepted, so the same
inputs with the same seed apply the same faults to the same frames. Time comes in as `now`
(the simulator's injected clock).

`ConnectionFaults` (connection.py) applies frame, transport and session faults to one
connection's frames; the venue faults are asked for by the gateway glue
(simulator/fault_service.py) through `venue_inbound` / `venue_outbound`.
"""
from __future__ import annotations

import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

from kalshi_fixsim.fixproto.codec import FixMessage

from .rules import Rule, RuleError, parse_rule

__all__ = ["FaultEngine", "RuleState", "Context", "RuleError"]


class Context(Protocol):
    """What a selector looks at: one connection (a GatewayConnection satisfies it)."""
    product: str
    session_code: str
    user: str            # the engine account ("" before the Logon is accepted)
    api_key_id: str
    session_id: str


@dataclass
class RuleState:
    rule: Rule
    installed_at: float
    rng: random.Random
    hits: int = 0
    seen: int = 0                      # messages that matched the selector and trigger
    active: bool = True
    ended: str = ""                    # why it stopped: "times", "duration", "removed", "applied"
    applications: deque = field(default_factory=lambda: deque(maxlen=100))
    touched: list = field(default_factory=list)   # sessions a lasting fault changed (skew)
    applied_now: bool = False          # a "now" rule that has acted (a lasting one stays active)

    @property
    def id(self) -> str:
        return self.rule.id

    def as_dict(self) -> dict:
        return {"id": self.rule.id, **self.rule.as_dict(), "family": self.rule.kind.family,
                "hits": self.hits, "seen": self.seen,
                "active": self.active, **({"ended": self.ended} if self.ended else {}),
                "recent": list(self.applications)[-10:]}


class FaultEngine:
    def __init__(self, seed: int, clock: Callable[[], float]) -> None:
        self.seed = seed
        self.clock = clock
        self.rules: dict[str, RuleState] = {}
        self.version = 0          # bumped on every change: connections re-select their rules
        self._count = 0
        self.listeners: list[Callable[[], None]] = []  # told after every change (glue)
        self.on_end: list[Callable[[RuleState], None]] = []  # told when a rule stops applying
        self.on_hit: list[Callable[[RuleState], None]] = []  # told after every application

    # --- rules -----------------------------------------------------------------------------

    def parse(self, data: Any, *, accounts: Iterable[str] | None = None,
              api_keys: Iterable[str] | None = None) -> Rule:
        rule = parse_rule(data, accounts=accounts, api_keys=api_keys)
        if rule.id and rule.id in self.rules:
            raise RuleError("id", f"a rule {rule.id!r} is installed already: remove it first or pick another id")
        return rule

    def install(self, rule: Rule) -> RuleState:
        """Install a rule parse() checked; gives it an id (f1, f2, ...) if it had none."""
        if not rule.id:
            while True:
                self._count += 1
                if f"f{self._count}" not in self.rules:
                    break
            rule.id = f"f{self._count}"
        seed = f"{self.seed}/fault/{rule.id}" if rule.seed is None else f"fault/{rule.seed}"
        state = RuleState(rule, self.clock(), random.Random(seed))
        self.rules[rule.id] = state
        self._changed()
        return state

    def add(self, data: Any, **kwargs) -> RuleState:
        return self.install(self.parse(data, **kwargs))

    def remove(self, rule_id: str) -> RuleState:
        state = self.rules.pop(rule_id)  # KeyError: unknown id
        self._end(state, "removed")
        self._changed()
        return state

    def clear(self) -> int:
        states = list(self.rules.values())
        self.rules.clear()
        for state in states:
            self._end(state, "removed")
        self._count = 0
        self._changed()
        return len(states)

    def get(self, rule_id: str) -> RuleState | None:
        return self.rules.get(rule_id)

    def states(self) -> list[RuleState]:
        return list(self.rules.values())

    @property
    def empty(self) -> bool:
        return not self.rules

    @property
    def idle(self) -> bool:
        """No rule can apply any more (none installed, or all of them spent or ended)."""
        return not any(s.active for s in self.rules.values())

    def _changed(self) -> None:
        self.version += 1
        for listener in self.listeners:
            listener()

    def _end(self, state: RuleState, why: str) -> None:
        if state.active:
            state.active = False
            state.ended = why
            for hook in self.on_end:
                hook(state)

    # --- triggers --------------------------------------------------------------------------

    def live(self, state: RuleState, now: float) -> bool:
        """Installed, started (after_s) and not past its duration."""
        if not state.active:
            return False
        rule = state.rule
        start = state.installed_at + rule.after_s
        if now < start:
            return False
        if rule.duration_s is not None and now >= start + rule.duration_s:
            self._end(state, "duration")
            self.version += 1
            return False
        return True

    def fire(self, state: RuleState, now: float) -> bool:
        """A message matched `state`'s selector and trigger: does the rule apply to it?
        (Nth / every Nth, probability from the rule's own RNG, at most `times`.)"""
        if not self.live(state, now):
            return False
        rule = state.rule
        state.seen += 1
        if rule.nth is not None and state.seen != rule.nth:
            return False
        if rule.every is not None and state.seen % rule.every:
            return False
        if rule.probability is not None and state.rng.random() >= rule.probability:
            return False
        state.hits += 1
        for hook in self.on_hit:
            hook(state)
        if (rule.times is not None and state.hits >= rule.times) or (rule.nth is not None):
            self._end(state, "times")
            self.version += 1
        return True

    def record(self, state: RuleState, ctx: Context | None, direction: str, what: str, now: float) -> str:
        """Note one application (GET /faults/{id} shows the recent ones); returns the mark text."""
        text = f"{what} by rule {state.rule.id}"
        state.applications.append({"time": now, "session": getattr(ctx, "session_id", "") or
                                   (f"{ctx.product}/{ctx.session_code}" if ctx is not None else ""),
                                   "direction": direction, "what": text})
        return text

    def tick(self, now: float) -> float | None:
        """End rules past their duration; returns when the next one ends or starts."""
        due: float | None = None
        for state in list(self.rules.values()):
            if not state.active:
                continue
            rule = state.rule
            start = state.installed_at + rule.after_s
            if now < start:
                due = start if due is None else min(due, start)
                continue
            if rule.now and not state.applied_now:
                self._changed()  # a "now" rule delayed by after_s is due: the glue applies it
            if rule.duration_s is not None:
                end = start + rule.duration_s
                if now >= end:
                    self._end(state, "duration")
                    self._changed()
                else:
                    due = end if due is None else min(due, end)
        return due

    # --- selection -------------------------------------------------------------------------

    @staticmethod
    def selects(rule: Rule, ctx: Context, direction: str | None = None) -> bool:
        """The rule's selector accepts this connection (and direction)."""
        if ctx.product not in rule.products:
            return False
        if rule.sessions is not None and ctx.session_code not in rule.sessions:
            return False
        if direction is not None and direction not in rule.directions:
            return False
        if rule.account is not None and ctx.user != rule.account:
            return False
        if rule.api_key is not None and (ctx.api_key_id or "").lower() != rule.api_key.lower():
            return False
        if rule.session_id is not None and ctx.session_id != rule.session_id:
            return False
        return True

    @staticmethod
    def matches(rule: Rule, msg_type: str, get: Callable[[int], str | None]) -> bool:
        if rule.msg_types is not None and msg_type not in rule.msg_types:
            return False
        for tag, value in rule.match:
            if get(tag) != value:
                return False
        for tag, pattern in rule.match_regex:
            found = get(tag)
            if found is None or not pattern.search(found):
                return False
        return True

    def candidates(self, ctx: Context, direction: str, families: tuple[str, ...],
                   triggers: tuple[str, ...] = ("message",)) -> list[RuleState]:
        return [s for s in self.rules.values() if s.active and s.rule.kind.family in families
                and any(t in s.rule.kind.triggers for t in triggers) and not s.rule.now
                and self.selects(s.rule, ctx, direction)]

    # --- venue and connection-level faults (asked for by the glue) --------------------------

    def venue_inbound(self, ctx: Context, msg: FixMessage) -> list[RuleState]:
        """Venue rules firing on an inbound application message, in install order."""
        return self._venue(ctx, "inbound", msg.get(35) or "", msg.get)

    def venue_outbound(self, ctx: Context, msg_type: str, body: list[tuple[int, object]]) -> list[RuleState]:
        """Venue rules firing on an application message the gateway is about to send."""
        cache: dict[int, str] = {}

        def get(tag: int) -> str | None:
            if not cache:
                for t, v in body:
                    cache.setdefault(t, v if isinstance(v, str) else str(v))
            return cache.get(tag)
        return self._venue(ctx, "outbound", msg_type, get)

    def _venue(self, ctx: Context, direction: str, msg_type: str, get) -> list[RuleState]:
        if not self.rules:
            return []
        now = self.clock()
        fired = []
        for state in self.candidates(ctx, direction, ("venue",)):
            if self.matches(state.rule, msg_type, get) and self.fire(state, now):
                fired.append(state)
        return fired

    def logon_refusal(self, ctx: Context, api_key: str) -> tuple[RuleState, str] | None:
        """A refuse_logon rule firing on this Logon: (rule, the Logout Text)."""
        if not self.rules:
            return None
        now = self.clock()
        for state in self.candidates(ctx, "inbound", ("session",), ("logon",)):
            if state.rule.fault != "refuse_logon":
                continue
            rule = state.rule
            if rule.api_key is not None and api_key.lower() != rule.api_key.lower():
                continue
            if self.fire(state, now):
                return state, rule.params["text"]
        return None

    def logon_seq(self, ctx: Context, api_key: str) -> RuleState | None:
        """A logon_seq rule firing on this (authenticated) Logon: the Logon answer's offset."""
        if not self.rules:
            return None
        now = self.clock()
        for state in self.candidates(ctx, "inbound", ("session",), ("logon",)):
            rule = state.rule
            if rule.fault != "logon_seq":
                continue
            if rule.api_key is not None and api_key.lower() != rule.api_key.lower():
                continue
            if self.fire(state, now):
                return state
        return None

    def refuse_connection(self, ctx: Context) -> RuleState | None:
        """A refuse_connections rule firing on a new connection to (product, session)."""
        if not self.rules:
            return None
        now = self.clock()
        for state in self.candidates(ctx, "inbound", ("transport",), ("connect",)):
            if self.fire(state, now):
                return state
        return None

    def now_rules(self) -> list[RuleState]:
        now = self.clock()
        return [s for s in self.rules.values() if s.active and s.rule.now and not s.applied_now and self.live(s, now)]

    def sample_delay(self, state: RuleState) -> float:
        """Seconds of delay for one frame (delay and jitter faults), from the rule's RNG."""
        p, rng = state.rule.params, state.rng
        if state.rule.fault == "jitter":
            return rng.uniform(0.0, p["ms"]) / 1000.0
        ms, dist = p["ms"], p["distribution"]
        if dist == "uniform":
            ms = rng.uniform(ms - p["spread_ms"], ms + p["spread_ms"])
        elif dist == "normal":
            ms = rng.gauss(ms, p["spread_ms"])
        elif dist == "lognormal":
            ms = ms * math.exp(rng.gauss(0.0, p["sigma"])) if ms > 0 else 0.0
        return max(0.0, ms) / 1000.0
