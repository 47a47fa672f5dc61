"""Ended orders over the wire after the clock work's sweep (issue 11 §4, behaviour.md "Order memory")."""
from __future__ import annotations

import pytest

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.orders import cancel_order, new_order
from kalshi_fixsim.simulator.config import ConfigError, OrderMemoryConfig
from kalshi_fixsim.simulator.config.parse import _parse
from kalshi_fixsim.simulator.engine.memory import EndedOrder
from tests.wire import run

A = "KXTEST-26JAN01-A"
OPTS = LogonOptions(skip_pending_exec_reports=True)


def sweep(fx) -> None:
    def go():
        fx.sim._next_forget = 0.0
        fx.sim.tick()
    fx.call(go)


def test_a_cancel_naming_a_swept_order_is_too_late_with_its_order_id_and_status(fix_exchange):
    fx = fix_exchange

    async def scenario():
        async with fx.client("alice", options=LogonOptions()) as nr:
            nr.send("D", new_order("m1", A, "buy", 40, 1))
            order_id = [m for m in await nr.collect() if m.get(35) == "8"][-1].get(37)
            nr.send("F", cancel_order("m1-x", "m1", A, "buy"))
            assert [m.get(150) for m in await nr.collect() if m.get(35) == "8"] == ["6", "4"]  # Pending Cancel, Canceled
            sweep(fx)
            ended = fx.call(lambda: fx.sim.venues["prediction"].exchange.order(order_id))
            assert type(ended) is EndedOrder
            nr.send("F", cancel_order("m1-y", "m1-x", A, "buy"))
            first, *rest = await nr.collect()
            reply = first  # no Pending Cancel (6) before it: the order has ended
            assert [reply.get(t) for t in (37, 11, 41, 39, 434, 102, 58)] == \
                [order_id, "m1-y", "m1-x", "4", "1", "0", "TOO_LATE_TO_CANCEL"]
            assert reply.get(35) == "9" and not [m for m in rest if m.get(35) == "8"]
    run(scenario())


def test_order_memory_is_configured_by_hours_and_a_count_of_ended_orders(fix_exchange_factory):
    fx = fix_exchange_factory(order_memory=OrderMemoryConfig(hours=1, max_ended_orders=2))
    assert fx.sim.ORDER_MEMORY == 3600.0

    async def scenario():
        async with fx.client("alice", options=OPTS) as nr:
            for i in range(5):
                nr.send("D", new_order(f"k{i}", A, "buy", 40, 1))
                await nr.expect("8")
                nr.send("F", cancel_order(f"k{i}-x", f"k{i}", A, "buy"))
                await nr.expect("8")
            sweep(fx)
            assert fx.call(lambda: fx.sim.venues["prediction"].exchange.known_orders()) == 2
            nr.send("F", cancel_order("k0-y", "k0-x", A, "buy"))  # forgotten: unknown now
            assert (await nr.expect("9")).get(102) == "1"
            nr.send("F", cancel_order("k4-y", "k4-x", A, "buy"))  # among the newest two: too late
            assert (await nr.expect("9")).get(102) == "0"
    run(scenario())


@pytest.mark.parametrize("section,error", [
    ({"order_memory": {"hours": 0}}, "order_memory.hours: expected a positive number of hours"),
    ({"order_memory": {"max_ended_orders": -1}}, "order_memory.max_ended_orders: must be >= 0"),
    ({"order_memory": {"days": 1}}, "order_memory.days: unknown key"),
    ({"journal": {"max_bytes": 10}}, "journal.max_bytes: must be >= 1024"),
    ({"journal": {"log_messages": "yes"}}, "journal.log_messages: expected true or false"),
])
def test_order_memory_and_journal_config_errors_name_the_key(section, error):
    with pytest.raises(ConfigError) as info:
        _parse(section, None, None)
    assert error in str(info.value)


def test_journal_and_order_memory_defaults():
    config = _parse({"journal": {"message_log": "logs"}}, None, None)
    assert (config.journal.max_entries, config.journal.max_bytes, config.journal.max_frame_bytes) == \
        (2000, 8 * 1024 * 1024, 64 * 1024)
    assert str(config.journal.message_log) == "logs" and config.journal.log_messages is False
    assert (config.order_memory.hours, config.order_memory.max_ended_orders) == (24.0, 500_000)
