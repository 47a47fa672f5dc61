"""The FIX face of pauses, maintenance and market halts (spec 10; state in simulator/ops.py).

* `pause_gate` (in gateway.GATES) answers, during a pause, the messages whose refusal is not
  an engine reject: OrderMassCancelRequest in an exchange pause (531=0 532=99), order-group actions
  (BMR 380=4) and RFQ actions (each with its own reject message). NewOrderSingle, amend and
  cancel go on to the engine, which refuses them itself (Exchange.paused, spec 10 §2).
  Rule (spec 10 §2, open question settled as recommended): refused in both pause types,
  except what only cancels (q, OrderGroup Delete/Trigger, RFQCancel, QuoteCancel), which a
  trading pause lets through. Texts are the bare codes TRADING_PAUSED / EXCHANGE_PAUSED (the
  OrderMassCancelReport has no Text field in the dictionary).
* `publish_market_status`: SecurityStatus 326=2/3 for halts (spec 07 §6, prediction only).
* `disconnect`: a server Logout with Text (maintenance).
* `guard_logons`: refuses Logons during a maintenance window, or without 141=Y after a
  maintenance that reset sequence numbers (spec 01 §5.1), with a clear Logout Text.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from kalshi_fixsim.fixproto.codec import FixMessage
from kalshi_fixsim.fixproto.fields import BusinessRejectReason as BRR

from ..engine.exchange import Pause
from ..engine.types import Order, OrderStatus, Rejected, Side, TimeInForce
from . import GATES, Connection, business_reject, market_data
from .reports import parse_price

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue

__all__ = ["pause_gate", "publish_market_status", "disconnect", "guard_logons", "TRADING_HALT", "RESUME",
           "MASS_CANCEL_REJECT_OTHER"]

TRADING_HALT = 2  # SecurityTradingStatus(326), spec 07 §6.2
RESUME = 3
MASS_CANCEL_REJECT_OTHER = 99  # MassCancelRejectReason(532): undocumented values (spec 09 §5)
_GROUP_ACTIONS = ("1", "2", "3", "4", "5")
_GROUP_CANCELS = ("3", "4")    # Delete, Trigger: they only cancel orders
_TIF = {t.value: t for t in TimeInForce}

Answer = Callable[[Connection, FixMessage, Pause], bool]


def _read_only(conn: Connection) -> bool:
    """Listener and read-only sessions: the handlers' own not-authorized answer comes first."""
    account = getattr(getattr(conn, "decision", None), "account", None)
    return conn.listener or bool(getattr(account, "read_only", False))


def pause_gate(conn: Connection, msg: FixMessage) -> bool:
    """gateway.GATES entry: True when the message was answered with a pause refusal."""
    try:
        paused = conn.venue.exchange.paused
    except AttributeError:  # a connection without a venue (unit-test doubles): nothing is paused
        return False
    if paused is None or _read_only(conn):
        return False
    answer = _ANSWERS.get(msg.get(35) or "")
    return answer is not None and answer(conn, msg, paused)


def _text(paused: Pause) -> str:
    return paused.reject.text  # TRADING_PAUSED / EXCHANGE_PAUSED


def _mass_cancel(conn: Connection, msg: FixMessage, paused: Pause) -> bool:
    if paused.cancels_allowed:
        return False
    # spec 10 §2 (inferred): OrderMassCancelReport 531=0 during an exchange pause. The dictionary
    # gives r no Text (spec 12: 11, 37, 531, 532), so the reason is 532=99 (Other) alone.
    conn.send("r", [(11, msg.get(11) or ""), (37, "NONE"), (531, "0"), (532, MASS_CANCEL_REJECT_OTHER)])
    return True


def _order_group(conn: Connection, msg: FixMessage, paused: Pause) -> bool:
    action = msg.get(20131)
    if action not in _GROUP_ACTIONS or (paused.cancels_allowed and action in _GROUP_CANCELS):
        return False  # a malformed action is the handler's (session Reject); cancels pass a trading pause
    business_reject(conn, msg, BRR.APPLICATION_NOT_AVAILABLE, _text(paused))
    return True


