"""Rate limits over TLS with the reference client (spec 11, spec 00 §7): bursts that exhaust
and refill each bucket at two tiers with the exact BusinessMessageReject 380=8, separate read,
write, shard and margin buckets, session messages free, drop copy's U3 21004=1, the Logon
limit and the mass-cancel 1/s limit.

Time is driven by a test clock given to the rate limiter (`install(sim, clock=...)`); the
simulator's own clock stays the wall clock. No sleeps: `collect()` round-trips a TestRequest.
"""
from __future__ import annotations

import pytest

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.dropcopy import request_replay
from kalshi_fixsim.client.orderbook import snapshot
from kalshi_fixsim.client.orders import mass_cancel, new_order
from kalshi_fixsim.client.rfq import quote, quote_request
from kalshi_fixsim.client.session import LogonError
from kalshi_fixsim.simulator.config import LogonLimitConfig, RateLimitsConfig
from kalshi_fixsim.simulator.gateway.ratelimit_gate import install
from tests.wire import RawConnection, logon, run

A = "KXTEST-26JAN01-A"
SHARD = "KXSHARD-26JAN01-T1"  # exchange index 2
NO_PENDING = LogonOptions(skip_pending_exec_reports=True)


class LimiterClock:
    """The rate limiter's clock: frozen until a test moves it."""

    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def limits(fix_exchange):
    clock = LimiterClock()
    svc = fix_exchange.call(lambda: install(fix_exchange.sim, clock=clock.now))
    return fix_exchange, svc, clock


def bmrs(messages) -> list:
    return [m for m in messages if m.get(35) == "j"]


def text(tier: str, bucket: str, rate: int, capacity: int, held: str, retry_ms: int, cost: int = 10) -> str:
    return (f"Rate limit exceeded: {bucket} bucket needs {cost} tokens, {held} available "
            f"({tier} tier: {rate} tokens/s, capacity {capacity}); retry in {retry_ms} ms")


async def orders(fix, prefix: str, n: int, symbol: str = A, **kwargs) -> tuple[list[int], list]:
    """Send n NewOrderSingles back to back; their MsgSeqNums and every answer."""
    seqs = [fix.send("D", new_order(f"{prefix}{i}", symbol, "buy", 10, 1, **kwargs)) for i in range(n)]
    return seqs, await fix.collect()


async def md_requests(fix, n: int) -> tuple[list[int], list]:
    seqs = [fix.send("V", snapshot([A])) for _ in range(n)]
    return seqs, await fix.collect()


def assert_bmr(msg, seq: int, msg_type: str, ref_id: str | None, expected_text: str | None = None) -> None:
    assert (msg.get(35), msg.get(45), msg.get(372), msg.get(379), msg.get(380)) == \
        ("j", str(seq), msg_type, ref_id, "8")
    if expected_text is not None:
        assert msg.get(58) == expected_text


def order_exists(fx, cl: str, account: str = "alice") -> bool:
    return fx.call(lambda: fx.sim.venues["prediction"].exchange.order_by_client_id(account, cl)) is not None


# --- write bucket: burst, exact BMR, refill, at two tiers ------------------------------------------

def test_basic_write_bucket_bursts_ten_orders_then_bmr_8_and_refills_at_100_tokens_per_second(limits):
    fx, svc, clock = limits

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            seqs, out = await orders(fix, "o", 11)          # 100 tokens, 10 per order (spec 11 §3)
            refused, = bmrs(out)
            assert_bmr(refused, seqs[10], "D", "o10", text("basic", "write", 100, 100, "0.0", 100))
            assert len([m for m in out if m.get(35) == "8"]) == 10
            clock.advance(0.05)                            # 5 tokens: still short
            seqs, out = await orders(fix, "p", 1)
            assert_bmr(bmrs(out)[0], seqs[0], "D", "p0", text("basic", "write", 100, 100, "5.0", 50))
            clock.advance(0.05)                            # 10 tokens: one order
            seqs, out = await orders(fix, "r", 2)
            assert [m.get(35) for m in out] == ["8", "j"] and out[0].get(11) == "r0"
            assert_bmr(out[1], seqs[1], "D", "r1")
    run(scenario())
    assert not order_exists(fx, "o10") and order_exists(fx, "r0")   # a refused order never reaches the engine


