"""Ended orders in compact form, forgotten by age and by count (issue 11 §4; engine/memory.py)."""
from __future__ import annotations

import gc
import tracemalloc

from kalshi_fixsim.simulator.engine.memory import EndedOrder
from kalshi_fixsim.simulator.engine.types import Accepted, CxlReject, Order, OrderStatus, Side, TimeInForce
from tests.unit.engine_helpers import req
from tests.unit.test_engine_orders import T0, TICKER, make_exchange

FAR = T0 - 10**6  # a cutoff before everything: the sweep forgets nothing by age


def test_a_sweep_keeps_ended_orders_in_compact_form_and_working_ones_whole():
    ex = make_exchange()
    ex.new_order(req("alice", "f1", Side.BUY, 50, 1), T0)
    ex.new_order(req("bob", "f2", Side.SELL, 50, 1), T0)           # both filled
    ex.new_order(req("alice", "c1", Side.BUY, 40, 1), T0)
    ex.cancel_order("alice", "c1", "c1-x", side=Side.BUY, symbol=TICKER, now=T0)
    working = ex.new_order(req("alice", "w1", Side.BUY, 30, 1), T0)[0].order.order_id
    assert ex.forget_final_orders(FAR) == 0
    for account, clid in (("alice", "f1"), ("bob", "f2"), ("alice", "c1-x")):
        assert type(ex.order_by_client_id(account, clid)) is EndedOrder
    assert type(ex._ledger.accounts["alice"].clids["c1"]) is EndedOrder    # the superseded ClOrdID too
    assert ex._ledger.accounts["alice"].clids["c1"] is ex.order_by_client_id("alice", "c1-x")  # one per order
    assert type(ex.order(working)) is Order and type(ex.order_by_client_id("alice", "w1")) is Order
    ex.cancel_order("alice", "w1", "w1-x", side=Side.BUY, symbol=TICKER, now=T0 + 1)
    ex.forget_final_orders(FAR)                                     # ended since: compact at the next sweep
    assert type(ex.order(working)) is EndedOrder and type(ex._ledger.accounts["alice"].clids["w1"]) is EndedOrder
    ex.check_invariants()


def test_compact_ended_orders_still_answer_cancels_replaces_and_clordid_rules_of_spec_02():
    ex = make_exchange()
    filled = ex.new_order(req("alice", "f1", Side.BUY, 50, 1), T0)[0].order.order_id
    ex.new_order(req("bob", "f2", Side.SELL, 50, 1), T0)
    ex.new_order(req("alice", "c1", Side.BUY, 40, 1), T0)
    ex.cancel_order("alice", "c1", "c1-x", side=Side.BUY, symbol=TICKER, now=T0)
    ex.forget_final_orders(FAR)
    # spec 02 §7/§10: naming an ended order is "too late", a filled one cannot be updated
    assert ex.cancel_order("alice", "c1-x", "c1-y", side=Side.BUY, symbol=TICKER, now=T0 + 1) \
        is CxlReject.TOO_LATE_TO_CANCEL
    assert ex.replace_order("alice", "f1", "f1-r", qty=200, side=Side.BUY, symbol=TICKER, now=T0 + 1) \
        is CxlReject.CANNOT_UPDATE_FILLED_ORDER
    assert ex.cancel_order("alice", "f1", "f1-y", side=Side.BUY, symbol=TICKER, order_id=filled, now=T0 + 1) \
        is CxlReject.TOO_LATE_TO_CANCEL
    # the other keys must still agree, as for a live order
    assert ex.cancel_order("alice", "f1", "f1-y", side=Side.SELL, symbol=TICKER, now=T0 + 1) \
        is CxlReject.UNKNOWN_ORDER
    # spec 02 §12: F/G ClOrdIDs must be new, even against ended orders
    ex.new_order(req("alice", "live", Side.BUY, 30, 1), T0 + 1)
    assert ex.cancel_order("alice", "live", "c1", side=Side.BUY, symbol=TICKER, now=T0 + 2) \
        is CxlReject.ORDER_ALREADY_EXISTS
    # ... but a NewOrderSingle only may not reuse the ClOrdID of an *open* order
    assert isinstance(ex.new_order(req("alice", "c1-x", Side.BUY, 41, 1), T0 + 2)[0], Accepted)
    ended = ex._ledger.accounts["alice"].clids["c1"]
    assert (ended.status, ended.order_id, ended.cum) == (OrderStatus.CANCELED, ended.order_id, 0)
    ex.check_invariants()


