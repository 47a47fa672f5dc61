"""OrderGroupRequest (UOG) -> OrderGroupResponse (UOH) on KalshiNR/KalshiRT (spec 03).

Malformed ids are session Rejects (spec 03 §4: 373=6 on 20130); business errors are
BusinessMessageRejects (380=1 unknown group, 380=5 missing field, 380=0 otherwise).
UOH goes out before the cancel reports of a Delete or Trigger (spec 03 §3, recommended).
"""
from __future__ import annotations

import re

from kalshi_fixsim.fixproto.codec import FixMessage
from kalshi_fixsim.fixproto.fields import BusinessRejectReason as BRR, SessionRejectReason as SRR
from kalshi_fixsim.fixproto.numbers import parse_int

from . import HANDLERS, Connection, business_reject

__all__ = ["on_order_group"]

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_ACTIONS = {"1": "create", "2": "reset", "3": "delete", "4": "trigger", "5": "update"}
MAX_LIMIT = 1_000_000


def on_order_group(conn: Connection, msg: FixMessage) -> None:
    if conn.listener:  # not listed by the docs; refused like every other write (behaviour.md)
        business_reject(conn, msg, BRR.NOT_AUTHORIZED, "Not authorized: listener sessions are read-only")
        return
    action = _ACTIONS.get(msg.get(20131) or "")
    if action is None:
        conn.reject(msg, SRR.VALUE_IS_INCORRECT, "OrderGroupAction(20131) must be 1, 2, 3, 4 or 5", 20131)
        return
    group_id = msg.get(20130)
    if group_id is not None and not _UUID.fullmatch(group_id):
        conn.reject(msg, SRR.INCORRECT_DATA_FORMAT, "OrderGroupID(20130) must be a UUID", 20130)
        return
    limit_text = msg.get(20132)
    limit = parse_int(limit_text, 0) if limit_text is not None else None
    if limit_text is not None and limit is None:
        conn.reject(msg, SRR.INCORRECT_DATA_FORMAT, "OrderGroupContractsLimit(20132) must be an integer", 20132)
        return
    subaccount_text = msg.get(79) or "0"
    subaccount = parse_int(subaccount_text, 0)
    subaccount = -1 if subaccount is None else subaccount
    if not 0 <= subaccount <= 63:
        business_reject(conn, msg, BRR.OTHER, "AllocAccount(79) must be a sub-account number 0-63")
        return
    if action == "create" and group_id is not None:
        business_reject(conn, msg, BRR.OTHER, "OrderGroupID(20130) must not be sent on Create: the exchange assigns it")
        return
    if action != "create" and group_id is None:
        business_reject(conn, msg, BRR.CONDITIONALLY_REQUIRED_FIELD_MISSING,
                        f"OrderGroupID(20130) is required for {action.capitalize()}")
        return
    if action in ("create", "update"):
        if limit is None:
            business_reject(conn, msg, BRR.CONDITIONALLY_REQUIRED_FIELD_MISSING,
                            f"OrderGroupContractsLimit(20132) is required for {action.capitalize()}")
            return
        if not 1 <= limit <= MAX_LIMIT:
            business_reject(conn, msg, BRR.OTHER, f"OrderGroupContractsLimit(20132) must be 1..{MAX_LIMIT}")
            return
    exchange = conn.venue.exchange
    now = conn.now()
    if action == "create":
        group = exchange.create_group(conn.user, subaccount, limit, now)
        _respond(conn, group.group_id, limit, subaccount)
        return
    call = {"reset": exchange.reset_group, "delete": exchange.delete_group, "trigger": exchange.trigger_group}
    if action == "update":
        result = exchange.update_group(conn.user, subaccount, group_id, now, limit)
    else:
        result = call[action](conn.user, subaccount, group_id, now)
    if isinstance(result, str):
        business_reject(conn, msg, BRR.UNKNOWN_ID, result)
        return
    _respond(conn, group_id, limit if action == "update" else None, subaccount)
    conn.venue.dispatch(result)


def _respond(conn: Connection, group_id: str, limit: int | None, subaccount: int) -> None:
    body: list[tuple[int, object]] = [(20130, group_id)]
    if limit is not None:
        body.append((20132, limit))  # echoed on Create and Update only (spec 03 §3)
    if conn.product == "prediction":
        body.append((79, subaccount))  # margin UOH carries only 20130 (spec 03 §6)
    conn.send("UOH", body)


for _code in ("NR", "RT"):
    HANDLERS[(_code, "UOG")] = on_order_group
