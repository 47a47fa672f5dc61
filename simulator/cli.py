"""`kalshi-fixsim` command line: init, serve, certs, keys, client.

Like the pytest plugin, this is glue that may reach both the simulator and the reference
client (the `client` sub-command imports it lazily); nothing else in simulator/ does.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from . import fault_cli, ops
from .certs import make_dev_certs
from .config import ConfigError, add_account, load_config, write_sample_config
from .keys import new_key_pair

__all__ = ["main", "init_workspace"]

SAMPLE_ACCOUNTS = ("alice", "bob")
CONTROL_PORT = 8380

# `kalshi-fixsim ctl NAME ARGS`: (name, help, positional args; "x?" optional) -> HTTP request below
CTL_COMMANDS = [
    ("endpoints", "list the endpoints", []),
    ("markets", "list the markets", []),
    ("book", "show a market's book", ["ticker"]),
    ("accounts", "balances and positions", []),
    ("orders", "open orders", ["account?"]),
    ("sessions", "live sessions with their sequence numbers", []),
    ("messages", "recent FIX messages", ["limit?"]),
    ("pause", "start a trading or exchange pause", ["kind"]),
    ("resume", "end the pause", []),
    ("maintenance", "disconnect sessions for maintenance now", ["mode?"]),
    ("halt", "halt one market", ["ticker"]),
    ("unhalt", "resume a halted market", ["ticker"]),
    ("close", "close a market (resting orders cancelled)", ["ticker"]),
    ("settle", "settle a market: yes, no or scalar PRICE_CENTS", ["ticker", "result", "price?"]),
    ("tier", "set an account's rate-limit tier", ["account", "tier"]),
    ("balance", "set an account's balance (dollars)", ["account", "amount"]),
    ("reset", "back to the configured start state", []),
]


def init_workspace(config_path: Path, *, quiet: bool = False) -> Path:
    """What `make run` needs on a fresh machine: dev certs, sample keys, a sample config."""
    base = config_path.absolute().parent
    say = (lambda *_: None) if quiet else (lambda msg: print(msg, file=sys.stderr))
    certs = make_dev_certs(base / "certs")
    say(f"certificates: {certs.cert} (clients trust {certs.ca})")
    if not config_path.exists():
        write_sample_config(config_path)
        say(f"config: wrote sample {config_path}")
    config = load_config(config_path)
    known = {a.name for a in config.accounts}
    for name in SAMPLE_ACCOUNTS:
        if name in known:
            continue
        pair = new_key_pair(base / "keys", name)
        add_account(config_path, name, pair.api_key, pair.public_key_path)
        say(f"key: {name} api_key={pair.api_key} private key {pair.private_key_path}")
    return config_path


async def _serve(config_path: Path, control_port: int | None = None) -> None:
    from .runtime import freeze_startup, tune_gc
    from .server import Simulator

    config = load_config(config_path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before anything is printed: a caller may signal at once
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    tune_gc()  # runtime.py: the collector's default thresholds cost the engine a third of its time
    sim = Simulator(config)
    ops.install(sim, schedule=ops.THURSDAY)  # spec 10 §1: the weekly trading pause, DST-correct
    await sim.start(control_port=control_port)
    freeze_startup()
    print(sim.endpoint_table(), flush=True)
    for product, venue in sim.venues.items():
        tickers = [m.ticker for m in venue.exchange.markets()]
        if tickers:
            shown = ", ".join(tickers[:8]) + (f" and {len(tickers) - 8} more" if len(tickers) > 8 else "")
            print(f"{product} markets: {shown}", flush=True)
    fault_cli.print_active(sim)  # the config's faults: list, active from now
    if sim.control_server is not None:
        print(f"control plane: http://127.0.0.1:{sim.control_server.port}  (kalshi-fixsim ctl --port "
              f"{sim.control_server.port} ...)", flush=True)
    print(f"CA file for clients: {config.tls.ca}" if config.tls.enabled else "TLS disabled (loopback only)",
          flush=True)
    await stop.wait()
    await sim.stop()


def _client_command(args: argparse.Namespace) -> int:
    """Reference client from the shell: logon, order, amend, cancel (one session each time)."""
    from kalshi_fixsim.client import FixClient, LogonError  # lazy: the simulator proper never imports the client
    from kalshi_fixsim.client.orders import ExecutionReport, cancel_order, new_order, replace_order
    from kalshi_fixsim.fixproto.kalshi import DEFAULT_PORTS, LogonOptions

    config_path = Path(args.config)
    base = config_path.absolute().parent
    api_key, key_path, ca = args.api_key, args.key, args.ca
    port = args.port
    if config_path.exists():
        config = load_config(config_path)
        account = next((a for a in config.accounts if a.name == args.account), None)
        if account is None and not api_key:
            print(f"no account {args.account!r} in {config_path}", file=sys.stderr)
            return 2
        if account is not None:
            api_key = api_key or account.api_key
            key_path = key_path or str(base / "keys" / f"{account.name}.pem")
        ca = ca or str(config.tls.ca)
        port = port or config.products[args.product].ports.get(args.session.upper())
    port = port or DEFAULT_PORTS[args.product][args.session.upper()]
    options = LogonOptions(skip_pending_exec_reports=True)
    if args.listener:
        options.listener_session = True
    if getattr(args, "dollars", False):
        options.use_dollars = True

    def show(msg) -> None:
        if msg.get(35) == "8":
            r = ExecutionReport(msg)
            line = (f"ExecutionReport {r.exec_type}/{r.ord_status} ClOrdID={r.cl_ord_id} OrderID={r.order_id} "
                    f"price={msg.get(44)} qty={msg.get(38)} cum={msg.get(14)} leaves={msg.get(151)}")
            if r.exec_type == "F":
                line += f" fill {msg.get(32)}@{msg.get(31)} fee={msg.get(137)} balance_change={msg.get(1704)}"
            if r.text:
                line += f" text={r.text}"
            print(line)
        else:
            print(f"35={msg.get(35)} " + "|".join(f"{t}={v}" for t, v in msg.body()))

    async def run() -> int:
        fix = FixClient(product=args.product, session=args.session, host=args.host, port=port, api_key=api_key,
                        private_key=key_path, ca_file=ca, heartbeat=args.heartbeat, options=options)
        try:
            reply = await fix.connect()
        except LogonError as exc:
            print(f"logon refused: {exc.text}")
            return 1
        print(f"logged on to {fix.session_type.comp_id} ({args.product}) at {args.host}:{port}")
        if args.client_command == "logon":
            print("reply: " + "|".join(f"{t}={v}" for t, v in reply.pairs))
        elif args.client_command == "order":
            fix.send("D", new_order(args.cl_ord_id, args.symbol, args.side, args.price, args.qty, tif=args.tif))
        elif args.client_command == "amend":
            fix.send("G", replace_order(args.cl_ord_id, args.orig, args.symbol, args.side, args.qty, price=args.price))
        elif args.client_command == "cancel":
            fix.send("F", cancel_order(args.cl_ord_id, args.orig, args.symbol, args.side))
        for msg in await fix.collect():
            show(msg)
        disconnect = await fix.logout()
        print(f"logged out ({disconnect.reason}); next seq out={fix.store.next_sender_seq} "
              f"in={fix.store.next_target_seq}")
        return 0

    return asyncio.run(run())


def _ctl_request(args: argparse.Namespace) -> tuple[str, str, dict]:
    """The HTTP method, path and JSON body for one ctl command."""
    c, p = args.ctl_command, {"product": args.product}
    if c == "fault":
        return fault_cli.ctl_request(args)
    get = {"endpoints": "/endpoints", "markets": "/markets", "accounts": "/accounts", "sessions": "/sessions"}
    if c in get:
        return "GET", get[c] + (f"?product={args.product}" if c in ("markets", "accounts") else ""), {}
    if c == "book":
        return "GET", f"/books/{args.ticker}?product={args.product}", {}
    if c == "orders":
        return "GET", f"/orders?product={args.product}" + (f"&account={args.account}" if args.account else ""), {}
    if c == "messages":
        return "GET", f"/messages?limit={args.limit or 50}", {}
    if c == "pause":
        return "POST", "/pause", {**p, "kind": args.kind}
    if c == "resume":
        return "POST", "/resume", p
    if c == "maintenance":
        return "POST", "/maintenance", {"mode": args.mode or "continuity"}
    if c in ("halt", "unhalt", "close"):
        action = {"halt": "halt", "unhalt": "resume", "close": "close"}[c]
        return "POST", f"/markets/{args.ticker}/{action}", p
    if c == "settle":
        return "POST", f"/markets/{args.ticker}/settle", {**p, "result": args.result, "price": args.price}
    if c == "tier":
        return "POST", f"/accounts/{args.account}/tier", {**p, "tier": args.tier}
    if c == "balance":
        return "POST", f"/accounts/{args.account}/balance", {**p, "balance": args.amount}
    return "POST", "/reset", {}


def _ctl(args: argparse.Namespace) -> int:
    """A tiny HTTP client of the control plane (it listens on loopback only)."""
    import json
    import urllib.error
    import urllib.request

    method, path, body = _ctl_request(args)
    data = json.dumps({k: v for k, v in body.items() if v is not None}).encode() if method == "POST" else None
    request = urllib.request.Request(f"http://127.0.0.1:{args.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(response.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(f"error {exc.code}: {exc.read().decode()}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(f"cannot reach the control plane on 127.0.0.1:{args.port}: {exc.reason}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kalshi-fixsim", description="Kalshi FIX gateway simulator")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="make dev certs, sample keys and a sample config if missing")
    s.add_argument("--config", default="sim.yaml")

    s = sub.add_parser("serve", help="serve every endpoint of both products")
    s.add_argument("--config", default="sim.yaml")
    s.add_argument("--control-port", type=int, default=CONTROL_PORT,
                   help=f"HTTP control plane on 127.0.0.1 (default {CONTROL_PORT}; 0 = any free port; -1 = off)")

    ctl = sub.add_parser("ctl", help="drive a running simulator through its control plane")
    ctl.add_argument("--port", type=int, default=CONTROL_PORT, help="the control plane's port on 127.0.0.1")
    ctl.add_argument("--product", default="prediction")
    ops = ctl.add_subparsers(dest="ctl_command", required=True)
    for name, help_text, positionals in CTL_COMMANDS:
        c = ops.add_parser(name, help=help_text)
        for arg in positionals:
            c.add_argument(arg.rstrip("?"), nargs="?" if arg.endswith("?") else None)
    fault_cli.add_ctl_parser(ops)  # ctl fault add|list|show|rm|clear
    fault_cli.add_parser(sub)      # faults: the catalogue

    s = sub.add_parser("certs", help="make a dev CA and a server certificate")
    s.add_argument("--out", default="certs")
    s.add_argument("--force", action="store_true", help="regenerate even if present")

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    s = keys.add_parser("new", help="make an RSA key pair and API key id, register it in the config")
    s.add_argument("--name", required=True)
    s.add_argument("--config", default="sim.yaml")
    s.add_argument("--out", default=None, help="key folder (default: keys/ beside the config)")
    s.add_argument("--products", default="prediction,margin")

    client = sub.add_parser("client", help="reference client").add_subparsers(dest="client_command", required=True)
    for name, help_text in (("logon", "log on and off one endpoint"), ("order", "place an order (NewOrderSingle)"),
                            ("amend", "amend an order (OrderCancelReplaceRequest)"),
                            ("cancel", "cancel an order (OrderCancelRequest)")):
        s = client.add_parser(name, help=help_text)
        s.add_argument("--product", choices=("prediction", "margin"), default="prediction")
        s.add_argument("--session", default="NR", help="NR, RT, DC, PT, RFQ or MD")
        s.add_argument("--config", default="sim.yaml", help="read ports, key and CA from this config")
        s.add_argument("--account", default="alice")
        s.add_argument("--host", default="127.0.0.1")
        s.add_argument("--port", type=int, default=None)
        s.add_argument("--api-key", default=None)
        s.add_argument("--key", default=None, help="private key PEM")
        s.add_argument("--ca", default=None, help="CA file that signed the server certificate")
        s.add_argument("--heartbeat", type=int, default=30)
        s.add_argument("--listener", action="store_true", help="log on as a listener session")
        if name == "logon":
            continue
        s.add_argument("--symbol", required=True, help="market ticker (serve prints them)")
        s.add_argument("--side", required=True, help="buy (YES) or sell (YES) = buy NO")
        s.add_argument("--cl-ord-id", required=True, help="ClOrdID of this request")
        s.add_argument("--dollars", action="store_true", help="UseDollars: prices in dollars, not cents")
        if name in ("order", "amend"):
            s.add_argument("--qty", required=True, help="contracts (amend: new total)")
            s.add_argument("--price", required=name == "order", default=None, help="cents (or dollars)")
        if name == "order":
            s.add_argument("--tif", default=None, help="day, gtc, ioc, fok")
        else:
            s.add_argument("--orig", required=True, help="the order's current ClOrdID")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "init":
            init_workspace(Path(args.config))
        elif args.command == "serve":
            config_path = Path(args.config)
            if not config_path.exists():
                print(f"{config_path} not found: run `kalshi-fixsim init` (or `make run`)", file=sys.stderr)
                return 2
            asyncio.run(_serve(config_path, None if args.control_port < 0 else args.control_port))
        elif args.command == "certs":
            paths = make_dev_certs(Path(args.out), overwrite=args.force)
            print(f"CA {paths.ca}\nserver certificate {paths.cert}\nserver key {paths.key}")
        elif args.command == "keys":
            config_path = Path(args.config)
            out = Path(args.out) if args.out else config_path.absolute().parent / "keys"
            pair = new_key_pair(out, args.name)
            add_account(config_path, args.name, pair.api_key, pair.public_key_path,
                        tuple(p.strip() for p in args.products.split(",") if p.strip()))
            print(f"api_key {pair.api_key}\nprivate key {pair.private_key_path}\npublic key {pair.public_key_path}")
        elif args.command == "client":
            return _client_command(args)
        elif args.command == "ctl":
            return _ctl(args)
        elif args.command == "faults":
            return fault_cli.print_catalogue(args)
    except (ConfigError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
