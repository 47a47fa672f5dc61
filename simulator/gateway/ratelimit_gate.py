"""Rate limits on the FIX side (spec 11 §3-§5, spec 00 §7): a gate that charges every
application message to its account's token bucket before the handler runs, and the Logon limit.

    from kalshi_fixsim.simulator.gateway import ratelimit_gate
    svc = ratelimit_gate.install(sim)            # idempotent; state in sim.ratelimits
    svc.set_tier("alice", "premier")             # at run time (config name, API key or account)
    svc.snapshot("alice")                        # {"account", "model", "products": {...}}

The gate (registered first in `gateway.GATES` at import) is inert on a simulator without the
service. A message over its limit is answered and goes no further:
  * BusinessMessageReject 380=8 with 45, 372, 379 (ClOrdID / QuoteReqID / QuoteID ...) and a
    Text naming the bucket, the tokens needed and held and when to retry (spec 11 §5);
  * an EventResendRequest (U1) gets EventResendReject 21004=1 instead, the drop-copy answer to
    "too many requests" (spec 04 §5), so a drop-copy client handles one refusal only.
Buckets belong to the engine account behind the key (`conn.user`): the keys of one account,
listener keys included, share them, as REST and FIX do (spec 11 §1).

Logon (spec 00 §7, spec 11 §5), charged so that forged attempts cannot exhaust the owner's
budget (issue 11 §5). The server calls, in this order:
  * `logon_peer_refusal(sim, peer)` before any verification: an address with more than
    `failed_limit` refused Logons in `failed_window_seconds` is refused at once;
  * `logon_refusal(sim, api_key, product)` as soon as the Logon's signature verified (and is
    no replay): more than `limit` authenticated Logons of a key on a product within
    `window_seconds` get a Logout whose Text starts with "rate limited";
  * `logon_failed(sim, peer)` for a Logon refused before it was authenticated.
Defaults (config `rate_limits.logon`, behaviour.md): 100 per second per key and product,
no stricter than the spec's inferred Logon cost (spec 11 §3: 10 Read tokens at Premier's
1,000 tokens/s, bucket of 1 s), so a suite opening a session per test never trips it.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Mapping

from kalshi_fixsim.fixproto.codec import FixMessage
from kalshi_fixsim.fixproto.fields import BusinessRejectReason as BRR, EventResendRejectReason as ERR
from kalshi_fixsim.fixproto.numbers import parse_int

from ..config.model import LogonLimitConfig
from ..ratelimit import Decision, LogonLimiter, RateLimiter, best_tier
from . import GATES, Connection

if TYPE_CHECKING:
    from ..server import Simulator

__all__ = ["RateLimitService", "install", "service", "gate", "logon_refusal", "logon_peer_refusal",
           "logon_failed", "refusal_text", "SERVICE_KEY", "LOGON_LIMIT", "LOGON_WINDOW", "MAX_SHARD"]

SERVICE_KEY = "ratelimit"   # venue.services key; the same service also sits in sim.ratelimits
LOGON_LIMIT = LogonLimitConfig.limit          # accepted Logons per key and product ...
LOGON_WINDOW = LogonLimitConfig.window_seconds  # ... per this many seconds (config rate_limits.logon)
MAX_SHARD = 255             # ExDestination above this bills the unscoped write bucket


class RateLimitService:
    """One simulator's limits (both products): the token buckets, the Logon limiter and the
    clock they read. The control plane's surface; every method runs on the simulator's loop."""

    def __init__(self, limiter: RateLimiter, logons: LogonLimiter, clock: Callable[[], float],
                 names: Mapping[str, str] | None = None) -> None:
        self.limiter = limiter
        self.logons = logons
        self.clock = clock
        self.enabled = True          # False: every application message passes uncharged
        self.logon_enabled = True    # False: Logons are never throttled
        self._names = dict(names or {})  # config account name / API key -> engine account

    def now(self) -> float:
        return self.clock()

    def account(self, name: str) -> str:
        """The engine account a config account name or API key trades for (else `name`)."""
        return self._names.get(name, name)

    def add_account(self, name: str, api_key: str, user: str, tier: str | None = None) -> None:
        """Register a key added at run time; `tier` applies unless the account has one already."""
        self._names[name] = self._names[api_key] = user
        if tier is not None and not self.limiter.knows(user):
            self.limiter.set_tier(user, tier)

    def tier(self, account: str, product: str = "prediction") -> str:
        return self.limiter.tier(self.account(account), product)

    def set_tier(self, account: str, tier: str, product: str | None = None) -> None:
        """Change the tier (both products unless one is named); ValueError for an unknown
        tier or product. Buckets keep their tokens, clamped to the new capacity."""
        self.limiter.set_tier(self.account(account), tier, product, now=self.now())

    def set_model(self, model: str) -> None:
        """"tokens" (spec 11 §1) or "legacy" (requests per second, spec 11 §2 History)."""
        self.limiter.set_model(model)

    def snapshot(self, account: str) -> dict:
        """Tier, refill rate, capacity and tokens held now of every bucket of an account."""
        return self.limiter.snapshot(self.account(account), self.now())

    def snapshots(self) -> dict[str, dict]:
        now = self.now()
        return {a: self.limiter.snapshot(a, now) for a in self.limiter.accounts()}

    def settings(self) -> dict:
        """The configuration in force (JSON-able)."""
        lim = self.limiter
        return {"enabled": self.enabled, "model": lim.model,
                "costs": {t: {"bucket": b, "cost": c} for t, (b, c) in lim.costs.items()},
                "default_cost": {"bucket": lim.default_cost[0], "cost": lim.default_cost[1]},
                "budgets": {t: {"read": r, "write": w} for t, (r, w) in lim.budgets.items()},
                "legacy_limits": {t: {"read": r, "write": w} for t, (r, w) in lim.legacy_limits.items()},
                "logon": {"enabled": self.logon_enabled, "limit": self.logons.limit,
                          "window_seconds": self.logons.window, "failed_limit": self.logons.failed_limit,
                          "failed_window_seconds": self.logons.failed_window}}

    def reset(self, account: str | None = None) -> None:
        """Every bucket full again (of one account, or all, with the Logon counts)."""
        self.limiter.reset(None if account is None else self.account(account))
        if account is None:
            self.logons.reset()


def install(sim: "Simulator", *, clock: Callable[[], float] | None = None,
            costs: Mapping[str, tuple[str, float]] | None = None, model: str | None = None,
            enabled: bool | None = None, logon_limit: int | None = None, logon_window: float | None = None,
            logon_enabled: bool | None = None, failed_limit: int | None = None,
            failed_window: float | None = None) -> RateLimitService:
    """Give a Simulator its rate limits (state in `sim.ratelimits` and in every venue's
    services). Idempotent: a second call keeps the state and applies only the settings given.

    Tiers come from the accounts' config (`AccountConfig.tier`, the best among an account's
    keys), the switches and the Logon limit from `config.rate_limits`; `clock` defaults to the
    simulator's (tests pass their own to drive refills)."""
    svc = getattr(sim, "ratelimits", None)
    if not isinstance(svc, RateLimitService):
        names: dict[str, str] = {}
        grants: dict[str, list[str]] = {}
        for account in sim.config.accounts:
            names[account.name] = names[account.api_key] = account.user
            grants.setdefault(account.user, []).append(account.tier)
        limiter = RateLimiter({user: best_tier(tiers) for user, tiers in grants.items()})
        conf = getattr(sim.config, "rate_limits", None)
        lconf = conf.logon if conf is not None else LogonLimitConfig()
        logons = LogonLimiter(lconf.limit, lconf.window_seconds, lconf.failed_limit, lconf.failed_window_seconds)
        svc = RateLimitService(limiter, logons, sim.clock.now, names)
        if conf is not None:
            svc.enabled = conf.enabled
            svc.logon_enabled = conf.enabled and lconf.enabled
        sim.ratelimits = svc  # type: ignore[attr-defined]
    if clock is not None:
        svc.clock = clock
    if costs is not None:
        svc.limiter.set_costs(costs)
    if model is not None:
        svc.limiter.set_model(model)
    if enabled is not None:
        svc.enabled = enabled
    if logon_limit is not None:
        svc.logons.limit = int(logon_limit)
    if logon_window is not None:
        svc.logons.window = float(logon_window)
    if logon_enabled is not None:
        svc.logon_enabled = logon_enabled
    if failed_limit is not None:
        svc.logons.failed_limit = int(failed_limit)
    if failed_window is not None:
        svc.logons.failed_window = float(failed_window)
    for venue in sim.venues.values():
        venue.services[SERVICE_KEY] = svc
    return svc


