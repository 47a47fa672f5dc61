"""Token-bucket math of spec 11 with an injected `now`: tiers, the capacity rule, costs,
per-shard and per-product buckets, the legacy requests-per-second model, tiers changed at run
time, and the Logon limiter."""
from __future__ import annotations

import math

import pytest

from kalshi_fixsim.simulator.gateway.ratelimit_gate import refusal_text
from kalshi_fixsim.simulator.ratelimit import (DEFAULT_COSTS, EXEMPT, LEGACY_LIMITS, TIER_BUDGETS, TIERS, LogonLimiter,
                                 RateLimiter, SlidingWindow, TokenBucket, best_tier, capacity_seconds)

T0 = 1000.0


def burst(limiter, n, msg_type="D", account="alice", product="prediction", now=T0, shard=None):
    return [limiter.check(account, product, msg_type, now, shard) for _ in range(n)]


# --- spec 11 §1: bucket math ------------------------------------------------------------------

def test_basic_write_bucket_bursts_its_capacity_then_refuses_with_the_exact_wait():
    limiter = RateLimiter({"alice": "basic"})
    decisions = burst(limiter, 11)                      # 100 tokens, 10 per order
    assert [d.ok for d in decisions] == [True] * 10 + [False]
    assert [d.available for d in decisions[:3]] == [90, 80, 70]
    refused = decisions[-1]
    assert (refused.bucket, refused.cost, refused.available, refused.rate, refused.capacity) == \
        ("write", 10, 0, 100, 100)
    assert refused.retry_after == pytest.approx(0.1)    # 10 tokens at 100/s


def test_refill_is_continuous_at_the_budget_rate_and_a_refusal_costs_nothing():
    limiter = RateLimiter({"alice": "basic"})
    burst(limiter, 10)
    assert not limiter.check("alice", "prediction", "D", T0 + 0.0625).ok   # 6.25 tokens: short
    assert limiter.check("alice", "prediction", "D", T0 + 0.125).ok        # 12.5 tokens: passes
    d = limiter.check("alice", "prediction", "F", T0 + 0.125)              # a cancel costs 2
    assert d.ok and d.available == pytest.approx(0.5)
    d = limiter.check("alice", "prediction", "F", T0 + 0.125)
    assert not d.ok and d.retry_after == pytest.approx(0.015)             # 1.5 tokens at 100/s
    assert limiter.check("alice", "prediction", "F", T0 + 0.14).ok


def test_refill_stops_at_capacity():
    limiter = RateLimiter({"alice": "basic"})
    burst(limiter, 10)
    assert [d.ok for d in burst(limiter, 11, now=T0 + 3600)] == [True] * 10 + [False]


def test_premier_write_holds_two_seconds_of_budget_and_sustains_budget_over_cost():
    # spec 11 §2 example: Premier write refills 1,000/s and holds 2,000 -> 200 orders at once, then 100/s.
    limiter = RateLimiter({"alice": "premier"})
    assert [d.ok for d in burst(limiter, 201)] == [True] * 200 + [False]
    passed = sum(limiter.check("alice", "prediction", "D", T0 + i / 1000).ok for i in range(1, 1001))
    assert passed == 100


def test_no_penalty_the_next_request_passes_as_soon_as_the_bucket_covers_it():
    limiter = RateLimiter({"alice": "premier"})
    burst(limiter, 200)
    refused = limiter.check("alice", "prediction", "D", T0)
    assert refused.retry_after == pytest.approx(0.01)   # spec 11 §5: 10 ms at 1,000/s
    assert limiter.check("alice", "prediction", "D", T0 + 0.01).ok


def test_a_cost_above_the_capacity_can_never_pass():
    limiter = RateLimiter({"alice": "basic"}, costs={"D": ("write", 150)})
    d = limiter.check("alice", "prediction", "D", T0)
    assert not d.ok and math.isinf(d.retry_after)
    assert refusal_text(d).endswith("this request can never pass")


def test_a_clock_going_back_adds_no_tokens():
    bucket = TokenBucket(100, 100, T0, tokens=0)
    assert bucket.level(T0 - 5) == 0 and not bucket.take(1, T0 - 5)
    assert bucket.take(10, T0 + 0.1)


# --- spec 11 §1: capacity rule, §2 budgets ------------------------------------------------------

EXPECTED_SECONDS = {
    # (product, bucket): {tier: seconds}
    ("prediction", "write"): {"basic": 1, "advanced": 2, "expert": 2, "premier": 2, "paragon": 2, "prime": 2,
                              "prestige": 2},
    ("margin", "write"): {"basic": 1, "advanced": 2, "expert": 2, "premier": 2, "paragon": 2, "prime": 2,
                          "prestige": 2},
    ("prediction", "read"): {"basic": 2, "advanced": 2, "expert": 1, "premier": 1, "paragon": 1, "prime": 1,
                             "prestige": 1},
    ("margin", "read"): {t: 1 for t in TIERS},
}


