"""Order groups (spec 03): rolling 15 s contracts limit, trigger, reset, update, delete, ownership."""
from __future__ import annotations

import random
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kalshi_fixsim.simulator.engine.exchange import Exchange
from kalshi_fixsim.simulator.engine.types import MONEY_SCALE, Accepted, GroupState, Market, OrderStatus, Reject, Side, TimeInForce
from tests.unit.engine_helpers import req, kinds

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=NY).timestamp()
TICKER = "KXTEST-26NOV20"
NOT_FOUND = "ORDER_GROUP_NOT_FOUND"


def make_exchange(**kw) -> Exchange:
    ex = Exchange(rng=random.Random(5), **kw)
    ex.add_market(Market(TICKER))
    ex.add_market(Market("KXOTHER"))
    for name in ("alice", "bob", "carol"):
        ex.add_account(name, 1_000 * MONEY_SCALE)
    return ex


def test_create_gives_an_active_group_with_a_uuid_from_the_rng():
    ex = make_exchange()
    group = ex.create_group("alice", 2, 500, T0)
    assert uuid.UUID(group.group_id).version == 4
    assert (group.account, group.subaccount, group.limit, group.state) == ("alice", 2, 500, GroupState.ACTIVE)
    assert ex.group(group.group_id) is group and ex.groups("alice") == [group] and ex.groups("bob") == []
    other = Exchange(rng=random.Random(5))
    other.add_account("alice", 0)
    assert other.create_group("alice", 2, 500, T0).group_id == group.group_id  # deterministic


def test_create_rejects_caller_bugs():
    ex = make_exchange()
    for args in (("nobody", 0, 5), ("alice", 64, 5), ("alice", 0, 0), ("alice", 0, 1_000_001)):
        with pytest.raises(ValueError):
            ex.create_group(*args, T0)


def test_fills_up_to_the_limit_do_not_trigger_exceeding_it_does():
    ex = make_exchange()
    g = ex.create_group("alice", 0, 10, T0).group_id
    ex.new_order(req("alice", "a1", Side.BUY, 50, 20, order_group=g), T0)
    ex.new_order(req("alice", "a2", Side.BUY, 49, 5, order_group=g), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 50, 10), T0 + 1)  # rolling 10: not > 10 (spec 03 §1)
    assert ex.group(g).state is GroupState.ACTIVE and ex.group_volume(g, T0 + 1) == 1000
    events = ex.new_order(req("bob", "b2", Side.SELL, 50, 3), T0 + 2)  # 13 > 10
    assert kinds(events) == ["Accepted:b2", "Traded:b2", "Traded:a1", "Canceled:ORDER_GROUP:a1",
                             "Canceled:ORDER_GROUP:a2"]
    assert events[2].fill.qty == 300  # the crossing fill completes
    assert events[3].reason.text == "ORDER_GROUP_CANCEL" and events[3].order.cum == 1300
    assert ex.group(g).state is GroupState.TRIGGERED
    assert ex.open_orders(account="alice") == [] and ex.reserved("alice") == 0
    ex.check_invariants()


def test_trigger_at_limit_is_configurable():
    ex = make_exchange(group_trigger_at_limit=True)
    g = ex.create_group("alice", 0, 10, T0).group_id
    ex.new_order(req("alice", "a1", Side.BUY, 50, 20, order_group=g), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 50, 10), T0 + 1)
    assert ex.group(g).state is GroupState.TRIGGERED
    ex.check_invariants()


def test_a_grouped_taker_completes_the_crossing_fill_then_its_rest_is_cancelled():
    ex = make_exchange()
    g = ex.create_group("alice", 0, 10, T0).group_id
    ex.new_order(req("alice", "a-rest", Side.SELL, 70, 1, order_group=g, symbol="KXOTHER"), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 50, 6), T0)
    ex.new_order(req("carol", "c1", Side.SELL, 51, 6), T0)
    ex.new_order(req("bob", "b2", Side.SELL, 52, 6), T0)
    events = ex.new_order(req("alice", "a1", Side.BUY, 52, 20, order_group=g), T0 + 1)
    assert kinds(events) == ["Accepted:a1", "Traded:a1", "Traded:b1", "Traded:a1", "Traded:c1",
                             "Canceled:ORDER_GROUP:a1", "Canceled:ORDER_GROUP:a-rest"]
    assert events[5].order.cum == 1200 and events[5].order.leaves == 0
    assert ex.book(TICKER).levels(Side.SELL) == [(5200, 600, 1)]
    assert ex.book("KXOTHER").levels(Side.SELL) == []
    ex.check_invariants()