def service(conn: Connection) -> RateLimitService | None:
    """The service of a connection's venue; None where none was installed."""
    services = getattr(getattr(conn, "venue", None), "services", None)
    svc = services.get(SERVICE_KEY) if services is not None else None
    return svc if isinstance(svc, RateLimitService) else None


# --- the gate --------------------------------------------------------------------------------

def _shard(msg: FixMessage) -> int | None:
    """ExDestination(100) >= 1 names a shard (spec 11 §4); an RFQ accept by D (QuoteID 117)
    always bills the unscoped bucket. The limiter applies it to prediction D/F/G only."""
    if msg.get(117) is not None:
        return None
    text = msg.get(100) or ""
    return parse_int(text, 1, MAX_SHARD)


def gate(conn: Connection, msg: FixMessage) -> bool:
    """Charge an application message; True (answered, stop) when it is over the limit."""
    svc = service(conn)
    if svc is None or not svc.enabled:
        return False
    user = conn.user
    limiter = svc.limiter
    if not limiter.knows(user):  # a key added after install: its config tier
        account = getattr(getattr(conn, "decision", None), "account", None)
        if getattr(account, "tier", None):
            limiter.set_tier(user, account.tier)  # type: ignore[union-attr]
    msg_type = msg.get(35) or ""
    decision = limiter.check(user, conn.product, msg_type, svc.now(), _shard(msg))
    if decision.ok:
        return False
    if msg_type == "U1":  # spec 04 §5: drop copy's "too many requests"
        conn.send("U3", [(45, msg.get(34) or "0"), (21004, ERR.RATE_LIMITED)])
        return True
    _reject(conn, msg, refusal_text(decision, limiter.model))
    return True


