"""Price-time matching, cancels and order-group triggers: a mixin of `Exchange`.

The taker is never in the book while it matches (a new order has not rested yet; a replaced
order that re-queues is taken out first). Every event gets a snapshot of its order.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .accounts import FEE_QUANTUM, PAIR_PAYOUT
from .types import (ONE_DOLLAR, STP, Canceled, CancelReason, Event, Fill, GroupState, Order, OrderGroup,
                    OrderStatus, Side, Traded)

if TYPE_CHECKING:  # pragma: no cover
    from .book import Book
    from .types import Market

__all__ = ["MatchingMixin"]

_BUY = Side.BUY
_FILLED = OrderStatus.FILLED
_PARTIAL = OrderStatus.PARTIALLY_FILLED
_CANCELED = OrderStatus.CANCELED
_STP_MAKER = STP.MAKER
_ACTIVE = GroupState.ACTIVE
_ONE_DOLLAR = ONE_DOLLAR
_PAIR = PAIR_PAYOUT
_QUANTUM = FEE_QUANTUM
_new = object.__new__
_setattr = object.__setattr__


class MatchingMixin:
    """Needs from Exchange: _ledger, _units, _groups, _open, _by_session, _books, _markets, _eids, _ids."""

    # --- open-order bookkeeping -------------------------------------------------------

    def _register(self, order: Order, book: "Book") -> None:
        """The order rests: book, open set, account count, session and group indexes."""
        book.add(order)
        oid = order.order_id
        self._open[oid] = order
        self._ledger.accounts[order.account].open_count += 1
        if order.session is not None:
            by = self._by_session.get(order.session)
            if by is None:
                by = self._by_session[order.session] = {}
            by[oid] = order
        if order.order_group is not None:
            self._groups.orders[order.order_group][oid] = order

    def _unregister(self, order: Order) -> None:
        """Inverse of _register minus the book (the caller removes it from the book)."""
        oid = order.order_id
        del self._open[oid]
        self._ledger.accounts[order.account].open_count -= 1
        if order.session is not None:
            del self._by_session[order.session][oid]
        if order.order_group is not None:
            group_orders = self._groups.orders.get(order.order_group)
            if group_orders is not None:
                group_orders.pop(oid, None)

    def _end(self, order: Order, reason: CancelReason, now: float, events: list[Event],
             request_id: str | None = None, orig: str | None = None) -> None:
        """Cancel an order that is out of the book: release its collateral, emit Canceled."""
        if order.reserved:
            self._ledger.accounts[order.account].reserved -= order.reserved
            order.reserved = 0
        order.leaves = 0
        order.status = _CANCELED
        order.updated = now
        snap = _new(Order)
        snap.__dict__ = order.__dict__.copy()
        ev = _new(Canceled)  # == Canceled(snap, exec_id, now, reason, request_id, orig)
        ev.__dict__ = {"order": snap, "exec_id": self._eids.next(self._markets[order.symbol].exchange_index),
                       "time": now, "reason": reason, "request_id": request_id, "orig_client_order_id": orig}
        events.append(ev)

    def _cancel_resting(self, order: Order, reason: CancelReason, now: float, events: list[Event],
                        request_id: str | None = None, orig: str | None = None) -> None:
        self._books[order.symbol].remove(order)
        self._unregister(order)
        self._end(order, reason, now, events, request_id, orig)

    # --- order groups (spec 03 §1) ----------------------------------------------------

    def _trigger(self, group: OrderGroup, now: float, events: list[Event]) -> None:
        """Triggered: every resting order of the group is cancelled (Text ORDER_GROUP_CANCEL)."""
        group.state = GroupState.TRIGGERED
        self._cancel_group_orders(group, now, events)

    def _cancel_group_orders(self, group: OrderGroup, now: float, events: list[Event]) -> None:
        for order in list(self._groups.orders.get(group.group_id, {}).values()):
            self._cancel_resting(order, CancelReason.ORDER_GROUP, now, events)

    # --- FOK / MaxExecutionCost pre-walk (spec 02 §4, §5.3) ---------------------------

    def _walk(self, order: Order, book: "Book", now: float) -> tuple[int, int]:
        """(qty, cost) the order would fill right now, simulating what `_match` would do:
        STP (stop at / skip own orders), maker groups that trigger mid-sweep (their other
        orders vanish) and the taker's own group (stops the order once over its limit).
        cost = sum of what the taker pays: p x q for a BUY, (1 - p) x q for a SELL (NO buyer)."""
        is_buy = order.side is _BUY
        limit = order.price
        need = order.leaves
        filled = cost = 0
        groups = self._groups
        tgroup = groups.groups.get(order.order_group) if order.order_group is not None else None
        tvol = groups.rolling(tgroup, now) if tgroup is not None else 0
        maker_vol: dict[str, int] = {}
        dead: set[str] = set()
        for maker in book.resting(Side.SELL if is_buy else _BUY):
            price = maker.price
            if (price > limit) if is_buy else (price < limit):
                break
            if maker.account == order.account:
                if order.stp is _STP_MAKER:
                    continue
                break
            gid = maker.order_group
            if gid is not None and gid in dead:
                continue
            q = min(need - filled, maker.leaves)
            filled += q
            cost += (price if is_buy else ONE_DOLLAR - price) * q
            if gid is not None:
                mgroup = groups.groups[gid]
                vol = maker_vol[gid] = maker_vol.get(gid, groups.rolling(mgroup, now)) + q
                if mgroup.state is _ACTIVE and groups.over(mgroup, vol):
                    dead.add(gid)
            if filled == need:
                break
            if tgroup is not None:
                tvol += q
                if groups.over(tgroup, tvol):
                    break
        return filled, cost

    # --- matching (spec 02 §1, §5.2, §9) ----------------------------------------------

    def _match(self, order: Order, market: "Market", book: "Book", now: float, events: list[Event],
               rested: bool) -> None:
        """Trade `order` against the book until it is filled, stops crossing, or is stopped
        (STP taker, its group triggering). Fills print at the resting order's price.

        The hot path of the engine: the fill arithmetic of accounts.py, orders.snapshot() and the
        event constructors are inlined here (the random test against the reference checks it)."""
        ledger = self._ledger
        accounts = ledger.accounts
        groups = self._groups
        new_id = self._ids
        eid = self._eids.next
        index = market.exchange_index
        ticker = order.symbol
        account = order.account
        acct = accounts[account]
        is_buy = order.side is _BUY
        buy_units, sell_units = self._units[ticker]
        if is_buy:
            levels, keys, sign = book.asks, book.ask_keys, -1
            maker_units = sell_units
        else:
            levels, keys, sign = book.bids, book.bid_keys, 1
            maker_units = buy_units
        limit = order.price
        tunit = buy_units[limit] if is_buy else sell_units[limit]
        tnum, tden, mnum, mden = ledger.taker_num, ledger.taker_den, ledger.maker_num, ledger.maker_den
        tgroup = groups.groups.get(order.order_group) if order.order_group is not None else None
        tkey = (order.subaccount, ticker)
        tpositions = acct.positions
        triggered = False
        open_orders = self._open
        by_session = self._by_session
        odict = order.__dict__
        fees = 0
        while keys:
            price = sign * keys[-1]
            if (price > limit) if is_buy else (price < limit):
                break
            level = levels[price]
            maker = next(iter(level.orders.values()))
            if maker.account == account:  # self-trade prevention (spec 02 §5.2)
                if order.stp is _STP_MAKER:
                    self._cancel_resting(maker, CancelReason.STP_MAKER, now, events)
                    continue
                self._end(order, CancelReason.STP_TAKER, now, events)
                break
            mleaves = maker.leaves
            tleaves = order.leaves
            q = tleaves if tleaves < mleaves else mleaves
            trade_id = new_id()
            yes_cost = price * q                     # the YES buyer pays p x q
            no_cost = _ONE_DOLLAR * q - yes_cost     # the NO buyer (YES seller) pays (1 - p) x q

            # --- taker side: collateral released, cost, fee, netting (accounts.Ledger.settle)
            fee = -(-(tnum * yes_cost * (_ONE_DOLLAR - price)) // tden) * _QUANTUM if tnum else 0  # fee_for
            release = q * tunit
            order.reserved -= release
            acct.reserved -= release
            tleaves -= q
            order.leaves = tleaves
            order.cum += q
            order.notional += yes_cost
            order.status = _PARTIAL if tleaves else _FILLED
            order.updated = now
            net = tpositions.get(tkey, 0)
            if is_buy:
                change = -yes_cost - fee
                if net < 0:  # pairs redeemed at once (accounts.py)
                    change += (q if q < -net else -net) * _PAIR
                net += q
            else:
                change = -no_cost - fee
                if net > 0:
                    change += (q if q < net else net) * _PAIR
                net -= q
            if net:
                tpositions[tkey] = net
            else:
                tpositions.pop(tkey, None)
            acct.balance += change
            fees += fee
            snap = _new(Order)
            snap.__dict__ = odict.copy()
            fill = _new(Fill)
            _setattr(fill, "__dict__", {"trade_id": trade_id, "price": price, "qty": q, "aggressor": True,
                                        "fee": fee, "balance_change": change, "long_qty": net if net > 0 else 0,
                                        "short_qty": -net if net < 0 else 0})
            ev = _new(Traded)
            ev.__dict__ = {"order": snap, "exec_id": eid(index), "time": now, "fill": fill, "rested": rested}
            events.append(ev)

            # --- maker side
            macct = accounts[maker.account]
            fee = -(-(mnum * yes_cost * (_ONE_DOLLAR - price)) // mden) * _QUANTUM if mnum else 0
            release = q * maker_units[price]
            maker.reserved -= release
            macct.reserved -= release
            mleaves -= q
            maker.leaves = mleaves
            maker.cum += q
            maker.notional += yes_cost
            maker.updated = now
            level.qty -= q
            if mleaves:
                maker.status = _PARTIAL
            else:
                maker.status = _FILLED
                orders = level.orders
                orders.popitem(last=False)
                if not orders:
                    del levels[price]
                    keys.pop()
                mid = maker.order_id  # inline _unregister
                del open_orders[mid]
                macct.open_count -= 1
                if maker.session is not None:
                    del by_session[maker.session][mid]
                if maker.order_group is not None:
                    group_orders = groups.orders.get(maker.order_group)
                    if group_orders is not None:
                        group_orders.pop(mid, None)
            mkey = (maker.subaccount, ticker)
            mpositions = macct.positions
            net = mpositions.get(mkey, 0)
            if is_buy:  # the maker sold YES
                change = -no_cost - fee
                if net > 0:
                    change += (q if q < net else net) * _PAIR
                net -= q
            else:
                change = -yes_cost - fee
                if net < 0:
                    change += (q if q < -net else -net) * _PAIR
                net += q
            if net:
                mpositions[mkey] = net
            else:
                mpositions.pop(mkey, None)
            macct.balance += change
            fees += fee
            snap = _new(Order)
            snap.__dict__ = maker.__dict__.copy()
            fill = _new(Fill)
            _setattr(fill, "__dict__", {"trade_id": trade_id, "price": price, "qty": q, "aggressor": False,
                                        "fee": fee, "balance_change": change, "long_qty": net if net > 0 else 0,
                                        "short_qty": -net if net < 0 else 0})
            ev = _new(Traded)
            ev.__dict__ = {"order": snap, "exec_id": eid(index), "time": now, "fill": fill, "rested": True}
            events.append(ev)

            # --- order groups: the crossing fill completes, then the group triggers (spec 03 §1)
            if maker.order_group is not None:
                mgroup = groups.groups.get(maker.order_group)
                if mgroup is not None and groups.add_fill(mgroup, q, now):
                    self._trigger(mgroup, now, events)
            if tgroup is not None and groups.add_fill(tgroup, q, now):
                triggered = True
                break
            if not tleaves:
                break
        if fees:
            ledger.fees_collected += fees
        if triggered:
            if order.leaves:
                self._end(order, CancelReason.ORDER_GROUP, now, events)
            self._trigger(tgroup, now, events)
