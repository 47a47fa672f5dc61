"""`kalshi-fixsim ctl ...`: a small HTTP client of the control plane (simulator/control.py).

Which control plane: `--port` if given, else the running simulator's ready file for
`--config` (simulator/ready.py: right even with `--control-port 0`), else 8380. Without
`--product`, operations act on both products as the HTTP API does (pause, resume) and the
views show both (markets, accounts, orders); the market commands (book, halt, unhalt, close,
settle) find the ticker's product. The views
`markets`, `book`, `accounts` and `orders` print tables with their units (`--json`: the raw
JSON); every other command prints the JSON answer.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from . import ready

__all__ = ["ctl_command", "control_port"]

PRODUCTS = ("prediction", "margin")
PER_PRODUCT_VIEWS = ("markets", "accounts", "orders")
TICKER_COMMANDS = ("book", "halt", "unhalt", "close", "settle")
DEFAULT_PORT = 8380
_SIDE = {1: "buy", 2: "sell", "1": "buy", "2": "sell"}


class CtlError(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def control_port(args: argparse.Namespace) -> tuple[int, str]:
    """(port, where it came from)."""
    if args.port is not None:
        return args.port, "--port"
    path = Path(args.ready_file) if args.ready_file else ready.default_path(args.config)
    try:
        document = ready.read(path)
    except ready.ReadyFileError:
        return DEFAULT_PORT, "the default"
    url = document.get("control_url")
    if not url:
        raise CtlError(f"the running simulator ({path}) has no control plane: serve it without --control-port -1",
                       2)
    return int(url.rsplit(":", 1)[1]), str(path)


def _http(port: int, method: str, path: str, body: dict):
    data = json.dumps({k: v for k, v in body.items() if v is not None}).encode() if method == "POST" else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
            if "json" not in (response.headers.get("Content-Type") or "application/json"):
                return text  # e.g. a text rendering: printed as it came
            return json.loads(text or "null")
    except urllib.error.HTTPError as exc:
        text = exc.read().decode()
        try:
            text = json.loads(text).get("error", text)
        except (ValueError, AttributeError):
            pass
        raise CtlError(f"error {exc.code}: {text}", 1) from None
    except urllib.error.URLError as exc:
        raise CtlError(f"cannot reach the control plane on 127.0.0.1:{port}: {exc.reason} "
                       f"(is `kalshi-fixsim serve` running? pass --port or --config)", 2) from None


def ctl_command(args: argparse.Namespace, request_for: Callable[[argparse.Namespace], tuple[str, str, dict]]) -> int:
    try:
        port, _source = control_port(args)
        command = args.ctl_command
        if args.product is None and command in PER_PRODUCT_VIEWS:
            results = {}
            for product in PRODUCTS:
                try:
                    results[product] = _http(port, *request_for(argparse.Namespace(**{**vars(args),
                                                                                      "product": product})))
                except CtlError as exc:
                    if "unknown product" not in str(exc):
                        raise
            _print(args, command, results)
            return 0
        if args.product is None and command in TICKER_COMMANDS:  # the product whose market it is
            first: CtlError | None = None
            for product in PRODUCTS:
                try:
                    result = _http(port, *request_for(argparse.Namespace(**{**vars(args), "product": product})))
                except CtlError as exc:
                    if "unknown market" not in str(exc) and "unknown product" not in str(exc):
                        raise
                    first = first or exc
                    continue
                _print(args, command, {product: result} if command == "book" else result)
                return 0
            assert first is not None
            raise first
        result = _http(port, *request_for(args))
        _print(args, command, {args.product or "": result} if command in PER_PRODUCT_VIEWS + ("book",) else result)
        return 0
    except CtlError as exc:
        print(str(exc), file=sys.stderr)
        return exc.code


def _print(args: argparse.Namespace, command: str, result) -> None:
    if isinstance(result, str):
        print(result.rstrip("\n"))
        return
    if args.json or command not in PER_PRODUCT_VIEWS + ("book",):
        print(json.dumps(result, indent=1))
        return
    lines: list[str] = []
    for product, data in result.items():
        lines += {"markets": _markets, "accounts": _accounts, "orders": _orders, "book": _book}[command](product, data)
    print("\n".join(lines))


def _table(rows: list[tuple], header: tuple) -> list[str]:
    rows = [tuple(str(c) for c in header)] + [tuple("" if c is None else str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def _markets(product: str, markets: list[dict]) -> list[str]:
    out = [f"{product} markets ({len(markets)}):"]
    return out + _table([(m["ticker"], m["status"], m["price_structure"], "yes" if m.get("fractional") else "no",
                          m.get("title") or "") for m in markets],
                        ("ticker", "status", "price grid", "fractional", "title"))


def _accounts(product: str, accounts: list[dict]) -> list[str]:
    out = [f"{product} accounts (dollars; positions in contracts, + = YES, - = NO):"]
    rows = []
    for a in accounts:
        positions = ", ".join(f"{p['ticker']} {p['net_yes']}" for p in a.get("positions", ())) or "-"
        rows.append((a["account"], a["balance"], a["available"], a["open_orders"], positions))
    return out + _table(rows, ("account", "balance $", "available $", "open orders", "positions"))


def _orders(product: str, orders: list[dict]) -> list[str]:
    out = [f"{product} open orders ({len(orders)}; prices in dollars, quantities in contracts):"]
    rows = [(o["order_id"], o["account"], o["cl_ord_id"], o["symbol"], _SIDE.get(o["side"], o["side"]),
             o["price"], o["qty"], o["cum_qty"], o["leaves_qty"], o["tif"].lower(), o.get("session") or "")
            for o in orders]
    return out + _table(rows, ("order id", "account", "ClOrdID", "ticker", "side", "price $", "qty", "filled",
                               "open", "tif", "session"))


def _book(product: str, book: dict) -> list[str]:
    out = [f"{book['ticker']} ({product}): prices in dollars per contract, quantities in contracts",
           "  bids = buy YES; asks = sell YES (= buy NO)"]
    bids, asks = book.get("bids", []), book.get("asks", [])
    rows = []
    for i in range(max(len(bids), len(asks))):
        bid = bids[i] if i < len(bids) else None
        ask = asks[i] if i < len(asks) else None
        rows.append((bid["qty"] if bid else "", bid["price"] if bid else "", ask["price"] if ask else "",
                     ask["qty"] if ask else ""))
    if not rows:
        return out + ["  (empty book)"]
    return out + _table(rows, ("bid qty", "bid $", "ask $", "ask qty"))
