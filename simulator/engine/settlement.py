"""Market close and settlement (spec 05 §2, spec 02 §4 CloseCancel, §9 #16). FIX-free.

`close_market`: the market goes CLOSED and every resting order in it is cancelled with
`CancelReason.CLOSE` (an expiry-style system cancel: the gateway renders it 4/4, or C/C
with UseExpiredOrdStatus), which releases its collateral.

`settle_market`: closes first if needed, then pays every non-zero net position per
(account, subaccount): a YES holder gets price/100 dollars per contract, a NO holder
(100 - price)/100. The exact value of a hundredth of a contract at a price in pips is
`qty x pips` micro-dollars; the payout is that value rounded DOWN to whole cents and the
sub-cent remainder is charged as a settlement fee, so payout + fee = exact value (spec 05 §2).
Positions are removed and the market goes SETTLED.

Money (accounts.py): every open YES/NO pair holds $1 in escrow. Over one market the YES
contracts held equal the NO contracts held (Q), so the values paid out sum to
Q x p + Q x (1 - p) = Q x $1: settlement moves the market's escrow to balances (payouts)
and fees (remainders) exactly, and `Ledger.check_invariants` keeps holding.

Business refusals (unknown market, settled twice, bad result or price) are returned as
`SettleReject` codes, never raised.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from .types import ONE_DOLLAR, CancelReason, Event, MarketStatus

if TYPE_CHECKING:  # pragma: no cover
    from .exchange import Exchange

__all__ = ["Settlement", "SettlementEntry", "SettleReject", "RESULTS", "CENT", "close_market", "settle_market",
           "check_settlement", "settlement_price", "settlement_value"]

RESULTS = ("yes", "no", "scalar")  # MarketResult(20107), lower case (spec 05 §3)
CENT = 10_000                      # µ$ in one cent: payouts are whole cents (spec 05 §2)
_PIPS_PER_CENT = 100
_DONE = (MarketStatus.CLOSED, MarketStatus.SETTLED)


class SettleReject(enum.Enum):
    """Why a close or settlement was refused: value = (code, text)."""
    MARKET_NOT_FOUND = ("MARKET_NOT_FOUND", "no market with this ticker")
    MARKET_ALREADY_SETTLED = ("MARKET_ALREADY_SETTLED", "the market has already been settled")
    INVALID_RESULT = ("INVALID_RESULT", "result must be yes, no or scalar")
    INVALID_PRICE = ("INVALID_PRICE", "settlement price must be 100 for yes, 0 for no, and 0..100 cents with "
                                      "at most 2 decimals for scalar")

    @property
    def code(self) -> str:
        return self.value[0]

    @property
    def text(self) -> str:
        return self.value[1]


@dataclass(frozen=True)
class SettlementEntry:
    """One (account, subaccount)'s settled net position. Quantities in hundredths, money in µ$."""
    account: str
    subaccount: int
    long_qty: int    # YES contracts held (LongQty 704)
    short_qty: int   # NO contracts held (ShortQty 705)
    payout: int      # whole cents, credited to the balance (CollateralAmountChange 1704)
    fee: int         # the sub-cent remainder (MiscFeeAmt 137); payout + fee = exact value

    @property
    def value(self) -> int:
        return self.payout + self.fee


@dataclass
class Settlement:
    """What a settlement did: entries sorted by (account, subaccount); zero positions omitted."""
    ticker: str
    result: str                 # "yes" | "no" | "scalar"
    price: Decimal              # cents, 2 decimals (SettlementPrice 730)
    entries: list[SettlementEntry] = field(default_factory=list)
    cancels: list[Event] = field(default_factory=list)  # close cancels, if the market was still open
    time: float = 0.0

    @property
    def total_payout(self) -> int:
        return sum(e.payout for e in self.entries)

    @property
    def total_fee(self) -> int:
        return sum(e.fee for e in self.entries)


# --- validation ---------------------------------------------------------------------------

