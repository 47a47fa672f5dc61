"""KalshiNR / KalshiRT order entry: D, F, G, q (spec 02) translated to engine calls.

Field-form problems the session layer cannot see (ClOrdID characters, enum values) get a
session Reject (spec 09 §1); business refusals are ExecutionReport rejects (spec 02 §8.5)
or OrderCancelRejects (spec 02 §10); listener sessions get BusinessMessageReject 380=6.
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from kalshi_fixsim.fixproto.codec import FixMessage, parse_utc
from kalshi_fixsim.fixproto.fields import BusinessRejectReason as BRR, SessionRejectReason as SRR
from kalshi_fixsim.fixproto.numbers import parse_int

from ..engine.types import (MONEY_SCALE, STP, CxlReject, Event, Order, OrderRequest, OrderStatus, Reject, Rejected,
                            Side, TimeInForce)
from . import HANDLERS, Connection, business_reject
from .reports import pending_report, parse_price, parse_qty

__all__ = ["on_new_order", "on_cancel", "on_replace", "on_mass_cancel", "CLORDID_RE"]

CLORDID_RE = re.compile(r"[A-Za-z0-9_\-:+=/]{1,64}")  # spec 02 §3
_TIF = {t.value: t for t in TimeInForce}
MASS_CANCEL_INTERVAL = 1.0  # seconds; spec 02 §11: at most one request per second


def _field_problem(conn: Connection, msg: FixMessage) -> bool:
    """Session-level checks of values the dictionary types cannot express. True if rejected."""
    cl = msg.get(11) or ""
    if not CLORDID_RE.fullmatch(cl):
        conn.reject(msg, SRR.VALUE_IS_INCORRECT,
                    "ClOrdID(11) must be 1-64 characters of letters, digits and _ - : + = /", 11)
        return True
    if msg.get(54) not in ("1", "2"):
        text = ("Side(54) must be 1 (buy) or 2 (sell)" if conn.product == "margin"  # spec 08 §3
                else "Side(54) must be 1 (buy YES) or 2 (sell YES / buy NO)")
        conn.reject(msg, SRR.VALUE_IS_INCORRECT, text, 54)
        return True
    tif = msg.get(59)
    if tif is not None and tif not in _TIF:
        conn.reject(msg, SRR.VALUE_IS_INCORRECT, "TimeInForce(59) must be 0, 1, 3, 4 or 6", 59)
        return True
    stp = msg.get(2964)
    if stp is not None and stp not in ("1", "2"):
        conn.reject(msg, SRR.VALUE_IS_INCORRECT, "SelfTradePreventionType(2964) must be 1 or 2", 2964)
        return True
    return False


def _listener_refused(conn: Connection, msg: FixMessage) -> bool:
    if conn.listener:  # spec 01 §9: listener sessions are read-only
        business_reject(conn, msg, BRR.NOT_AUTHORIZED, "Not authorized: listener sessions are read-only")
        return True
    return False


def _subaccount(msg: FixMessage) -> int:
    value = msg.get(79)
    number = parse_int(value)
    return number if number is not None else 0


def _party(msg: FixMessage) -> str | None:
    return msg.get(448)


def _route_problem(conn: Connection, msg: FixMessage) -> Reject | None:
    """ExDestination(100): -1/absent routes by Symbol; an index must be the market's (spec 00 §6)."""
    dest = msg.get(100)
    if dest is None or dest == "-1":
        return None
    market = conn.venue.exchange.market(msg.get(55) or "")
    if market is None or parse_int(dest, 0) != market.exchange_index:
        return Reject.MARKET_NOT_FOUND
    return None


def _rejected(conn: Connection, msg: FixMessage, reason: Reject, side: Side, now: float) -> Rejected:
    """A Rejected event for a NewOrderSingle refused before it reached the engine."""
    order = Order(order_id="", account=conn.user, client_order_id=msg.get(11) or "", symbol=msg.get(55) or "",
                  side=side, price=parse_price(msg.get(44) or "", conn.flags.dollars) or 0, qty=0, original_qty=0,
                  tif=_TIF.get(msg.get(59) or "1", TimeInForce.GTC), leaves=0, status=OrderStatus.REJECTED,
                  subaccount=_subaccount(msg), party_id=_party(msg), session=conn.session_id)
    return Rejected(order, time=now, reason=reason)