@pytest.mark.parametrize("product,bucket,tier", [(p, b, t) for (p, b) in EXPECTED_SECONDS for t in TIERS])
def test_capacity_rule_for_every_tier_product_and_bucket(product, bucket, tier):
    seconds = EXPECTED_SECONDS[(product, bucket)][tier]
    assert capacity_seconds(product, bucket, tier) == seconds
    read, write = TIER_BUDGETS[tier]
    budget = write if bucket == "write" else read
    limiter = RateLimiter({"alice": tier})
    d = limiter.charge("alice", product, bucket, 1, T0)
    assert (d.rate, d.capacity, d.available) == (budget, budget * seconds, budget * seconds - 1)


def test_tier_budgets_are_spec_11_table():
    assert dict(TIER_BUDGETS) == {"basic": (200, 100), "advanced": (300, 300), "expert": (600, 600),
                                  "premier": (1000, 1000), "paragon": (2000, 2000), "prime": (4000, 4000),
                                  "prestige": (10000, 8000)}


def test_shard_buckets_have_the_write_capacity_of_their_tier():
    assert capacity_seconds("prediction", "write:2", "basic") == 1
    assert capacity_seconds("prediction", "write:2", "premier") == 2


# --- spec 11 §3: costs ----------------------------------------------------------------------------

def test_cost_table_maps_fix_messages_to_buckets_and_tokens():
    limiter = RateLimiter()
    assert limiter.cost_of("D") == ("write", 10) and limiter.cost_of("F") == ("write", 2)
    assert limiter.cost_of("S") == ("write", 2) and limiter.cost_of("Z") == ("write", 2)
    assert limiter.cost_of("UOG") == ("write", 10) and limiter.cost_of("q") == ("write", 10)
    assert limiter.cost_of("V") == ("read", 10) and limiter.cost_of("U1") == ("read", 10)
    assert limiter.cost_of("XYZ") == ("read", 10)       # anything unlisted: Read, default cost


@pytest.mark.parametrize("msg_type", sorted(EXEMPT))
def test_session_messages_never_count(msg_type):
    limiter = RateLimiter({"alice": "basic"})
    for _ in range(1000):
        d = limiter.check("alice", "prediction", msg_type, T0)
        assert d.ok and d.cost == 0
    assert limiter.accounts() == ["alice"] and all(
        v["tokens"] == v["bucket_capacity"]
        for p in limiter.snapshot("alice", T0)["products"].values() for v in (p["read"], p["write"]))


def test_costs_are_configurable_and_one_table():
    limiter = RateLimiter({"alice": "basic"}, costs={**DEFAULT_COSTS, "D": ("write", 50), "V": ("read", 0)})
    assert [d.ok for d in burst(limiter, 3)] == [True, True, False]
    assert all(d.ok for d in burst(limiter, 100, "V"))
    assert limiter.costs["D"] == ("write", 50)
    with pytest.raises(ValueError):
        limiter.set_costs({"D": ("elsewhere", 10)})


def test_reads_and_writes_use_separate_buckets():
    limiter = RateLimiter({"alice": "basic"})
    burst(limiter, 10, "D")
    assert not limiter.check("alice", "prediction", "D", T0).ok
    assert [d.ok for d in burst(limiter, 41, "V")] == [True] * 40 + [False]   # 400 tokens, 10 each


# --- spec 11 §4: per-shard write buckets ------------------------------------------------------------

def test_orders_with_ex_destination_1_or_more_bill_the_shards_own_bucket():
    limiter = RateLimiter({"alice": "basic"})
    burst(limiter, 10, "D")                                   # unscoped write empty
    assert not limiter.check("alice", "prediction", "D", T0).ok
    shard2 = burst(limiter, 11, "D", shard=2)
    assert [d.ok for d in shard2] == [True] * 10 + [False] and shard2[0].bucket == "write:2"
    assert shard2[0].capacity == 100                          # the full tier budget per shard
    assert limiter.check("alice", "prediction", "F", T0, shard=3).bucket == "write:3"
    assert not limiter.check("alice", "prediction", "G", T0, shard=2).ok
    snap = limiter.snapshot("alice", T0)["products"]["prediction"]
    assert set(snap["shards"]) == {"2", "3"}


@pytest.mark.parametrize("shard", [None, 0, -1])
def test_orders_without_a_shard_or_auto_routed_bill_the_unscoped_bucket(shard):
    limiter = RateLimiter({"alice": "basic"})
    assert limiter.check("alice", "prediction", "D", T0, shard).bucket == "write"


