"""What the engine keeps of orders that ended, and for how long (issue 11 §4, behaviour.md
"Order memory").

An order that ended (filled, cancelled, expired) is still looked up by OrderID and by each
ClOrdID it carried, for three rules:
- a cancel or replace that names it gets TOO_LATE_TO_CANCEL / CANNOT_UPDATE_FILLED_ORDER (with
  its OrderID and OrdStatus in the OrderCancelReject) instead of UNKNOWN_ORDER (spec 02 §7, §10);
- the ClOrdID of an OrderCancelRequest or OrderCancelReplaceRequest must be new, "must not
  match any existing ClOrdID" (spec 02 §12);
- a NewOrderSingle's ClOrdID must not be the ClOrdID of an *open* order (spec 02 §12): ended
  orders play no part in it, so forgetting them never breaks it.
Nothing else reads an ended order (drop copy replays from its own 3-hour history, spec 04 §2).

So each sweep of the clock work (`Exchange.forget_final_orders`) replaces every ended `Order`
in the lookups by an `EndedOrder`: the fields those rules read, in slots (about 120 bytes
instead of the Order's 890). The lookups are `KeyLog` dicts, which remember the keys set since
the last sweep, so a sweep touches only what changed since the last one (the keys of resting
orders wait aside until their order leaves the book), never the whole history. Ended orders are then forgotten when they
ended more than the configured time ago, and the oldest go first when more than the
configured number are known. (An Exchange driven without that clock work, as in unit tests
and bench/engine.py, keeps its ended orders whole and its key logs grow by a pointer per key.)
"""
from __future__ import annotations

from itertools import filterfalse

from .types import Order, OrderStatus

__all__ = ["EndedOrder", "KeyLog", "compact", "ended_before", "oldest_ended_time"]


class KeyLog(dict):
    """A dict that logs the keys set through `d[k] = v` since the last `compact`."""

    __slots__ = ("new",)

    def __init__(self) -> None:
        super().__init__()
        self.new: list = []

    def __setitem__(self, key, value) -> None:
        dict.__setitem__(self, key, value)
        self.new.append(key)

    def __reduce__(self):  # pickling (the journal's snapshots): items and log without __setitem__
        return (_keylog, (dict(self), list(self.new)))


def _keylog(items: dict, new: list) -> KeyLog:
    log = KeyLog()
    dict.update(log, items)
    log.new = new
    return log


class EndedOrder:
    """What an ended order is still needed for (module docstring); read like an Order."""

    __slots__ = ("order_id", "client_order_id", "symbol", "side", "subaccount", "party_id", "status", "cum",
                 "created", "updated")

    def __init__(self, order: Order) -> None:
        self.order_id = order.order_id
        self.client_order_id = order.client_order_id
        self.symbol = order.symbol
        self.side = order.side
        self.subaccount = order.subaccount
        self.party_id = order.party_id
        self.status: OrderStatus = order.status
        self.cum = order.cum
        self.created = order.created
        self.updated = order.updated

    def __repr__(self) -> str:
        return f"EndedOrder({self.order_id}, {self.client_order_id!r}, {self.status.name})"


def compact(lookups: dict, open_orders: dict | None = None, parked: dict | None = None) -> int:
    """Replace the ended Orders set in these dicts since the last call by EndedOrders (one per
    order, shared by every dict and key that names it); keys of orders still working are
    looked at again next time. Returns how many orders were compacted. `lookups`: name -> KeyLog
    (the Exchange: None for its orders by id, an account's name for its ClOrdIDs).

    With `open_orders` (the resting orders by id) and `parked` (a dict the caller keeps from
    call to call), the keys of a resting order are not looked at again on every call: they wait
    in `parked` (order id -> (name, key, name, key, ...)) until their order leaves the open set,
    found with one filter in C (a resting order is never final: Exchange.check_invariants), so a
    call costs what changed plus a C-speed pass over the resting orders' ids, not a Python loop
    over every key of every working order (issue 16). The tuples hold only strings (and None):
    the garbage collector stops tracking them, so resting orders cost it nothing more."""
    made: dict[int, EndedOrder] = {}  # id(order) -> its EndedOrder (the orders stay alive meanwhile)
    back: dict = {}  # name -> keys of orders that left the book since the last call
    if parked:
        for oid in list(filterfalse(open_orders.__contains__, parked)):  # left the book since: look again
            pairs = parked.pop(oid)
            for i in range(0, len(pairs), 2):
                back.setdefault(pairs[i], []).append(pairs[i + 1])
    for name, d in lookups.items():
        keep = []
        keys = d.new
        if back:
            keys = keys + back.pop(name, [])
        for key in keys:
            value = d.get(key)
            if value is None or value.__class__ is not Order:
                continue  # forgotten since, or already compact
            if not value.status.final:
                if parked is not None and open_orders.get(value.order_id) is value:
                    oid = value.order_id
                    parked[oid] = parked.get(oid, ()) + (name, key)  # until it leaves the book
                else:
                    keep.append(key)
                continue
            ended = made.get(id(value))
            if ended is None:
                ended = made[id(value)] = EndedOrder(value)
            dict.__setitem__(d, key, ended)
        d.new = keep
    return len(made)


def ended_before(orders: dict, before: float) -> int:
    """Delete the entries whose order ended before `before`; returns how many. The dict is in
    insertion order and an entry is made at or after its order's creation, so the scan stops at
    the first order created after `before`."""
    stale = []
    for key, order in orders.items():
        if order.created >= before:
            break
        if order.status.final and order.updated < before:
            stale.append(key)
    for key in stale:
        del orders[key]
    return len(stale)


def oldest_ended_time(orders: dict, excess: int) -> float:
    """A time such that forgetting what ended before it forgets about `excess` of the oldest
    ended orders (by creation order): the creation time of the next ended order after them
    (orders created before it that ended later stay). Infinity when there are no more."""
    seen = 0
    for order in orders.values():
        if order.status.final:
            seen += 1
            if seen > excess:
                return order.created
    return float("inf")