_SIDE = {"1": Side.BUY, "2": Side.SELL}  # Side(54) after _field_problem: one of these
_STP = {None: STP.TAKER_AT_CROSS, "1": STP.TAKER_AT_CROSS, "2": STP.MAKER}  # 2964 absent, 1 or 2
# The NewOrderSingle fields most orders do not carry: QuoteID, ExpireTime, MaxExecutionCost,
# ExDestination, the party, AllocAccount, ExecInst, STP, CancelOrderOnPause, order groups.
_OPTIONAL = frozenset({117, 126, 21009, 100, 448, 452, 79, 18, 2964, 21006, 526, 20130})


def on_new_order(conn: Connection, msg: FixMessage) -> None:
    # The hot path (issue 16): one straight line, each field read once with dict look-ups (the
    # message is its own tag -> value dict); an order without any optional field (one C-level
    # set test) skips reading them. The checks and their order are the documented ones (spec
    # 02 §8.5, behaviour.md).
    if conn.listener:
        _listener_refused(conn, msg)
        return
    if _field_problem(conn, msg):
        return
    get = msg.get
    plain = _OPTIONAL.isdisjoint(msg)
    if not plain and get(117) is not None:
        business_reject(conn, msg, BRR.APPLICATION_NOT_AVAILABLE,
                        "Application not available: RFQ quote acceptance by NewOrderSingle(117) is not handled yet")
        return
    now = conn.now()
    side = _SIDE[msg[54]]
    flags = conn.flags
    price = parse_price(get(44) or "", flags.dollars)
    qty = parse_qty(get(38) or "")
    tif = _TIF[get(59) or "1"]  # absent TimeInForce = GTC (behaviour.md)
    expire = max_cost = max_cost_text = problem = None
    if not plain:
        text = get(126)
        expire = parse_utc(text) if text else None
        max_cost_text = get(21009)
        max_cost = _dollars_to_micros(max_cost_text) if max_cost_text is not None else None
        dest = get(100)
        problem = None if dest is None or dest == "-1" else _route_problem(conn, msg)
    text = get(60)
    if problem is None and text and (sent_at := parse_utc(text)) is not None and now - sent_at > conn.stale_after:
        problem = Reject.STALE_ORDER  # an order that waited too long on its way in (spec 08: "Stale order")
    if problem is None:
        if get(40) != "2":
            problem = Reject.INVALID_ORDER  # only limit orders exist (spec 02 §1)
        elif price is None:
            problem = Reject.INVALID_PRICE
        elif qty is None or qty <= 0:
            problem = Reject.INCORRECT_QUANTITY
        elif max_cost_text is not None and (max_cost is None or max_cost <= 0):
            problem = Reject.INVALID_ORDER
        elif not plain and get(448) is not None and get(452) != "24":
            problem = Reject.CUSTOMER_ACCOUNT_NOT_FOUND
    if problem is not None:
        conn.venue.dispatch([_rejected(conn, msg, problem, side, now)])
        return
    if plain:  # every optional field at its default
        request = OrderRequest(account=conn.user, client_order_id=msg[11], symbol=get(55) or "", side=side,
                               price=price, qty=qty, tif=tif, session=conn.session_id)
    else:
        text = get(79)
        exec_inst = get(18)
        request = OrderRequest(
            account=conn.user, client_order_id=msg[11], symbol=get(55) or "", side=side, price=price, qty=qty,
            tif=tif, expire_time=expire, post_only=exec_inst is not None and "6" in exec_inst.split(),
            stp=_STP[get(2964)], max_cost=max_cost, cancel_on_pause=get(21006) == "Y",
            order_group=get(526) or get(20130), subaccount=0 if text is None else _subaccount(msg),
            party_id=get(448), session=conn.session_id)
    venue = conn.venue
    events = venue.exchange.new_order(request, now)
    prefix = None
    if not flags.skip_pending and events and not isinstance(events[0], Rejected):
        prefix = {conn: [pending_report(events[0].order, "A", flags, now,
                                        exchange_index=venue.exchange_index(request.symbol))]}
    venue.dispatch(events, prefix)