def settlement_price(result: str, price: object) -> Decimal | SettleReject:
    """The settlement price in cents for a result (yes -> 100, no -> 0, scalar -> `price`).

    For yes/no `price` may be None or the implied value; scalar needs 0..100 with at most
    2 decimals (spec 05 §3: 730 has 2 decimals)."""
    if result not in RESULTS:
        return SettleReject.INVALID_RESULT
    implied = {"yes": Decimal(100), "no": Decimal(0)}.get(result)
    if price is None:
        return implied.quantize(Decimal("0.01")) if implied is not None else SettleReject.INVALID_PRICE
    try:
        value = Decimal(str(price))
    except (InvalidOperation, ValueError):
        return SettleReject.INVALID_PRICE
    if not value.is_finite() or not 0 <= value <= 100 or value != value.quantize(Decimal("0.01")):
        return SettleReject.INVALID_PRICE
    if implied is not None and value != implied:
        return SettleReject.INVALID_PRICE
    return value.quantize(Decimal("0.01"))


def check_settlement(ex: "Exchange", ticker: str, result: str, price: object) -> SettleReject | None:
    """None when `settle_market` with these arguments would succeed (nothing is changed)."""
    market = ex.market(ticker)
    if market is None:
        return SettleReject.MARKET_NOT_FOUND
    if market.status is MarketStatus.SETTLED:
        return SettleReject.MARKET_ALREADY_SETTLED
    priced = settlement_price(result, price)
    return priced if isinstance(priced, SettleReject) else None


def settlement_value(net: int, pips: int) -> tuple[int, int]:
    """(payout, fee) in µ$ for a net YES position of `net` hundredths (negative = NO) settling
    at `pips`: YES gets pips per hundredth, NO gets (1 - price); payout rounded down to whole
    cents, the remainder is the fee (spec 05 §2)."""
    exact = net * pips if net > 0 else -net * (ONE_DOLLAR - pips)
    payout = exact // CENT * CENT
    return payout, exact - payout


# --- close and settle ---------------------------------------------------------------------

def close_market(ex: "Exchange", ticker: str, now: float) -> list[Event] | SettleReject:
    """Market -> CLOSED; Canceled(CLOSE) for each of its resting orders, in time priority.
    A market already closed or settled is left as it is (no events)."""
    market = ex.market(ticker)
    if market is None:
        return SettleReject.MARKET_NOT_FOUND
    if market.status in _DONE:
        return []
    market.status = MarketStatus.CLOSED
    resting = sorted((o for o in ex._open.values() if o.symbol == ticker), key=lambda o: o.priority)
    return ex._cancel_all(resting, CancelReason.CLOSE, now)


def settle_market(ex: "Exchange", ticker: str, result: str, price: object, now: float) -> Settlement | SettleReject:
    """Close (if open), pay every non-zero net position of the market, remove the positions
    and mark the market SETTLED. Returns the Settlement, or a code with nothing changed."""
    problem = check_settlement(ex, ticker, result, price)
    if problem is not None:
        return problem
    cents = settlement_price(result, price)
    assert isinstance(cents, Decimal)
    pips = int(cents * _PIPS_PER_CENT)
    cancels = close_market(ex, ticker, now)
    assert isinstance(cancels, list)
    ledger = ex._ledger
    entries: list[SettlementEntry] = []
    fees = 0
    for name in sorted(ledger.accounts):
        account = ledger.accounts[name]
        held = sorted((sub, net) for (sub, t), net in account.positions.items() if t == ticker and net)
        for sub, net in held:
            payout, fee = settlement_value(net, pips)
            del account.positions[(sub, ticker)]
            account.balance += payout
            fees += fee
            entries.append(SettlementEntry(name, sub, net if net > 0 else 0, -net if net < 0 else 0, payout, fee))
    ledger.fees_collected += fees
    ex.market(ticker).status = MarketStatus.SETTLED
    return Settlement(ticker, result, cents, entries, cancels, now)
