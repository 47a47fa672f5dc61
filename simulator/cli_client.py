"""`kalshi-fixsim client ...`: the reference client from the shell (logon, order, amend, cancel).

One session per command: log on, send the request, print every answer in one readable line
(ExecutionReport, OrderCancelReject, Reject, BusinessMessageReject), log out. Exit status:
0 accepted, 1 rejected (ExecutionReport 150=8, or a 35=9/3/j answer) or Logon refused,
2 nothing sent (bad arguments, no key, no running simulator to find).

Where to connect: `--port` if given, else the running simulator's ready file for `--config`
(simulator/ready.py: the real ports when the config says 0), else the config's ports.

Like cli.py this is glue that may import both the simulator and the reference client
(DESIGN.md §2; the client is imported lazily so `serve` never loads it).
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from . import ready
from .config import load_config
from .preflight import where as _where

__all__ = ["add_client_parser", "client_command"]

COMMANDS = (("logon", "log on and off one endpoint"), ("order", "place an order (NewOrderSingle)"),
            ("amend", "amend an order (OrderCancelReplaceRequest)"),
            ("cancel", "cancel an order (OrderCancelRequest)"))
SESSIONS = ("NR", "RT", "DC", "PT", "RFQ", "MD")
_CXL_REASON = {"0": "too late to cancel", "1": "unknown order", "2": "broker option", "3": "pending",
               "6": "duplicate ClOrdID", "99": "other"}
_RESPONSE_TO = {"1": "cancel", "2": "amend"}
_SIDE = {"1": "buy", "2": "sell"}


def _number(text: str) -> str:
    """A price or quantity as typed (Decimal syntax), refused by argparse otherwise."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a number above 0, not {text!r}")
    return text


class ClientUsageError(Exception):
    """Nothing was sent: the message says what is missing and how to fix it (exit 2)."""


def add_client_parser(sub, common) -> None:
    client = sub.add_parser("client", help="reference client: log on, place, amend or cancel one order",
                            parents=[common]).add_subparsers(dest="client_command", required=True,
                                                             metavar="{logon,order,amend,cancel}")
    for name, help_text in COMMANDS:
        s = client.add_parser(name, help=help_text, description=help_text, parents=[common])
        s.add_argument("--product", choices=("prediction", "margin"), default="prediction",
                       help="which product's gateway (default prediction)")
        s.add_argument("--session", default="NR", type=str.upper, choices=SESSIONS,
                       help="session type (default NR; margin has no PT or RFQ)")
        s.add_argument("--config", default="sim.yaml",
                       help="read the account's key, the CA and the ports (of the running simulator) from "
                            "this config (default sim.yaml)")
        s.add_argument("--ready-file", default=None,
                       help="the running simulator's ready file (default: state/<config>.ready.json)")
        s.add_argument("--account", default="alice", help="account name in the config (default alice)")
        s.add_argument("--host", default="127.0.0.1", help="the simulator's host (default 127.0.0.1)")
        s.add_argument("--port", type=int, default=None, help="port to connect to (default: from the config)")
        s.add_argument("--api-key", default=None, help="API key id (SenderCompID); default: the account's")
        s.add_argument("--key", default=None, help="private key PEM (default: keys/ACCOUNT.pem beside the config)")
        s.add_argument("--ca", default=None, help="CA file that signed the server certificate (default tls.ca)")
        s.add_argument("--heartbeat", type=int, default=30, help="HeartBtInt in seconds (default 30)")
        s.add_argument("--listener", action="store_true", help="log on as a listener session")
        s.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                       help="stay logged on this long after the answers and print what else comes "
                            "(Ctrl-C logs out sooner)")
        if name == "logon":
            continue
        s.add_argument("--symbol", required=True, help="market ticker (`kalshi-fixsim ctl markets` lists them)")
        s.add_argument("--side", required=True, choices=("buy", "sell", "yes", "no"), type=str.lower,
                       help="buy (YES) or sell (YES), which is buying NO")
        s.add_argument("--cl-ord-id", required=True, help="ClOrdID of this request")
        s.add_argument("--dollars", action="store_true", help="UseDollars: prices in dollars, not cents")
        if name in ("order", "amend"):
            s.add_argument("--qty", required=True, type=_number, help="contracts (amend: the new total)")
            s.add_argument("--price", required=name == "order", default=None, type=_number,
                           help="limit price: cents (prediction), dollars with --dollars or on margin")
        if name == "order":
            s.add_argument("--tif", default=None, choices=("day", "gtc", "ioc", "fok"), type=str.lower,
                           help="TimeInForce (default: the gateway's, GTC)")
            s.add_argument("--cancel-on-pause", action="store_true",
                           help="CancelOrderOnPause(21006)=Y: the order is cancelled when trading pauses")
        else:
            s.add_argument("--orig", required=True, help="the order's current ClOrdID")


