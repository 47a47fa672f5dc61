"""Rate limits (spec 11): token buckets per (account, product, bucket), FIX-free and clock-free.

Every decision takes `now` (epoch seconds); nothing here reads a clock or knows FIX framing.
A message type is only a key of the cost table, which maps it to a bucket and a cost.

    limiter = RateLimiter({"alice": "premier"})
    d = limiter.check("alice", "prediction", "D", now)          # Decision(ok, bucket, cost, ...)
    limiter.set_tier("alice", "prestige", now=now)              # at run time
    limiter.snapshot("alice", now)                              # read-only view (spec 11 §6)

Model "tokens" (spec 11 §1): two buckets per account and product, "read" and "write", plus a
write bucket per prediction shard ("write:<index>", spec 11 §4). A bucket refills continuously at
its tier's budget up to its capacity (1 or 2 seconds of budget, `capacity_seconds`); a request
passes when the bucket holds its cost, which is then deducted; a refusal costs nothing and
carries no penalty. Model "legacy" (spec 11 §2 History): N requests per second per tier, read or
write, counted in a sliding one-second window.

`LogonLimiter` counts Logons per key in a sliding window (spec 00 §7: Logon is rate-limited).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from types import MappingProxyType
from typing import Callable, Iterable, Mapping

__all__ = [
    "TIERS", "PRODUCTS", "READ", "WRITE", "TIER_BUDGETS", "LEGACY_LIMITS", "DEFAULT_COSTS", "DEFAULT_COST",
    "EXEMPT", "SHARDED", "LEGACY_WRITES", "MODELS", "capacity_seconds", "normalise_tier", "best_tier",
    "Decision", "TokenBucket", "SlidingWindow", "RateLimiter", "LogonLimiter",
]

TIERS = ("basic", "advanced", "expert", "premier", "paragon", "prime", "prestige")  # spec 11 §2, lowest first
PRODUCTS = ("prediction", "margin")
READ, WRITE = "read", "write"
MODELS = ("tokens", "legacy")
_EPS = 1e-3  # tokens of float slack: epoch-second timestamps carry ~2e-7 s of rounding, so a
             # bucket refilled "to 10" may hold 9.9999 tokens; it still covers a cost of 10

# spec 11 §2: tokens per second refilled into each bucket, (read, write).
TIER_BUDGETS: Mapping[str, tuple[float, float]] = MappingProxyType({
    "basic": (200, 100), "advanced": (300, 300), "expert": (600, 600), "premier": (1000, 1000),
    "paragon": (2000, 2000), "prime": (4000, 4000), "prestige": (10000, 8000),
})

# spec 11 §2 History: requests per second, (read, write). The legacy scheme had no Expert,
# Paragon or Prestige tier: each takes the limits of the nearest lower legacy tier.
LEGACY_LIMITS: Mapping[str, tuple[int, int]] = MappingProxyType({
    "basic": (20, 10), "advanced": (30, 30), "expert": (30, 30), "premier": (100, 100),
    "paragon": (100, 100), "prime": (400, 400), "prestige": (400, 400),
})

# spec 11 §3, the one FIX MsgType -> (bucket, tokens) table. Not listed: DEFAULT_COST.
DEFAULT_COSTS: Mapping[str, tuple[str, float]] = MappingProxyType({
    "D": (WRITE, 10),     # NewOrderSingle (also an RFQ accept carrying QuoteID: unscoped)
    "G": (WRITE, 10),     # OrderCancelReplaceRequest
    "F": (WRITE, 2),      # OrderCancelRequest
    "q": (WRITE, 10),     # OrderMassCancelRequest (its 1/s limit is order_entry's, spec 02 §11)
    "UOG": (WRITE, 10),   # OrderGroupRequest
    "R": (WRITE, 10),     # QuoteRequest (create RFQ)
    "S": (WRITE, 2),      # Quote
    "Z": (WRITE, 2),      # QuoteCancel
    "UA": (WRITE, 10),    # AcceptQuote
    "U7": (WRITE, 10),    # QuoteConfirm
    "UE": (WRITE, 10),    # RFQCancel
    "U1": (READ, 10),     # EventResendRequest (inferred; drop copy has its own limit too)
    "V": (READ, 10),      # MarketDataRequest (inferred)
    "e": (READ, 10),      # SecurityStatusRequest (inferred)
})
DEFAULT_COST: tuple[str, float] = (READ, 10)  # spec 11 §1: Read covers "everything else"; §3 default 10
# Session messages never count (spec 00 §7, spec 11 §3); Logon has LogonLimiter instead.
EXEMPT = frozenset({"0", "1", "2", "3", "4", "5", "A"})
SHARDED = frozenset({"D", "F", "G"})         # spec 11 §4: these bill a shard's write bucket
LEGACY_WRITES = frozenset({"D", "F", "G", "q"})  # spec 11 §2 History: create/cancel/amend/batch only


def normalise_tier(tier: str) -> str:
    name = str(tier).strip().lower()
    if name not in TIERS:
        raise ValueError(f"unknown tier {tier!r} (expected one of: {', '.join(TIERS)})")
    return name


def best_tier(tiers: Iterable[str]) -> str:
    """A user's tier is their best grant (spec 11 §2); basic when there is none."""
    ranked = [TIERS.index(normalise_tier(t)) for t in tiers]
    return TIERS[max(ranked)] if ranked else TIERS[0]


