"""RFQ (spec 06), prediction only: creators on KalshiRT, makers on KalshiRFQ.

Creator → exchange (RT): QuoteRequest R, AcceptQuote UA, RFQCancel UE, and NewOrderSingle
with QuoteID(117) on NR/RT (spec 02 §5.7; this module wraps order_entry's D handler and
routes only D carrying 117 here). Maker → exchange (RFQ): Quote S, QuoteCancel Z,
QuoteConfirm U7. Exchange → creator: b, S (quote notifications), UC, UB, AG,
ExecutionReports; → makers: R broadcasts, AI, U9, U8, AG, and ExecutionReports of their
executed quotes on the RFQ session that sent the quote (and the account's listeners).

The state machine is engine/rfq.py (`RfqDesk`, one per venue in `venue.services["rfq"]`);
`tick(venue, now)` runs its timers (RFQ expiry, confirm window, execution timer) and is run
before every RFQ message, so a lapsed deadline is applied before the message is judged.
"""
from __future__ import annotations

import random
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from kalshi_fixsim.fixproto.codec import FixMessage
from kalshi_fixsim.fixproto.fields import BusinessRejectReason as BRR, SessionRejectReason as SRR
from kalshi_fixsim.fixproto.numbers import parse_int

from ..engine.rfq import (AcceptSpec, Leg, Notice, Quote, QuoteClosed, QuoteExecuted, QuoteSpec, QuoteState,
                          Refusal, Refuse, Rfq, RfqClosed, RfqDesk, RfqSpec, RfqStatus)
from ..engine.types import MONEY_SCALE, OrderStatus, Side, TimeInForce, Order
from . import HANDLERS, LIFECYCLE, Connection, business_reject, order_entry
from .order_entry import CLORDID_RE
from .reports import format_price, format_qty, money, parse_price, parse_qty, pending_report

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue

__all__ = ["RfqService", "service_for", "tick", "on_quote_request", "on_accept_quote", "on_rfq_cancel",
           "on_quote_order", "on_quote", "on_quote_cancel", "on_quote_confirm"]

_SERVICE = "rfq"
_ENTRY_TAGS = frozenset({55, 38, 152, 21015, 21016, 453, 448, 452})  # QuoteRequest's 146 entry (spec 06 §2.1)
# AG QuoteRequestRejectReason (spec 09 §5)
_AG_REASON = {Refuse.UNKNOWN_SYMBOL: 1, Refuse.TOO_MANY_RFQS: 3, Refuse.INSUFFICIENT_BALANCE: 11}
# OrdRejReason of a refused NewOrderSingle(117) (spec 02 §5.7, §8.5)
_ORD_REJ = {Refuse.EXPIRED: 8, Refuse.INVALID: 11, Refuse.INVALID_PRICE: 11, Refuse.INVALID_QUANTITY: 13,
            Refuse.INSUFFICIENT_BALANCE: 3, Refuse.MARKET_CLOSED: 2}
_DOCUMENTED = (Refuse.NOT_FOUND, Refuse.EXPIRED, Refuse.INSUFFICIENT_BALANCE)  # sent as the bare code


