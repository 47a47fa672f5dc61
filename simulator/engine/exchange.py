"""The matching engine of one product: markets, books, accounts, orders, order groups.

FIX-free (DESIGN.md §3 rule 4) and clock-free: time comes in as `now` (epoch seconds), ids
come from the injected `random.Random`. Business rejections are returned (Rejected events,
CxlReject codes, "ORDER_GROUP_NOT_FOUND"); exceptions are our bugs or caller misuse.

Event order is what a FIX user sees (spec 02 §9): for a new order, Accepted, then per match
the taker's Traded and the maker's Traded (same trade id), maker-side cancels (STP maker,
maker group trigger) where they happen, then the taker's Canceled if any.
"""
from __future__ import annotations

import enum
import random

from . import grid, settlement
from .accounts import MAX_SUBACCOUNT, Account, FeeSchedule, Ledger, LedgerError
from .amend import AmendMixin
from .book import Book, BookError
from .expiry import DayEnd, ExpiryQueue
from .groups import GroupRegistry
from .group_ops import GroupOpsMixin
from .ids import ExecIds, Uuids
from .memory import KeyLog, compact, ended_before, oldest_ended_time
from .matching import MatchingMixin
from .orders import make_order, rejected_order
from .settlement import Settlement, SettleReject
from .types import (Accepted, CancelReason, CxlReject, Event, GroupState, Market, MarketStatus, Order,
                    OrderRequest, OrderStatus, Reject, Rejected, Side, TimeInForce)

__all__ = ["Exchange", "FeeSchedule", "InvariantError", "BookError", "LedgerError", "Pause"]

_OPEN = (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)
_GTC = TimeInForce.GTC
_GTD = TimeInForce.GTD
_DAY = TimeInForce.DAY
_FOK = TimeInForce.FOK
_BUY = Side.BUY
_new = object.__new__
_MARKET_OPEN = MarketStatus.OPEN
_INACTIVE = (MarketStatus.INITIALIZED, MarketStatus.HALTED)


class InvariantError(AssertionError):
    """A broken cross-structure invariant: always our bug."""


class Pause(enum.Enum):
    """Exchange-wide pause (spec 10 §2): no new order or amend in either; cancels only in a
    trading pause. System cancels (disconnect, expiry, close) are not client requests and run."""
    TRADING = "trading"
    EXCHANGE = "exchange"

    @property
    def reject(self) -> Reject:
        """What a NewOrderSingle gets (103=2)."""
        return Reject.TRADING_PAUSED if self is Pause.TRADING else Reject.EXCHANGE_PAUSED

    @property
    def cxl_reject(self) -> CxlReject:
        """What a refused amend or cancel gets (102=99)."""
        return CxlReject.TRADING_PAUSED if self is Pause.TRADING else CxlReject.EXCHANGE_PAUSED

    @property
    def cancel_reason(self) -> CancelReason:
        """Why CancelOrderOnPause orders end when this pause begins (spec 10 §3)."""
        return CancelReason.TRADING_PAUSE if self is Pause.TRADING else CancelReason.EXCHANGE_PAUSE

    @property
    def cancels_allowed(self) -> bool:
        return self is Pause.TRADING