def test_advanced_write_bucket_holds_two_seconds_of_budget_set_at_run_time(limits):
    fx, svc, clock = limits
    fx.call(lambda: svc.set_tier("alice", "advanced"))

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            seqs, out = await orders(fix, "o", 61)          # 600 tokens (300/s x 2 s)
            refused, = bmrs(out)
            assert_bmr(refused, seqs[60], "D", "o60", text("advanced", "write", 300, 600, "0.0", 34))
            clock.advance(0.04)                            # 12 tokens
            seqs, out = await orders(fix, "p", 2)
            assert [m.get(35) for m in out] == ["8", "j"]
            assert_bmr(out[1], seqs[1], "D", "p1", text("advanced", "write", 300, 600, "2.0", 27))
    run(scenario())
    snap = fx.call(lambda: svc.snapshot("alice"))["products"]["prediction"]
    assert snap["usage_tier"] == "advanced" and snap["write"]["bucket_capacity"] == 600


# --- read bucket: V on MD, at two tiers ------------------------------------------------------------

def test_basic_read_bucket_bursts_forty_market_data_requests_then_bmr_8(limits):
    fx, svc, clock = limits

    async def scenario():
        async with fx.client("alice", session="MD") as fix:
            seqs, out = await md_requests(fix, 41)          # 400 tokens (200/s x 2 s), 10 per V
            refused, = bmrs(out)
            assert_bmr(refused, seqs[40], "V", None, text("basic", "read", 200, 400, "0.0", 50))
            assert len([m for m in out if m.get(35) == "W"]) == 40
            clock.advance(0.05)
            seqs, out = await md_requests(fix, 2)
            assert [m.get(35) for m in out] == ["W", "j"]
    run(scenario())


def test_expert_read_bucket_holds_one_second_of_budget(limits):
    fx, svc, clock = limits
    fx.call(lambda: svc.set_tier("bob", "expert"))

    async def scenario():
        async with fx.client("bob", session="MD") as fix:
            seqs, out = await md_requests(fix, 61)          # 600 tokens (600/s x 1 s)
            assert_bmr(bmrs(out)[0], seqs[60], "V", None, text("expert", "read", 600, 600, "0.0", 17))
            clock.advance(0.02)                            # 12 tokens
            seqs, out = await md_requests(fix, 2)
            assert [m.get(35) for m in out] == ["W", "j"]
    run(scenario())


def test_reads_and_writes_use_separate_buckets(limits):
    fx, svc, clock = limits

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            _, out = await orders(fix, "o", 11)
            assert len(bmrs(out)) == 1                     # write bucket empty
        async with fx.client("alice", session="MD") as fix:
            _, out = await md_requests(fix, 41)
            assert len(bmrs(out)) == 1                     # the read bucket was full: 40 passed
        clock.advance(0.1)                                 # 10 write tokens, 20 read tokens
        async with fx.client("alice", options=NO_PENDING) as fix:
            _, out = await orders(fix, "p", 2)
            assert [m.get(35) for m in out] == ["8", "j"]
    run(scenario())


def test_session_messages_never_count(limits):
    fx, svc, clock = limits

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            for _ in range(100):
                await fix.sync()                           # TestRequest / Heartbeat round trips
            _, out = await orders(fix, "o", 11)
            assert [m.get(35) for m in out].count("8") == 10 and len(bmrs(out)) == 1
    run(scenario())
    snap = fx.call(lambda: svc.snapshot("alice"))["products"]["prediction"]
    assert snap["read"]["tokens"] == 400 and snap["write"]["tokens"] == 0