class RfqService:
    """venue.services["rfq"]: the desk and the live KalshiRFQ (maker) sessions."""

    def __init__(self, venue: "Venue", seed: object = 0) -> None:
        self.venue = venue
        self.desk = RfqDesk(venue.exchange, random.Random(f"{seed}/{venue.product}/rfq"))
        self.makers: dict[str, Connection] = {}  # session id -> live RFQ session

    def publish(self, notices: list[Notice]) -> None:
        """Tell creators and makers what the desk did (spec 06 §1, §2.8, §2.10)."""
        venue = self.venue
        for notice in notices:
            if isinstance(notice, QuoteExecuted):
                venue.dispatch(notice.events)
            elif isinstance(notice, QuoteClosed):
                self._quote_closed(notice)
            elif isinstance(notice, RfqClosed):
                rfq = notice.rfq
                if rfq.status in (RfqStatus.EXPIRED, RfqStatus.REPLACED):  # unsolicited UB 21013=2
                    sink = venue.origin(rfq.session)
                    if sink is not None:
                        sink.deliver("UB", [(131, rfq.client_id), (21013, 2), (58, notice.text), (21023, rfq.rfq_id)])
                for maker in list(self.makers.values()):  # AG: an RFQ was cancelled / closed
                    maker.send("AG", [(131, rfq.rfq_id), (658, 99), (58, notice.text)])

    def _quote_closed(self, notice: QuoteClosed) -> None:
        quote = notice.quote
        maker = self.makers.get(quote.session or "")
        if maker is not None and quote.state is not QuoteState.CLOSED:  # CLOSED: the AG says it
            text = {QuoteState.REPLACED: "REPLACED", QuoteState.VOIDED: "EXPIRED"}.get(quote.state)
            maker.send("AI", quote_status(self.desk, quote, 17, maker.flags.dollars, text=text))
        if notice.events:
            self.venue.dispatch(notice.events)  # the NewOrderSingle(117) order ends
        elif notice.was_accepted and quote.state is not QuoteState.CLOSED:
            sink = self.venue.origin(quote.accept_session)
            if sink is not None:  # the accepted quote is gone: unsolicited UC reject
                body: list = [(117, quote.quote_id), (21025, 1)]
                if quote.accept_client_id:
                    body.append((11, quote.accept_client_id))
                sink.deliver("UC", body + [(58, notice.text)])

    def broadcast(self, rfq: Rfq) -> None:
        """spec 06 §2.2: the server RFQ id, the market, the size, the creator's public id."""
        body: list = [(131, rfq.rfq_id), (146, 1), (55, rfq.symbol)]
        if rfq.qty is not None:
            body.append((38, format_qty(rfq.qty)))
        if rfq.cash is not None:
            body.append((152, money(rfq.cash)))
        body += [(453, 1), (448, self.desk.public_id(rfq.account))]
        if rfq.collection is not None:
            body += [(20180, rfq.collection), (20181, len(rfq.legs))]
            for leg in rfq.legs:
                body += [(20182, leg.event), (20183, leg.market), (20184, leg.side)]
        for maker in list(self.makers.values()):
            maker.send("R", body)


def service_for(venue: "Venue", seed: object = 0) -> RfqService:
    service = venue.services.get(_SERVICE)
    if service is None:
        service = venue.services[_SERVICE] = RfqService(venue, seed)
    return service  # type: ignore[return-value]


def _service(conn: Connection) -> RfqService:
    config = getattr(getattr(conn, "sim", None), "config", None)
    return service_for(conn.venue, getattr(config, "seed", 0))


def tick(venue: "Venue", now: float) -> float | None:
    """Run the RFQ timers due at `now` and send what they produce; the next deadline or None.
    Meant for Simulator.tick; tests call it with a chosen `now`."""
    service = venue.services.get(_SERVICE)
    if not isinstance(service, RfqService):
        return None
    service.publish(service.desk.expire(now))
    return service.desk.next_deadline()


def quote_status(desk: RfqDesk, quote: Quote, status: int, dollars: bool, *, text: str | None = None,
                 side: int | None = None) -> list:
    """QuoteStatusReport AI (spec 06 §2.5) in the maker session's price units."""
    rfq = desk.rfq(quote.rfq_id)
    body: list = [(117, quote.quote_id), (131, quote.rfq_id)]
    if quote.subaccount:
        body.append((79, quote.subaccount))
    body.append((297, status))
    if status == 0:
        body.append((38, format_qty(quote.qty)))
    elif rfq is not None and rfq.qty is not None:
        body.append((38, format_qty(rfq.qty)))
    if status == 10:
        body += [(t, format_price(p, dollars)) for t, p in ((132, quote.yes_price), (133, quote.no_price)) if p]
        body += [(t, format_qty(s)) for t, s, p in ((134, quote.yes_size, quote.yes_price),
                                                    (135, quote.no_size, quote.no_price)) if p]
    if side is not None:
        body.append((54, side))
    if text:
        body.append((58, text))
    return body


