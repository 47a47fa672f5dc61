"""Venue faults in the gateway (issue 12 §1), never by bending the engine.

Inbound, `fault_gate` (first in gateway.GATES while any rule is installed; the glue puts it
there and takes it out) asks the fault engine which venue rules fire
on an application message and acts as the venue would: an ExecutionReport reject 103=99
`EXCHANGE_UNAVAILABLE` (the order booked anyway or not) or `INTERNAL_ERROR` (spec 02 §8.5,
spec 09 §7), a BusinessMessageReject 380=8 (spec 11), a control-plane operation run before
the message is processed (a halt when the 3rd order arrives), an unsolicited cancel.
Outbound, `send_hook` (installed on a connection while a venue rule may act on what it
sends) makes an ExecutionReport (or any application message) late, missing or duplicated
with PossResend(97)=Y. Delays go through the `schedule(seconds, fn)` the glue gives: no I/O.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from kalshi_fixsim.fixproto.codec import FixMessage
from kalshi_fixsim.fixproto.fields import BusinessRejectReason as BRR, EventResendRejectReason as ERR

from ..engine.types import CancelReason, Reject, Side
from . import GATES, HANDLERS, Connection, business_reject
from .reports import PENDING_EXEC_ID, _report

if TYPE_CHECKING:
    from ..faults import FaultEngine

__all__ = ["fault_gate", "send_hook", "reject_report", "unsolicited_cancel"]

Schedule = Callable[[float, Callable[[], None]], None]


def _service(conn: Connection):
    sim = getattr(conn, "sim", None)
    return getattr(sim, "faults", None)


def reject_report(conn: Connection, msg: FixMessage, text: str, now: float) -> list[tuple[int, object]]:
    """ExecutionReport reject 150=8 39=8 103=99 with Text for a NewOrderSingle (spec 02 §8.5), laid
    out as the gateway's own rejects are (the session's price units, LastMkt, ...)."""
    from .order_entry import _rejected  # one builder of "the order as the request described it"

    side = Side.SELL if msg.get(54) == "2" else Side.BUY
    order = _rejected(conn, msg, Reject.INVALID_ORDER, side, now).order
    return _report(order, PENDING_EXEC_ID, "8", "8", conn.flags, now, leaves=0, text=text, rej_reason=99,
                   exchange_index=conn.venue.exchange_index(order.symbol))


def fault_gate(conn: Connection, msg: FixMessage) -> bool:
    """gateway.GATES entry: True when a venue fault answered the message itself."""
    service = _service(conn)
    if service is None:
        return False
    rolled = service.rolled_quotes.get(conn.product)
    if rolled and _rolled_answer(conn, msg, rolled):
        return True
    engine: "FaultEngine" = service.engine
    if engine.idle:
        return False
    fired = engine.venue_inbound(conn, msg)
    if not fired:
        return False
    now = conn.now()
    for state in fired:
        rule = state.rule
        name = rule.fault
        if name == "internal_error" or (name == "exchange_unavailable" and not rule.params["booked"]):
            text = "INTERNAL_ERROR" if name == "internal_error" else "EXCHANGE_UNAVAILABLE"
            service.mark(conn, "in", msg, engine.record(state, conn, "inbound", f"order refused {text}", now))
            conn.send("8", reject_report(conn, msg, text, now))
            return True
        if name == "exchange_unavailable":
            service.mark(conn, "in", msg, engine.record(
                state, conn, "inbound", "order booked, reported EXCHANGE_UNAVAILABLE", now))
            _booked_but_unavailable(conn, msg, now)
            return True
        if name == "rate_limit":
            if msg.get(35) == "U1":  # spec 04 §5: drop copy's "too many requests"
                service.mark(conn, "in", msg, engine.record(state, conn, "inbound", "answered U3 21004=1", now))
                conn.send("U3", [(45, msg.get(34) or "0"), (21004, ERR.RATE_LIMITED)])
                return True
            service.mark(conn, "in", msg, engine.record(state, conn, "inbound", "answered 380=8", now))
            business_reject(conn, msg, BRR.RATE_LIMIT_EXCEEDED, rule.params["text"])  # spec 11 §4
            return True
        if name == "rfq_roll":
            what = rfq_roll(service, conn.venue, now)
            service.mark(conn, "in", msg, engine.record(state, conn, "inbound", what, now))
            continue
        if name == "control":
            what = service.run_control(rule.params, conn, msg)
            service.mark(conn, "in", msg, engine.record(state, conn, "inbound", what, now))
        elif name == "unsolicited_cancel":
            what = unsolicited_cancel(conn, rule.params.get("cl_ord_id") or msg.get(41) or msg.get(11), now)
            service.mark(conn, "in", msg, engine.record(state, conn, "inbound", what, now))
    rolled = service.rolled_quotes.get(conn.product)
    return bool(rolled) and _rolled_answer(conn, msg, rolled)  # a roll this very message triggered


def _booked_but_unavailable(conn: Connection, msg: FixMessage, now: float) -> None:
    """spec 09 §7, first variant: the exchange takes the order, the client hears only
    EXCHANGE_UNAVAILABLE. What this message produces for its ClOrdID on this session is
    replaced by the reject (later reports of the order, fills by others, flow as usual); a
    resend with the same ClOrdID then meets the open order (103=6, spec 02 §12)."""
    cl = msg.get(11) or ""
    sent: list[bool] = []
    previous = getattr(conn, "send_hook", None)

    def swallow(c: Any, msg_type: str, body: list[tuple[int, object]]) -> int:
        if msg_type == "8" and any(t == 11 and v == cl for t, v in body):
            if not sent:
                sent.append(True)
                return c.send("8", reject_report(conn, msg, "EXCHANGE_UNAVAILABLE", now), hooked=False)
            return 0
        return previous(c, msg_type, body) if previous is not None else c.send(msg_type, body, hooked=False)

    conn.send_hook = swallow  # type: ignore[attr-defined]
    try:
        for gate in GATES[GATES.index(fault_gate) + 1:]:  # the rest of gateway.route
            if gate(conn, msg):
                return
        handler = HANDLERS.get((conn.session_code, msg.get(35) or ""))
        if handler is not None:
            handler(conn, msg)
    finally:
        conn.send_hook = previous  # type: ignore[attr-defined]
    if not sent:
        conn.send("8", reject_report(conn, msg, "EXCHANGE_UNAVAILABLE", now))


def rfq_roll(service: Any, venue: Any, now: float) -> str:
    """spec 09 §7 "server roll during RFQ": every pending quote of the venue's RFQ desk vanishes,
    unannounced (its maker is not told, the creator gets no notice); an AcceptQuote naming one
    is then answered UC NOT_FOUND (see _rolled_answer). Accepted quotes go on to execution."""
    from .rfq import service_for

    desk = service_for(venue, getattr(service.sim.config, "seed", 0)).desk
    gone = service.rolled_quotes.setdefault(venue.product, set())
    count = 0
    for rfq in desk.open_rfqs():
        for quote in list(rfq.quotes.values()):
            if quote.state.value == "pending":
                desk.cancel_quote(quote.account, quote.quote_id, now, rfq_id=quote.rfq_id)  # notices dropped
                gone.add(quote.quote_id)
                count += 1
    return f"RFQ server rolled: {count} pending quote(s) vanished"


def _rolled_answer(conn: Connection, msg: FixMessage, rolled: set) -> bool:
    """After an rfq_roll: an AcceptQuote for a vanished quote gets UC NOT_FOUND, as for a quote
    the venue never had (spec 06 §2.9); a new Quote with that QuoteID makes it known again."""
    msg_type = msg.get(35)
    qid = msg.get(117)
    if qid is None or qid not in rolled:
        return False
    if msg_type == "S":
        rolled.discard(qid)
        return False
    if msg_type != "UA":
        return False
    body: list = [(117, qid), (21025, 1)]
    if msg.get(11):
        body.append((11, msg.get(11)))
    conn.send("UC", body + [(58, "NOT_FOUND")])
    return True


def unsolicited_cancel(conn: Connection, cl_ord_id: str | None, now: float) -> str:
    """Cancel one resting order of the connection's account as the venue (no request from the
    client): the one with this ClOrdID, else the oldest. Reported like any cancel."""
    exchange = conn.venue.exchange
    order = exchange.order_by_client_id(conn.user, cl_ord_id) if cl_ord_id else None
    if order is None or order.status.final:
        resting = exchange.open_orders(account=conn.user)
        order = resting[0] if resting else None
    if order is None:
        return "not applied (no resting order)"
    # The engine's own cancel path (as for a disconnect), so books and balances stay exact.
    events = exchange._cancel_all([order], CancelReason.USER, now)  # noqa: SLF001
    conn.venue.dispatch(events)
    return f"order {order.client_order_id} cancelled unsolicited"


def send_hook(schedule: Schedule) -> Callable[[Any, str, list], int]:
    """A GatewayConnection.send_hook: venue rules on what the gateway sends to this connection."""

    def hook(conn: Any, msg_type: str, body: list[tuple[int, object]]) -> int:
        service = _service(conn)
        if service is None or service.engine.idle:
            return conn.send(msg_type, body, hooked=False)
        engine = service.engine
        fired = engine.venue_outbound(conn, msg_type, body)
        if not fired:
            return conn.send(msg_type, body, hooked=False)
        now = conn.now()
        send_now, copies = True, 0
        for state in fired:
            name = state.rule.fault
            if name == "er_drop":
                service.mark_body(conn, msg_type, body, engine.record(state, conn, "outbound", "never sent", now))
                send_now = False
                break
            if name == "er_delay":
                ms = state.rule.params["ms"]
                service.mark_body(conn, msg_type, body, engine.record(state, conn, "outbound",
                                                                      f"sent {ms:g} ms late", now))
                schedule(ms / 1000.0, lambda c=conn, m=msg_type, b=body: _late(c, m, b))
                send_now = False
                break
            if name == "er_duplicate":
                copies += 1
                service.mark_body(conn, msg_type, body, engine.record(state, conn, "outbound",
                                                                      "sent twice (copy with 97=Y)", now))
            elif name == "unsolicited_cancel":
                cl = state.rule.params.get("cl_ord_id") or dict((t, v) for t, v in body).get(11)
                service.mark_body(conn, msg_type, body, engine.record(
                    state, conn, "outbound", unsolicited_cancel(conn, None, now) if cl is None
                    else "cancel follows", now))
                if cl is not None:
                    schedule(0.0, lambda c=conn, o=str(cl): unsolicited_cancel(c, o, c.now()))
            elif name == "control":
                schedule(0.0, lambda p=state.rule.params, c=conn: service.run_control(p, c, None))
        if not send_now:
            return 0
        seq = conn.send(msg_type, body, hooked=False)
        for _ in range(copies):
            conn.send(msg_type, [(97, "Y")] + list(body), hooked=False)  # PossResend (spec 01 §6)
        return seq

    return hook


def _late(conn: Any, msg_type: str, body: list[tuple[int, object]]) -> None:
    driver = getattr(conn, "driver", None)
    if driver is not None and not driver.session.closed:
        conn.send(msg_type, body, hooked=False)
        driver.pump()