# The request's own id for BusinessRejectRefID(379): a Quote carries its QuoteID(117) and the
# RfqID(131) it answers, so QuoteID is looked at before QuoteReqID (gateway.business_reject
# looks at 131 first).
_REF_ID_TAGS = (11, 117, 131, 20130, 21001, 262)


def _reject(conn: Connection, msg: FixMessage, text: str) -> None:
    """BusinessMessageReject 380=8 (spec 11 §5, spec 09 §2)."""
    body: list[tuple[int, object]] = [(45, msg.get(34) or "0"), (372, msg.get(35) or "")]
    ref = next((value for value in map(msg.get, _REF_ID_TAGS) if value), None)
    if ref:
        body.append((379, ref))
    body += [(380, BRR.RATE_LIMIT_EXCEEDED), (58, text)]
    conn.send("j", body)


def _ms(seconds: float) -> int:
    return max(1, math.ceil(round(seconds * 1000.0, 6)))


def refusal_text(decision: Decision, model: str = "tokens") -> str:
    """The BMR Text: which bucket, what it needs and holds, when to retry."""
    d = decision
    if model == "legacy":
        return (f"Rate limit exceeded: {d.bucket} limit of {d.capacity:g} requests per second reached "
                f"({d.tier} tier, legacy limits); retry in {_ms(d.retry_after)} ms")
    held = math.floor(round(d.available, 3) * 10) / 10
    if math.isinf(d.retry_after):
        return (f"Rate limit exceeded: {d.bucket} bucket needs {d.cost:g} tokens but holds at most "
                f"{d.capacity:g} ({d.tier} tier); this request can never pass")
    return (f"Rate limit exceeded: {d.bucket} bucket needs {d.cost:g} tokens, {held:.1f} available "
            f"({d.tier} tier: {d.rate:g} tokens/s, capacity {d.capacity:g}); retry in {_ms(d.retry_after)} ms")


# --- Logon -------------------------------------------------------------------------------------

def _logon_service(sim: "Simulator") -> RateLimitService | None:
    svc = getattr(sim, "ratelimits", None)
    return svc if isinstance(svc, RateLimitService) and svc.logon_enabled else None


def logon_refusal(sim: "Simulator", api_key: str, product: str, now: float | None = None) -> str | None:
    """Charge an authenticated Logon to its key: None to go on, or the Text of the
    Logout refusing it (spec 00 §7; spec 11 §5 recommends "rate limited"). `now` None: the
    service's clock (the simulator's unless a test installed its own)."""
    svc = _logon_service(sim)
    if svc is None:
        return None
    logons = svc.logons
    decision = logons.check(api_key, product, svc.now() if now is None else now)
    if decision.ok:
        return None
    return (f"rate limited: more than {logons.limit} Logons in {logons.window:g} s for this API key on "
            f"{product}; retry in {_seconds(decision.retry_after)} s")


def logon_peer_refusal(sim: "Simulator", peer: str, now: float | None = None) -> str | None:
    """Before any verification: the Text refusing a Logon from an address that has had too many
    Logons refused lately, or None. Charges nothing."""
    svc = _logon_service(sim)
    if svc is None or not peer:
        return None
    logons = svc.logons
    decision = logons.peer_check(peer, svc.now() if now is None else now)
    if decision.ok:
        return None
    return (f"rate limited: more than {logons.failed_limit} refused Logons in {logons.failed_window:g} s "
            f"from {peer}; retry in {_seconds(decision.retry_after)} s")


def logon_failed(sim: "Simulator", peer: str, now: float | None = None) -> None:
    """Count a Logon refused before authentication against its peer address (never against the
    key it named)."""
    svc = _logon_service(sim)
    if svc is not None and peer:
        svc.logons.failed(peer, svc.now() if now is None else now)


def _seconds(retry_after: float) -> str:
    return f"{math.ceil(round(retry_after * 10, 6)) / 10:.1f}"


if gate not in GATES:
    GATES.insert(0, gate)  # before any other gate: a refused request goes no further (spec 09 layer 2)