# --- sessions -----------------------------------------------------------------------------

class _Makers:
    """LIFECYCLE["RFQ"]: the maker sessions, which also receive their executions' reports."""

    def attached(self, conn: Connection) -> None:
        if conn.product != "prediction":
            return
        _service(conn).makers[conn.session_id] = conn
        conn.venue.attach(conn.session_id, conn.user, conn, listener=False)  # type: ignore[arg-type]

    def detached(self, conn: Connection) -> None:
        service = conn.venue.services.get(_SERVICE)
        if isinstance(service, RfqService) and service.makers.get(conn.session_id) is conn:
            del service.makers[conn.session_id]
        conn.venue.detach(conn.session_id, conn.user, conn)  # type: ignore[arg-type]


def _key(conn: Connection):
    return getattr(getattr(conn, "decision", None), "account", None)


def _refused(conn: Connection, msg: FixMessage, what: str, *, maker: bool = False) -> bool:
    """Listener sessions (spec 01 §9), read-only and sub-account-restricted keys (spec 00 §3.2)."""
    key = _key(conn)
    if conn.listener or getattr(key, "read_only", False):
        business_reject(conn, msg, BRR.NOT_AUTHORIZED, f"Not authorized: read-only sessions may not {what}")
        return True
    if not maker and getattr(key, "subaccount", None) is not None:
        business_reject(conn, msg, BRR.NOT_AUTHORIZED,
                        f"Not authorized: sub-account-restricted API keys may not {what} (maker lifecycle only)")
        return True
    return False


def _yes_no(conn: Connection, msg: FixMessage, tag: int, name: str) -> bool | None:
    value = msg.get(tag)
    if value is not None and value not in ("Y", "N"):
        conn.reject(msg, SRR.VALUE_IS_INCORRECT, f"{name}({tag}) must be Y or N", tag)
        return None
    return value == "Y"


def _int(text: str | None, default: int = 0) -> int | None:
    if text is None:
        return default
    return parse_int(text)


def _party_problem(msg: FixMessage) -> str | None:
    if msg.get(448) is not None and msg.get(452) != "24":
        return "PartyRole(452)=24 is required with PartyID(448)"
    return None


def _text(refusal: Refusal) -> str:
    return refusal.kind.value if refusal.kind in _DOCUMENTED else refusal.text


# --- creator: QuoteRequest R (spec 06 §2.1) ----------------------------------------------

def _ag(conn: Connection, msg: FixMessage, reason: int, text: str, refusal: Refusal | None = None) -> None:
    body: list = [(131, msg.get(131) or ""), (658, reason), (58, text)]
    if refusal is not None and refusal.mve_reason:
        body.append((20187, refusal.mve_reason))
        if refusal.offending:
            body.append((20185, len(refusal.offending)))
            body += [(20186, t) for t in refusal.offending]
    conn.send("AG", body)


def _entry_flags(msg: FixMessage) -> dict[int, str]:
    """21015/21016 count only inside the 146 entry; elsewhere they are ignored (spec 06 §2.1)."""
    out: dict[int, str] = {}
    inside = False
    for tag, value in msg.pairs:
        if tag == 146:
            inside = True
        elif inside:
            if tag not in _ENTRY_TAGS:
                break
            out.setdefault(tag, value)
    return out


def _legs(msg: FixMessage) -> tuple[Leg, ...]:
    legs: list[list[str]] = []
    for tag, value in msg.pairs:
        if tag == 20182:
            legs.append([value, "", ""])
        elif tag in (20183, 20184) and legs:
            legs[-1][tag - 20182] = value
    return tuple(Leg(*leg) for leg in legs)


