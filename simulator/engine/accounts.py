"""Balances, collateral, positions and fees (spec 02 §1, §13). Money in micro-dollars.

Collateral (spec 02 §1: prediction orders are fully cash-collateralised): an order reserves,
per hundredth of a contract still working, `unit(side, price)` micro-dollars:
- its cost: a BUY at p costs p, a SELL at p (= buying NO at 1 - p) costs 1 - p
  (pips x hundredths = micro-dollars, so the cost of a hundredth in µ$ is the price in pips);
- plus the worst-case fee of a hundredth: max(taker, maker rate) x the largest p(1 - p) the
  order can trade at, rounded UP to $0.0001 per hundredth. Because a fill's fee is rounded up
  per fill (ceil(q x) <= q ceil(x)) and a taker trades at its limit or better, releasing
  q x unit on a fill of q always covers what the fill charges: a fill can never take the
  balance below the collateral still reserved, nor below zero.

A fill at price p for q: the YES buyer pays p q, the YES seller (NO buyer) pays (1 - p) q, so
$1 per contract goes into escrow and each side now holds q contracts. When a fill reduces an
opposite position, the pairs (1 YES + 1 NO held by the same owner) are redeemed at once for $1
each, so positions are net YES per (account, subaccount, ticker) (negative = net NO).
Fills are applied by the matcher (matching.py, inlined on its hot path).

Conservation (checked by `check_invariants`): cash only moves between balances, the escrow of
open pairs and the fees the exchange collected:
    sum(balances) + fees_collected + escrow == sum(deposits)
where escrow = $1 x the YES contracts held = $1 x the NO contracts held, per market.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from .memory import KeyLog
from .types import ONE_DOLLAR

__all__ = ["FeeSchedule", "Account", "Ledger", "LedgerError", "fee_for", "PAIR_PAYOUT", "MAX_SUBACCOUNT",
           "FEE_QUANTUM"]

MAX_SUBACCOUNT = 63              # AllocAccount 0-63 (spec 02 §5.6)
PAIR_PAYOUT = ONE_DOLLAR         # µ$ paid for one hundredth of a YES+NO pair ($0.01): 10,000
_PAIR_DENOM = 1_000_000          # rate x qty x p x (1e4 - p) / 1e6 = fee in units of $0.0001
_FEE_QUANTUM = FEE_QUANTUM = 100  # $0.0001 in micro-dollars


class LedgerError(AssertionError):
    """A broken money invariant: always our bug."""


@dataclass(frozen=True)
class FeeSchedule:
    """Fee per fill = rate x contracts x p x (1 - p) dollars, rounded UP to $0.0001.

    Simplified from spec 02 §13: each fill is rounded up on its own; there is no per-order
    rounding accumulator refunding whole cents. Default: no fees (spec 02 §13, inferred)."""
    taker_rate: Decimal = Decimal(0)
    maker_rate: Decimal = Decimal(0)


def fee_for(rate: Fraction, qty: int, price: int) -> int:
    """Micro-dollars for a fill of `qty` hundredths at `price` pips, rounded up to $0.0001."""
    if not rate:
        return 0
    num = rate.numerator * qty * price * (ONE_DOLLAR - price)
    den = rate.denominator * _PAIR_DENOM
    return -(-num // den) * _FEE_QUANTUM


class Account:
    __slots__ = ("name", "balance", "reserved", "deposited", "open_count", "clids", "positions")

    def __init__(self, name: str, balance: int) -> None:
        self.name = name
        self.balance = balance          # µ$ cash, including what open orders reserve
        self.reserved = 0               # µ$ held for open orders (sum of their `reserved`)
        self.deposited = balance
        self.open_count = 0             # resting orders
        self.clids: dict = KeyLog()     # ClOrdID -> the order that last carried it (spec 02 §12; memory.py)
        self.positions: dict[tuple[int, str], int] = {}  # (subaccount, ticker) -> net YES hundredths

    @property
    def available(self) -> int:
        return self.balance - self.reserved


@functools.lru_cache(maxsize=16)
def _unit_tables(worst: Fraction) -> tuple[list[int], list[int]]:
    half = ONE_DOLLAR // 2
    buy_unit = [0] * (ONE_DOLLAR + 1)
    sell_unit = [0] * (ONE_DOLLAR + 1)
    for p in range(ONE_DOLLAR + 1):
        # a BUY trades at p or lower, a SELL at p or higher: the largest p(1-p) reachable
        buy_unit[p] = p + fee_for(worst, 1, min(p, half))
        sell_unit[p] = (ONE_DOLLAR - p) + fee_for(worst, 1, max(p, half))
    return buy_unit, sell_unit


class Ledger:
    """The accounts of one exchange, the fee schedule and the exchange's collected fees."""

    def __init__(self, fees: FeeSchedule | None = None) -> None:
        self.fees = fees or FeeSchedule()
        self.taker_rate = Fraction(self.fees.taker_rate)
        self.maker_rate = Fraction(self.fees.maker_rate)
        if self.taker_rate < 0 or self.maker_rate < 0:
            raise ValueError("fee rates must be >= 0")
        # the matcher's integer form of fee_for: fee = ceil(num x q x p x (1e4 - p) / den) x $0.0001
        self.taker_num, self.taker_den = self.taker_rate.numerator, self.taker_rate.denominator * _PAIR_DENOM
        self.maker_num, self.maker_den = self.maker_rate.numerator, self.maker_rate.denominator * _PAIR_DENOM
        self.accounts: dict[str, Account] = {}
        self.fees_collected = 0
        # unit[side][price]: µ$ reserved per hundredth working (module docstring); read-only
        # tables shared by every ledger with the same worst rate (a reset rebuilds ledgers).
        self.buy_unit, self.sell_unit = _unit_tables(max(self.taker_rate, self.maker_rate))

    # --- setup ------------------------------------------------------------------------

    def add(self, name: str, balance: int) -> Account:
        if name in self.accounts:
            raise ValueError(f"account {name!r} exists")
        if balance < 0:
            raise ValueError("balance must be >= 0")
        account = self.accounts[name] = Account(name, balance)
        return account

    def deposit(self, name: str, amount: int) -> None:
        account = self.accounts[name]
        if account.balance + amount < account.reserved:
            raise ValueError("a withdrawal may not take the balance below the reserved collateral")
        account.balance += amount
        account.deposited += amount

    # --- collateral -------------------------------------------------------------------

    def unit(self, is_buy: bool, price: int) -> int:
        return self.buy_unit[price] if is_buy else self.sell_unit[price]

    # --- invariants -------------------------------------------------------------------

    def escrow(self) -> int:
        """µ$ held for open YES/NO pairs: $1 x YES contracts = $1 x NO contracts, per market."""
        longs: dict[str, int] = {}
        shorts: dict[str, int] = {}
        for account in self.accounts.values():
            for (_, ticker), net in account.positions.items():
                if net > 0:
                    longs[ticker] = longs.get(ticker, 0) + net
                else:
                    shorts[ticker] = shorts.get(ticker, 0) - net
        if longs != shorts:
            raise LedgerError(f"YES held != NO held per market: {longs} vs {shorts}")
        return sum(longs.values()) * PAIR_PAYOUT

    def check_invariants(self) -> None:
        """balance >= reserved >= 0 everywhere; money conserved (module docstring)."""
        for account in self.accounts.values():
            if not account.balance >= account.reserved >= 0:
                raise LedgerError(f"{account.name}: balance {account.balance} reserved {account.reserved}")
            if account.open_count < 0:
                raise LedgerError(f"{account.name}: open_count {account.open_count}")
        deposits = sum(a.deposited for a in self.accounts.values())
        balances = sum(a.balance for a in self.accounts.values())
        escrow = self.escrow()
        if balances + self.fees_collected + escrow != deposits:
            raise LedgerError(f"money not conserved: balances {balances} + fees {self.fees_collected} + "
                              f"escrow {escrow} != deposits {deposits}")
