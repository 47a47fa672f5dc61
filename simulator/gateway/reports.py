"""Engine events -> ExecutionReport bodies (encoded bytes, as codec.RawBody), rendered for one session's Logon flags.

Price and quantity units (spec 02 §2), report sequences (spec 02 §9) and the Logon flags
that change them (spec 01 §2.2: 21005, 21007, 21008, 21011, 21012, 21026) live here, so
the engine never sees FIX and each receiving session gets its own rendering.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable
from decimal import Decimal, InvalidOperation

from kalshi_fixsim.fixproto.codec import body_pairs, format_utc
from kalshi_fixsim.fixproto.kalshi import LogonOptions

from ..engine.types import (PRICE_SCALE, QTY_SCALE, Accepted, Canceled, CancelReason, Event, Order, Reject,
                            Rejected, Replaced, Traded, TimeInForce)

__all__ = ["ReportFlags", "render_events", "pending_report", "format_qty", "format_price", "parse_price",
           "parse_qty", "money", "PENDING_EXEC_ID"]

PENDING_EXEC_ID = "-1;-1"  # pending and rejected reports (spec 01 §10, spec 02 §8.2)
Body = list[tuple[int, object]]


@dataclass(frozen=True)
class ReportFlags:
    """What a receiving session asked for at Logon."""
    dollars: bool = False              # 21005 (margin: always)
    skip_pending: bool = False         # 21011
    ioc_cancel_report: bool = False    # 21007
    preserve_qty: bool = False         # 21008
    expired_status: bool = False       # 21012
    new_before_trade: bool = False     # 21026
    require_transact_time: bool = True
    stale_code: int = 8                # OrdRejReason "Stale order": 8 prediction, 5 margin (spec 08)

    @classmethod
    def from_options(cls, opts: LogonOptions, product: str) -> "ReportFlags":
        return cls(dollars=product == "margin" or bool(opts.use_dollars),
                   skip_pending=bool(opts.skip_pending_exec_reports),
                   ioc_cancel_report=bool(opts.enable_ioc_cancel_report),
                   preserve_qty=bool(opts.preserve_original_order_qty),
                   expired_status=bool(opts.use_expired_ord_status),
                   new_before_trade=bool(opts.always_emit_new_before_trade),
                   stale_code=5 if product == "margin" else 8)


# --- units --------------------------------------------------------------------------------

def format_qty(hundredths: int) -> str:
    """Quantities with two decimals (spec 01 §1.3, since v1.0.18)."""
    sign = "-" if hundredths < 0 else ""
    q = abs(hundredths)
    return f"{sign}{q // QTY_SCALE}.{q % QTY_SCALE:02d}"


def format_price(pips: int, dollars: bool) -> str:
    """YES price: fixed-point dollars (4 decimals) or integer cents (decimal cents if sub-cent)."""
    if dollars:
        return f"{pips // PRICE_SCALE}.{pips % PRICE_SCALE:04d}"
    cents, rest = divmod(pips, 100)
    return str(cents) if rest == 0 else f"{cents}.{rest:02d}".rstrip("0")


def parse_price(text: str, dollars: bool) -> int | None:
    """Price text -> pips; None when not representable (more than 4 dollar decimals,
    or not whole cents on a cents session: spec 02 §2.1)."""
    if text.isdigit() and text.isascii() and len(text) <= 18:  # whole cents or dollars: no Decimal needed
        return int(text) * (PRICE_SCALE if dollars else 100)
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    pips = value * (PRICE_SCALE if dollars else 100)
    if not value.is_finite() or pips != pips.to_integral_value():
        return None
    if not dollars and value != value.to_integral_value():
        return None
    return int(pips)


def parse_qty(text: str) -> int | None:
    """Quantity text -> hundredths; None if finer than 0.01 (spec 02 §2.2)."""
    if text.isdigit() and text.isascii() and len(text) <= 18:  # whole contracts: no Decimal needed
        return int(text) * QTY_SCALE
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    q = value * QTY_SCALE
    if not value.is_finite() or q != q.to_integral_value():
        return None
    return int(q)


def money(micros: int) -> str:
    """Micro-dollars -> dollars with 4 decimals (fees and balance changes, spec 02 §8.1).
    Amounts are multiples of $0.0001 except collateral of sub-cent fills, rounded half away."""
    sign = "-" if micros < 0 else ""
    pips = (abs(micros) + 50) // 100
    return f"{sign}{pips // 10_000}.{pips % 10_000:04d}"


# The texts of quantities, prices and amounts, kept once made: reports repeat a few values
# (0.00, 1.00, the order's price) and a lookup costs a fifth of formatting again (issue 16).
# Bounded: once full, new values are formatted each time.
_TEXT_MAX = 4096
_QTY_TEXT: dict[int, str] = {}
_PRICE_TEXT: tuple[dict[int, str], dict[int, str]] = ({}, {})  # [dollars]: cents, dollars sessions
_MONEY_TEXT: dict[int, str] = {}


def _qty(hundredths: int) -> str:
    text = format_qty(hundredths)
    if len(_QTY_TEXT) < _TEXT_MAX:
        _QTY_TEXT[hundredths] = text
    return text


def _price(pips: int, dollars: bool) -> str:
    text = format_price(pips, dollars)
    cache = _PRICE_TEXT[dollars]
    if len(cache) < _TEXT_MAX:
        cache[pips] = text
    return text


def _money(micros: int) -> str:
    text = money(micros)
    if len(_MONEY_TEXT) < _TEXT_MAX:
        _MONEY_TEXT[micros] = text
    return text


# --- reports ------------------------------------------------------------------------------

def _report(order: Order, exec_id: str, exec_type: str, status: str, flags: ReportFlags, now: float, *,
            leaves: int | None = None, text: str = "", orig_cl: str | None = None, cl: str | None = None,
            trade: Traded | None = None, rej_reason: int | None = None, exchange_index: int = 0) -> bytes:
    """One ExecutionReport body in dictionary order (spec 02 §8.1), encoded once (issue 16): the
    session frames these bytes as they are and the drop-copy history keeps the same object.

    Built as text in a few f-strings, not as (tag, value) pairs encoded one by one: every value
    is a str or an int, so the text is what `codec.encode` makes of the pairs (ints as %d, text
    as latin-1); a value outside latin-1 takes the codec's per-value rule (`_encoded`)."""
    leaves = order.leaves if leaves is None else leaves
    cum = order.cum
    qty = order.qty if flags.preserve_qty else cum + leaves
    dollars = flags.dollars
    q, p = _QTY_TEXT.get, _PRICE_TEXT[dollars].get  # `q(x) or _qty(x)`: the kept text, else made
    avg = order.avg_price
    parts = [f"37={order.order_id or 'NONE'}\x0111={cl or order.client_order_id}\x0117={exec_id}\x01"
             f"150={exec_type}\x0139={status}\x0154={int(order.side)}\x0155={order.symbol}\x01"
             f"151={q(leaves) or _qty(leaves)}\x0114={q(cum) or _qty(cum)}\x01"
             f"6={p(avg) or _price(avg, dollars)}\x0138={q(qty) or _qty(qty)}\x01"]
    if trade is not None:
        fill = trade.fill
        parts.append(f"31={p(fill.price) or _price(fill.price, dollars)}\x0132={q(fill.qty) or _qty(fill.qty)}\x01")
    if rej_reason is not None:
        parts.append(f"103={int(rej_reason)}\x01")
    if orig_cl:
        parts.append(f"41={orig_cl}\x01")
    parts.append(f"44={p(order.price) or _price(order.price, dollars)}\x0160={format_utc(now)}\x01")
    if text:
        parts.append(f"58={text}\x01")
    if order.expire_time is not None and order.tif in (TimeInForce.DAY, TimeInForce.GTD):
        parts.append(f"126={format_utc(order.expire_time)}\x01")
    m = _MONEY_TEXT.get
    if trade is not None:
        parts.append(f"136=1\x01137={m(fill.fee) or _money(fill.fee)}\x01138=USD\x01139=4\x01891=0\x01")
    if order.party_id:
        parts.append(f"453=1\x01448={order.party_id}\x01452=24\x01")
    if order.subaccount:
        parts.append(f"79={int(order.subaccount)}\x01")
    if trade is not None:
        parts.append(f"704={q(fill.long_qty) or _qty(fill.long_qty)}\x01705={q(fill.short_qty) or _qty(fill.short_qty)}"
                     f"\x011703=1\x011704={m(fill.balance_change) or _money(fill.balance_change)}\x011705=BALANCE\x01"
                     f"880={fill.trade_id}\x011057={'Y' if fill.aggressor else 'N'}\x01")
    parts.append(f"2964={int(order.stp)}\x0130={exchange_index}\x01")
    text_body = "".join(parts)
    try:
        return text_body.encode("latin-1")
    except UnicodeEncodeError:
        return _encoded(parts)