def on_quote_request(conn: Connection, msg: FixMessage) -> None:
    if _refused(conn, msg, "create RFQs"):
        return
    flags = _entry_flags(msg)
    for tag, name in ((21015, "RestRemainder"), (21016, "ReplaceExisting")):
        if flags.get(tag, "N") not in ("Y", "N"):
            conn.reject(msg, SRR.VALUE_IS_INCORRECT, f"{name}({tag}) must be Y or N", tag)
            return
    service = _service(conn)
    now = conn.now()
    service.publish(service.desk.expire(now))
    qty = cash = None
    if msg.get(146) != "1":
        return _ag(conn, msg, 99, "INVALID_PARAMETERS: NoRelatedSym(146) must be 1")
    if msg.get(38) is not None:
        qty = parse_qty(msg[38])
        if qty is None:
            return _ag(conn, msg, 99, "INVALID_PARAMETERS: OrderQty(38) must be in steps of 0.01")
    if msg.get(152) is not None:
        cash = _micros(msg[152])
        if cash is None:
            return _ag(conn, msg, 99, "INVALID_PARAMETERS: CashOrderQty(152) must be dollars with at most 4 decimals")
    subaccount = _int(msg.get(79))
    problem = _party_problem(msg)
    if subaccount is None:
        problem = "AllocAccount(79) must be a sub-account number 0-63"
    legs = _legs(msg)
    if (msg.get(20180) is None) != (not legs):
        problem = "MultivariateCollectionTicker(20180) and its legs (20181) go together"
    if problem:
        return _ag(conn, msg, 99, f"INVALID_PARAMETERS: {problem}")
    spec = RfqSpec(conn.user, msg[131], symbol=msg.get(55), qty=qty, cash=cash, subaccount=subaccount,
                   party_id=msg.get(448), session=conn.session_id, rest_remainder=flags.get(21015) == "Y",
                   replace_existing=flags.get(21016) == "Y", collection=msg.get(20180), legs=legs)
    result = service.desk.create_rfq(spec, now)
    if isinstance(result, Refusal):
        return _ag(conn, msg, _AG_REASON.get(result.kind, 99), result.text, result)
    rfq, notices = result
    body: list = [(131, rfq.client_id), (303, 1), (21023, rfq.rfq_id)]
    if rfq.collection is not None:
        body.append((55, rfq.symbol))
    conn.send("b", body + [(100, conn.venue.exchange_index(rfq.symbol))])
    service.publish(notices)
    service.broadcast(rfq)


def _micros(text: str) -> int | None:
    try:
        value = Decimal(text) * MONEY_SCALE
    except (InvalidOperation, ValueError):
        return None
    return int(value) if value.is_finite() and value == value.to_integral_value() and value % 100 == 0 else None


# --- creator: AcceptQuote UA and NewOrderSingle(117) (spec 06 §2.9, spec 02 §5.7) ---------

def _notify_maker(service: RfqService, quote: Quote, side: int) -> None:
    maker = service.makers.get(quote.session or "")
    if maker is not None:  # spec 06 §2.5 (b): the maker must now confirm; 54 echoes the creator's Side
        maker.send("AI", quote_status(service.desk, quote, 0, maker.flags.dollars, side=side))


