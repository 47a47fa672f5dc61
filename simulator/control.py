"""The control plane: one surface, used in-process (Python) and over HTTP/JSON on loopback.

Every operation is a method of `Control` that runs on the simulator's event loop and either
returns JSON-able data or raises `ControlError(status, message)` with nothing changed. The
HTTP server maps routes onto the same methods (DESIGN.md §2 control.py); `kalshi-fixsim ctl`
is a small HTTP client of it, so clients written in any language can drive the venue.
"""
from __future__ import annotations

import logging
import time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from .engine.types import MONEY_SCALE, PRICE_SCALE, QTY_SCALE, MarketStatus, Side
from . import ops
from .gateway import post_trade
from .web_ops import ViewOps  # the web view's extra reads: recent sessions, runs, trades (issue 17)

if TYPE_CHECKING:
    from .server import Simulator

__all__ = ["Control", "ControlError", "PlainText"]

log = logging.getLogger("kalshi_fixsim.control")


class PlainText(str):
    """A result the HTTP server sends as text/plain instead of JSON (GET /messages?format=text)."""


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _dollars(micros: int) -> str:
    return str(Decimal(micros) / MONEY_SCALE)


def _price(pips: int) -> str:
    return str(Decimal(pips) / PRICE_SCALE)


def _qty(hundredths: int) -> str:
    return str(Decimal(hundredths) / QTY_SCALE)


