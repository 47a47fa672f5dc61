"""Application-message routing per session type (DESIGN.md §2: one module per session type).

The session layer has already validated the message. Here a MsgType is checked against the
session it arrived on (spec 00 §4); handlers for each session type register themselves in
HANDLERS as later work lands. Until then a known, allowed message gets a
BusinessMessageReject saying the simulator does not handle it yet.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol

from kalshi_fixsim.fixproto.codec import FixMessage
from kalshi_fixsim.fixproto.fields import MSG_TYPE_NAMES, BusinessRejectReason as BRR
from kalshi_fixsim.fixproto.kalshi import APP_MESSAGES_IN

if TYPE_CHECKING:
    from .reports import ReportFlags
    from .venue import Venue

__all__ = ["Connection", "route", "business_reject", "HANDLERS", "LIFECYCLE", "Lifecycle", "GATES", "Gate"]

# Fields that identify the business object a BMR refers to (spec 09 §2, tag 379).
_REF_ID_TAGS = (11, 117, 131, 20130, 21001, 262)  # a Quote's own QuoteID before its RFQ's id


class Connection(Protocol):
    """What a handler may use of the connection a message arrived on."""
    product: str
    session_code: str
    comp_id: str
    session_id: str        # "<product>/<session>/<api key>": order ownership, stores
    user: str              # the engine account the API key trades for
    listener: bool         # ListenerSession(20126)=Y: read-only (spec 01 §9)
    flags: "ReportFlags"   # how this session wants reports rendered
    stale_after: float     # seconds: an older TransactTime on D makes the order stale
    venue: "Venue"

    def send(self, msg_type: str, body: list[tuple[int, object]]) -> int: ...
    def reject(self, msg: FixMessage, reason: int, text: str, ref_tag: int | None = None) -> None: ...
    def now(self) -> float: ...


Handler = Callable[[Connection, FixMessage], None]
HANDLERS: dict[tuple[str, str], Handler] = {}  # (session code, MsgType) -> handler


class Lifecycle(Protocol):
    """A service that must know when sessions of its type log on and go away."""

    def attached(self, conn: Connection) -> None: ...
    def detached(self, conn: Connection) -> None: ...


LIFECYCLE: dict[str, list[Lifecycle]] = {}  # session code -> services told about its sessions

# Checks every application message passes before its handler (rate limits, pauses, ...): a
# gate that answered the message itself returns True and the message goes no further.
Gate = Callable[[Connection, FixMessage], bool]
GATES: list[Gate] = []


def business_reject(conn: Connection, msg: FixMessage, reason: int, text: str) -> None:
    """BusinessMessageReject (35=j) with RefSeqNum and RefMsgType (spec 09 §2)."""
    body: list[tuple[int, object]] = [(45, msg.get(34) or "0"), (372, msg.get(35) or "")]
    for tag in _REF_ID_TAGS:
        ref = msg.get(tag)
        if ref:
            body.append((379, ref))
            break
    body += [(380, reason), (58, text)]
    conn.send("j", body)


def route(conn: Connection, msg: FixMessage) -> None:
    msg_type = msg.get(35) or ""
    if msg_type not in APP_MESSAGES_IN[(conn.product, conn.session_code)]:
        # spec 01 §11: a known MsgType not offered on this session.
        business_reject(conn, msg, BRR.UNSUPPORTED_MESSAGE_TYPE,
                        f"Unsupported Message Type: {_name(msg_type)} is not accepted on {conn.comp_id} "
                        f"({conn.product})")
        return
    for gate in GATES:
        if gate(conn, msg):
            return
    handler = HANDLERS.get((conn.session_code, msg_type))
    if handler is None:
        business_reject(conn, msg, BRR.APPLICATION_NOT_AVAILABLE,
                        f"Application not available: kalshi-fixsim does not handle {_name(msg_type)} yet")
        return
    handler(conn, msg)


def _name(msg_type: str) -> str:
    return f"{MSG_TYPE_NAMES.get(msg_type, 'message')}(35={msg_type})"
