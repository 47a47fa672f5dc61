"""Typed helpers for Kalshi order entry (spec 02, 03): request bodies and report views.

    fix.send("D", new_order("o-1", "KXTEST-26JAN01", "buy", 55, 10))
    report = ExecutionReport(await fix.expect("8"))
    report.exec_type, report.ord_status, report.cum_qty ...

Prices are given in the session's units: integer cents by default, dollars with
UseDollars=Y or on margin (spec 02 §2.1). Quantities may be Decimal or str (0.01 steps).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Union

from kalshi_fixsim.fixproto.codec import FixMessage

__all__ = ["new_order", "cancel_order", "replace_order", "mass_cancel", "order_group", "ExecutionReport",
           "CancelReject", "SIDES"]

Number = Union[int, str, Decimal]
SIDES = {"buy": 1, "sell": 2, "yes": 1, "no": 2, 1: 1, 2: 2}  # sell YES == buy NO (spec 02 §1)
_TIF = {"day": "0", "gtc": "1", "ioc": "3", "fok": "4", "gtd": "6"}
Body = list[tuple[int, object]]


def _num(value: Number) -> str:
    return format(Decimal(str(value)), "f")


def _side(side) -> int:
    try:
        return SIDES[side.lower() if isinstance(side, str) else side]
    except KeyError:
        raise ValueError(f"side must be buy/sell (yes/no) or 1/2, not {side!r}") from None


def new_order(cl_ord_id: str, symbol: str, side, price: Number, qty: Number, *, tif: str | None = None,
              expire_time: str | None = None, post_only: bool = False, stp: int | None = None,
              max_cost: Number | None = None, cancel_on_pause: bool | None = None, order_group: str | None = None,
              subaccount: int | None = None, ex_destination: int | None = None, party_id: str | None = None) -> Body:
    """NewOrderSingle (35=D) body in dictionary order (spec 02 §3)."""
    body: Body = [(11, cl_ord_id)]
    if post_only:
        body.append((18, "6"))
    body += [(38, _num(qty)), (40, "2"), (44, _num(price)), (54, _side(side)), (55, symbol)]
    if ex_destination is not None:
        body.append((100, ex_destination))
    if tif is not None:
        body.append((59, _TIF.get(tif.lower(), tif)))
    if expire_time is not None:
        body.append((126, expire_time))
    if stp is not None:
        body.append((2964, stp))
    if party_id is not None:
        body += [(453, 1), (448, party_id), (452, 24)]
    if order_group is not None:
        body.append((526, order_group))
    if cancel_on_pause is not None:
        body.append((21006, "Y" if cancel_on_pause else "N"))
    if max_cost is not None:
        body.append((21009, _num(max_cost)))
    if subaccount is not None:
        body.append((79, subaccount))
    return body


def cancel_order(cl_ord_id: str, orig_cl_ord_id: str, symbol: str, side, *, order_id: str | None = None,
                 subaccount: int | None = None) -> Body:
    """OrderCancelRequest (35=F), spec 02 §7."""
    body: Body = [(11, cl_ord_id)]
    if order_id is not None:
        body.append((37, order_id))
    body += [(41, orig_cl_ord_id), (54, _side(side)), (55, symbol)]
    if subaccount is not None:
        body.append((79, subaccount))
    return body


def replace_order(cl_ord_id: str, orig_cl_ord_id: str, symbol: str, side, qty: Number, *,
                  price: Number | None = None, order_id: str | None = None, subaccount: int | None = None) -> Body:
    """OrderCancelReplaceRequest (35=G), spec 02 §6: qty is the new total (filled + remaining)."""
    body: Body = [(11, cl_ord_id)]
    if order_id is not None:
        body.append((37, order_id))
    body += [(41, orig_cl_ord_id), (38, _num(qty)), (40, "2")]
    if price is not None:
        body.append((44, _num(price)))
    body += [(54, _side(side)), (55, symbol)]
    if subaccount is not None:
        body.append((79, subaccount))
    return body


def mass_cancel(cl_ord_id: str) -> Body:
    """OrderMassCancelRequest (35=q): cancel the session's orders (spec 02 §11)."""
    return [(11, cl_ord_id), (530, "6")]