def test_forgetting_by_count_drops_the_oldest_ended_orders_first():
    ex = make_exchange()
    for i in range(50):
        ex.new_order(req("alice", f"o{i}", Side.BUY, 40, 1), T0 + i)
        ex.cancel_order("alice", f"o{i}", f"x{i}", side=Side.BUY, symbol=TICKER, now=T0 + i)
    ex.new_order(req("alice", "keep", Side.BUY, 30, 1), T0 + 60)     # working: never counted, never forgotten
    assert ex.forget_final_orders(FAR, max_ended=20) == 30
    assert ex.known_orders() == 21
    assert ex.order_by_client_id("alice", "x29") is None and ex.order_by_client_id("alice", "x30") is not None
    assert "o29" not in ex._ledger.accounts["alice"].clids and "o30" in ex._ledger.accounts["alice"].clids
    assert ex.order_by_client_id("alice", "keep") is not None
    assert ex.forget_final_orders(FAR, max_ended=0) == 20 and ex.known_orders() == 1
    ex.check_invariants()


def test_a_cancelled_gtd_order_is_not_kept_whole_by_the_expiry_queue():
    ex = make_exchange()
    ex.new_order(req("alice", "g1", Side.BUY, 40, 1, tif=TimeInForce.GTD, expire_time=T0 + 30 * 86400), T0)
    ex.cancel_order("alice", "g1", "g1-x", side=Side.BUY, symbol=TICKER, now=T0)
    assert len(ex._expiry._heap) == 1
    ex.forget_final_orders(FAR)
    assert ex._expiry._heap == [] and ex.next_expiry() is None


def test_heap_per_ended_order_and_cancel_is_small_once_swept():
    ex = make_exchange()
    ex.deposit("alice", 10**12)

    def flow(first: int, n: int) -> None:
        for i in range(first, first + n):
            cl = f"{i:08d}-0000-4000-8000-000000000000"
            ex.new_order(req("alice", cl, Side.BUY, 40, 1), T0 + i)
            ex.cancel_order("alice", cl, "c" + cl[1:], side=Side.BUY, symbol=TICKER, now=T0 + i)
    flow(0, 200)
    ex.forget_final_orders(FAR)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        flow(200, 5000)
        ex.forget_final_orders(FAR)
        gc.collect()
        per_order = (tracemalloc.get_traced_memory()[0] - before) / 5000
    finally:
        tracemalloc.stop()
    # about 460-510 bytes (docs/benchmarks.md "Memory"); a whole Order kept was about 1,270
    assert per_order < 700, per_order


def test_a_resting_orders_keys_are_compacted_once_it_leaves_the_book_however_it_ends():
    """The keys of resting orders wait aside between sweeps (not looked at again while they
    rest): filled as a maker, cancelled after a replace (its superseded ClOrdID too), or kept
    through a snapshot's pickling, each is compact at the first sweep after it ended."""
    import pickle
    ex = make_exchange()
    maker = ex.new_order(req("bob", "m1", Side.SELL, 60, 1), T0)[0].order.order_id
    ex.new_order(req("alice", "r1", Side.BUY, 30, 1), T0)
    assert not isinstance(ex.replace_order("alice", "r1", "r2", qty=100, price=3100, side=Side.BUY, symbol=TICKER,
                                          now=T0), CxlReject)  # a new place in the queue
    ex.new_order(req("alice", "p1", Side.BUY, 20, 1), T0)
    ex.forget_final_orders(FAR)
    assert type(ex.order(maker)) is Order and type(ex.order_by_client_id("alice", "r2")) is Order
    ex.new_order(req("alice", "t1", Side.BUY, 60, 1, tif=TimeInForce.IOC), T0 + 1)   # fills the maker
    ex.cancel_order("alice", "r2", "r3", side=Side.BUY, symbol=TICKER, now=T0 + 1)
    ex.forget_final_orders(FAR)
    assert type(ex.order(maker)) is EndedOrder and type(ex.order_by_client_id("bob", "m1")) is EndedOrder
    clids = ex._ledger.accounts["alice"].clids
    assert all(type(clids[c]) is EndedOrder for c in ("r1", "r2", "r3"))
    assert clids["r1"] is clids["r3"]
    again = pickle.loads(pickle.dumps(ex))                          # a snapshot while p1 rests
    again.cancel_order("alice", "p1", "p2", side=Side.BUY, symbol=TICKER, now=T0 + 2)
    again.forget_final_orders(FAR)
    assert type(again._ledger.accounts["alice"].clids["p1"]) is EndedOrder
    again.check_invariants()
    ex.check_invariants()