def test_keys_of_one_account_share_its_buckets(limits):
    fx, svc, clock = limits

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            await orders(fix, "o", 10)
        listener = LogonOptions(listener_session=True, skip_pending_exec_reports=True)
        async with fx.client("alice_listener", options=listener) as fix:
            seqs, out = await orders(fix, "l", 1)          # charged to alice's bucket before 380=6
            assert_bmr(bmrs(out)[0], seqs[0], "D", "l0", text("basic", "write", 100, 100, "0.0", 100))
    run(scenario())


# --- spec 11 §1: margin buckets, §4: shard buckets ------------------------------------------------------

def test_margin_buckets_are_separate_from_prediction(limits):
    fx, svc, clock = limits

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            _, out = await orders(fix, "o", 11)
            assert len(bmrs(out)) == 1
        async with fx.client("alice", product="margin", options=NO_PENDING) as fix:
            seqs, out = await orders(fix, "m", 11)         # margin's own write bucket: full
            refused, = bmrs(out)
            assert_bmr(refused, seqs[10], "D", "m10", text("basic", "write", 100, 100, "0.0", 100))
        async with fx.client("alice", product="margin", session="MD") as fix:
            seqs, out = await md_requests(fix, 21)         # margin read: 1 s of budget (spec 11 §1)
            assert_bmr(bmrs(out)[0], seqs[20], "V", None, text("basic", "read", 200, 200, "0.0", 50))
    run(scenario())


def test_orders_with_ex_destination_bill_the_shards_own_write_bucket(limits):
    fx, svc, clock = limits

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            _, out = await orders(fix, "o", 10)            # unscoped write bucket now empty
            assert not bmrs(out)
            seqs, out = await orders(fix, "s", 11, SHARD, ex_destination=2)
            refused, = bmrs(out)
            assert_bmr(refused, seqs[10], "D", "s10", text("basic", "write:2", 100, 100, "0.0", 100))
            assert [r.get(39) for r in out if r.get(35) == "8"] == ["0"] * 10
            seqs, out = await orders(fix, "u", 1, SHARD)   # no tag 100: the unscoped bucket
            assert_bmr(bmrs(out)[0], seqs[0], "D", "u0", text("basic", "write", 100, 100, "0.0", 100))
    run(scenario())
    assert set(fx.call(lambda: svc.snapshot("alice"))["products"]["prediction"]["shards"]) == {"2"}


# --- 379 carries the request's business id ----------------------------------------------------------

def test_rfq_refusals_carry_quote_req_id_or_quote_id(limits):
    fx, svc, clock = limits

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            await orders(fix, "o", 10)
        async with fx.client("alice", session="RT") as fix:
            seq = fix.send("R", quote_request("req-1", A, 10))
            assert_bmr(await fix.expect("j"), seq, "R", "req-1")
        async with fx.client("alice", session="RFQ") as fix:
            seq = fix.send("S", quote("quote-1", "rfq-1", A, yes=40))
            assert_bmr(await fix.expect("j"), seq, "S", "quote-1",
                       text("basic", "write", 100, 100, "0.0", 20, cost=2))
    run(scenario())


# --- drop copy keeps its own answer ---------------------------------------------------------------------

def test_event_resend_request_over_the_read_bucket_gets_u3_reason_1(limits):
    fx, svc, clock = limits

    async def scenario():
        async with fx.client("alice", session="MD") as fix:
            await md_requests(fix, 40)                     # alice's read bucket empty
        async with fx.client("alice_listener", session="DC") as fix:
            replay = await request_replay(fix, "1;1")
            assert replay.reject.get(35) == "U3" and replay.reason == 1
            assert replay.reject.get(45) == str(replay.request_seq)
    run(scenario())