class Control(ViewOps):
    """Operations on a running Simulator. Call them on its event loop (control_http.ControlServer does)."""

    def __init__(self, sim: "Simulator") -> None:
        self.sim = sim

    # --- lookups ----------------------------------------------------------------------------

    def _venue(self, product: str):
        venue = self.sim.venues.get(product)
        if venue is None:
            raise ControlError(404, f"unknown product {product!r} (prediction or margin)")
        return venue

    def _market(self, product: str, ticker: str):
        venue = self._venue(product)
        market = venue.exchange.market(ticker)
        if market is None:
            raise ControlError(404, f"unknown market {ticker!r} on {product}")
        return venue, market

    def _account(self, product: str, name: str):
        venue = self._venue(product)
        if name not in venue.exchange.accounts():
            raise ControlError(404, f"unknown account {name!r} on {product}")
        return venue

    # --- read-only views ----------------------------------------------------------------------

    def endpoints(self) -> list[dict]:
        return [{"product": e.product, "session": e.session, "comp_id": e.comp_id, "host": e.host, "port": e.port,
                 "tls": e.tls} for e in self.sim.endpoints.values()]

    def markets(self, product: str = "prediction") -> list[dict]:
        return [{"ticker": m.ticker, "event": m.event_ticker, "series": m.series_ticker, "title": m.title,
                 "status": m.status.value, "price_structure": m.price_structure, "fractional": m.fractional,
                 "exchange_index": m.exchange_index} for m in self._venue(product).exchange.markets()]

    def book(self, ticker: str, product: str = "prediction", depth: int = 50) -> dict:
        venue, _ = self._market(product, ticker)
        book = venue.exchange.book(ticker)
        side = lambda s: [{"price": _price(p), "qty": _qty(q), "orders": n} for p, q, n in book.levels(s, depth)]
        return {"ticker": ticker, "bids": side(Side.BUY), "asks": side(Side.SELL)}

    def accounts(self, product: str = "prediction") -> list[dict]:
        exchange = self._venue(product).exchange
        return [self.account(name, product) for name in exchange.accounts()]

    def account(self, name: str, product: str = "prediction") -> dict:
        exchange = self._account(product, name).exchange
        positions = [{"ticker": ticker, "subaccount": sub, "net_yes": _qty(net)}
                     for (sub, ticker), net in sorted(exchange.positions(name).items())]
        return {"account": name, "balance": _dollars(exchange.balance(name)),
                "available": _dollars(exchange.available(name)),
                "reserved": _dollars(exchange.balance(name) - exchange.available(name)), "positions": positions,
                "open_orders": len(exchange.open_orders(account=name))}

    def orders(self, product: str = "prediction", account: str | None = None, ticker: str | None = None) -> list[dict]:
        exchange = self._venue(product).exchange
        return [{"order_id": o.order_id, "account": o.account, "cl_ord_id": o.client_order_id, "symbol": o.symbol,
                 "side": int(o.side), "price": _price(o.price), "qty": _qty(o.qty), "cum_qty": _qty(o.cum),
                 "leaves_qty": _qty(o.leaves), "tif": o.tif.name, "session": o.session}
                for o in exchange.open_orders(account=account, symbol=ticker)]

    def sessions(self) -> list[dict]:
        out = []
        for conn in self.sim.connections:
            store = conn.driver.session.store if conn.driver is not None else None
            out.append({"product": conn.product, "session": conn.session_code, "account": conn.user,
                        "api_key": conn.api_key_id, "listener": conn.listener,
                        "next_seq_out": store.next_sender_seq if store is not None else None,
                        "next_seq_in": store.next_target_seq if store is not None else None,
                        **self._session_extra(conn)})
        return sorted(out, key=lambda r: (r["product"], r["session"], r["account"]))

    def messages(self, limit: int = 100, session: str | None = None, msg_type: str | None = None,
                 cl_ord_id: str | None = None, format: str = "raw") -> list[dict] | PlainText:
        """Recent frames, newest last, filtered by session id (or a prefix: prediction/NR),
        MsgType and ClOrdID (11 or 41). format: raw (JSON rows, for machines), text (one
        rendered line each, text/plain) or block (the aligned multi-line form)."""
        if format not in ("raw", "text", "block"):
            raise ControlError(400, f"format must be raw, text or block, not {format!r}")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ControlError(400, f"limit must be a positive whole number, not {limit!r}")
        args = (limit, session and str(session), msg_type and str(msg_type), cl_ord_id and str(cl_ord_id))
        if format == "raw":
            return self.sim.transcript.recent(*args)
        return PlainText(self.sim.transcript.text(*args, multiline=format == "block"))

    # --- market lifecycle ----------------------------------------------------------------------

    def close_market(self, ticker: str, product: str = "prediction") -> dict:
        venue, market = self._market(product, ticker)
        if market.status in (MarketStatus.CLOSED, MarketStatus.SETTLED):
            raise ControlError(409, f"market {ticker} is already {market.status.value}")
        events = post_trade.close_market(venue, ticker, self.sim.clock.now())
        return {"ticker": ticker, "status": market.status.value, "cancelled_orders": len(events)}

    def settle_market(self, ticker: str, result: str, price: Any = None, product: str = "prediction",
                      page_size: int | None = None) -> dict:
        venue, _ = self._market(product, ticker)
        if result not in ("yes", "no", "scalar"):
            raise ControlError(400, "result must be yes, no or scalar")
        try:
            value = None if price is None else Decimal(str(price))
        except InvalidOperation:
            raise ControlError(400, f"price must be a number of cents, not {price!r}") from None
        try:
            if page_size is not None and (isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1):
                raise ControlError(400, f"page_size must be a positive integer (party entries per UMS page), "
                                        f"not {page_size!r}")
            settlement = post_trade.settle_market(venue, ticker, result, value, self.sim.clock.now(),
                                                  page_size=page_size)  # spec 05 §4: paginated batches
        except post_trade.SettlementError as exc:
            raise ControlError(409, str(exc)) from None
        return {"ticker": ticker, "result": result, "parties": len(settlement.entries)}

    # --- pauses, maintenance, halts (simulator/ops.py, spec 10) ---------------------------------

    def _ops(self, fn, *args, **kwargs):
        try:
            return fn(self.sim, *args, **kwargs)
        except ops.OpsError as exc:
            message = str(exc)
            raise ControlError(404 if "unknown" in message else 409, message) from None

    def pause(self, kind: str = "trading", product: str | None = None) -> dict:
        if kind not in ("trading", "exchange"):
            raise ControlError(400, "kind must be trading or exchange")
        cancelled = self._ops(ops.pause, kind, self.sim.clock.now(), products=[product] if product else None)
        return {"paused": kind, "cancelled_orders": cancelled}

    def resume(self, product: str | None = None) -> dict:
        return {"resumed": self._ops(ops.resume, self.sim.clock.now(), products=[product] if product else None)}

    def maintenance(self, mode: str = "continuity", sessions: list[str] | str | None = None,
                    pause: str | None = None, duration: float | None = None) -> dict:
        if mode not in ("continuity", "reset"):
            raise ControlError(400, "mode must be continuity or reset")
        window = self._ops(ops.maintenance, self.sim.clock.now(), sessions, mode=mode, pause=pause,
                           duration=duration)
        return window.as_dict()

    def status(self) -> dict:
        return ops.status(self.sim, self.sim.clock.now())

    def halt_market(self, ticker: str, product: str = "prediction") -> dict:
        self._market(product, ticker)
        self._ops(ops.halt, ticker, product=product)
        return {"ticker": ticker, "status": "halted"}

    def resume_market(self, ticker: str, product: str = "prediction") -> dict:
        self._market(product, ticker)
        self._ops(ops.resume_market, ticker, product=product)
        return {"ticker": ticker, "status": "open"}

    # --- accounts -------------------------------------------------------------------------------

    def set_tier(self, name: str, tier: str, product: str | None = None) -> dict:
        try:
            self.sim.ratelimits.set_tier(name, tier, product)
        except ValueError as exc:
            raise ControlError(404 if "unknown account" in str(exc) else 400, str(exc)) from None
        return self.rate_limits(name)

    def rate_limits(self, name: str) -> dict:
        try:
            return self.sim.ratelimits.snapshot(name)
        except (KeyError, ValueError) as exc:
            raise ControlError(404, f"unknown account {name!r}: {exc}") from None

    def set_balance(self, name: str, balance: Any, product: str = "prediction") -> dict:
        exchange = self._account(product, name).exchange
        try:
            target = int(Decimal(str(balance)) * MONEY_SCALE)
        except InvalidOperation:
            raise ControlError(400, f"balance must be a dollar amount, not {balance!r}") from None
        reserved = exchange.balance(name) - exchange.available(name)
        if target < reserved:
            raise ControlError(409, f"balance {balance} is below the {_dollars(reserved)} held for open orders")
        exchange.deposit(name, target - exchange.balance(name))
        return self.account(name, product)

    # --- faults (simulator/fault_service.py, issue 12 §3): the same plain-data rule everywhere ---

    def add_fault(self, **rule: Any) -> dict:
        """Install one fault rule; the answer carries its `id`. 400 naming the field if bad."""
        from .faults import RuleError
        try:
            state = self.sim.faults.add(rule)
        except RuleError as exc:
            raise ControlError(400, f"bad fault rule: {exc}") from None
        return state.as_dict()

    def faults(self) -> list[dict]:
        return self.sim.faults.list()

    def fault(self, id: str) -> dict:  # noqa: A002 - the path argument's name
        found = self.sim.faults.get(str(id))
        if found is None:
            raise ControlError(404, f"no fault rule {id!r} (GET /faults lists them)")
        return found

    def remove_fault(self, id: str) -> dict:  # noqa: A002
        try:
            state = self.sim.faults.remove(str(id))
        except KeyError:
            raise ControlError(404, f"no fault rule {id!r} (GET /faults lists them)") from None
        return state.as_dict()

    def clear_faults(self) -> dict:
        return {"removed": self.sim.faults.clear()}

    def fault_catalogue(self) -> list[dict]:
        return self.sim.faults.catalogue()

    # --- whole venue ---------------------------------------------------------------------------

    def place_order(self, account: str, symbol: str, side: str, price: Any, qty: Any, tif: str = "gtc",
                    product: str = "prediction", cl_ord_id: str | None = None, subaccount: int = 0) -> dict:
        """Rest an order for an account through the engine (simulator/control_orders.py)."""
        from .control_orders import place_order
        return place_order(self, account, symbol, side, price, qty, tif, product, cl_ord_id, subaccount)

    def reset(self) -> dict:
        """Back to the configured start state: empty books, sessions dropped, same config and
        seed (so the same ids come out again)."""
        started = time.perf_counter()
        self.sim.reset()
        return {"reset": True, "milliseconds": round((time.perf_counter() - started) * 1000, 3)}

    def call(self, operation: str, /, **kwargs) -> Any:
        """Run an operation by name (the HTTP server's entry point)."""
        fn = getattr(self, operation, None)
        if fn is None or operation.startswith("_") or operation == "call":
            raise ControlError(404, f"unknown operation {operation!r}")
        try:
            result = fn(**kwargs)
        except TypeError as exc:
            raise ControlError(400, f"bad arguments for {operation}: {exc}") from None
        state_file = getattr(self.sim, "state_file", None)
        if state_file is not None:
            state_file.aux_dirty = True  # e.g. a halt or a maintenance window (journal.py "aux")
        batch = getattr(self.sim, "batch", None)
        if batch is not None:
            batch.flush()  # committed before the answer is written (write-ahead, issue 15)
        return result