class Exchange(MatchingMixin, AmendMixin, GroupOpsMixin):
    def __init__(self, *, rng: random.Random, fees: FeeSchedule | None = None, max_open_orders: int = 200_000,
                 group_trigger_at_limit: bool = False) -> None:
        self._rng = rng
        self._ids = Uuids(rng)                          # order and trade ids
        self._ledger = Ledger(fees)
        self.max_open_orders = max_open_orders
        self._markets: dict[str, Market] = {}
        self._books: dict[str, Book] = {}
        self._prices: dict[str, bytes] = {}             # ticker -> valid-price table of its structure
        self._units: dict[str, tuple] = {}              # ticker -> (buy, sell) collateral per hundredth, by price
        self._orders: KeyLog = KeyLog()                 # accepted orders, by order id (ended: until forgotten)
        self._open: dict[str, Order] = {}               # resting orders
        self._by_session: dict[str, dict[str, Order]] = {}
        self._groups = GroupRegistry(trigger_at_limit=group_trigger_at_limit)
        self._expiry = ExpiryQueue()
        self._day_end = DayEnd()
        self._eids = ExecIds()
        self._seq = 0                                   # time priority
        self.paused: Pause | None = None                # spec 10 §2; set through set_pause

    # --- setup ------------------------------------------------------------------------

    def add_market(self, market: Market) -> None:
        if market.ticker in self._markets:
            raise ValueError(f"market {market.ticker!r} exists")
        grid.bands(market.price_structure)  # ValueError for an unknown structure
        self._markets[market.ticker] = market
        self._books[market.ticker] = Book(market.ticker)
        self._prices[market.ticker] = grid.price_table(market.price_structure)
        self._units[market.ticker] = (self._ledger.buy_unit, self._ledger.sell_unit)

    def market(self, ticker: str) -> Market | None:
        return self._markets.get(ticker)

    def markets(self) -> list[Market]:
        return list(self._markets.values())

    def add_account(self, name: str, balance: int) -> None:
        """A new account with `balance` micro-dollars."""
        self._ledger.add(name, balance)

    def deposit(self, name: str, amount: int) -> None:
        """Add (or, negative, withdraw) micro-dollars; never below the reserved collateral."""
        self._ledger.deposit(name, amount)

    def balance(self, name: str) -> int:
        return self._ledger.accounts[name].balance

    def available(self, name: str) -> int:
        return self._ledger.accounts[name].available

    def reserved(self, name: str) -> int:
        return self._ledger.accounts[name].reserved

    def position(self, name: str, ticker: str, subaccount: int = 0) -> int:
        """Net YES position in hundredths (negative = net NO)."""
        return self._ledger.accounts[name].positions.get((subaccount, ticker), 0)

    def positions(self, name: str) -> dict[tuple[int, str], int]:
        """(subaccount, ticker) -> net YES hundredths, non-zero ones only (a copy)."""
        return dict(self._ledger.accounts[name].positions)

    def accounts(self) -> list[str]:
        return list(self._ledger.accounts)

    @property
    def fees_collected(self) -> int:
        return self._ledger.fees_collected

    @property
    def fee_schedule(self) -> FeeSchedule:
        return self._ledger.fees

    def collateral_unit(self, symbol: str, side: Side, price: int) -> int:
        """µ$ an order of `side` at `price` in `symbol` reserves per hundredth still working
        (accounts.py; on margin, the market's initial-margin rate: perps.py)."""
        return self._units[symbol][0 if side is Side.BUY else 1][price]

    # --- lookups ----------------------------------------------------------------------

    def order(self, order_id: str) -> Order | None:
        return self._orders.get(order_id)

    def known_orders(self) -> int:
        """How many orders are known by OrderID: working ones and ended ones not yet forgotten."""
        return len(self._orders)

    def order_by_client_id(self, account: str, client_order_id: str) -> Order | None:
        """The order that currently carries this ClOrdID (after a replace or cancel the older
        ClOrdID no longer names it: spec 02 §12)."""
        acct = self._ledger.accounts.get(account)
        order = acct.clids.get(client_order_id) if acct is not None else None
        return order if order is not None and order.client_order_id == client_order_id else None

    def open_orders(self, account: str | None = None, symbol: str | None = None,
                    session: str | None = None) -> list[Order]:
        source = self._open.values() if session is None else self._by_session.get(session, {}).values()
        return [o for o in source
                if (account is None or o.account == account) and (symbol is None or o.symbol == symbol)]

    def book(self, ticker: str) -> Book:
        return self._books[ticker]

    # --- new orders (spec 02 §3, §4, §5, §9) ------------------------------------------

    def _check(self, req: OrderRequest, acct: Account | None) -> Reject | None:
        """Validation, in the documented order; None when the order may enter."""
        if self.paused is not None:  # spec 10 §2: nothing enters during a pause
            return self.paused.reject
        if acct is None or not 0 <= req.subaccount <= MAX_SUBACCOUNT:  # spec 02 §5.6
            return Reject.CUSTOMER_ACCOUNT_NOT_FOUND
        symbol = req.symbol
        market = self._markets.get(symbol)
        if market is None:
            return Reject.MARKET_NOT_FOUND
        status = market.status
        if status is not _MARKET_OPEN:
            return Reject.MARKET_INACTIVE if status in _INACTIVE else Reject.MARKET_ALREADY_CLOSED
        qty = req.qty
        if qty <= 0 or (qty % 100 and not market.fractional):  # spec 02 §2.2
            return Reject.INCORRECT_QUANTITY
        price = req.price
        if not (0 < price < 10_000 and self._prices[symbol][price]):  # spec 02 §2.1
            return Reject.INVALID_PRICE
        if req.expire_time is None and req.tif is _GTD:  # spec 02 §4
            return Reject.INVALID_ORDER
        reason = self._entry_checks(req, acct)
        if reason is not None:
            return reason
        units = self._units[symbol][0 if req.side is _BUY else 1]
        if units[price] * qty > acct.balance - acct.reserved:  # spec 02 §1
            return Reject.INSUFFICIENT_BALANCE
        return None

    def _entry_checks(self, req: OrderRequest, acct: Account) -> Reject | None:
        """The checks every product makes once the market and price are fine."""
        prev = acct.clids.get(req.client_order_id)  # spec 02 §12: not the ClOrdID of an open order
        if prev is not None and prev.client_order_id == req.client_order_id and prev.status in _OPEN:
            return Reject.ORDER_ALREADY_EXISTS
        if req.order_group is not None:  # spec 03 §1
            group = self._groups.owned(req.order_group, req.account, req.subaccount)
            if group is None:
                return Reject.ORDER_GROUP_NOT_FOUND
            if group.state is GroupState.TRIGGERED:
                return Reject.EXCEEDED_ORDER_GROUP_RISK_LIMIT
        if acct.open_count >= self.max_open_orders:
            return Reject.TOO_MANY_OPEN_ORDERS
        return None

    def new_order(self, req: OrderRequest, now: float) -> list[Event]:
        """Validate (Rejected, nothing changed), then post-only / FOK / MaxExecutionCost checks
        (a single Canceled), else Accepted, the matches, and the remainder rests or is
        cancelled (IOC, FOK, GTD already expired)."""
        acct = self._ledger.accounts.get(req.account)
        reason = self._check(req, acct)
        if reason is not None:
            return [Rejected(rejected_order(req, now), "", now, reason)]
        eids = self._eids
        eids.begin()
        symbol = req.symbol
        market = self._markets[symbol]
        book = self._books[symbol]
        self._seq += 1
        tif = req.tif
        if tif is _GTC:
            expire = None
        elif tif is _DAY:
            expire = self._day_end(now)  # spec 02 §4: 23:59:59.999 America/New_York
        elif tif is _GTD:
            expire = req.expire_time
        else:
            expire = None
        order = make_order(req, self._ids(), self._seq, now, expire)
        oid = order.order_id
        self._orders[oid] = order
        acct.clids[req.client_order_id] = order
        side = req.side
        price = req.price
        if side is _BUY:
            crosses = bool(book.ask_keys) and -book.ask_keys[-1] <= price
        else:
            crosses = bool(book.bid_keys) and book.bid_keys[-1] >= price
        events: list[Event] = []
        if crosses and req.post_only:  # spec 02 §5.1, §9 #9: cancelled, not rested
            self._end(order, CancelReason.POST_ONLY, now, events)
            return events
        if tif is _FOK or req.max_cost is not None:  # spec 02 §4, §5.3: all or nothing
            filled, cost = self._walk(order, book, now) if crosses else (0, 0)
            if filled < order.qty:
                self._end(order, CancelReason.FOK if tif is _FOK else CancelReason.MAX_COST, now, events)
                return events
            if req.max_cost is not None and cost > req.max_cost:
                self._end(order, CancelReason.MAX_COST, now, events)
                return events
        reserve = order.qty * self._units[symbol][0 if side is _BUY else 1][price]
        order.reserved = reserve
        acct.reserved += reserve
        snap = _new(Order)
        snap.__dict__ = order.__dict__.copy()
        accepted = _new(Accepted)
        accepted.__dict__ = {"order": snap, "exec_id": eids.next(market.exchange_index), "time": now,
                             "rests": True}
        events.append(accepted)
        if crosses:
            self._match(order, market, book, now, events, False)
            if order.status not in _OPEN:
                accepted.rests = False
                return events
            accepted.rests = order.cum == 0
        if tif is _GTC or tif is _DAY or (tif is _GTD and expire > now):
            # rest: inline of MatchingMixin._register (the hot path)
            book.add(order)
            self._open[oid] = order
            acct.open_count += 1
            session = req.session
            if session is not None:
                by = self._by_session.get(session)
                if by is None:
                    by = self._by_session[session] = {}
                by[oid] = order
            if req.order_group is not None:
                self._groups.orders[req.order_group][oid] = order
            if expire is not None:
                self._expiry.push(order)
        else:  # IOC, FOK, GTD already expired (= IOC, spec 02 §4)
            accepted.rests = False
            self._end(order, CancelReason.IOC, now, events)
        return events

    # --- memory ---------------------------------------------------------------------

    def compact_ended(self) -> int:
        """Keep the orders that ended since the last call in compact form (engine/memory.py);
        costs what changed since then. Returns how many were compacted."""
        parked = self.__dict__.get("_parked")
        if parked is None:  # made here, not in __init__: journal.engine_layout (state files) stays as it was
            parked = self._parked = {}
        lookups = {None: self._orders}
        for name, acct in self._ledger.accounts.items():
            lookups[name] = acct.clids
        return compact(lookups, self._open, parked)

    def forget_final_orders(self, before: float, max_ended: int | None = None) -> int:
        """The sweep of ended orders (engine/memory.py): the orders that ended since the last sweep
        are kept in compact form (`EndedOrder`); those that ended before `before` are dropped from
        the lookups by order id and by ClOrdID, and when more than `max_ended` ended orders are
        still known, the oldest go too. Returns how many were forgotten. A forgotten order's
        ClOrdIDs may be used again, and a cancel or replace naming it gets UNKNOWN_ORDER instead
        of TOO_LATE_TO_CANCEL (behaviour.md "Order memory"). Without it a long-running simulator
        keeps every order it ever saw (the market maker alone makes about 160,000 an hour).

        Each step costs what changed since the last sweep plus the orders still working: the
        dicts are in insertion order, so a scan for old entries stops at the first newer one."""
        accounts = list(self._ledger.accounts.values())
        self.compact_ended()
        self._expiry.prune()
        gone = self._forget(before, accounts)
        if max_ended is not None:
            excess = len(self._orders) - len(self._open) - max_ended  # every order not resting has ended
            if excess > 0:
                gone += self._forget(oldest_ended_time(self._orders, excess), accounts)
        return gone

    def _forget(self, before: float, accounts: list) -> int:
        gone = ended_before(self._orders, before)
        for acct in accounts:
            ended_before(acct.clids, before)
        return gone

    # --- pauses (spec 10 §2, §3) -------------------------------------------------------

    def set_pause(self, pause: Pause | None, now: float) -> list[Event]:
        """Enter a pause (or change its kind), or leave it with None. Entering cancels every
        resting order entered with CancelOrderOnPause=Y, in time priority (spec 10 §3, spec 02
        §9 #18); the others stay and trade again after the pause."""
        was = self.paused
        self.paused = pause
        if pause is None or pause is was:
            return []
        orders = sorted((o for o in self._open.values() if o.cancel_on_pause), key=lambda o: o.priority)
        return self._cancel_all(orders, pause.cancel_reason, now)

    # --- market close and settlement (spec 05 §2; settlement.py) ----------------------

    def resume_exec_ids(self, clocks: dict[int, int]) -> None:
        """Continue ExecIDs above ones issued before a restart (spec 02 §8.2: increasing per index).
        Order and trade ids get a fresh prefix derived from that state: the same seed would
        otherwise reissue the OrderIDs the kept history (drop copy) already holds."""
        for index, top in clocks.items():
            self._eids.clocks[index] = max(self._eids.clocks.get(index, 0), top)
        if clocks:
            self._ids = self._ids.fork(repr(sorted(self._eids.clocks.items())))

    def close_market(self, ticker: str, now: float) -> list[Event] | SettleReject:
        """Market -> CLOSED and its resting orders cancelled (CancelReason.CLOSE)."""
        return settlement.close_market(self, ticker, now)

    def settle_market(self, ticker: str, result: str, price: object, now: float) -> Settlement | SettleReject:
        """Close if open, pay the net positions, market -> SETTLED (settlement.settle_market)."""
        return settlement.settle_market(self, ticker, result, price, now)

    # --- invariants -------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Books, money, and the indexes agree (raises BookError/LedgerError/InvariantError)."""
        for book in self._books.values():
            book.check_invariants()
        self._ledger.check_invariants()
        in_books = sum(book.order_count() for book in self._books.values())
        if in_books != len(self._open):
            raise InvariantError(f"{in_books} orders in books, {len(self._open)} open")
        reserved: dict[str, int] = {name: 0 for name in self._ledger.accounts}
        counts: dict[str, int] = {name: 0 for name in self._ledger.accounts}
        for oid, order in self._open.items():
            if order not in self._books[order.symbol]:
                raise InvariantError(f"open order not in its book: {order}")
            if order.status not in _OPEN or self._orders.get(oid) is not order:
                raise InvariantError(f"bad open order {order}")
            unit = self.collateral_unit(order.symbol, order.side, order.price)
            if order.reserved != order.leaves * unit:
                raise InvariantError(f"order reserves {order.reserved}, expected {order.leaves} x {unit}")
            reserved[order.account] += order.reserved
            counts[order.account] += 1
            if order.session is not None and self._by_session[order.session].get(oid) is not order:
                raise InvariantError(f"open order missing from its session index: {order}")
            if order.order_group is not None and self._groups.orders.get(order.order_group, {}).get(oid) is not order:
                raise InvariantError(f"open order missing from its group: {order}")
        for name, acct in self._ledger.accounts.items():
            if acct.reserved != reserved[name]:
                raise InvariantError(f"{name}: reserved {acct.reserved} != open orders' {reserved[name]}")
            if acct.open_count != counts[name]:
                raise InvariantError(f"{name}: open_count {acct.open_count} != {counts[name]}")
        for session, orders in self._by_session.items():
            for oid, order in orders.items():
                if self._open.get(oid) is not order or order.session != session:
                    raise InvariantError(f"session index holds a closed order: {order}")
        for gid, orders in self._groups.orders.items():
            group = self._groups.groups[gid]
            for oid, order in orders.items():
                if self._open.get(oid) is not order or order.order_group != gid:
                    raise InvariantError(f"group index holds a closed order: {order}")
            if group.state is GroupState.TRIGGERED and orders:
                raise InvariantError(f"triggered group {gid} still has resting orders")
