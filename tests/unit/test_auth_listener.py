"""Sans-IO parts of issue 11 §4-5: the Logon replay cache, the connection slot scopes and the
connection caps per listener and per peer address."""
from __future__ import annotations

import logging

from kalshi_fixsim.simulator.auth import ReplayCache, connection_slot
from kalshi_fixsim.simulator.listener import ConnectionLimits

T0 = 1_000_000.0


def test_replay_cache_remembers_a_signature_until_its_sending_time_leaves_the_tolerance():
    cache = ReplayCache()
    cache.add("sig-a", until=T0 + 30, now=T0)
    assert cache.seen("sig-a", T0 + 29.9) and not cache.seen("sig-b", T0)
    assert not cache.seen("sig-a", T0 + 30.1) and len(cache) == 0  # expired and forgotten


def test_replay_cache_stays_bounded_by_the_window():
    cache = ReplayCache()
    for i in range(10_000):
        cache.add(f"sig-{i}", until=T0 + i * 0.01 + 30, now=T0 + i * 0.01)
    assert len(cache) <= 3001  # 30 s of signatures at 100/s, no more


def test_connection_slot_scopes():
    assert connection_slot("key", "k", "prediction", "NR") == connection_slot("key", "k", "margin", "MD")
    product = "key_and_product"
    assert connection_slot(product, "k", "prediction", "NR") == connection_slot(product, "k", "prediction", "MD")
    assert connection_slot(product, "k", "prediction", "NR") != connection_slot(product, "k", "margin", "NR")
    session = "key_and_session"
    assert connection_slot(session, "k", "prediction", "NR") != connection_slot(session, "k", "prediction", "MD")


def test_connection_limits_refuse_over_either_cap_and_free_the_place_on_release(caplog):
    limits = ConnectionLimits(per_listener=2, per_peer=3)
    assert limits.admit("NR", "a") is None and limits.admit("NR", "b") is None
    with caplog.at_level(logging.WARNING):
        assert "session.max_connections" in limits.admit("NR", "c")
        assert limits.admit("NR", "c") is not None
    assert len(caplog.records) == 1  # logged once per streak
    assert limits.admit("MD", "a") is None and limits.admit("RT", "a") is None
    assert "session.max_connections_per_peer" in limits.admit("DC", "a")
    limits.release("NR", "a")
    assert limits.admit("NR", "c") is None and limits.admit("DC", "a") is None
    assert limits.refused == 3
    for listener, peer in (("NR", "b"), ("NR", "c"), ("MD", "a"), ("RT", "a"), ("DC", "a")):
        limits.release(listener, peer)
    assert limits.listeners == {} and limits.peers == {}