def test_new_orders_for_a_triggered_group_are_rejected_until_reset():
    ex = make_exchange()
    g = ex.create_group("alice", 0, 1, T0).group_id
    ex.new_order(req("alice", "a1", Side.BUY, 50, 5, order_group=g), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 50, 2), T0)
    assert ex.group(g).state is GroupState.TRIGGERED
    events = ex.new_order(req("alice", "a2", Side.BUY, 50, 1, order_group=g), T0 + 1)
    assert events[0].reason is Reject.EXCEEDED_ORDER_GROUP_RISK_LIMIT
    assert ex.reset_group("alice", 0, g, T0 + 2) == []
    assert ex.group(g).state is GroupState.ACTIVE and ex.group_volume(g, T0 + 2) == 0 and ex.group(g).fills == []
    assert isinstance(ex.new_order(req("alice", "a3", Side.BUY, 50, 1, order_group=g), T0 + 3)[0], Accepted)
    ex.check_invariants()


def test_the_window_is_a_rolling_15_seconds():
    ex = make_exchange()
    g = ex.create_group("alice", 0, 10, T0).group_id
    ex.new_order(req("alice", "a1", Side.BUY, 50, 100, order_group=g), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 50, 8), T0)
    ex.new_order(req("bob", "b2", Side.SELL, 50, 2), T0 + 10)   # 10 in the window
    ex.new_order(req("bob", "b3", Side.SELL, 50, 8), T0 + 15)   # the fill at T0 left the window: 2 + 8
    assert ex.group(g).state is GroupState.ACTIVE and ex.group_volume(g, T0 + 15) == 1000
    ex.new_order(req("bob", "b4", Side.SELL, 50, 1), T0 + 24.9)  # 2 + 8 + 1 = 11 > 10
    assert ex.group(g).state is GroupState.TRIGGERED
    ex.check_invariants()


def test_update_below_the_rolling_volume_triggers_at_once():
    ex = make_exchange()
    g = ex.create_group("alice", 0, 10, T0).group_id
    ex.new_order(req("alice", "a1", Side.BUY, 50, 20, order_group=g), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 50, 8), T0)
    assert ex.update_group("alice", 0, g, T0 + 1, 8) == []  # 8 is not over 8
    assert ex.group(g).limit == 8
    events = ex.update_group("alice", 0, g, T0 + 2, 7)
    assert kinds(events) == ["Canceled:ORDER_GROUP:a1"]
    assert ex.group(g).state is GroupState.TRIGGERED and ex.group(g).limit == 7
    assert ex.update_group("alice", 0, g, T0 + 20, 100) == []  # stays triggered until Reset
    assert ex.group(g).state is GroupState.TRIGGERED
    ex.check_invariants()


def test_trigger_cancels_every_resting_order_of_the_group_in_every_market():
    ex = make_exchange()
    g = ex.create_group("alice", 3, 50, T0).group_id
    ex.new_order(req("alice", "a1", Side.BUY, 50, 1, order_group=g, subaccount=3), T0)
    ex.new_order(req("alice", "a2", Side.SELL, 60, 1, order_group=g, subaccount=3, symbol="KXOTHER"), T0)
    ex.new_order(req("alice", "a3", Side.BUY, 40, 1, subaccount=3), T0)  # not in the group
    events = ex.trigger_group("alice", 3, g, T0 + 1)
    assert kinds(events) == ["Canceled:ORDER_GROUP:a1", "Canceled:ORDER_GROUP:a2"]
    assert [e.exec_id for e in events] == ["4;1", "4;2"]
    assert ex.group(g).state is GroupState.TRIGGERED
    assert [o.client_order_id for o in ex.open_orders()] == ["a3"]
    ex.check_invariants()


def test_delete_cancels_the_groups_orders_and_forgets_it():
    ex = make_exchange()
    g = ex.create_group("alice", 0, 50, T0).group_id
    ex.new_order(req("alice", "a1", Side.BUY, 50, 1, order_group=g), T0)
    assert kinds(ex.delete_group("alice", 0, g, T0 + 1)) == ["Canceled:ORDER_GROUP:a1"]
    assert ex.group(g) is None
    assert ex.new_order(req("alice", "a2", Side.BUY, 50, 1, order_group=g), T0)[0].reason \
        is Reject.ORDER_GROUP_NOT_FOUND
    assert ex.reset_group("alice", 0, g, T0) == NOT_FOUND
    ex.check_invariants()


