"""The control plane's `place_order` (issues 13 and 16): rest an order for an account through
the engine, as if its session had sent a NewOrderSingle (its reports go to its sessions).

Price: a number is cents (50 = $0.50), a text is dollars ("0.50"); qty is contracts (a number
or text, fractional where the market allows). docs/behaviour.md "Control: place_order".
"""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from .engine.types import PRICE_SCALE, QTY_SCALE, OrderRequest, Rejected, Side, TimeInForce

_TIFS = {"gtc": TimeInForce.GTC, "ioc": TimeInForce.IOC, "fok": TimeInForce.FOK, "day": TimeInForce.DAY}


def _number(value: Any, what: str, error) -> Decimal:
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        number = Decimal(str(value))
    except InvalidOperation:
        raise error(400, f"{what} must be a number, not {value!r}") from None
    if number <= 0:
        raise error(400, f"{what} must be positive, not {value!r}")
    return number


def place_order(control, account: str, symbol: str, side: str, price: Any, qty: Any, tif: str = "gtc",
                product: str = "prediction", cl_ord_id: str | None = None, subaccount: int = 0) -> dict:
    from .control import ControlError

    venue = control._account(product, account)
    control._market(product, symbol)
    if side not in ("buy", "sell"):
        raise ControlError(400, f"side must be buy or sell, not {side!r}")
    if tif not in _TIFS:
        raise ControlError(400, f"tif must be one of {', '.join(_TIFS)}, not {tif!r}")
    value = _number(price, "price", ControlError)
    pips = value * PRICE_SCALE if isinstance(price, str) else value * PRICE_SCALE / 100
    hundredths = _number(qty, "qty", ControlError) * QTY_SCALE
    if pips != pips.to_integral_value() or hundredths != hundredths.to_integral_value():
        raise ControlError(400, f"price {price!r} or qty {qty!r} is finer than the engine's units")
    control._placed = getattr(control, "_placed", 0) + 1  # per simulator: ids repeat run to run
    now = control.sim.clock.now()
    request = OrderRequest(account=account, client_order_id=cl_ord_id or f"ctl-{control._placed}", symbol=symbol,
                           side=Side.BUY if side == "buy" else Side.SELL, price=int(pips), qty=int(hundredths),
                           tif=_TIFS[tif], subaccount=_subaccount(subaccount, ControlError))
    events = venue.exchange.new_order(request, now)
    venue.dispatch(events)
    first = events[0] if events else None
    if isinstance(first, Rejected):
        raise ControlError(409, f"the engine rejected the order: {first.reason.name.lower()}")
    order = events[-1].order if events else None
    if order is None:
        raise ControlError(500, "the engine returned no event")
    return {"order_id": order.order_id, "cl_ord_id": order.client_order_id, "status": order.status.name.lower(),
            "leaves_qty": str(Decimal(order.leaves) / QTY_SCALE), "symbol": symbol, "account": account}


def _subaccount(value: Any, error) -> int:
    """AllocAccount of the order: 0 (primary) to 63 (spec 02 §5.6)."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 63:
        raise error(400, f"subaccount must be 0-63, not {value!r}")
    return value
