"""GET /metrics (issue 17 §2): the Prometheus text format, checked by parsing it back."""
from __future__ import annotations

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from kalshi_fixsim.client import LogonError, LogonOptions
from kalshi_fixsim.client.orders import cancel_order, new_order
from tests.conformance.test_control import http
from tests.wire import run

A = "KXTEST-26JAN01-A"
OPTS = LogonOptions(skip_pending_exec_reports=True)


def scrape(fx) -> dict[str, dict[tuple, float]]:
    """name -> {sorted label items: value}, from the simulator's /metrics."""
    with urllib.request.urlopen(fx.control_url + "/metrics", timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain; version=")
        text = answer.read().decode()
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def value(metrics, name, **labels) -> float:
    return metrics.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_metrics_count_messages_rejects_rate_limits_logons_connections_faults_and_timings(fix_exchange_factory):
    fx = fix_exchange_factory(control_port=0)
    refuse = http(fx.control_url, "POST", "/faults", {"fault": "refuse_logon", "account": "bob",
                                                      "text": "Not today: come back", "times": 1})[1]
    limit = http(fx.control_url, "POST", "/faults", {"fault": "rate_limit", "match": {"11": "rl-1"}, "times": 1})[1]

    async def go():
        fix = fx.client("bob")
        try:
            await fix.connect()
            raise AssertionError("bob's Logon was accepted")
        except LogonError:
            pass
        async with fx.client("alice", options=OPTS) as fix:
            fix.send("D", new_order("ok-1", A, "buy", 40, 5))
            fix.send("D", new_order("rl-1", A, "buy", 40, 5))
            fix.send("F", cancel_order("c-1", "nope", A, "buy"))
            fix.send("D", new_order("bad-1", "KXNOPE-00", "buy", 40, 5))
            fix.send("D", [(11, "no-side"), (55, A), (38, 1), (40, 2), (44, 40), (59, 1)])  # Side(54) missing
            await fix.collect()
            live = scrape(fx)
            assert value(live, "kalshi_fixsim_connections", product="prediction", session="NR") == 1
            return live
    live = run(go())
    after = scrape(fx)

    nr = {"product": "prediction", "session": "NR"}
    assert value(after, "kalshi_fixsim_messages_total", **nr, direction="in", msg_type="D") == 4
    assert value(after, "kalshi_fixsim_messages_total", **nr, direction="in", msg_type="F") == 1
    assert value(after, "kalshi_fixsim_messages_total", **nr, direction="out", msg_type="A") == 1
    assert value(after, "kalshi_fixsim_logons_total", **nr, result="accepted", reason="") == 1
    assert value(after, "kalshi_fixsim_logons_total", **nr, result="refused", reason="Not today") == 1
    assert value(after, "kalshi_fixsim_rate_limited_total", **nr) == 1
    assert value(after, "kalshi_fixsim_rejects_total", kind="business_reject", reason="8") == 1  # 380=8
    assert value(after, "kalshi_fixsim_rejects_total", kind="cancel_reject", reason="1") == 1    # 102=1 unknown
    assert value(after, "kalshi_fixsim_rejects_total", kind="order_reject", reason="1") == 1     # 103=1 unknown symbol
    assert value(after, "kalshi_fixsim_rejects_total", kind="reject", reason="1") == 1           # 373=1 tag missing
    assert value(after, "kalshi_fixsim_fault_hits_total", rule=refuse["id"], fault="refuse_logon") == 1
    assert value(after, "kalshi_fixsim_fault_hits_total", rule=limit["id"], fault="rate_limit") == 1
    assert value(after, "kalshi_fixsim_connections", **nr) == 0
    # five order messages (4 D, 1 F), each timed from its frame in to its answer out
    assert value(after, "kalshi_fixsim_order_processing_seconds_count") == 5
    assert value(after, "kalshi_fixsim_order_processing_seconds_bucket", le="+Inf") == 5
    assert 0 < value(after, "kalshi_fixsim_order_processing_seconds_sum") < 5
    assert value(live, "kalshi_fixsim_messages_total", **nr, direction="in", msg_type="D") == 4


def test_each_simulator_has_its_own_registry(fix_exchange_factory):
    one, two = fix_exchange_factory(control_port=0), fix_exchange_factory(control_port=0)

    async def go():
        async with one.client("alice", options=OPTS):
            pass
    run(go())
    nr = {"product": "prediction", "session": "NR", "result": "accepted", "reason": ""}
    assert value(scrape(one), "kalshi_fixsim_logons_total", **nr) == 1
    assert value(scrape(two), "kalshi_fixsim_logons_total", **nr) == 0


def test_store_commits_are_timed_when_the_store_is_sqlite(fix_exchange_factory, tmp_path):
    fx = fix_exchange_factory(control_port=0, store=str(tmp_path / "store.db"))

    async def go():
        async with fx.client("alice", "prediction", "RT", options=OPTS) as fix:  # RT: a persistent store
            fix.send("D", new_order("s-1", A, "buy", 40, 5))
            await fix.collect()
    run(go())
    assert value(scrape(fx), "kalshi_fixsim_store_commit_seconds_count") > 0