def on_accept_quote(conn: Connection, msg: FixMessage) -> None:
    if _refused(conn, msg, "accept quotes"):
        return
    if msg.get(54) not in ("1", "2"):
        conn.reject(msg, SRR.VALUE_IS_INCORRECT, "Side(54) must be 1 (buy YES: hits the NO price) or 2 "
                                                 "(buy NO: hits the YES price)", 54)
        return
    prefer = _yes_no(conn, msg, 21022, "PreferBetterQuote")
    if prefer is None:
        return
    service = _service(conn)
    now = conn.now()
    service.publish(service.desk.expire(now))

    def uc_reject(text: str) -> None:
        body: list = [(117, msg[117]), (21025, 1)]
        if msg.get(11):
            body.append((11, msg[11]))
        conn.send("UC", body + [(58, text)])

    qty = parse_qty(msg[38]) if msg.get(38) is not None else None
    if msg.get(38) is not None and (qty is None or qty <= 0):
        return uc_reject("INVALID_QUANTITY: OrderQty(38) must be more than 0, in steps of 0.01")
    problem = _party_problem(msg)
    if problem:
        return uc_reject(f"INVALID_PARAMETERS: {problem}")
    spec = AcceptSpec(conn.user, msg[117], Side(int(msg[54])), qty=qty, rfq_id=msg.get(21023),
                      client_id=msg.get(11), session=conn.session_id, party_id=msg.get(448), prefer_better=prefer)
    result = service.desk.accept_quote(spec, now)
    if isinstance(result, Refusal):
        return uc_reject(_text(result))
    quote, _events = result
    body = [(117, msg[117]), (21025, 0), (21024, quote.quote_id)]
    if msg.get(11):
        body.append((11, msg[11]))
    conn.send("UC", body)
    _notify_maker(service, quote, int(msg[54]))


def _order_reject(conn: Connection, msg: FixMessage, code: int, text: str, now: float) -> None:
    """ExecutionReport 150=8 for a refused NewOrderSingle(117), to the session and the account's
    listeners (rendered for each), recorded for drop copy like order_entry's rejects."""
    side = Side(int(msg[54]))
    venue = conn.venue
    sinks = [conn] + list(venue.listeners.get(conn.user, ()))
    for sink in sinks:
        price = parse_price(msg.get(44) or "", conn.flags.dollars) or 0
        order = Order(order_id="", account=conn.user, client_order_id=msg[11], symbol=msg.get(55) or "",
                      side=side, price=price, qty=0, original_qty=0, tif=TimeInForce.IOC, leaves=0,
                      status=OrderStatus.REJECTED, session=conn.session_id)
        body = pending_report(order, "8", sink.flags, now, exchange_index=venue.exchange_index(order.symbol),
                              rej_reason=code, text=text)  # 103 before Price(44), Text after TransactTime(60)
        if sink is conn and venue.history is not None:
            venue.history.record(conn.user, body)
        sink.deliver("8", body)


def on_quote_order(conn: Connection, msg: FixMessage) -> None:
    """NewOrderSingle with QuoteID(117): accepts the quote (spec 02 §5.7). Side inverts as on
    UA; Price(44) is a limit on the trade's YES price; OrderQty(38) at most the RFQ size."""
    if _refused(conn, msg, "accept quotes"):
        return
    if not CLORDID_RE.fullmatch(msg.get(11) or ""):
        conn.reject(msg, SRR.VALUE_IS_INCORRECT, "ClOrdID(11) must be 1-64 characters of letters, digits and "
                                                 "_ - : + = /", 11)
        return
    if msg.get(54) not in ("1", "2"):
        conn.reject(msg, SRR.VALUE_IS_INCORRECT, "Side(54) must be 1 (buy YES) or 2 (sell YES / buy NO)", 54)
        return
    service = _service(conn)
    now = conn.now()
    service.publish(service.desk.expire(now))
    price = parse_price(msg.get(44) or "", conn.flags.dollars)
    qty = parse_qty(msg.get(38) or "")
    if msg.get(40) != "2":
        return _order_reject(conn, msg, 11, "INVALID_ORDER: OrdType(40) must be 2 (limit)", now)
    if price is None or not 0 < price < 10_000:
        return _order_reject(conn, msg, 11, "INVALID_PRICE", now)
    if qty is None or qty <= 0:
        return _order_reject(conn, msg, 13, "INVALID_ORDER: OrderQty(38) must be more than 0", now)
    problem = _party_problem(msg)
    if problem:
        return _order_reject(conn, msg, 15, f"CUSTOMER_ACCOUNT_NOT_FOUND: {problem}", now)
    spec = AcceptSpec(conn.user, msg[117], Side(int(msg[54])), qty=qty, rfq_id=msg.get(21023), client_id=msg[11],
                      session=conn.session_id, party_id=msg.get(448), limit_price=price, symbol=msg.get(55))
    result = service.desk.accept_quote(spec, now)
    if isinstance(result, Refusal):
        return _order_reject(conn, msg, _ORD_REJ.get(result.kind, 99), _text(result), now)
    quote, events = result
    prefix = None
    if not conn.flags.skip_pending:
        prefix = {conn: [pending_report(events[0].order, "A", conn.flags, now,
                                        exchange_index=conn.venue.exchange_index(quote.symbol))]}
    conn.venue.dispatch(events, prefix)
    _notify_maker(service, quote, int(msg[54]))