# --- HTTP/JSON routes (served by simulator/control_http.py) -----------------------------------

_ROUTES: list[tuple[str, str, str]] = [  # (method, path pattern, Control method); {x} = path argument
    ("GET", "/endpoints", "endpoints"),
    ("GET", "/markets", "markets"),
    ("GET", "/books/{ticker}", "book"),
    ("GET", "/accounts", "accounts"),
    ("GET", "/accounts/{name}", "account"),
    ("GET", "/orders", "orders"),
    ("POST", "/orders", "place_order"),
    ("GET", "/sessions", "sessions"),
    ("GET", "/messages", "messages"),
    ("POST", "/markets/{ticker}/close", "close_market"),
    ("POST", "/markets/{ticker}/settle", "settle_market"),
    ("POST", "/accounts/{name}/balance", "set_balance"),
    ("POST", "/reset", "reset"),
    ("GET", "/status", "status"),
    ("POST", "/pause", "pause"),
    ("POST", "/resume", "resume"),
    ("POST", "/maintenance", "maintenance"),
    ("POST", "/markets/{ticker}/halt", "halt_market"),
    ("POST", "/markets/{ticker}/resume", "resume_market"),
    ("POST", "/accounts/{name}/tier", "set_tier"),
    ("GET", "/accounts/{name}/limits", "rate_limits"),
    ("GET", "/faults/catalogue", "fault_catalogue"),
    ("POST", "/faults", "add_fault"),
    ("GET", "/faults", "faults"),
    ("GET", "/faults/{id}", "fault"),
    ("DELETE", "/faults/{id}", "remove_fault"),
    ("DELETE", "/faults", "clear_faults"),
    ("GET", "/sessions/recent", "recent_sessions"),
    ("GET", "/messages/{id}", "message"),
    ("GET", "/trades", "trades"),
    ("GET", "/runs", "runs"),
    ("POST", "/runs", "record_run"),
]


def add_route(method: str, pattern: str, operation: str) -> None:
    """Let another module expose one of its Control operations over HTTP."""
    if (method, pattern, operation) not in _ROUTES:
        _ROUTES.append((method, pattern, operation))


def _match(method: str, path: str) -> tuple[str, dict] | None:
    parts = [p for p in path.split("/") if p]
    for m, pattern, op in _ROUTES:
        pat = [p for p in pattern.split("/") if p]
        if m != method or len(pat) != len(parts):
            continue
        args = {}
        for want, got in zip(pat, parts):
            if want.startswith("{"):
                args[want[1:-1]] = got
            elif want != got:
                break
        else:
            return op, args
    return None