def _endpoint(args: argparse.Namespace) -> dict:
    """host, port, api_key, key_path, ca, tls for the command, or ClientUsageError."""
    from kalshi_fixsim.fixproto.kalshi import DEFAULT_PORTS

    config_path = Path(args.config)
    out = {"host": args.host, "port": args.port, "api_key": args.api_key, "key": args.key, "ca": args.ca,
           "tls": True}
    product, code = args.product, args.session
    if not config_path.exists():
        if not (args.api_key and args.key):
            raise ClientUsageError(f"{config_path} not found: pass --config, or --api-key and --key "
                                   f"(run `kalshi-fixsim init` to make a sample config)")
        out["port"] = out["port"] or DEFAULT_PORTS[product][code]
        return out
    config = load_config(config_path)
    base = config_path.absolute().parent
    account = next((a for a in config.accounts if a.name == args.account), None)
    if account is None and not args.api_key:
        names = ", ".join(a.name for a in config.accounts) or "none"
        raise ClientUsageError(f"{_where(config_path)}no account {args.account!r} (accounts: {names}); pass --account "
                               f"or add one with `kalshi-fixsim keys new --name {args.account}`")
    if account is not None:
        out["api_key"] = out["api_key"] or account.api_key
        out["key"] = out["key"] or str(base / "keys" / f"{account.name}.pem")
    if not Path(out["key"]).is_file():
        if args.key:
            raise ClientUsageError(f"--key: private key {args.key} not found")
        raise ClientUsageError(f"private key {out['key']} not found: pass --key, or run `kalshi-fixsim init "
                               f"--config {config_path}` to remake the sample accounts' keys")
    out["ca"] = out["ca"] or str(config.tls.ca)
    if config.tls.enabled and not Path(out["ca"]).is_file():
        raise ClientUsageError(f"{'--ca: ' if args.ca else _where(config_path) + 'tls.ca: '}CA file {out['ca']} "
                               f"not found: make dev certificates with `kalshi-fixsim certs`, or pass --ca")
    out["tls"] = config.tls.enabled
    if out["port"] is not None:
        return out
    pconf = config.products.get(product)
    configured = pconf.ports.get(code) if pconf is not None else None
    try:  # the running simulator's real ports (port 0 in the config), TLS and CA
        document = ready.read(args.ready_file or ready.default_path(config_path))
    except ready.ReadyFileError as exc:
        if configured == 0:
            raise ClientUsageError(f"{_where(config_path)}products.{product}.ports.{code} is 0 (any free port), so "
                                   f"the port must come from the running simulator, but {exc}; start it, or pass "
                                   f"--port") from None
        document = None
    if document is not None:
        ep = document.get("products", {}).get(product, {}).get(code)
        if ep is None:
            raise ClientUsageError(f"the running simulator of {config_path} serves no {product} {code} endpoint "
                                   f"(see `kalshi-fixsim ctl endpoints`)")
        out["port"], out["tls"] = ep["port"], ep.get("tls", True)
        out["ca"] = args.ca or document.get("ca_file") or out["ca"]
        return out
    if configured is None:
        raise ClientUsageError(f"{_where(config_path)}no {product} {code} listener (products.{product}.ports.{code})")
    out["port"] = configured
    return out


def _describe(msg) -> tuple[str, bool]:
    """One line for an answer, and whether it is a rejection."""
    from kalshi_fixsim.client.orders import CancelReject, ExecutionReport

    kind = msg.get(35)
    if kind == "8":
        r = ExecutionReport(msg)
        line = (f"ExecutionReport {r.exec_type}/{r.ord_status} ClOrdID={r.cl_ord_id} OrderID={r.order_id} "
                f"{_SIDE.get(msg.get(54) or '', msg.get(54))} {msg.get(55)} "
                f"price={msg.get(44)} qty={msg.get(38)} cum={msg.get(14)} leaves={msg.get(151)}")
        if r.exec_type == "F":
            line += f" fill {msg.get(32)}@{msg.get(31)} fee={msg.get(137)} balance_change={msg.get(1704)}"
        if r.exec_type == "8" and r.ord_rej_reason is not None:
            line += f" reason={r.ord_rej_reason}"
        if r.text:
            line += f" text={r.text}"
        return line, r.exec_type == "8"
    if kind == "9":
        c = CancelReject(msg)
        reason = msg.get(102) or ""
        line = (f"OrderCancelReject ({_RESPONSE_TO.get(c.response_to or '', c.response_to)}) "
                f"ClOrdID={msg.get(11)} OrigClOrdID={msg.get(41)} OrderID={msg.get(37)} status={c.ord_status} "
                f"reason={reason}({_CXL_REASON.get(reason, 'other')})")
        return line + (f" text={c.text}" if c.text else ""), True
    if kind == "3":
        return (f"Reject RefSeqNum={msg.get(45)} RefMsgType={msg.get(372)} RefTagID={msg.get(371)} "
                f"reason={msg.get(373)} text={msg.get(58)}"), True
    if kind == "j":
        return (f"BusinessMessageReject RefMsgType={msg.get(372)} reason={msg.get(380)} "
                f"text={msg.get(58)}"), True
    return f"35={kind} " + "|".join(f"{t}={v}" for t, v in msg.body()), False