def capacity_seconds(product: str, bucket: str, tier: str) -> float:
    """Seconds of budget a full bucket holds (spec 11 §1)."""
    if bucket.split(":", 1)[0] == WRITE:
        return 1.0 if tier == "basic" else 2.0
    if product == "prediction" and tier in ("basic", "advanced"):
        return 2.0
    return 1.0  # prediction Read above Advanced, every margin (perps) Read bucket


@dataclass(frozen=True)
class Decision:
    """The answer to one request. `available`: tokens (legacy: requests) the bucket holds
    after the decision; `retry_after`: seconds until a refused request would pass (0 when ok,
    inf when its cost exceeds the bucket's capacity)."""
    ok: bool
    bucket: str          # "read", "write", "write:<index>", "logon"; "" for an exempt message
    cost: float
    available: float
    retry_after: float = 0.0
    rate: float = 0.0      # refill per second (legacy: requests per window)
    capacity: float = 0.0  # tokens a full bucket holds (legacy: the request limit)
    tier: str = ""


class TokenBucket:
    """Continuous refill at `rate` up to `capacity`; created full (spec 11 §1)."""
    __slots__ = ("rate", "capacity", "tokens", "updated")

    def __init__(self, rate: float, capacity: float, now: float, tokens: float | None = None) -> None:
        self.rate, self.capacity = float(rate), float(capacity)
        self.tokens = self.capacity if tokens is None else min(float(tokens), self.capacity)
        self.updated = now

    def level(self, now: float) -> float:
        """Tokens held at `now`, without changing the bucket (a clock going back adds nothing)."""
        return min(self.capacity, self.tokens + max(0.0, now - self.updated) * self.rate)

    def refill(self, now: float) -> float:
        self.tokens = self.level(now)
        self.updated = max(self.updated, now)
        return self.tokens

    def take(self, cost: float, now: float) -> bool:
        if self.refill(now) + _EPS < cost:
            return False
        self.tokens = max(0.0, self.tokens - cost)
        return True

    def retry_after(self, cost: float) -> float:
        """Seconds until the bucket, as last refilled, covers `cost`."""
        if cost > self.capacity + _EPS:
            return math.inf
        if self.rate <= 0:
            return 0.0 if self.tokens + _EPS >= cost else math.inf
        return max(0.0, (cost - self.tokens) / self.rate)

    def reconfigure(self, rate: float, capacity: float, now: float) -> None:
        """A new tier: tokens earned so far at the old rate stay, clamped to the new capacity."""
        self.refill(now)
        self.rate, self.capacity = float(rate), float(capacity)
        self.tokens = min(self.tokens, self.capacity)


class SlidingWindow:
    """At most `limit` events in any `window` seconds: an event passes when fewer than `limit`
    accepted events happened in (now - window, now]. Refused events are not recorded."""
    __slots__ = ("limit", "window", "times")

    def __init__(self, limit: int, window: float = 1.0) -> None:
        self.limit, self.window = int(limit), float(window)
        self.times: deque[float] = deque()

    def _expire(self, now: float) -> None:
        times = self.times
        while times and times[0] <= now - self.window:
            times.popleft()

    def used(self, now: float) -> int:
        self._expire(now)
        return len(self.times)

    def take(self, now: float) -> bool:
        if self.used(now) >= self.limit:
            return False
        self.times.append(now)
        return True

    def retry_after(self, now: float) -> float:
        if self.limit <= 0:
            return math.inf
        if len(self.times) < self.limit:
            return 0.0
        return max(0.0, self.times[len(self.times) - self.limit] + self.window - now)


