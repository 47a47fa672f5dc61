"""Cancel, cancel/replace, mass cancel, cancel-on-disconnect and expiry: a mixin of `Exchange`."""
from __future__ import annotations

from .orders import snapshot
from .types import CancelReason, CxlReject, Event, MarketStatus, Order, OrderStatus, Replaced, Side

__all__ = ["AmendMixin"]

_OPEN = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class AmendMixin:
    """Needs from Exchange: _ledger, _books, _markets, _prices, _open, _by_session, _expiry, _eids, _seq,
    paused (an exchange.Pause or None)."""

    def _addressed(self, account: str, orig_client_order_id: str, side: Side, symbol: str, order_id: str | None,
                   subaccount: int, party_id: str | None) -> Order | None:
        """The order an F/G names by its current ClOrdID, if every other key agrees (spec 02 §6, §7)."""
        acct = self._ledger.accounts.get(account)
        if acct is None:
            return None
        order = acct.clids.get(orig_client_order_id)
        if (order is None or order.client_order_id != orig_client_order_id or order.side != side
                or order.symbol != symbol or order.subaccount != subaccount or order.party_id != party_id
                or (order_id is not None and order_id != order.order_id)):
            return None
        return order

    # --- OrderCancelRequest (spec 02 §7, §10) -----------------------------------------

    def cancel_order(self, account: str, orig_client_order_id: str, request_id: str, *, side: Side, symbol: str,
                     order_id: str | None = None, subaccount: int = 0, party_id: str | None = None,
                     now: float) -> list[Event] | CxlReject:
        paused = self.paused
        if paused is not None and not paused.cancels_allowed:  # spec 10 §2: no cancel in an exchange pause
            return paused.cxl_reject
        # _addressed, inlined (the engine's most frequent call after new_order)
        acct = self._ledger.accounts.get(account)
        order = acct.clids.get(orig_client_order_id) if acct is not None else None
        if (order is None or order.client_order_id != orig_client_order_id or order.side != side
                or order.symbol != symbol or order.subaccount != subaccount or order.party_id != party_id
                or (order_id is not None and order_id != order.order_id)):
            return CxlReject.UNKNOWN_ORDER
        if order.status not in _OPEN:
            return CxlReject.TOO_LATE_TO_CANCEL
        if request_id in acct.clids:  # spec 02 §12: F/G ClOrdIDs must be new
            return CxlReject.ORDER_ALREADY_EXISTS
        self._eids.begin()
        previous = order.client_order_id
        order.client_order_id = request_id
        acct.clids[request_id] = order
        events: list[Event] = []
        self._cancel_resting(order, CancelReason.USER, now, events, request_id, previous)
        return events

    # --- OrderCancelReplaceRequest (spec 02 §6, §10) ----------------------------------

    def _amend_price_ok(self, order: Order, side: Side, new_price: int) -> bool:
        """The new price is on the market's grid (spec 02 §2.1); perps.py adds the band."""
        return 0 < new_price < 10_000 and bool(self._prices[order.symbol][new_price])

    def replace_order(self, account: str, orig_client_order_id: str, new_client_order_id: str, *, qty: int,
                      price: int | None = None, side: Side, symbol: str, order_id: str | None = None,
                      subaccount: int = 0, party_id: str | None = None, now: float) -> list[Event] | CxlReject:
        """Every CxlReject leaves everything unchanged. Priority is kept only when the price is
        unchanged and the quantity does not grow; otherwise the order re-queues (and may trade)."""
        if self.paused is not None:  # spec 10 §2: no amend in either pause
            return self.paused.cxl_reject
        order = self._addressed(account, orig_client_order_id, side, symbol, order_id, subaccount, party_id)
        if order is None:
            return CxlReject.UNKNOWN_ORDER
        if order.status is OrderStatus.FILLED:
            return CxlReject.CANNOT_UPDATE_FILLED_ORDER
        if order.status not in _OPEN:
            return CxlReject.TOO_LATE_TO_CANCEL
        acct = self._ledger.accounts[account]
        if new_client_order_id in acct.clids:
            return CxlReject.ORDER_ALREADY_EXISTS
        market = self._markets.get(order.symbol)
        if market is None:  # pragma: no cover - markets are never removed
            return CxlReject.MARKET_NOT_FOUND
        if market.status is not MarketStatus.OPEN:  # a halted market is inactive, not closed (spec 10 §4)
            return CxlReject.MARKET_INACTIVE if market.status is MarketStatus.HALTED else CxlReject.MARKET_CLOSED
        new_price = order.price if price is None else price
        if not self._amend_price_ok(order, side, new_price):
            return CxlReject.INVALID_PRICE
        if qty < order.cum or (qty % 100 and not market.fractional):
            return CxlReject.INVALID_AMEND_QTY
        book = self._books[order.symbol]
        if qty == order.cum:  # spec 02 §6, §9 #15: a single Canceled
            self._eids.begin()
            previous = order.client_order_id
            order.client_order_id = new_client_order_id
            acct.clids[new_client_order_id] = order
            events: list[Event] = []
            self._cancel_resting(order, CancelReason.REPLACED_TO_FILLED, now, events, new_client_order_id,
                                 previous)
            return events
        crosses = book.crosses(side, new_price)
        if crosses:
            opposite = Side.SELL if side is Side.BUY else Side.BUY
            for maker in book.resting(opposite):  # spec 02 §5.2: a replace may not self-cross
                if (maker.price > new_price) if side is Side.BUY else (maker.price < new_price):
                    break
                if maker.account == account:
                    return CxlReject.SELF_CROSS_ATTEMPT
            if order.post_only:
                return CxlReject.POST_ONLY_CROSS
        new_leaves = qty - order.cum
        new_reserved = new_leaves * self.collateral_unit(order.symbol, side, new_price)
        delta = new_reserved - order.reserved
        if delta > 0 and delta > acct.available:
            return CxlReject.INSUFFICIENT_BALANCE

        self._eids.begin()
        index = market.exchange_index
        previous = order.client_order_id
        order.client_order_id = new_client_order_id
        acct.clids[new_client_order_id] = order
        keep_priority = new_price == order.price and qty <= order.qty
        if keep_priority:  # same place in the queue, smaller (or same) size
            book.reduce(order, order.leaves - new_leaves)
        else:
            book.remove(order)
            self._unregister(order)
            self._seq += 1
            order.priority = self._seq
        order.price = new_price
        order.qty = qty
        order.leaves = new_leaves
        order.reserved = new_reserved
        acct.reserved += delta
        order.updated = now
        events = [Replaced(snapshot(order), self._eids.next(index), now, previous)]
        if not keep_priority:
            if crosses:
                self._match(order, market, book, now, events, True)
            if order.status in _OPEN:
                self._register(order, book)
        return events

    # --- mass cancel, cancel on disconnect (spec 02 §11, spec 01 §7) ------------------

    def _cancel_all(self, orders: list[Order], reason: CancelReason, now: float) -> list[Event]:
        self._eids.begin()
        events: list[Event] = []
        for order in orders:
            self._cancel_resting(order, reason, now, events)
        return events

    def mass_cancel(self, account: str, session: str | None, now: float) -> list[Event]:
        """Canceled(MASS_CANCEL) for every open order of `account` entered on `session`."""
        source = self._open.values() if session is None else self._by_session.get(session, {}).values()
        orders = [o for o in source if o.account == account and o.session == session]
        return self._cancel_all(orders, CancelReason.MASS_CANCEL, now)

    def cancel_session_orders(self, session: str, now: float,
                              reason: CancelReason = CancelReason.DISCONNECT) -> list[Event]:
        """Every open order entered on `session` (CancelOrdersOnDisconnect)."""
        return self._cancel_all(list(self._by_session.get(session, {}).values()), reason, now)

    # --- expiry (spec 02 §4) ----------------------------------------------------------

    def expire_orders(self, now: float) -> list[Event]:
        """Canceled(EXPIRY) for DAY/GTD orders whose expire_time <= now, earliest first."""
        return self._cancel_all(self._expiry.due(now), CancelReason.EXPIRY, now)

    def next_expiry(self) -> float | None:
        """The earliest expire_time among resting DAY/GTD orders."""
        return self._expiry.next()