def test_drop_copy_own_limit_still_answers_u3_reason_1(limits):
    fx, svc, clock = limits
    from kalshi_fixsim.simulator.gateway import drop_copy
    dc = fx.call(lambda: drop_copy.service(fx.sim.venues["prediction"]))

    async def scenario():
        async with fx.client("alice_listener", session="DC") as fix:
            answers = [await request_replay(fix, "1;1") for _ in range(int(dc.burst) + 1)]
            assert [a.ok for a in answers[:-1]] == [True] * int(dc.burst)
            assert answers[-1].reject.get(35) == "U3" and answers[-1].reason == 1
    run(scenario())
    read = fx.call(lambda: svc.snapshot("alice"))["products"]["prediction"]["read"]
    assert read["tokens"] == 400 - 10 * (int(dc.burst) + 1)   # charged, but drop copy did the refusing


# --- spec 02 §11: mass cancel 1/s -----------------------------------------------------------------------

def test_mass_cancel_more_than_once_a_second_still_gets_bmr_8(limits):
    fx, svc, clock = limits

    async def scenario():
        async with fx.client("alice", options=NO_PENDING) as fix:
            fix.send("q", mass_cancel("m1"))
            assert (await fix.expect("r")).get(531) == "6"
            seq = fix.send("q", mass_cancel("m2"))
            assert_bmr(await fix.expect("j"), seq, "q", "m2",
                       "Rate limit exceeded: at most one OrderMassCancelRequest per second")
    run(scenario())


# --- spec 00 §7: Logon limit, charged to the key only once authenticated (issue 11 §5) -------------------

async def refused_raw(fx, frame: bytes, product: str = "prediction", session: str = "NR") -> list:
    conn = await RawConnection.open(fx, product, session)
    conn.send(frame)
    return await conn.read_until_closed()


def test_logon_storm_is_refused_with_rate_limited_and_allowed_again_after_the_window(limits):
    fx, svc, clock = limits
    fx.call(lambda: install(fx.sim, logon_limit=3, logon_window=10))

    async def scenario():
        for _ in range(3):
            async with fx.client("alice"):
                pass
        with pytest.raises(LogonError) as refused:
            await fx.client("alice").connect()
        assert refused.value.text == ("rate limited: more than 3 Logons in 10 s for this API key on prediction; "
                                      "retry in 10.0 s")
        async with fx.client("bob"):                       # other keys are not affected
            pass
        async with fx.client("alice", product="margin"):   # nor the key on the other product
            pass
        clock.advance(10)
        async with fx.client("alice") as fix:
            assert fix.is_active
    run(scenario())


def test_fifty_logon_logout_cycles_of_one_key_pass_at_the_default_logon_limit(fix_exchange):
    """A suite that opens a fresh session per test never trips the default (spec 11 §3: a Logon
    is inferred to cost 10 Read tokens; Premier refills 1,000/s, so 100 Logons a second)."""
    settings = fix_exchange.call(lambda: fix_exchange.sim.ratelimits.settings()["logon"])
    assert (settings["limit"], settings["window_seconds"]) == (100, 1.0)

    async def scenario():
        for _ in range(50):
            async with fix_exchange.client("carol") as fix:
                assert fix.is_active
    run(scenario(), timeout=60)


def test_forged_logons_naming_a_key_never_count_toward_its_logon_limit(limits):
    fx, svc, clock = limits
    fx.call(lambda: install(fx.sim, logon_limit=2, logon_window=10, failed_limit=1000))
    alice, bob = fx.accounts["alice"], fx.accounts["bob"]

    async def scenario():
        for _ in range(10):  # unsigned-by-alice Logons naming her key: refused, charged to the address
            out = await refused_raw(fx, logon(alice, "KalshiNR", key_path=bob.private_key_path))
            assert [m.get(35) for m in out] == ["5"] and out[0].get(58).startswith("Invalid signature")
        for _ in range(2):  # the owner still has her whole budget
            async with fx.client("alice") as fix:
                assert fix.is_active
        with pytest.raises(LogonError) as refused:
            await fx.client("alice").connect()
        assert refused.value.text.startswith("rate limited: more than 2 Logons in 10 s for this API key")
    run(scenario())
    assert fx.call(lambda: fx.sim.ratelimits.logons.failures("127.0.0.1", clock.now())) == 10