def _quote_order(conn: Connection, msg: FixMessage, paused: Pause) -> bool:
    """NewOrderSingle with QuoteID(117) accepts an RFQ quote: an ER reject 103=2 like any D."""
    if msg.get(117) is None or conn.product != "prediction" or msg.get(54) not in ("1", "2"):
        return False  # plain orders: the engine refuses them; a bad Side: the handler's Reject
    order = Order(order_id="", account=conn.user, client_order_id=msg.get(11) or "", symbol=msg.get(55) or "",
                  side=Side(int(msg[54])), price=parse_price(msg.get(44) or "", conn.flags.dollars) or 0, qty=0,
                  original_qty=0, tif=_TIF.get(msg.get(59) or "1", TimeInForce.GTC), leaves=0,
                  status=OrderStatus.REJECTED, session=conn.session_id)
    conn.venue.dispatch([Rejected(order, time=conn.now(), reason=paused.reject)])
    return True


def _quote_request(conn: Connection, msg: FixMessage, paused: Pause) -> bool:
    conn.send("AG", [(131, msg.get(131) or ""), (658, 99), (58, _text(paused))])
    return True


def _accept_quote(conn: Connection, msg: FixMessage, paused: Pause) -> bool:
    body: list[tuple[int, object]] = [(117, msg.get(117) or ""), (21025, 1)]
    if msg.get(11):
        body.append((11, msg[11]))
    conn.send("UC", body + [(58, _text(paused))])
    return True


def _rfq_cancel(conn: Connection, msg: FixMessage, paused: Pause) -> bool:
    if paused.cancels_allowed:
        return False
    body: list[tuple[int, object]] = [(131, msg.get(131) or msg.get(21023) or ""), (21013, 1), (58, _text(paused))]
    if msg.get(21023):
        body.append((21023, msg[21023]))
    conn.send("UB", body)
    return True


def _quote(conn: Connection, msg: FixMessage, paused: Pause) -> bool:
    body: list[tuple[int, object]] = [(117, msg.get(117) or ""), (131, msg.get(131) or "")]
    if msg.get(79):
        body.append((79, msg[79]))
    conn.send("AI", body + [(297, 5), (58, _text(paused))])
    return True


def _quote_cancel(conn: Connection, msg: FixMessage, paused: Pause) -> bool:
    if paused.cancels_allowed:
        return False
    conn.send("U9", [(117, msg.get(117) or ""), (298, 1), (58, _text(paused))])
    return True


def _quote_confirm(conn: Connection, msg: FixMessage, paused: Pause) -> bool:
    conn.send("U8", [(117, msg.get(117) or ""), (21010, 1), (58, _text(paused))])
    return True


_ANSWERS: dict[str, Answer] = {
    "q": _mass_cancel, "UOG": _order_group, "D": _quote_order,
    "R": _quote_request, "UA": _accept_quote, "UE": _rfq_cancel,       # RFQ creator (KalshiRT)
    "S": _quote, "Z": _quote_cancel, "U7": _quote_confirm,             # RFQ maker (KalshiRFQ)
}


# --- market status, Logout, Logon guard ----------------------------------------------------------

def publish_market_status(venue: "Venue", symbol: str, *, halted: bool) -> int:
    """SecurityStatus 326=2 (halt) / 326=3 (resume) to the symbol's KalshiMD subscribers;
    margin has no SecurityStatus (spec 08 §7). Returns how many sessions got it."""
    if venue.product != "prediction":
        return 0
    return market_data.publish_status(venue, symbol, TRADING_HALT if halted else RESUME)


def disconnect(conn: Any, text: str) -> bool:
    """Log a live session out with `text`; its Disconnect then runs CancelOrdersOnDisconnect."""
    driver = getattr(conn, "driver", None)
    if driver is None or not driver.session.is_active:
        return False
    driver.logout(text)
    return True


Refusal = Callable[[str, str, str, bool, float], "str | None"]


def guard_logons(auth: Any, refusal: Refusal) -> None:
    """Wrap `auth.check` (simulator.auth.Authenticator) so that a Logon it accepts is still
    refused when `refusal(product, session code, api key, 141=Y, now)` gives a Text: a Logout
    with it and nothing before it (spec 09 §6: a refused Logon gets a Logout), so a client
    still waiting for its Logon reply reads the Text. Installed once per Authenticator."""
    from ..auth import LogonDecision

    original = auth.check
    if getattr(original, "ops_guard", False):
        return

    def check(product: str, st: Any, logon: FixMessage, now: float, owner: object):
        decision = original(product, st, logon, now, owner)
        if not decision.ok or decision.account is None:
            return decision
        text = refusal(product, st.code, decision.account.api_key, logon.get(141) == "Y", now)
        if text is None:
            return decision
        auth.release(decision.slot, owner)  # the slot the accepted check claimed
        return LogonDecision(False, text)

    check.ops_guard = True  # type: ignore[attr-defined]
    auth.check = check


if pause_gate not in GATES:
    GATES.append(pause_gate)
