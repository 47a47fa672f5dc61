"""The margin (perps) product's engine: `PerpExchange`, an Exchange with a margin model.

Differences from prediction (spec 08 §3), all in this module:
- prices are any positive number of pips (the $0.0001 grid) with no upper bound;
- price banding: a new bid must be >= min(0.8 x best bid, best bid - 1,000 ticks), a new ask
  <= max(1.2 x best ask, best ask + 1,000 ticks), relative to the best resting price of the
  order's own side; an empty side has no band; resting orders are never cancelled when the
  band moves. New orders outside: Rejected INVALID_ORDER (103=11, spec 08 §3 recommendation);
  amends outside: CxlReject INVALID_PRICE (102=99). For an amend the band is taken from the
  other orders of its side (the order being amended does not band itself);
- positions are net long (+) / short (-) contracts per (subaccount, ticker); LongQty/ShortQty
  report them; there are no YES/NO pairs, no settlement and no fees (the perps fee schedule is
  out of FIX scope);
- initial margin model (documented, configurable per market: `Market.margin_rate`, else the
  exchange's `margin_rate`, default 0.10):
  * an order reserves ceil(rate x price) µ$ per hundredth still working (price x qty = notional);
  * an open position holds ceil(rate x |cost basis|) µ$ of position margin, cost basis being
    the entry notional of the position still open (average cost), at its market's rate;
  * available = balance - reserved - position margin; an order (or amend growth) needing more
    is refused INSUFFICIENT_BALANCE (103=3 / 102=99). Every order needs margin, even one
    that would reduce a position (conservative, simple);
  * closing (part of) a position credits realised P&L to the balance at once:
    long: exit notional - basis removed; short: basis removed - exit notional; the basis
    removed is the average-cost share (basis x closed / |net|, exact when the position ends).
  There is no mark-to-market, funding or liquidation (spec 08 §3: out of FIX scope), so a
  realised loss can take a balance below its reserved margin (or below zero).

Invariants (`check_invariants`, on top of the books/index checks of Exchange):
  per market, the net positions of all accounts sum to zero;
  sum(balances) - sum(cost bases) + fees == sum(deposits)   (cash-flow conservation: a fill
  at p for q moves p x q from the buyer's "full cash" to the seller's; realising P&L only moves
  money between the balance and the basis);
  each account's position margin == sum over its positions of ceil(rate x |basis|) at the
  position's market rate, reserved >= 0.
"""
from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

from . import grid
from .accounts import Account, Ledger, LedgerError
from .book import Book
from .exchange import Exchange
from .settlement import SettleReject
from .types import (STP, CancelReason, Event, Fill, Market, MarketStatus, Order, OrderRequest, OrderStatus,
                    Reject, Side, TimeInForce, Traded)

__all__ = ["PerpExchange", "PerpLedger", "PerpAccount", "DEFAULT_MARGIN_RATE", "BAND_TICKS", "in_band"]

DEFAULT_MARGIN_RATE = Decimal("0.10")
BAND_TICKS = 1_000  # spec 08 §3: 1,000 ticks of $0.0001 = 1,000 pips
_BUY = Side.BUY
_FILLED = OrderStatus.FILLED
_PARTIAL = OrderStatus.PARTIALLY_FILLED
_INACTIVE = (MarketStatus.INITIALIZED, MarketStatus.HALTED)
_new = object.__new__
_setattr = object.__setattr__


def _rate(value: Decimal | str) -> Fraction:
    rate = Fraction(Decimal(value))
    if not 0 < rate <= 1:
        raise ValueError(f"margin_rate must be in (0, 1], got {value}")
    return rate


def in_band(side: Side, price: int, best: int | None) -> bool:
    """spec 08 §3, exact in integers: bid >= min(0.8 b, b - 1000), ask <= max(1.2 a, a + 1000)."""
    if best is None:
        return True
    if side is _BUY:
        return 5 * price >= 4 * best or price >= best - BAND_TICKS
    return 5 * price <= 6 * best or price <= best + BAND_TICKS