def _encoded(parts: list[str]) -> bytes:
    """codec.encode's rule for text outside latin-1: that value in UTF-8. Every field of a part
    ends in SOH and its tag is ASCII, so encoding field by field applies the rule per value."""
    out = []
    for part in parts:
        for field in part.split("\x01")[:-1]:
            try:
                out.append(field.encode("latin-1") + b"\x01")
            except UnicodeEncodeError:
                out.append(field.encode("utf-8") + b"\x01")
    return b"".join(out)


def _ended_by_trade(body: bytes) -> bytes:
    """A Trade report whose order an IOC cancel ended (spec 02 §9 #6 without 21007): 39=4, 151=0."""
    # body_pairs decodes latin-1: each value is encoded back byte for byte
    return b"".join(b"%d=%s\x01" % (t, b"4" if t == 39 else b"0.00" if t == 151 else v.encode("latin-1"))
                    for t, v in body_pairs(body))


_NEVER_RESTS = frozenset({CancelReason.IOC, CancelReason.FOK, CancelReason.MAX_COST, CancelReason.POST_ONLY})


def _status(order: Order) -> str:
    if order.status.final:
        return order.status.value
    return "1" if order.cum else "0"


def pending_report(order: Order, exec_type: str, flags: ReportFlags, now: float, *, cl: str | None = None,
                   orig_cl: str | None = None, exchange_index: int = 0, rej_reason: int | None = None,
                   text: str = "") -> bytes:
    """Pending New/Replace/Cancel (A, E, 6) with ExecID -1;-1 (spec 01 §10); with `rej_reason`
    and `text`, a reject (150=8) laid out the same way."""
    return _report(order, PENDING_EXEC_ID, exec_type, exec_type, flags, now, cl=cl, orig_cl=orig_cl,
                   exchange_index=exchange_index, rej_reason=rej_reason, text=text)