def order_group(action: str, *, group_id: str | None = None, limit: int | None = None,
                subaccount: int | None = None) -> Body:
    """OrderGroupRequest (35=UOG), spec 03 §2: action create/reset/delete/trigger/update."""
    codes = {"create": 1, "reset": 2, "delete": 3, "trigger": 4, "update": 5}
    body: Body = [(20131, codes[action])]
    if limit is not None:
        body.append((20132, limit))
    if group_id is not None:
        body.append((20130, group_id))
    if subaccount is not None:
        body.append((79, subaccount))
    return body


def _dec(msg: FixMessage, tag: int) -> Decimal | None:
    value = msg.get(tag)
    return Decimal(value) if value not in (None, "") else None


@dataclass(frozen=True)
class ExecutionReport:
    """A read-only view of 35=8 with decimals parsed (spec 02 §8.1)."""
    msg: FixMessage

    @property
    def order_id(self) -> str: return self.msg.get(37) or ""
    @property
    def cl_ord_id(self) -> str: return self.msg.get(11) or ""
    @property
    def orig_cl_ord_id(self) -> str | None: return self.msg.get(41)
    @property
    def exec_id(self) -> str: return self.msg.get(17) or ""
    @property
    def exec_type(self) -> str: return self.msg.get(150) or ""
    @property
    def ord_status(self) -> str: return self.msg.get(39) or ""
    @property
    def symbol(self) -> str: return self.msg.get(55) or ""
    @property
    def side(self) -> int: return int(self.msg.get(54) or 0)
    @property
    def order_qty(self) -> Decimal | None: return _dec(self.msg, 38)
    @property
    def cum_qty(self) -> Decimal | None: return _dec(self.msg, 14)
    @property
    def leaves_qty(self) -> Decimal | None: return _dec(self.msg, 151)
    @property
    def price(self) -> Decimal | None: return _dec(self.msg, 44)
    @property
    def last_px(self) -> Decimal | None: return _dec(self.msg, 31)
    @property
    def last_qty(self) -> Decimal | None: return _dec(self.msg, 32)
    @property
    def avg_px(self) -> Decimal | None: return _dec(self.msg, 6)
    @property
    def fee(self) -> Decimal | None: return _dec(self.msg, 137)
    @property
    def balance_change(self) -> Decimal | None: return _dec(self.msg, 1704)
    @property
    def long_qty(self) -> Decimal | None: return _dec(self.msg, 704)
    @property
    def short_qty(self) -> Decimal | None: return _dec(self.msg, 705)
    @property
    def text(self) -> str | None: return self.msg.get(58)
    @property
    def ord_rej_reason(self) -> int | None:
        value = self.msg.get(103)
        return int(value) if value else None
    @property
    def trade_id(self) -> str | None: return self.msg.get(880)
    @property
    def aggressor(self) -> bool | None:
        value = self.msg.get(1057)
        return None if value is None else value == "Y"

    @property
    def kinds(self) -> tuple[str, str]:
        """(ExecType, OrdStatus): the pair the spec's report sequences are written in."""
        return self.exec_type, self.ord_status


@dataclass(frozen=True)
class CancelReject:
    """A read-only view of 35=9 (spec 02 §10)."""
    msg: FixMessage

    @property
    def reason(self) -> int | None:
        value = self.msg.get(102)
        return int(value) if value else None
    @property
    def text(self) -> str | None: return self.msg.get(58)
    @property
    def response_to(self) -> str | None: return self.msg.get(434)
    @property
    def ord_status(self) -> str | None: return self.msg.get(39)