def test_only_d_f_g_are_per_shard_and_reads_never_are():
    limiter = RateLimiter({"alice": "basic"})
    assert limiter.check("alice", "prediction", "UOG", T0, shard=2).bucket == "write"
    assert limiter.check("alice", "prediction", "V", T0, shard=2).bucket == "read"
    assert limiter.check("alice", "margin", "D", T0, shard=2).bucket == "write"  # prediction only


# --- spec 11 §1: margin buckets separate --------------------------------------------------------------

def test_margin_buckets_never_affect_prediction():
    limiter = RateLimiter({"alice": "basic"})
    burst(limiter, 10, "D", product="prediction")
    burst(limiter, 40, "V", product="prediction")
    assert [d.ok for d in burst(limiter, 11, "D", product="margin")] == [True] * 10 + [False]
    assert [d.ok for d in burst(limiter, 21, "V", product="margin")] == [True] * 20 + [False]  # 1 s of read


def test_accounts_have_their_own_buckets():
    limiter = RateLimiter({"alice": "basic", "bob": "basic"})
    burst(limiter, 10)
    assert limiter.check("bob", "prediction", "D", T0).ok


# --- spec 11 §2: tiers changed at run time --------------------------------------------------------

def test_set_tier_at_run_time_changes_rate_and_capacity_and_keeps_the_tokens_held():
    limiter = RateLimiter({"alice": "basic"})
    burst(limiter, 5)                                          # 50 of 100 left
    limiter.set_tier("alice", "Premier", now=T0)
    assert limiter.tier("alice") == "premier" and limiter.tier("alice", "margin") == "premier"
    d = limiter.check("alice", "prediction", "D", T0)
    assert d.ok and (d.available, d.rate, d.capacity) == (40, 1000, 2000)
    assert limiter.check("alice", "prediction", "D", T0 + 1).available == pytest.approx(1030)


def test_lowering_the_tier_clamps_the_bucket_to_the_new_capacity():
    limiter = RateLimiter({"alice": "premier"})
    limiter.check("alice", "prediction", "D", T0)
    limiter.set_tier("alice", "basic", product="prediction", now=T0)
    assert limiter.tier("alice", "margin") == "premier"
    assert [d.ok for d in burst(limiter, 11)] == [True] * 10 + [False]


def test_unknown_tier_or_product_is_refused():
    limiter = RateLimiter()
    with pytest.raises(ValueError):
        limiter.set_tier("alice", "platinum")
    with pytest.raises(ValueError):
        limiter.set_tier("alice", "basic", product="perps")


def test_accounts_without_a_tier_run_at_the_default_tier():
    assert RateLimiter().tier("nobody") == "basic"
    assert RateLimiter(default_tier="premier").check("x", "prediction", "D", T0).capacity == 2000


def test_best_tier_of_several_grants():
    assert best_tier(["basic", "Prime", "expert"]) == "prime" and best_tier([]) == "basic"


def test_snapshot_is_shaped_like_the_rest_limits_and_reads_levels_at_now():
    limiter = RateLimiter({"alice": "basic"})
    burst(limiter, 10)
    snap = limiter.snapshot("alice", T0 + 0.5)
    write = snap["products"]["prediction"]["write"]
    assert snap["model"] == "tokens" and snap["products"]["prediction"]["usage_tier"] == "basic"
    assert write == {"refill_rate": 100, "bucket_capacity": 100, "tokens": pytest.approx(50)}
    assert limiter.check("alice", "prediction", "D", T0).available == 0   # the view changed nothing


def test_reset_refills_every_bucket():
    limiter = RateLimiter({"alice": "basic"})
    burst(limiter, 10)
    limiter.reset("alice")
    assert limiter.check("alice", "prediction", "D", T0).available == 90


# --- spec 11 §2 History: legacy requests per second -----------------------------------------------------

def test_legacy_model_counts_requests_per_second_per_tier():
    limiter = RateLimiter({"alice": "basic"}, model="legacy")
    writes = burst(limiter, 11, "D")
    assert [d.ok for d in writes] == [True] * 10 + [False]
    assert (writes[-1].bucket, writes[-1].cost, writes[-1].capacity) == ("write", 1, 10)
    assert [d.ok for d in burst(limiter, 21, "V")] == [True] * 20 + [False]
    assert limiter.check("alice", "prediction", "F", T0).bucket == "write"   # every cancel is one request
    assert limiter.check("alice", "prediction", "UOG", T0).bucket == "read"  # only create/cancel/amend write