def _dollars_to_micros(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        value = Decimal(text) * MONEY_SCALE
    except (InvalidOperation, ValueError):
        return None
    return int(value) if value.is_finite() and value == value.to_integral_value() else None


def cancel_reject(conn: Connection, msg: FixMessage, reason: CxlReject, response_to: str) -> None:
    """OrderCancelReject (35=9, spec 02 §10): the order, if any, is unchanged."""
    order = conn.venue.exchange.order_by_client_id(conn.user, msg.get(41) or "")
    code = reason.code
    if conn.product == "margin" and code == CxlReject.ORDER_ALREADY_EXISTS.code:
        code = 99  # spec 08 §3: the margin CxlRejReason table has no 6 (Duplicate ClOrdID)
    conn.send("9", [(37, order.order_id if order else "NONE"), (11, msg.get(11) or ""), (41, msg.get(41) or ""),
                    (39, _ord_status(order)), (434, response_to), (102, code), (58, reason.text)])


def _ord_status(order: Order | None) -> str:
    if order is None:
        return "8"
    if order.status.final:
        return order.status.value
    return "1" if order.cum else "0"


def _pending_prefix(conn: Connection, msg: FixMessage, exec_type: str, now: float) -> dict | None:
    """Pending Cancel/Replace (6/E) for the requesting session unless 21011=Y (spec 01 §10)."""
    if conn.flags.skip_pending:
        return None
    order = conn.venue.exchange.order_by_client_id(conn.user, msg.get(41) or "")
    if order is None or order.status.final:  # an ended order gets an OrderCancelReject, no Pending report
        return None
    body = pending_report(order, exec_type, conn.flags, now, cl=msg.get(11), orig_cl=msg.get(41),
                          exchange_index=conn.venue.exchange_index(order.symbol))
    return {conn: [body]}


def on_cancel(conn: Connection, msg: FixMessage) -> None:
    if _listener_refused(conn, msg) or _field_problem(conn, msg):
        return
    now = conn.now()
    if _route_problem(conn, msg) is not None:
        cancel_reject(conn, msg, CxlReject.MARKET_NOT_FOUND, "1")
        return
    prefix = _pending_prefix(conn, msg, "6", now)
    result = conn.venue.exchange.cancel_order(
        conn.user, msg.get(41) or "", msg[11], side=Side(int(msg[54])), symbol=msg.get(55) or "",
        order_id=msg.get(37), subaccount=_subaccount(msg), party_id=_party(msg), now=now)
    if isinstance(result, CxlReject):
        cancel_reject(conn, msg, result, "1")
        return
    conn.venue.dispatch(result, prefix)


def on_replace(conn: Connection, msg: FixMessage) -> None:
    if _listener_refused(conn, msg) or _field_problem(conn, msg):
        return
    now = conn.now()
    flags = conn.flags
    if _route_problem(conn, msg) is not None:
        cancel_reject(conn, msg, CxlReject.MARKET_NOT_FOUND, "2")
        return
    qty = parse_qty(msg.get(38) or "")
    price = parse_price(msg[44], flags.dollars) if msg.get(44) is not None else None
    if msg.get(40) != "2" or (msg.get(44) is not None and price is None):
        cancel_reject(conn, msg, CxlReject.INVALID_PRICE, "2")
        return
    if qty is None or qty <= 0:
        cancel_reject(conn, msg, CxlReject.INVALID_AMEND_QTY, "2")
        return
    prefix = _pending_prefix(conn, msg, "E", now)
    result = conn.venue.exchange.replace_order(
        conn.user, msg.get(41) or "", msg[11], qty=qty, price=price, side=Side(int(msg[54])),
        symbol=msg.get(55) or "", order_id=msg.get(37), subaccount=_subaccount(msg), party_id=_party(msg), now=now)
    if isinstance(result, CxlReject):
        cancel_reject(conn, msg, result, "2")
        return
    conn.venue.dispatch(result, prefix)


def on_mass_cancel(conn: Connection, msg: FixMessage) -> None:
    """OrderMassCancelRequest on KalshiNR: the session's orders on every shard (spec 02 §11)."""
    if _listener_refused(conn, msg):
        return
    now = conn.now()
    cl = msg.get(11) or ""
    if msg.get(530) != "6":
        # 35=r has no Text in the dictionary (spec 12 §3): 532=0 "not supported" says it.
        conn.send("r", [(11, cl), (37, "NONE"), (531, "0"), (532, 0)])
        return
    last = conn.venue.last_mass_cancel.get(conn.user)
    if last is not None and now - last < MASS_CANCEL_INTERVAL:
        business_reject(conn, msg, BRR.RATE_LIMIT_EXCEEDED,
                        "Rate limit exceeded: at most one OrderMassCancelRequest per second")
        return
    conn.venue.last_mass_cancel[conn.user] = now
    events: list[Event] = conn.venue.exchange.mass_cancel(conn.user, conn.session_id, now)
    conn.send("r", [(11, cl), (37, conn.venue.next_id("MC")), (531, "6")])
    conn.venue.dispatch(events)


for _code in ("NR", "RT"):
    HANDLERS[(_code, "D")] = on_new_order
    HANDLERS[(_code, "F")] = on_cancel
    HANDLERS[(_code, "G")] = on_replace
HANDLERS[("NR", "q")] = on_mass_cancel