def render_events(events: list[Event], flags: ReportFlags,
                  index_of: Callable[[str], int] = lambda symbol: 0) -> list[bytes]:
    """The ExecutionReports one session receives for a batch of engine events (spec 02 §9).
    `index_of(symbol)` is the exchange index of the market (LastMkt, spec 00 §6)."""
    traded_orders: set[str] = set()
    # Orders that end in this batch without ever resting (IOC/FOK/MaxExecutionCost/post-only):
    # their only report is the cancel (spec 02 §9 #7-#9).
    never_rested: set[str] = set()
    for ev in events:
        if isinstance(ev, Traded):
            traded_orders.add(ev.order.order_id)
        elif isinstance(ev, Canceled) and ev.reason in _NEVER_RESTS:
            never_rested.add(ev.order.order_id)
    out: list[bytes] = []
    last_trade_of: dict[str, int] = {}  # order id -> index in `out` of its last Trade report
    symbol, exchange_index = None, 0  # the batch's market, looked up again only when it changes
    for ev in events:
        order, now = ev.order, ev.time
        if order.symbol != symbol:
            symbol = order.symbol
            exchange_index = index_of(symbol)
        if isinstance(ev, Accepted):
            # spec 02 §9 #2/#3: the first Trade doubles as the ack unless 21026=Y.
            if order.order_id in traded_orders and not flags.new_before_trade:
                continue
            if order.order_id in never_rested and order.order_id not in traded_orders:
                continue
            out.append(_report(order, ev.exec_id, "0", "0", flags, now, leaves=order.leaves,
                               exchange_index=exchange_index))
        elif isinstance(ev, Traded):
            last_trade_of[order.order_id] = len(out)
            out.append(_report(order, ev.exec_id, "F", _status(order), flags, now, trade=ev,
                               exchange_index=exchange_index))
        elif isinstance(ev, Canceled):
            if ev.reason is CancelReason.IOC and order.cum and not flags.ioc_cancel_report \
                    and order.order_id in last_trade_of:
                # spec 02 §9 #6 without 21007: no cancel report; the last Trade shows the end.
                idx = last_trade_of[order.order_id]
                out[idx] = _ended_by_trade(out[idx])
                continue
            expired = ev.reason.expiry_style and flags.expired_status
            code = "C" if expired else "4"
            out.append(_report(order, ev.exec_id, code, code, flags, now, leaves=0, text=ev.reason.text,
                               cl=ev.request_id or order.client_order_id, orig_cl=ev.orig_client_order_id,
                               exchange_index=exchange_index))
        elif isinstance(ev, Replaced):
            out.append(_report(order, ev.exec_id, "5", _status(order), flags, now,
                               orig_cl=ev.orig_client_order_id, exchange_index=exchange_index))
        elif isinstance(ev, Rejected):
            out.append(_report(order, PENDING_EXEC_ID, "8", "8", flags, now, leaves=0, text=ev.reason.text,
                               rej_reason=flags.stale_code if ev.reason is Reject.STALE_ORDER else ev.reason.code,
                               exchange_index=exchange_index))
    return out

