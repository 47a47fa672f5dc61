"""Order groups over TLS (spec 03): UOG/UOH, the rolling limit, and every error answer."""
from __future__ import annotations

import pytest

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.orders import ExecutionReport, new_order, order_group
from tests.wire import run

A = "KXTEST-26JAN01-A"
OPTS = LogonOptions(skip_pending_exec_reports=True)
UNKNOWN = "00000000-0000-4000-8000-000000000000"


async def create(fix, limit, **kw) -> str:
    fix.send("UOG", order_group("create", limit=limit, **kw))
    uoh = await fix.expect("UOH")
    assert uoh.get(20132) == str(limit)
    return uoh.get(20130)


def reports(messages):
    return [ExecutionReport(m) for m in messages if m.get(35) == "8"]


def test_group_triggers_when_fills_exceed_the_limit_and_cancels_its_orders_until_reset(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=OPTS) as fix, fix_exchange.client("bob", options=OPTS) as bob:
            group = await create(fix, 5)
            fix.send("D", new_order("g1", A, "buy", 40, 4, order_group=group))
            fix.send("D", new_order("g2", A, "buy", 30, 10, order_group=group))
            await fix.collect()
            bob.send("D", new_order("b1", A, "sell", 40, 4))  # 4 filled: not above 5
            bob.send("D", new_order("b2", A, "sell", 30, 2))  # 6 filled: above 5 -> trigger
            await bob.collect()
            out = reports(await fix.collect())
            assert [(r.cl_ord_id, r.kinds, r.text) for r in out][-1] == ("g2", ("4", "4"), "ORDER_GROUP_CANCEL")
            fix.send("D", new_order("g3", A, "buy", 20, 1, order_group=group))
            refused = reports(await fix.collect())
            assert [(r.kinds, r.ord_rej_reason, r.text) for r in refused] == \
                [(("8", "8"), 3, "EXCEEDED_ORDER_GROUP_RISK_LIMIT")]
            fix.send("UOG", order_group("reset", group_id=group))
            assert (await fix.expect("UOH")).get(20130) == group
            fix.send("D", new_order("g4", A, "buy", 20, 1, order_group=group))
            assert [r.kinds for r in reports(await fix.collect())] == [("0", "0")]
    run(scenario())


@pytest.mark.parametrize("action", ["trigger", "delete"])
def test_trigger_and_delete_answer_uoh_then_cancel_every_order_of_the_group(fix_exchange, action):
    async def scenario():
        async with fix_exchange.client("alice", options=OPTS) as fix:
            group = await create(fix, 100)
            fix.send("D", new_order("g1", A, "buy", 40, 4, order_group=group))
            fix.send("D", new_order("free", A, "buy", 41, 4))
            await fix.collect()
            fix.send("UOG", order_group(action, group_id=group))
            out = await fix.collect()
            assert [m.get(35) for m in out] == ["UOH", "8"]
            assert (out[1].get(11), out[1].get(58)) == ("g1", "ORDER_GROUP_CANCEL")
    run(scenario())


def test_update_below_the_rolling_volume_triggers_at_once(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=OPTS) as fix, fix_exchange.client("bob", options=OPTS) as bob:
            group = await create(fix, 100)
            fix.send("D", new_order("g1", A, "buy", 40, 10, order_group=group))
            await fix.collect()
            bob.send("D", new_order("b1", A, "sell", 40, 3))
            await bob.collect()
            await fix.collect()
            fix.send("UOG", order_group("update", group_id=group, limit=2))
            out = await fix.collect()
            assert [m.get(35) for m in out] == ["UOH", "8"] and out[0].get(20132) == "2"
            assert out[1].get(58) == "ORDER_GROUP_CANCEL"
    run(scenario())


def test_groups_belong_to_a_sub_account(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=OPTS) as fix:
            group = await create(fix, 10, subaccount=2)
            fix.send("UOG", order_group("reset", group_id=group))  # primary (79 absent) does not own it
            bmr = await fix.expect("j")
            assert (bmr.get(380), bmr.get(58)) == ("1", "ORDER_GROUP_NOT_FOUND")
            fix.send("UOG", order_group("reset", group_id=group, subaccount=2))
            assert (await fix.expect("UOH")).get(79) == "2"
    run(scenario())


@pytest.mark.parametrize("body,answer", [
    (order_group("reset", group_id=UNKNOWN), ("j", "380", "1")),
    (order_group("reset"), ("j", "380", "5")),
    (order_group("create"), ("j", "380", "5")),
    (order_group("update", group_id=UNKNOWN), ("j", "380", "5")),
    (order_group("create", limit=10, group_id=UNKNOWN), ("j", "380", "0")),
    (order_group("create", limit=0), ("j", "380", "0")),
    (order_group("create", limit=1_000_001), ("j", "380", "0")),
    (order_group("reset", group_id="not-a-uuid"), ("3", "373", "6")),
    ([(20131, 9)], ("3", "373", "5")),
])
def test_bad_order_group_requests_get_the_documented_reject(fix_exchange, body, answer):
    async def scenario():
        async with fix_exchange.client("alice", options=OPTS) as fix:
            fix.send("UOG", body)
            msg_type, tag, value = answer
            reply = await fix.expect(msg_type)
            assert reply.get(int(tag)) == value, reply
    run(scenario())


def test_listener_sessions_cannot_manage_order_groups(fix_exchange):
    async def scenario():
        opts = LogonOptions(listener_session=True, skip_pending_exec_reports=True)
        async with fix_exchange.client("alice_listener", options=opts) as fix:
            fix.send("UOG", order_group("create", limit=5))
            assert (await fix.expect("j")).get(380) == "6"
    run(scenario())