def on_rfq_cancel(conn: Connection, msg: FixMessage) -> None:
    if _refused(conn, msg, "cancel RFQs"):
        return
    if msg.get(131) is None and msg.get(21023) is None:
        business_reject(conn, msg, BRR.CONDITIONALLY_REQUIRED_FIELD_MISSING,
                        "Conditionally required field missing: QuoteReqID(131) or RfqId(21023)")
        return
    service = _service(conn)
    now = conn.now()
    service.publish(service.desk.expire(now))
    result: tuple | Refusal
    problem = _party_problem(msg)
    if problem:
        result = Refusal(Refuse.INVALID, f"INVALID_PARAMETERS: {problem}")
    else:
        result = service.desk.cancel_rfq(conn.user, now, client_id=msg.get(131), rfq_id=msg.get(21023),
                                         party_id=msg.get(448))
    if isinstance(result, Refusal):
        body: list = [(131, msg.get(131) or msg[21023]), (21013, 1), (58, result.text)]
        if msg.get(21023):
            body.append((21023, msg[21023]))
        conn.send("UB", body)
        return
    rfq, notices = result
    conn.send("UB", [(131, rfq.client_id), (21013, 0), (21023, rfq.rfq_id)])
    service.publish(notices)


# --- maker: Quote S, QuoteCancel Z, QuoteConfirm U7 (spec 06 §2.4, §2.6, §2.7) ------------

def _quote_price(text: str | None, dollars: bool) -> int | None:
    """132/133: integer cents, only the integer part used (spec 06 §2.4); dollars with UseDollars."""
    if text is None:
        return 0
    if dollars:
        return parse_price(text, True)
    try:
        return int(Decimal(text)) * 100
    except (InvalidOperation, ValueError, OverflowError):
        return None


def _maker_subaccount(conn: Connection, msg: FixMessage) -> tuple[int | None, str | None]:
    """AllocAccount of a maker message; restricted keys are pinned to theirs (spec 00 §3.2)."""
    pinned = getattr(_key(conn), "subaccount", None)
    sub = _int(msg.get(79), pinned if pinned is not None else 0)
    if sub is None:
        return None, "INVALID_PARAMETERS: AllocAccount(79) must be a sub-account number 0-63"
    if pinned is not None and sub != pinned:
        return None, f"NOT_AUTHORIZED: this API key is restricted to sub-account {pinned}, not AllocAccount(79)={sub}"
    return sub, None