class PerpAccount(Account):
    __slots__ = ("basis", "margin")

    def __init__(self, name: str, balance: int) -> None:
        super().__init__(name, balance)
        self.basis: dict[tuple[int, str], int] = {}  # signed entry notional µ$ (long +, short -)
        self.margin = 0                              # µ$ position margin held

    @property
    def available(self) -> int:
        return self.balance - self.reserved - self.margin


class _MarginUnits:
    """unit[price] = ceil(rate x price) µ$ per hundredth: the Ledger's unit tables, computed."""
    __slots__ = ("num", "den")

    def __init__(self, rate: Fraction) -> None:
        self.num, self.den = rate.numerator, rate.denominator

    def __getitem__(self, price: int) -> int:
        return -(-price * self.num // self.den)


class PerpLedger(Ledger):
    def __init__(self, rate: Fraction) -> None:
        super().__init__(None)  # no fees on margin
        self.rate = rate                         # the default for markets without their own
        self.rates: dict[str, Fraction] = {}     # ticker -> initial-margin rate

    def units(self, ticker: str) -> _MarginUnits:
        """The market's unit table (PerpExchange.add_market sets the rate)."""
        return _MarginUnits(self.rates[ticker])

    def unit(self, is_buy: bool, price: int) -> int:
        raise TypeError("margin collateral depends on the market: use Exchange.collateral_unit")

    def add(self, name: str, balance: int) -> Account:
        if name in self.accounts:
            raise ValueError(f"account {name!r} exists")
        if balance < 0:
            raise ValueError("balance must be >= 0")
        account = self.accounts[name] = PerpAccount(name, balance)
        return account

    def position_margin(self, basis: int, ticker: str) -> int:
        rate = self.rates[ticker]
        return -(-abs(basis) * rate.numerator // rate.denominator)

    def deposit(self, name: str, amount: int) -> None:
        account = self.accounts[name]
        if amount < 0 and account.available + amount < 0:
            raise ValueError("a withdrawal may not take the balance below the margin in use")
        account.balance += amount
        account.deposited += amount

    def escrow(self) -> int:
        return 0

    def apply_fill(self, acct: PerpAccount, key: tuple[int, str], dq: int, price: int) -> tuple[int, int]:
        """Position change of `dq` hundredths (+ bought, - sold) at `price`: (balance change, new net)."""
        positions, bases = acct.positions, acct.basis
        net = positions.get(key, 0)
        basis = bases.get(key, 0)
        ticker = key[1]
        old_margin = self.position_margin(basis, ticker)
        change = 0
        size = abs(dq)
        sign = 1 if dq > 0 else -1
        if net and (net > 0) != (dq > 0):  # closing (part of) the position: realise P&L
            closed = min(size, abs(net))
            removed = basis * closed // abs(net)
            exit_notional = price * closed
            change = exit_notional - removed if net > 0 else -removed - exit_notional
            basis -= removed
            net += sign * closed
            size -= closed
        if size:  # opening or increasing (possibly flipping)
            basis += sign * price * size
            net += sign * size
        if net:
            positions[key] = net
            bases[key] = basis
        else:
            positions.pop(key, None)
            bases.pop(key, None)
            assert basis == 0
        acct.margin += self.position_margin(basis, ticker) - old_margin
        acct.balance += change
        return change, net

    def check_invariants(self) -> None:
        nets: dict[str, int] = {}
        bases = 0
        for account in self.accounts.values():
            if account.reserved < 0 or account.open_count < 0:
                raise LedgerError(f"{account.name}: reserved {account.reserved} open {account.open_count}")
            assert isinstance(account, PerpAccount)
            if set(account.positions) != set(account.basis):
                raise LedgerError(f"{account.name}: positions and bases disagree")
            margin = sum(self.position_margin(b, ticker) for (_, ticker), b in account.basis.items())
            if margin != account.margin:
                raise LedgerError(f"{account.name}: position margin {account.margin} != {margin}")
            for (_, ticker), net in account.positions.items():
                nets[ticker] = nets.get(ticker, 0) + net
            bases += sum(account.basis.values())
        unbalanced = {t: n for t, n in nets.items() if n}
        if unbalanced:
            raise LedgerError(f"net positions do not sum to zero: {unbalanced}")
        deposits = sum(a.deposited for a in self.accounts.values())
        balances = sum(a.balance for a in self.accounts.values())
        if balances - bases + self.fees_collected != deposits:
            raise LedgerError(f"money not conserved: balances {balances} - bases {bases} + fees "
                              f"{self.fees_collected} != deposits {deposits}")


class PerpExchange(Exchange):
    """The margin product's exchange (module docstring)."""
    product = "margin"

    def __init__(self, *, rng: random.Random, margin_rate: Decimal | str = DEFAULT_MARGIN_RATE,
                 max_open_orders: int = 200_000, group_trigger_at_limit: bool = False) -> None:
        super().__init__(rng=rng, max_open_orders=max_open_orders, group_trigger_at_limit=group_trigger_at_limit)
        self.margin_rate = _rate(margin_rate)
        self._ledger = PerpLedger(self.margin_rate)

    def add_market(self, market: Market) -> None:
        if market.ticker in self._markets:
            raise ValueError(f"market {market.ticker!r} exists")
        # Every market of the margin exchange is a perp: a prediction grid given here is
        # replaced by the $0.0001 grid (spec 08 §3), so the market reports itself as a perp.
        market.price_structure = grid.MARGIN_TICK
        if market.fractional or market.exchange_index:
            raise ValueError("margin markets trade whole contracts on exchange index 0 (spec 08 §3)")
        rate = self.margin_rate if market.margin_rate is None else _rate(market.margin_rate)
        self._markets[market.ticker] = market
        self._books[market.ticker] = Book(market.ticker)
        ledger: PerpLedger = self._ledger  # type: ignore[assignment]
        ledger.rates[market.ticker] = rate
        units = ledger.units(market.ticker)
        self._units[market.ticker] = (units, units)  # buy and sell hold the same margin

    def market_margin_rate(self, ticker: str) -> Fraction:
        """The initial-margin rate of a market (its own, or the exchange's default)."""
        return self._ledger.rates[ticker]  # type: ignore[attr-defined]

    def position_margin(self, name: str) -> int:
        """µ$ of margin the account's open positions hold."""
        return self._ledger.accounts[name].margin  # type: ignore[attr-defined]

    def cost_basis(self, name: str, ticker: str, subaccount: int = 0) -> int:
        """Signed entry notional µ$ of the open position (long +, short -)."""
        return self._ledger.accounts[name].basis.get((subaccount, ticker), 0)  # type: ignore[attr-defined]

    def band(self, ticker: str, side: Side, exclude: Order | None = None) -> int | None:
        """The best resting price of `side` (the band's anchor), ignoring `exclude`."""
        for order in self._books[ticker].resting(side):
            if order is not exclude:
                return order.price
        return None

    # --- validation -------------------------------------------------------------------

    def _check(self, req: OrderRequest, acct: Account | None) -> Reject | None:
        if self.paused is not None:
            return self.paused.reject
        if acct is None or not 0 <= req.subaccount <= 63:
            return Reject.CUSTOMER_ACCOUNT_NOT_FOUND
        market = self._markets.get(req.symbol)
        if market is None:
            return Reject.MARKET_NOT_FOUND
        if market.status is not MarketStatus.OPEN:
            return Reject.MARKET_INACTIVE if market.status in _INACTIVE else Reject.MARKET_ALREADY_CLOSED
        if req.qty <= 0 or req.qty % 100:  # spec 08 §3: whole contracts only
            return Reject.INCORRECT_QUANTITY
        if not grid.valid_margin_price(req.price):
            return Reject.INVALID_PRICE
        if req.max_cost is not None:  # spec 08 §3: MaxExecutionCost is not a margin field
            return Reject.INVALID_ORDER
        if req.expire_time is None and req.tif is TimeInForce.GTD:
            return Reject.INVALID_ORDER
        if not in_band(req.side, req.price, self.band(req.symbol, req.side)):  # spec 08 §3
            return Reject.INVALID_ORDER
        reason = self._entry_checks(req, acct)
        if reason is not None:
            return reason
        if self._units[req.symbol][0][req.price] * req.qty > acct.available:  # initial margin
            return Reject.INSUFFICIENT_BALANCE
        return None

    def _amend_price_ok(self, order: Order, side: Side, new_price: int) -> bool:
        return grid.valid_margin_price(new_price) and (
            new_price == order.price or in_band(side, new_price, self.band(order.symbol, side, exclude=order)))

    def settle_market(self, ticker: str, result: str, price: object, now: float):  # type: ignore[override]
        """Perpetuals never settle (spec 08 §1: no settlement on margin)."""
        return SettleReject.INVALID_RESULT if ticker in self._markets else SettleReject.MARKET_NOT_FOUND

    # --- matching ---------------------------------------------------------------------

    def _match(self, order: Order, market: Market, book: Book, now: float, events: list[Event],
               rested: bool) -> None:
        """MatchingMixin._match with the perps fill accounting (PerpLedger.apply_fill)."""
        ledger: PerpLedger = self._ledger  # type: ignore[assignment]
        accounts = ledger.accounts
        groups = self._groups
        eid = self._eids.next
        index = market.exchange_index
        ticker = order.symbol
        acct = accounts[order.account]
        is_buy = order.side is _BUY
        if is_buy:
            levels, keys, sign = book.asks, book.ask_keys, -1
        else:
            levels, keys, sign = book.bids, book.bid_keys, 1
        units = self._units[ticker][0]
        limit = order.price
        tunit = units[limit]
        tgroup = groups.groups.get(order.order_group) if order.order_group is not None else None
        triggered = False
        while keys:
            price = sign * keys[-1]
            if (price > limit) if is_buy else (price < limit):
                break
            level = levels[price]
            maker = next(iter(level.orders.values()))
            if maker.account == order.account:  # self-trade prevention (spec 02 §5.2)
                if order.stp is STP.MAKER:
                    self._cancel_resting(maker, CancelReason.STP_MAKER, now, events)
                    continue
                self._end(order, CancelReason.STP_TAKER, now, events)
                break
            q = min(order.leaves, maker.leaves)
            trade_id = self._ids()
            notional = price * q
            # taker
            release = q * tunit
            order.reserved -= release
            acct.reserved -= release
            order.leaves -= q
            order.cum += q
            order.notional += notional
            order.status = _PARTIAL if order.leaves else _FILLED
            order.updated = now
            change, net = ledger.apply_fill(acct, (order.subaccount, ticker), q if is_buy else -q, price)
            events.append(self._traded(order, trade_id, price, q, True, change, net, eid(index), now, rested))
            # maker
            macct = accounts[maker.account]
            release = q * units[maker.price]
            maker.reserved -= release
            macct.reserved -= release
            maker.leaves -= q
            maker.cum += q
            maker.notional += notional
            maker.updated = now
            level.qty -= q
            if maker.leaves:
                maker.status = _PARTIAL
            else:
                maker.status = _FILLED
                level.orders.popitem(last=False)
                if not level.orders:
                    del levels[price]
                    keys.pop()
                self._unregister(maker)
            change, net = ledger.apply_fill(macct, (maker.subaccount, ticker), -q if is_buy else q, price)
            events.append(self._traded(maker, trade_id, price, q, False, change, net, eid(index), now, True))
            if maker.order_group is not None:  # spec 03 §1
                mgroup = groups.groups.get(maker.order_group)
                if mgroup is not None and groups.add_fill(mgroup, q, now):
                    self._trigger(mgroup, now, events)
            if tgroup is not None and groups.add_fill(tgroup, q, now):
                triggered = True
                break
            if not order.leaves:
                break
        if triggered:
            if order.leaves:
                self._end(order, CancelReason.ORDER_GROUP, now, events)
            self._trigger(tgroup, now, events)

    @staticmethod
    def _traded(order: Order, trade_id: str, price: int, q: int, aggressor: bool, change: int, net: int,
                exec_id: str, now: float, rested: bool) -> Traded:
        snap = _new(Order)
        snap.__dict__ = order.__dict__.copy()
        fill = _new(Fill)
        _setattr(fill, "__dict__", {"trade_id": trade_id, "price": price, "qty": q, "aggressor": aggressor,
                                    "fee": 0, "balance_change": change, "long_qty": net if net > 0 else 0,
                                    "short_qty": -net if net < 0 else 0})
        ev = _new(Traded)
        ev.__dict__ = {"order": snap, "exec_id": exec_id, "time": now, "fill": fill, "rested": rested}
        return ev