class RateLimiter:
    """Buckets per (account, product, bucket name) and a tier per (account, product).

    `tiers`: account -> tier at start (others get `default_tier`); `costs`: MsgType -> (bucket,
    tokens), replacing DEFAULT_COSTS; `budgets`: tier -> (read, write) tokens/s; `capacity`:
    (product, bucket, tier) -> seconds of budget; `legacy_limits`: tier -> (read, write) requests/s.
    """

    def __init__(self, tiers: Mapping[str, str] | None = None, *, default_tier: str = "basic",
                 costs: Mapping[str, tuple[str, float]] | None = None, model: str = "tokens",
                 budgets: Mapping[str, tuple[float, float]] | None = None,
                 capacity: Callable[[str, str, str], float] = capacity_seconds,
                 legacy_limits: Mapping[str, tuple[int, int]] | None = None,
                 legacy_window: float = 1.0, default_cost: tuple[str, float] = DEFAULT_COST,
                 exempt: Iterable[str] = EXEMPT, sharded: Iterable[str] = SHARDED,
                 legacy_writes: Iterable[str] = LEGACY_WRITES) -> None:
        self.default_tier = normalise_tier(default_tier)
        self.budgets = dict(budgets or TIER_BUDGETS)
        self.capacity = capacity
        self.legacy_limits = dict(legacy_limits or LEGACY_LIMITS)
        self.legacy_window = float(legacy_window)
        self.default_cost = default_cost
        self.exempt = frozenset(exempt)
        self.sharded = frozenset(sharded)
        self.legacy_writes = frozenset(legacy_writes)
        self._costs: dict[str, tuple[str, float]] = {}
        self.set_costs(costs or DEFAULT_COSTS)
        self.model = ""
        self.set_model(model)
        self._tiers: dict[tuple[str, str], str] = {}
        self._buckets: dict[tuple[str, str, str], TokenBucket] = {}
        self._windows: dict[tuple[str, str, str], SlidingWindow] = {}
        for account, tier in (tiers or {}).items():
            self.set_tier(account, tier)

    # --- configuration ----------------------------------------------------------------------

    @property
    def costs(self) -> Mapping[str, tuple[str, float]]:
        """The cost table in force (read-only view)."""
        return MappingProxyType(self._costs)

    def set_costs(self, costs: Mapping[str, tuple[str, float]]) -> None:
        table: dict[str, tuple[str, float]] = {}
        for msg_type, (bucket, cost) in costs.items():
            if bucket not in (READ, WRITE) or float(cost) < 0:
                raise ValueError(f"cost of {msg_type!r}: bucket must be read/write and cost >= 0, "
                                 f"not ({bucket!r}, {cost!r})")
            table[msg_type] = (bucket, float(cost))
        self._costs = table

    def set_model(self, model: str) -> None:
        if model not in MODELS:
            raise ValueError(f"unknown rate-limit model {model!r} (expected one of: {', '.join(MODELS)})")
        self.model = model

    def cost_of(self, msg_type: str) -> tuple[str, float] | None:
        """(bucket, tokens) charged for a message type; None when it never counts."""
        if msg_type in self.exempt:
            return None
        return self._costs.get(msg_type, self.default_cost)

    # --- tiers ------------------------------------------------------------------------------

    def knows(self, account: str) -> bool:
        """Whether the account has a tier of its own (else it runs at `default_tier`)."""
        return any((account, p) in self._tiers for p in PRODUCTS)

    def tier(self, account: str, product: str = "prediction") -> str:
        return self._tiers.get((account, product), self.default_tier)

    def set_tier(self, account: str, tier: str, product: str | None = None, now: float | None = None) -> None:
        """Change an account's tier on one product (None: both). Existing buckets keep the
        tokens they hold (earned at the old rate up to `now`, when given), clamped to the new
        capacity; they then refill at the new budget."""
        tier = normalise_tier(tier)
        if tier not in self.budgets:
            raise ValueError(f"tier {tier!r} has no budget configured")
        if product is not None and product not in PRODUCTS:
            raise ValueError(f"unknown product {product!r} (expected one of: {', '.join(PRODUCTS)})")
        products = PRODUCTS if product is None else (product,)
        for p in products:
            self._tiers[(account, p)] = tier
        for (acct, p, name), bucket in self._buckets.items():
            if acct == account and p in products:
                rate, cap = self._shape(p, name, tier)
                bucket.reconfigure(rate, cap, bucket.updated if now is None else now)
        for (acct, p, name), window in self._windows.items():
            if acct == account and p in products:
                window.limit = self._legacy_limit(name, tier)

    # --- decisions --------------------------------------------------------------------------

    def bucket_for(self, msg_type: str, product: str, shard: int | None = None) -> tuple[str, float] | None:
        """The bucket name and cost a message is charged to (None: exempt). A D/F/G on a
        prediction shard >= 1 bills that shard's own write bucket (spec 11 §4)."""
        entry = self.cost_of(msg_type)
        if entry is None:
            return None
        bucket, cost = entry
        if (bucket == WRITE and shard is not None and shard >= 1 and product == "prediction"
                and msg_type in self.sharded and self.model == "tokens"):
            bucket = f"{WRITE}:{shard}"
        return bucket, cost

    def check(self, account: str, product: str, msg_type: str, now: float, shard: int | None = None) -> Decision:
        """Charge one message; the Decision says whether it may go on."""
        entry = self.bucket_for(msg_type, product, shard)
        if entry is None:
            return Decision(True, "", 0.0, math.inf)
        bucket, cost = entry
        if self.model == "legacy":
            if cost <= 0:  # configured free: not a request the legacy scheme counted
                return Decision(True, "", 0.0, math.inf)
            return self._check_legacy(account, product, msg_type, now)
        return self.charge(account, product, bucket, cost, now)

    def charge(self, account: str, product: str, bucket: str, cost: float, now: float) -> Decision:
        """Take `cost` tokens from a named bucket ("read", "write", "write:<index>")."""
        tier = self.tier(account, product)
        b = self._bucket(account, product, bucket, tier, now)
        if cost <= 0:
            return Decision(True, bucket, 0.0, b.refill(now), 0.0, b.rate, b.capacity, tier)
        if b.take(cost, now):
            return Decision(True, bucket, cost, b.tokens, 0.0, b.rate, b.capacity, tier)
        return Decision(False, bucket, cost, b.tokens, b.retry_after(cost), b.rate, b.capacity, tier)

    def _check_legacy(self, account: str, product: str, msg_type: str, now: float) -> Decision:
        name = WRITE if msg_type in self.legacy_writes else READ
        tier = self.tier(account, product)
        key = (account, product, name)
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = SlidingWindow(self._legacy_limit(name, tier), self.legacy_window)
        ok = window.take(now)
        left = float(window.limit - len(window.times))
        return Decision(ok, name, 1.0, max(0.0, left), 0.0 if ok else window.retry_after(now),
                        float(window.limit), float(window.limit), tier)

    def _legacy_limit(self, name: str, tier: str) -> int:
        read, write = self.legacy_limits[tier]
        return int(write if name == WRITE else read)

    def _shape(self, product: str, bucket: str, tier: str) -> tuple[float, float]:
        read, write = self.budgets[tier]
        rate = float(write if bucket.split(":", 1)[0] == WRITE else read)
        return rate, rate * self.capacity(product, bucket, tier)

    def _bucket(self, account: str, product: str, bucket: str, tier: str, now: float) -> TokenBucket:
        key = (account, product, bucket)
        b = self._buckets.get(key)
        if b is None:
            rate, cap = self._shape(product, bucket, tier)
            b = self._buckets[key] = TokenBucket(rate, cap, now)
        return b

    # --- views ------------------------------------------------------------------------------

    def accounts(self) -> list[str]:
        """Accounts with a tier set or a bucket in use."""
        names = {a for a, _ in self._tiers} | {a for a, _, _ in self._buckets} | {a for a, _, _ in self._windows}
        return sorted(names)

    def snapshot(self, account: str, now: float | None = None) -> dict:
        """JSON-able limits and levels of an account, per product (shaped like REST
        GET /account/limits, spec 11 §6). Tokens are as of `now` (None: as last charged).
        Buckets never charged are shown full."""
        out: dict = {"account": account, "model": self.model, "products": {}}
        for product in PRODUCTS:
            tier = self.tier(account, product)
            entry: dict = {"usage_tier": tier}
            if self.model == "legacy":
                for name in (READ, WRITE):
                    window = self._windows.get((account, product, name))
                    limit = self._legacy_limit(name, tier)
                    used = 0 if window is None else (window.used(now) if now is not None else len(window.times))
                    entry[name] = {"limit": limit, "window_seconds": self.legacy_window, "used": used}
            else:
                for name in (READ, WRITE):
                    entry[name] = self._view(account, product, name, tier, now)
                shards = sorted(int(n.split(":", 1)[1]) for a, p, n in self._buckets
                                if a == account and p == product and n.startswith(WRITE + ":"))
                entry["shards"] = {str(s): self._view(account, product, f"{WRITE}:{s}", tier, now) for s in shards}
            out["products"][product] = entry
        return out

    def _view(self, account: str, product: str, name: str, tier: str, now: float | None) -> dict:
        b = self._buckets.get((account, product, name))
        rate, cap = (b.rate, b.capacity) if b is not None else self._shape(product, name, tier)
        tokens = cap if b is None else (b.tokens if now is None else b.level(now))
        return {"refill_rate": rate, "bucket_capacity": cap, "tokens": tokens}

    def reset(self, account: str | None = None) -> None:
        """Forget levels and counts (every bucket full again); tiers stay."""
        for table in (self._buckets, self._windows):
            for key in [k for k in table if account is None or k[0] == account]:
                del table[key]