@pytest.mark.parametrize("action", ["reset", "delete", "trigger", "update"])
def test_group_actions_by_another_subaccount_or_account_or_unknown_id_are_not_found(action):
    ex = make_exchange()
    g = ex.create_group("alice", 2, 5, T0).group_id
    ex.new_order(req("alice", "a1", Side.BUY, 50, 1, order_group=g, subaccount=2), T0)

    def call(account, sub, gid):
        if action == "update":
            return ex.update_group(account, sub, gid, T0, 1)
        return getattr(ex, f"{action}_group")(account, sub, gid, T0)

    assert call("alice", 0, g) == NOT_FOUND
    assert call("bob", 2, g) == NOT_FOUND
    assert call("alice", 2, "no-such-group") == NOT_FOUND
    assert ex.group(g).state is GroupState.ACTIVE and len(ex.open_orders()) == 1
    assert isinstance(call("alice", 2, g), list)
    ex.check_invariants()


def test_a_makers_group_triggering_mid_sweep_pulls_its_orders_and_the_taker_goes_on():
    ex = make_exchange()
    g = ex.create_group("carol", 0, 3, T0).group_id
    ex.new_order(req("carol", "c50", Side.SELL, 50, 5, order_group=g), T0)
    ex.new_order(req("carol", "c51", Side.SELL, 51, 5, order_group=g), T0)
    ex.new_order(req("bob", "b52", Side.SELL, 52, 5), T0)
    events = ex.new_order(req("alice", "a1", Side.BUY, 52, 8), T0 + 1)
    assert kinds(events) == ["Accepted:a1", "Traded:a1", "Traded:c50", "Canceled:ORDER_GROUP:c51", "Traded:a1",
                             "Traded:b52"]
    assert events[-1].fill.price == 5200 and events[-2].order.status is OrderStatus.FILLED
    ex.check_invariants()


def test_fok_accounts_for_maker_groups_that_would_trigger_mid_sweep():
    ex = make_exchange()
    g = ex.create_group("carol", 0, 3, T0).group_id
    ex.new_order(req("carol", "c50", Side.SELL, 50, 5, order_group=g), T0)
    ex.new_order(req("carol", "c51", Side.SELL, 51, 5, order_group=g), T0)
    ex.new_order(req("bob", "b52", Side.SELL, 52, 5), T0)
    # 15 are resting, but once c50 fills carol's group triggers and c51 goes: only 10 reachable
    events = ex.new_order(req("alice", "a1", Side.BUY, 52, 15, tif=TimeInForce.FOK), T0 + 1)
    assert kinds(events) == ["Canceled:FOK:a1"]
    assert ex.group(g).state is GroupState.ACTIVE and len(ex.open_orders()) == 3
    events = ex.new_order(req("alice", "a2", Side.BUY, 52, 10, tif=TimeInForce.FOK), T0 + 1)
    assert kinds(events)[-1] == "Traded:b52" and events[-2].order.status is OrderStatus.FILLED
    ex.check_invariants()


def test_fok_in_a_group_fills_only_if_the_limit_breach_is_on_its_last_fill():
    ex = make_exchange()
    g = ex.create_group("alice", 0, 5, T0).group_id
    ex.new_order(req("bob", "b50", Side.SELL, 50, 3), T0)
    ex.new_order(req("carol", "c51", Side.SELL, 51, 3), T0)
    ex.new_order(req("bob", "b52", Side.SELL, 52, 4), T0)
    # 3 (rolling 3), 3 (rolling 6 > 5) before the order is complete: it would be stopped, so no fill at all
    assert kinds(ex.new_order(req("alice", "a1", Side.BUY, 52, 10, tif=TimeInForce.FOK, order_group=g), T0)) == \
        ["Canceled:FOK:a1"]
    # 3 then 3 completing the order: the breaching fill is the last one; the group then triggers
    events = ex.new_order(req("alice", "a2", Side.BUY, 52, 6, tif=TimeInForce.FOK, order_group=g), T0)
    assert events[-1].order.client_order_id == "c51" and events[-2].order.status is OrderStatus.FILLED
    assert ex.group(g).state is GroupState.TRIGGERED
    ex.check_invariants()


def test_a_replaced_order_stays_in_its_group_and_its_fills_count():
    ex = make_exchange()
    g = ex.create_group("alice", 0, 2, T0).group_id
    ex.new_order(req("alice", "a1", Side.BUY, 50, 5, order_group=g), T0)
    ex.new_order(req("alice", "a2", Side.BUY, 40, 5, order_group=g), T0)
    ex.new_order(req("bob", "b1", Side.SELL, 55, 5), T0)
    events = ex.replace_order("alice", "a1", "a1b", qty=500, price=5500, side=Side.BUY, symbol=TICKER, now=T0 + 1)
    assert kinds(events) == ["Replaced:a1b", "Traded:a1b", "Traded:b1", "Canceled:ORDER_GROUP:a2"]
    assert ex.group(g).state is GroupState.TRIGGERED  # 5 > 2; a1b filled completely first
    ex.check_invariants()
