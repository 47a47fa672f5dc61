"""Field rules of the Kalshi dialect for what a client sends (sans-IO; used by dialect.py).

Each check returns None when the value is fine, else one line saying what the rule requires.
They reuse the simulator's own tables: the valid-price grids (engine/grid.py), the price and
quantity parsers of the gateway (gateway/reports.py) and its ClOrdID pattern
(gateway/order_entry.py), so the kit judges a client exactly as the venue would.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from kalshi_fixsim.fixproto.numbers import parse_int

from ..engine.grid import MARGIN_TICK, tick_at, valid_price
from ..engine.types import ONE_DOLLAR, PRICE_SCALE, QTY_SCALE
from ..gateway.order_entry import CLORDID_RE
from ..gateway.reports import parse_price, parse_qty

__all__ = ["MarketRules", "clordid_problem", "price_problem", "qty_problem", "exec_id_key", "UUID_RE",
           "TIF_VALUES", "MAX_ALLOC_ACCOUNT", "GROUP_LIMIT"]

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
TIF_VALUES = {"0": "Day", "1": "GTC", "3": "IOC", "4": "FOK", "6": "GTD"}  # spec 02 §4
MAX_ALLOC_ACCOUNT = 63          # spec 02 §5.6 (0 = primary)
GROUP_LIMIT = (1, 1_000_000)    # OrderGroupContractsLimit(20132), spec 03 §1
_EXEC_ID = re.compile(r"(\d{1,18});(\d{1,18})(?:;(\d{1,9}))?")  # spec 02 §8.2


@dataclass(frozen=True)
class MarketRules:
    """What the dialect needs to know of a market (control.markets() rows)."""
    ticker: str
    price_structure: str = "linear_cent"
    fractional: bool = False
    exchange_index: int = 0

    @classmethod
    def from_dict(cls, row: dict) -> "MarketRules":
        return cls(row["ticker"], row.get("price_structure") or "linear_cent", bool(row.get("fractional")),
                   int(row.get("exchange_index") or 0))

    @property
    def perp(self) -> bool:
        return self.price_structure == MARGIN_TICK


def clordid_problem(value: str) -> str | None:
    """spec 02 §3: at most 64 characters of letters, digits and _ - : + = /."""
    if CLORDID_RE.fullmatch(value):
        return None
    if not value:
        return "a ClOrdID of 1-64 characters"
    if len(value) > 64:
        return f"at most 64 characters (this one has {len(value)})"
    return "only letters, digits and _ - : + = / (regex ^[\\-\\w:+=/]*$)"


def _dollars(pips: int) -> str:
    return f"{pips // PRICE_SCALE}.{pips % PRICE_SCALE:04d}"


def price_problem(text: str, market: MarketRules | None, dollars: bool, product: str) -> str | None:
    """Units (UseDollars, spec 02 §2.1; margin spec 08 §3) and the market's grid (spec 02 §2.1)."""
    if product == "margin":
        pips = parse_price(text, True)
        if pips is None:
            return "fixed-point dollars with at most 4 decimals, e.g. 19.5000 (margin: spec 08 §3)"
        if pips <= 0:
            return "a price above 0 (margin tick 0.0001: spec 08 §3)"
        return None
    if not dollars:
        pips = parse_price(text, False)
        if pips is None:
            hint = " (this looks like dollars)" if "." in text else ""
            return (f"integer cents 1-99 on a cents session (UseDollars(21005) not Y at Logon){hint}; "
                    "sub-cent or dollar prices need UseDollars(21005)=Y")
        if not 0 < pips < ONE_DOLLAR:
            return "integer cents 1-99 on a cents session (UseDollars(21005) not Y at Logon); $0 and $1 are never valid"
        return None  # whole cents are valid in every structure (spec 02 §2.1)
    pips = parse_price(text, True)
    if pips is None:
        return "fixed-point dollars with at most 4 decimals on a UseDollars(21005)=Y session, e.g. 0.4200"
    if not 0 < pips < ONE_DOLLAR:
        hint = " (this looks like cents)" if pips >= ONE_DOLLAR and "." not in text else ""
        return f"dollars between 0 and 1 exclusive on a UseDollars(21005)=Y session, e.g. 0.4200{hint}"
    if market is not None and not market.perp:
        try:
            ok = valid_price(market.price_structure, pips)
        except ValueError:
            return None  # a structure this kit does not know: the venue's call
        if not ok:
            step = tick_at(market.price_structure, pips)
            return (f"a price on the grid of {market.ticker} ({market.price_structure}: step "
                    f"{_dollars(step)} at {_dollars(pips)})")
    return None


def qty_problem(text: str, market: MarketRules | None, product: str) -> str | None:
    """spec 02 §2.2: > 0, steps of 0.01 where the market trades fractions, else whole; margin whole."""
    hundredths = parse_qty(text)
    if hundredths is None:
        return "a decimal quantity with at most 2 decimals (granularity 0.01)"
    if hundredths <= 0:
        return "a quantity above 0"
    whole = product == "margin" or (market is not None and not market.fractional)
    if whole and hundredths % QTY_SCALE:
        where = "margin (spec 08 §3)" if product == "margin" else f"{market.ticker}, which has no fractional trading"
        return f"a whole number of contracts on {where}"
    return None


def exec_id_key(text: str) -> tuple[int, int, int] | None:
    """ExecID `clock;event[;index]` -> (index, clock, event), or None (spec 02 §8.2, 04 §3)."""
    m = _EXEC_ID.fullmatch(text or "")
    if m is None:
        return None
    return (int(m.group(3) or 0), int(m.group(1)), int(m.group(2)))


def small_int(text: str | None, lo: int, hi: int) -> int | None:
    return parse_int(text, lo, hi) if text is not None else None
