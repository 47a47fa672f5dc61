"""Sub-account-locked API keys (spec 00 §3.2) are pinned to their sub-account on every request.

A gate (registered in `gateway.GATES` at import) looks at every order-entry and order-group
request of a restricted key before its handler:
  * without AllocAccount(79) the request is for the key's sub-account: 79 is filled in, so the
    handler books, cancels, amends or groups on that sub-account (never on the primary);
  * naming another sub-account it is refused with the spec's codes: NewOrderSingle by an
    ExecutionReport reject 103=15 PERMISSION_DENIED_FOR_CUSTOMER_ACCOUNT (spec 02 §5.6, §8.5),
    cancel/replace by an OrderCancelReject 102=99 with that Text (spec 02 §10 has no better
    code), OrderGroupRequest by BusinessMessageReject 380=6 Not authorized (spec 09 §2);
  * a 79 that is not a number is left to the handler, which answers the format problem.
RFQ quotes pin themselves (gateway.rfq, spec 00 §3.2).
"""
from __future__ import annotations

from kalshi_fixsim.fixproto.codec import FixMessage
from kalshi_fixsim.fixproto.fields import BusinessRejectReason as BRR

from ..engine.types import CxlReject, Reject, Side
from . import GATES, Connection, business_reject

__all__ = ["pin_gate", "pinned_subaccount", "PINNED_TYPES"]

PINNED_TYPES = frozenset({"D", "F", "G", "UOG"})


def pinned_subaccount(conn: Connection) -> int | None:
    """The sub-account a restricted key is locked to, or None for an ordinary key."""
    account = getattr(getattr(conn, "decision", None), "account", None)
    return getattr(account, "subaccount", None)


def _number(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else None


def _set_field(msg: FixMessage, tag: int, value: str) -> None:
    """Add a body field before the trailer (the message as the key's sub-account would send it)."""
    pairs = msg.pairs
    at = len(pairs) - 1 if pairs and pairs[-1][0] == 10 else len(pairs)
    pairs.insert(at, (tag, value))
    msg.setdefault(tag, value)  # the message's first-occurrence look-up (codec.FixMessage)


def pin_gate(conn: Connection, msg: FixMessage) -> bool:
    msg_type = msg.get(35) or ""
    if msg_type not in PINNED_TYPES:
        return False
    pinned = pinned_subaccount(conn)
    if pinned is None:
        return False
    text = msg.get(79)
    if text is None:
        _set_field(msg, 79, str(pinned))
        return False
    sub = _number(text)
    if sub is None or sub == pinned:
        return False
    why = f"this API key is restricted to sub-account {pinned}, not AllocAccount(79)={text}"
    if msg_type == "UOG":
        business_reject(conn, msg, BRR.NOT_AUTHORIZED, f"Not authorized: {why}")
        return True
    from . import order_entry  # the handlers' own reject builders, so the answers look the same

    if order_entry._field_problem(conn, msg):  # a session-level problem is answered first
        return True
    if msg_type == "D":
        now = conn.now()
        conn.venue.dispatch([order_entry._rejected(conn, msg, Reject.PERMISSION_DENIED, Side(int(msg[54])), now)])
    else:
        order_entry.cancel_reject(conn, msg, CxlReject.PERMISSION_DENIED, "1" if msg_type == "F" else "2")
    return True


if pin_gate not in GATES:
    GATES.append(pin_gate)
