"""Shared helpers of the engine unit tests."""
from __future__ import annotations

from kalshi_fixsim.simulator.engine.types import Canceled, OrderRequest

TICKER = "KXTEST-26NOV20"  # the engine tests' default market


def req(account, clid, side, cents, contracts, **kw) -> OrderRequest:
    """An OrderRequest in human units: price in cents, quantity in contracts."""
    kw.setdefault("symbol", TICKER)
    return OrderRequest(account=account, client_order_id=clid, side=side, price=round(cents * 100),
                        qty=round(contracts * 100), **kw)


def kinds(events) -> list[str]:
    """Events as "Type[:reason]:ClOrdID" strings, for readable assertions."""
    out = []
    for e in events:
        name = type(e).__name__
        if isinstance(e, Canceled):
            name += f":{e.reason.name}"
        out.append(f"{name}:{e.order.client_order_id}")
    return out