def client_command(args: argparse.Namespace) -> int:
    try:
        where = _endpoint(args)
    except ClientUsageError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    return asyncio.run(_run(args, where))


async def _run(args: argparse.Namespace, where: dict) -> int:
    from kalshi_fixsim.client import FixClient, LogonError  # lazy: the simulator proper never imports the client
    from kalshi_fixsim.client.orders import cancel_order, new_order, replace_order
    from kalshi_fixsim.fixproto.kalshi import LogonOptions

    options = LogonOptions(skip_pending_exec_reports=True)
    if args.listener:
        options.listener_session = True
    if getattr(args, "dollars", False):
        options.use_dollars = True
    host, port = where["host"], where["port"]
    try:
        fix = FixClient(product=args.product, session=args.session, host=host, port=port,
                        api_key=where["api_key"], private_key=where["key"], ca_file=where["ca"],
                        tls=where["tls"], heartbeat=args.heartbeat, options=options)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    try:
        reply = await fix.connect()
    except LogonError as exc:
        if exc.reason == "connect_failed":
            print(f"error: {exc.text}: is `kalshi-fixsim serve` running there?", file=sys.stderr, flush=True)
            return 2
        print(f"logon refused: {exc.text}", flush=True)
        return 1
    print(f"logged on to {fix.session_type.comp_id} ({args.product}) at {host}:{port}", flush=True)
    command = args.client_command
    if command == "logon":
        print("reply: " + "|".join(f"{t}={v}" for t, v in reply.pairs), flush=True)
    elif command == "order":
        fix.send("D", new_order(args.cl_ord_id, args.symbol, args.side, args.price, args.qty, tif=args.tif,
                                cancel_on_pause=True if args.cancel_on_pause else None))
    elif command == "amend":
        fix.send("G", replace_order(args.cl_ord_id, args.orig, args.symbol, args.side, args.qty, price=args.price))
    elif command == "cancel":
        fix.send("F", cancel_order(args.cl_ord_id, args.orig, args.symbol, args.side))
    rejected = False
    for msg in await fix.collect():
        line, bad = _describe(msg)
        rejected = rejected or bad
        print(line, flush=True)
    if args.wait > 0:
        closed = await _wait(fix, args.wait)
        if closed is not None:
            print(f"disconnected ({closed.reason}): {closed.text}", flush=True)
            return 1 if rejected else 0
    disconnect = await fix.logout()
    print(f"logged out ({disconnect.reason}); next seq out={fix.store.next_sender_seq} "
          f"in={fix.store.next_target_seq}", flush=True)
    return 1 if rejected else 0


async def _wait(fix, seconds: float):
    """Print what arrives for `seconds` (or until Ctrl-C / SIGTERM); the Disconnect if the gateway
    closed the session meanwhile, else None."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    print(f"waiting {seconds:g} s for more (Ctrl-C to log out now)", flush=True)
    deadline = loop.time() + seconds
    stopped = asyncio.ensure_future(stop.wait())
    closed = asyncio.ensure_future(asyncio.shield(fix.driver.closed))
    try:
        while not stop.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            getter = asyncio.ensure_future(fix.inbox.get())
            done, _ = await asyncio.wait({getter, stopped, closed}, timeout=remaining,
                                         return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                print(_describe(getter.result())[0], flush=True)
                continue
            getter.cancel()
            if closed in done:
                while not fix.inbox.empty():
                    print(_describe(fix.inbox.get_nowait())[0], flush=True)
                return closed.result()
    finally:
        stopped.cancel()
        if not closed.done():
            closed.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError):
                pass
    return None