class LogonLimiter:
    """The Logon limit (spec 00 §7), charged so that a forger cannot lock a key's owner out
    (issue 11 §5): only a Logon that passed authentication counts toward its key's limit, at most
    `limit` per `window` seconds per (key, product); a refused Logon counts toward its peer
    address instead, and an address with `failed_limit` refusals in `failed_window` seconds is
    refused before any verification. Refused attempts never count toward the key, so a client
    that backs off gets in as soon as the window allows."""

    MAX_TRACKED = 4096  # windows kept before idle ones are swept

    def __init__(self, limit: int = 100, window: float = 1.0, failed_limit: int = 1000,
                 failed_window: float = 10.0) -> None:
        self.limit, self.window = int(limit), float(window)
        self.failed_limit, self.failed_window = int(failed_limit), float(failed_window)
        self._keys: dict[tuple[str, str], SlidingWindow] = {}
        self._peers: dict[str, SlidingWindow] = {}

    def check(self, key: str, product: str, now: float) -> Decision:
        """Charge one authenticated Logon of `key` on `product`."""
        slot = (key, product)
        win = self._keys.get(slot)
        if win is None:
            if len(self._keys) >= self.MAX_TRACKED:
                self._sweep(self._keys, now)
            win = self._keys[slot] = SlidingWindow(self.limit, self.window)
        win.limit, win.window = self.limit, self.window  # follow reconfiguration
        ok = win.take(now)
        return Decision(ok, "logon", 1.0, float(max(0, self.limit - len(win.times))),
                        0.0 if ok else win.retry_after(now), float(self.limit), float(self.limit))

    def peer_check(self, peer: str, now: float) -> Decision:
        """Whether a Logon from `peer` may be looked at (charges nothing)."""
        win = self._peers.get(peer)
        if win is None:
            return Decision(True, "logon:peer", 0.0, float(self.failed_limit))
        win.limit, win.window = self.failed_limit, self.failed_window
        used = win.used(now)
        ok = used < self.failed_limit
        return Decision(ok, "logon:peer", 0.0, float(max(0, self.failed_limit - used)),
                        0.0 if ok else win.retry_after(now), float(self.failed_limit), float(self.failed_limit))

    def failed(self, peer: str, now: float) -> None:
        """Record a refused Logon from `peer`."""
        win = self._peers.get(peer)
        if win is None:
            if len(self._peers) >= self.MAX_TRACKED:
                self._sweep(self._peers, now)
            win = self._peers[peer] = SlidingWindow(self.failed_limit, self.failed_window)
        win.limit, win.window = self.failed_limit, self.failed_window
        win.times.append(now)
        while len(win.times) > win.limit:  # only the newest `limit` matter for the window
            win.times.popleft()

    def count(self, key: str, product: str, now: float) -> int:
        win = self._keys.get((key, product))
        return 0 if win is None else win.used(now)

    def failures(self, peer: str, now: float) -> int:
        win = self._peers.get(peer)
        return 0 if win is None else win.used(now)

    def reset(self) -> None:
        self._keys.clear()
        self._peers.clear()

    @staticmethod
    def _sweep(table: dict, now: float) -> None:
        for slot in [s for s, w in table.items() if w.used(now) == 0]:
            del table[slot]
