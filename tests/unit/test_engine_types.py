"""The engine's fast constructors build the same objects as the types.py dataclasses."""
from __future__ import annotations

import dataclasses
import random

from kalshi_fixsim.simulator.engine.exchange import Exchange
from kalshi_fixsim.simulator.engine.orders import make_fill, make_order, rejected_order, snapshot
from kalshi_fixsim.simulator.engine.types import (STP, Accepted, Canceled, Fill, Market, Order, OrderRequest, OrderStatus, Side,
                                    TimeInForce, Traded)


def sample_request() -> OrderRequest:
    return OrderRequest(account="a", client_order_id="c1", symbol="T", side=Side.SELL, price=4200, qty=700,
                        tif=TimeInForce.GTD, expire_time=99.0, post_only=True, stp=STP.MAKER, max_cost=5,
                        cancel_on_pause=True, order_group="g", subaccount=3, party_id="p", session="s")


def test_make_order_equals_the_dataclass_constructor():
    r = sample_request()
    made = make_order(r, "oid", 17, 12.5, 99.0)
    expected = Order(order_id="oid", account="a", client_order_id="c1", symbol="T", side=Side.SELL, price=4200,
                     qty=700, original_qty=700, tif=TimeInForce.GTD, leaves=700, expire_time=99.0, post_only=True,
                     stp=STP.MAKER, cancel_on_pause=True, order_group="g", subaccount=3, party_id="p", session="s",
                     priority=17, created=12.5, updated=12.5)
    assert made == expected
    assert set(vars(made)) == {f.name for f in dataclasses.fields(Order)}  # no request-only field leaks in
    assert dataclasses.asdict(made) == dataclasses.asdict(expected)


def test_make_fill_equals_the_frozen_dataclass_and_stays_frozen():
    made = make_fill("t", 5000, 100, True, 7, -3, 100, 0)
    assert made == Fill("t", 5000, 100, True, 7, -3, 100, 0)
    assert hash(made) == hash(Fill("t", 5000, 100, True, 7, -3, 100, 0))
    try:
        made.qty = 1  # type: ignore[misc]
    except dataclasses.FrozenInstanceError:
        pass
    else:  # pragma: no cover
        raise AssertionError("Fill must stay frozen")


def test_snapshot_is_an_equal_independent_copy():
    o = make_order(sample_request(), "oid", 1, 0.0, None)
    s = snapshot(o)
    assert s == o and s is not o
    o.leaves = 0
    assert s.leaves == 700


def test_rejected_order_carries_the_request():
    r = sample_request()
    o = rejected_order(r, 3.0)
    assert (o.order_id, o.status, o.leaves, o.client_order_id, o.expire_time) == ("", OrderStatus.REJECTED, 0,
                                                                                 "c1", 99.0)


def test_events_built_by_the_engine_equal_dataclass_events():
    ex = Exchange(rng=random.Random(1))
    ex.add_market(Market("T"))
    ex.add_account("a", 10**9)
    ex.add_account("b", 10**9)
    accepted = ex.new_order(OrderRequest("a", "a1", "T", Side.BUY, 5000, 100), 1.0)[0]
    traded = ex.new_order(OrderRequest("b", "b1", "T", Side.SELL, 5000, 100, tif=TimeInForce.IOC), 2.0)
    assert accepted == Accepted(accepted.order, "1;1", 1.0, True)
    t = traded[1]
    assert isinstance(t, Traded) and t == Traded(t.order, t.exec_id, 2.0, t.fill, False)
    assert repr(t).startswith("Traded(order=Order(")
    cancel = ex.cancel_order("a", "zzz", "x", side=Side.BUY, symbol="T", now=3.0)
    assert not isinstance(cancel, list)
    ex.new_order(OrderRequest("a", "a2", "T", Side.BUY, 4000, 100), 4.0)
    c = ex.cancel_order("a", "a2", "x", side=Side.BUY, symbol="T", now=5.0)[0]
    assert c == Canceled(c.order, c.exec_id, 5.0, c.reason, "x", "a2")