def test_an_authenticated_logon_refused_by_a_later_check_counts_toward_its_key_not_its_address(limits):
    fx, svc, clock = limits
    fx.call(lambda: install(fx.sim, logon_limit=2, logon_window=10, failed_limit=1000))
    alice = fx.accounts["alice"]

    async def scenario():
        for _ in range(2):  # correctly signed, refused for HeartBtInt: the owner's own requests
            out = await refused_raw(fx, logon(alice, "KalshiNR", hb=0))
            assert out[-1].get(58).startswith("HeartBtInt(108)=0 is invalid")
        with pytest.raises(LogonError) as refused:
            await fx.client("alice").connect()
        assert refused.value.text.startswith("rate limited: more than 2 Logons in 10 s for this API key")
    run(scenario())
    assert fx.call(lambda: fx.sim.ratelimits.logons.failures("127.0.0.1", clock.now())) == 0


def test_refused_logons_count_per_peer_address_and_a_busy_address_is_refused_before_verification(limits):
    fx, svc, clock = limits
    fx.call(lambda: install(fx.sim, failed_limit=3, failed_window=10))
    alice, bob = fx.accounts["alice"], fx.accounts["bob"]

    async def scenario():
        for _ in range(3):
            out = await refused_raw(fx, logon(alice, "KalshiNR", key_path=bob.private_key_path))
            assert out[-1].get(58).startswith("Invalid signature")
        with pytest.raises(LogonError) as refused:  # even a good Logon from that address, for now
            await fx.client("carol").connect()
        assert refused.value.text == ("rate limited: more than 3 refused Logons in 10 s from 127.0.0.1; "
                                      "retry in 10.0 s")
        clock.advance(10)
        async with fx.client("carol") as fix:
            assert fix.is_active
    run(scenario())


def test_logon_limit_comes_from_the_config(fix_exchange_factory):
    fx = fix_exchange_factory(rate_limits=RateLimitsConfig(logon=LogonLimitConfig(limit=2, window_seconds=600)))

    async def scenario():
        for _ in range(2):
            async with fx.client("alice"):
                pass
        with pytest.raises(LogonError) as refused:
            await fx.client("alice").connect()
        assert refused.value.text.startswith("rate limited: more than 2 Logons in 600 s for this API key")
    run(scenario())


def test_rate_limits_off_in_the_config_let_every_order_and_logon_through(fix_exchange_factory):
    off = RateLimitsConfig(enabled=False, logon=LogonLimitConfig(limit=1, window_seconds=600))
    fx = fix_exchange_factory(rate_limits=off)

    async def scenario():
        for _ in range(3):  # a Logon limit of 1 is not applied
            async with fx.client("alice", options=NO_PENDING):
                pass
        async with fx.client("alice", options=NO_PENDING) as fix:
            seqs, out = await orders(fix, "off", 30)  # basic tier: 10 would pass with limits on
            assert not bmrs(out) and len([m for m in out if m.get(35) == "8"]) == 30
    run(scenario())


@pytest.mark.fix_exchange(rate_limits=False)
def test_fix_exchange_marker_turns_rate_limits_off(fix_exchange):
    assert fix_exchange.call(lambda: fix_exchange.sim.ratelimits.enabled) is False
    assert fix_exchange.call(lambda: fix_exchange.sim.ratelimits.logon_enabled) is False

    async def scenario():
        async with fix_exchange.client("alice", options=NO_PENDING) as fix:
            seqs, out = await orders(fix, "m", 20)
            assert not bmrs(out)
    run(scenario())


def test_install_is_idempotent(limits):
    fx, svc, clock = limits
    again = fx.call(lambda: install(fx.sim))
    assert again is svc and fx.sim.ratelimits is svc
    assert all(v.services["ratelimit"] is svc for v in fx.sim.venues.values())
    from kalshi_fixsim.simulator.gateway import GATES
    from kalshi_fixsim.simulator.gateway.ratelimit_gate import gate
    assert GATES.count(gate) == 1 and GATES[0] is gate