def test_legacy_window_slides_over_one_second():
    limiter = RateLimiter({"alice": "basic"}, model="legacy")
    for i in range(10):
        assert limiter.check("alice", "prediction", "D", T0 + i * 0.1).ok       # one every 100 ms
    refused = limiter.check("alice", "prediction", "D", T0 + 0.95)
    assert not refused.ok and refused.retry_after == pytest.approx(0.05)       # the first leaves at T0+1
    assert limiter.check("alice", "prediction", "D", T0 + 1.0).ok
    assert not limiter.check("alice", "prediction", "D", T0 + 1.05).ok          # T0+0.1 still inside


@pytest.mark.parametrize("tier", TIERS)
def test_legacy_limits_per_tier(tier):
    read, write = LEGACY_LIMITS[tier]
    limiter = RateLimiter({"alice": tier}, model="legacy")
    assert sum(d.ok for d in burst(limiter, write + 1, "D")) == write
    assert sum(d.ok for d in burst(limiter, read + 1, "V")) == read


def test_legacy_refusal_text_names_the_request_limit():
    limiter = RateLimiter({"alice": "basic"}, model="legacy")
    d = burst(limiter, 11)[-1]
    assert refusal_text(d, "legacy") == ("Rate limit exceeded: write limit of 10 requests per second reached "
                                         "(basic tier, legacy limits); retry in 1000 ms")


def test_switching_model_at_run_time():
    limiter = RateLimiter({"alice": "basic"})
    limiter.set_model("legacy")
    assert limiter.snapshot("alice", T0)["products"]["prediction"]["write"] == \
        {"limit": 10, "window_seconds": 1.0, "used": 0}
    with pytest.raises(ValueError):
        limiter.set_model("leaky")


def test_sliding_window_does_not_count_refusals():
    window = SlidingWindow(2, 1.0)
    assert window.take(0) and window.take(0.5) and not window.take(0.6) and not window.take(0.9)
    assert window.take(1.0)


# --- refusal text ---------------------------------------------------------------------------------

def test_refusal_text_names_bucket_tokens_and_wait():
    limiter = RateLimiter({"alice": "basic"})
    burst(limiter, 9)
    limiter.check("alice", "prediction", "F", T0)
    limiter.check("alice", "prediction", "F", T0)
    limiter.check("alice", "prediction", "F", T0)              # 4 tokens left
    d = limiter.check("alice", "prediction", "D", T0 + 0.0032)  # 4.32 held, 10 needed
    assert refusal_text(d) == ("Rate limit exceeded: write bucket needs 10 tokens, 4.3 available "
                               "(basic tier: 100 tokens/s, capacity 100); retry in 57 ms")


# --- spec 00 §7: Logon limit -------------------------------------------------------------------------

def test_logon_limiter_allows_n_per_window_per_key_and_product():
    logons = LogonLimiter(3, 10.0)
    assert [logons.check("k", "prediction", T0 + i).ok for i in range(4)] == [True, True, True, False]
    assert logons.check("k", "margin", T0 + 3).ok and logons.check("other", "prediction", T0 + 3).ok
    refused = logons.check("k", "prediction", T0 + 4)
    assert not refused.ok and refused.retry_after == pytest.approx(6.0)
    assert logons.check("k", "prediction", T0 + 10).ok


def test_logon_limiter_forgets_idle_keys():
    logons = LogonLimiter(1, 1.0)
    for i in range(5000):
        logons.check(f"k{i}", "prediction", T0 + i)
    assert len(logons._keys) < 4100


def test_logon_limiter_counts_refusals_per_peer_and_blocks_the_peer_only_when_its_window_is_full():
    logons = LogonLimiter(2, 1.0, failed_limit=3, failed_window=10.0)
    for i in range(3):
        assert logons.peer_check("10.0.0.1", T0 + i).ok
        logons.failed("10.0.0.1", T0 + i)
    blocked = logons.peer_check("10.0.0.1", T0 + 3)
    assert not blocked.ok and blocked.retry_after == pytest.approx(7.0)
    assert logons.peer_check("10.0.0.2", T0 + 3).ok          # another address is not affected
    assert logons.count("k", "prediction", T0 + 3) == 0      # nor any key
    assert logons.peer_check("10.0.0.1", T0 + 10).ok         # the oldest refusal left the window
    for i in range(100):                                      # a storm keeps only what the window needs
        logons.failed("10.0.0.3", T0 + i * 0.001)
    assert len(logons._peers["10.0.0.3"].times) == 3


def test_logon_limiter_peer_check_charges_nothing():
    logons = LogonLimiter(failed_limit=1)
    for _ in range(10):
        assert logons.peer_check("10.0.0.1", T0).ok
    assert logons.failures("10.0.0.1", T0) == 0