def on_quote(conn: Connection, msg: FixMessage) -> None:
    if _refused(conn, msg, "quote", maker=True):
        return
    rest = _yes_no(conn, msg, 21015, "RestRemainder")
    if rest is None:
        return
    service = _service(conn)
    now = conn.now()
    service.publish(service.desk.expire(now))

    def reject(text: str) -> None:
        body: list = [(117, msg[117]), (131, msg[131])]
        if msg.get(79):
            body.append((79, msg[79]))
        conn.send("AI", body + [(297, 5), (58, text)])

    sub, problem = _maker_subaccount(conn, msg)
    if problem:
        return reject(problem)
    yes, no = _quote_price(msg.get(132), conn.flags.dollars), _quote_price(msg.get(133), conn.flags.dollars)
    if yes is None or no is None:
        return reject("INVALID_PRICE: prices have at most 4 decimals in dollars")
    spec = QuoteSpec(conn.user, msg[117], msg[131], msg[55], yes, no, subaccount=sub, session=conn.session_id,
                     post_only="6" in (msg.get(18) or "").split(), rest_remainder=rest)
    result = service.desk.submit_quote(spec, now)
    if isinstance(result, Refusal):
        return reject(result.text)
    quote, notices = result
    service.publish(notices)  # the maker's replaced quote: AI 17 REPLACED
    conn.send("AI", quote_status(service.desk, quote, 10, conn.flags.dollars))
    rfq = service.desk.rfq(quote.rfq_id)
    sink = conn.venue.origin(rfq.session)
    if sink is not None:  # spec 06 §2.4: the creator's notification, prices in dollars
        body: list = [(117, quote.quote_id), (131, rfq.rfq_id), (55, rfq.symbol)]
        body += [(t, format_price(p, True)) for t, p in ((132, quote.yes_price), (133, quote.no_price)) if p]
        if rfq.qty is not None:
            body.append((38, format_qty(rfq.qty)))
        body += [(t, format_qty(s)) for t, s, p in ((134, quote.yes_size, quote.yes_price),
                                                    (135, quote.no_size, quote.no_price)) if p]
        sink.deliver("S", body + [(453, 1), (448, service.desk.public_id(quote.account)), (452, 35)])


def _maker_decision(conn: Connection, msg: FixMessage, what: str, reply: str, status_tag: int, act) -> None:
    """QuoteCancel (Z -> U9, spec 06 §2.6: then AI 17) and QuoteConfirm (U7 -> U8): same shape."""
    if _refused(conn, msg, what, maker=True):
        return
    service = _service(conn)
    now = conn.now()
    service.publish(service.desk.expire(now))
    pinned = getattr(_key(conn), "subaccount", None)
    result = act(service.desk)(conn.user, msg[117], now, rfq_id=msg.get(21023), subaccount=pinned)
    if isinstance(result, Refusal):
        conn.send(reply, [(117, msg[117]), (status_tag, 1), (58, result.text)])
        return
    quote, notices = result
    conn.send(reply, [(117, quote.quote_id), (status_tag, 0)])
    service.publish(notices)


def on_quote_cancel(conn: Connection, msg: FixMessage) -> None:
    _maker_decision(conn, msg, "cancel quotes", "U9", 298, lambda desk: desk.cancel_quote)


def on_quote_confirm(conn: Connection, msg: FixMessage) -> None:
    _maker_decision(conn, msg, "confirm quotes", "U8", 21010, lambda desk: desk.confirm_quote)


# --- registration ---------------------------------------------------------------------------

def _with_quote_acceptance(previous):
    """D carrying QuoteID(117) accepts an RFQ quote (prediction); every other D goes on."""
    def on_new_order(conn: Connection, msg: FixMessage) -> None:
        if msg.get(117) is not None and conn.product == "prediction":
            on_quote_order(conn, msg)
        else:
            previous(conn, msg)
    on_new_order.previous = previous  # type: ignore[attr-defined]
    return on_new_order


assert order_entry.on_new_order  # imported first: its D handlers are registered before we wrap them
for _code in ("NR", "RT"):
    _prev = HANDLERS.get((_code, "D"))
    if _prev is not None and not hasattr(_prev, "previous"):
        HANDLERS[(_code, "D")] = _with_quote_acceptance(_prev)
HANDLERS[("RT", "R")] = on_quote_request
HANDLERS[("RT", "UA")] = on_accept_quote
HANDLERS[("RT", "UE")] = on_rfq_cancel
HANDLERS[("RFQ", "S")] = on_quote
HANDLERS[("RFQ", "Z")] = on_quote_cancel
HANDLERS[("RFQ", "U7")] = on_quote_confirm
LIFECYCLE.setdefault("RFQ", []).append(_Makers())
