"""`kalshi-fixsim` command line: init, serve, ctl, certs, keys, client.

Like the pytest plugin, this is glue that may reach both the simulator and the reference
client (cli_client.py imports it lazily); nothing else in simulator/ does. The sub-commands
live beside it: cli_client.py (`client`), cli_ctl.py (`ctl`), preflight.py (the one-line
start-up errors of `serve`), ready.py (the ready file).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sqlite3
import sys
from pathlib import Path

import yaml

from kalshi_fixsim import __version__

from . import cli_dictionary, fault_cli, ops, preflight, ready
from .conform import cli as conform_cli
from .scenario import cli as scenario_cli
from .scenario.client_peer import use_client
from .certs import CertPaths, make_dev_certs
from .cli_client import add_client_parser, client_command
from .cli_ctl import ctl_command
from .config import TIERS, ConfigError, add_account, load_config, write_sample_config
from .keys import new_key_pair

__all__ = ["main", "init_workspace"]

log = logging.getLogger("kalshi_fixsim")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
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
    ("order", "rest an order for an account through the engine (POST /orders)",
     ["account", "ticker", "side", "limit_price", "qty"]),
]
CTL_CHOICES = {"side": ("buy", "sell"), "kind": ("trading", "exchange"), "mode": ("continuity", "reset"), "result": ("yes", "no", "scalar"),
               "tier": TIERS}
CTL_ARG_HELP = {
    "ticker": "market ticker (`ctl markets` lists them)",
    "account": "account name (`ctl accounts` lists them)",
    "limit": "how many messages (default 50)",
    "kind": "trading: orders refused, cancels allowed; exchange: cancels refused too (spec 10 §2)",
    "mode": "continuity: RT/PT keep their sequence numbers (default); reset: they must log on with 141=Y",
    "result": "the settlement outcome",
    "price": "scalar settlement value, cents",
    "tier": "rate-limit tier (spec 11 §2)",
    "amount": "new balance, dollars",
    "side": "buy or sell (YES)",
    "limit_price": "limit price: cents (50) or dollars with a point (0.50)",
    "qty": "contracts",
}


def _reference_client():
    """The reference client classes for `raw: false` scenario sessions (this module is glue)."""
    from kalshi_fixsim.client import FixClient, LogonOptions
    return FixClient, LogonOptions


def init_workspace(config_path: Path, *, quiet: bool = False) -> Path:
    """What `make run` needs on a fresh machine: dev certs, sample keys, a sample config."""
    base = config_path.absolute().parent
    say = (lambda *_: None) if quiet else (lambda msg: print(msg, file=sys.stderr))
    kept = CertPaths.in_dir(base / "certs").all_exist()
    certs = make_dev_certs(base / "certs")
    say(f"certificates: {'kept the existing' if kept else 'made new'} {certs.cert} (clients trust {certs.ca})")
    if not config_path.exists():
        write_sample_config(config_path)
        say(f"config: wrote sample {config_path}")
    _remake_missing_sample_keys(config_path, say)
    config = load_config(config_path)
    known = {a.name for a in config.accounts}
    for name in SAMPLE_ACCOUNTS:
        if name in known:
            continue
        pair = new_key_pair(base / "keys", name)
        add_account(config_path, name, pair.api_key, pair.public_key_path)
        say(f"key: {name} api_key={pair.api_key} private key {pair.private_key_path}")
    return config_path


def _remake_missing_sample_keys(config_path: Path, say) -> None:
    """keys/ deleted but sim.yaml kept: make new key pairs for the sample accounts at the paths the
    config names (their api_key ids stay), so `make run` works again. Accounts made by `keys new`
    are the user's and are left alone (serve then names the missing file)."""
    base = config_path.absolute().parent
    try:
        data = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return  # load_config reports it
    accounts = data.get("accounts") if isinstance(data, dict) else None
    for entry in accounts if isinstance(accounts, list) else ():
        if not isinstance(entry, dict) or entry.get("name") not in SAMPLE_ACCOUNTS:
            continue
        name, public = entry["name"], entry.get("public_key")
        if not isinstance(public, str) or "-----BEGIN" in public:
            continue
        if (base / public).absolute() != (base / "keys" / f"{name}.pub.pem").absolute():
            continue
        if (base / "keys" / f"{name}.pem").is_file():
            continue
        pair = new_key_pair(base / "keys", name, overwrite=True)
        say(f"key: {name}: keys/{name}.pem was missing, made a new key pair (api_key {entry.get('api_key')} kept) "
            f"private key {pair.private_key_path}")


async def _serve(config_path: Path, control_port: int | None = None, *, ready_file: Path | None = None,
                 plaintext: bool = False, log_messages: bool = False, message_log: str | None = None,
                 no_rate_limits: bool = False, fresh: bool = False) -> None:
    import dataclasses

    from .journal import JournalFormatError, wipe_state_file

    from .runtime import freeze_startup, tune_gc
    from .server import ListenError, Simulator

    config = load_config(config_path)
    if plaintext:
        config = preflight.plaintext_config(config, config_path)  # loopback only (DESIGN.md §1)
    preflight.check_tls(config, config_path)
    if log_messages or message_log:  # command-line switches over the config's journal section
        journal = dataclasses.replace(config.journal, log_messages=log_messages or config.journal.log_messages,
                                      message_log=Path(message_log) if message_log else config.journal.message_log)
        config = dataclasses.replace(config, journal=journal)
    if config.journal.log_messages:
        logging.getLogger("kalshi_fixsim.messages").setLevel(logging.INFO)  # shown even without -v
    if no_rate_limits:
        config = config.without_rate_limits()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before anything is printed: a caller may signal at once
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    tune_gc()  # runtime.py: the collector's default thresholds cost the engine a third of its time
    if fresh and config.store != "memory":  # the configured start state, on purpose (issue 15)
        wipe_state_file(config.store)
    try:
        sim = Simulator(config)
    except JournalFormatError as exc:  # a journal of another format is refused, never misread
        raise preflight.StartupError(f"{preflight.where(config_path)}{exc}") from None
    except (OSError, sqlite3.Error) as exc:  # the SQLite store (and drop-copy history) file
        raise preflight.store_error(exc, config, config_path) from None
    ops.install(sim, schedule=ops.THURSDAY)  # spec 10 §1: the weekly trading pause, DST-correct
    try:
        await sim.start(control_port=control_port)
    except ListenError as exc:
        await sim.stop()
        raise preflight.listen_error(exc, config_path) from None
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
        print(f"web view: http://127.0.0.1:{sim.control_server.port}/  (Prometheus: /metrics)", flush=True)
    print(f"CA file for clients: {config.tls.ca}" if config.tls.enabled else "TLS disabled (loopback only)",
          flush=True)
    written = None
    try:
        target = ready_file or ready.default_path(config_path)
        try:
            written = ready.write(target, ready.ready_document(sim, config_path))
        except OSError as exc:
            if ready_file is not None:
                raise preflight.StartupError(f"--ready-file: cannot write {ready_file}: {exc.strerror or exc}") \
                    from None
            log.warning("cannot write the ready file %s: %s", target, exc)
        print("kalshi-fixsim ready" + (f" (ready file: {written})" if written else ""), flush=True)
        await stop.wait()
    finally:
        if written is not None:
            ready.remove(written)
        await sim.stop()


def _ctl_request(args: argparse.Namespace) -> tuple[str, str, dict]:
    """The HTTP method, path and JSON body for one ctl command."""
    c, p = args.ctl_command, {"product": args.product}  # product None: both (pause, resume) or prediction
    product = args.product or "prediction"
    if c == "fault":
        return fault_cli.ctl_request(args)
    get = {"endpoints": "/endpoints", "markets": "/markets", "accounts": "/accounts", "sessions": "/sessions"}
    if c in get:
        return "GET", get[c] + (f"?product={product}" if c in ("markets", "accounts") else ""), {}
    if c == "book":
        return "GET", f"/books/{args.ticker}?product={product}", {}
    if c == "orders":
        return "GET", f"/orders?product={product}" + (f"&account={args.account}" if args.account else ""), {}
    if c == "messages":
        from urllib.parse import urlencode
        query = {"limit": args.limit or 50, "format": args.format, "session": args.session,
                 "msg_type": args.msg_type, "cl_ord_id": args.cl_ord_id}
        return "GET", "/messages?" + urlencode({k: v for k, v in query.items() if v is not None}), {}
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
    if c == "order":
        price = int(args.limit_price) if args.limit_price.isdigit() else args.limit_price  # text: dollars
        body = {"account": args.account, "symbol": args.ticker, "side": args.side, "price": price, "qty": args.qty,
                "tif": args.tif, "product": product}
        return "POST", "/orders", {**body, **({"cl_ord_id": args.cl_ord_id} if args.cl_ord_id else {})}
    return "POST", "/reset", {}


def _common_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """-v / --log-level / --log-file, accepted before and after the sub-command (`serve -v`)."""
    keep = (lambda value: value) if defaults else (lambda _value: argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true", default=keep(False),
                        help="log at INFO level (same as --log-level INFO)")
    parser.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, default=keep(None), metavar="LEVEL",
                        help=f"log level: {', '.join(LOG_LEVELS)} (default WARNING)")
    parser.add_argument("--log-file", default=keep(None), metavar="PATH",
                        help="write the log to this file instead of stderr")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, defaults=False)
    p = argparse.ArgumentParser(prog="kalshi-fixsim", description="Kalshi FIX gateway simulator")
    p.add_argument("--version", action="version", version=f"kalshi-fixsim {__version__}",
                   help="print the version and exit")
    _common_options(p, defaults=True)
    sub = p.add_subparsers(dest="command", required=True, metavar="{init,serve,ctl,certs,keys,client,faults,dictionary,client-config}")

    s = sub.add_parser("init", help="make dev certs, sample keys and a sample config if missing",
                       description="make dev certs, sample keys and a sample config if missing", parents=[common])
    s.add_argument("--config", default="sim.yaml", help="the config to create or complete (default sim.yaml)")

    s = sub.add_parser("serve", help="serve every endpoint of both products", parents=[common],
                       description="serve every endpoint of both products")
    s.add_argument("--config", default="sim.yaml", help="the config to serve (default sim.yaml)")
    s.add_argument("--control-port", type=int, default=CONTROL_PORT,
                   help=f"HTTP control plane on 127.0.0.1 (default {CONTROL_PORT}; 0 = any free port; -1 = off)")
    s.add_argument("--ready-file", default=None, metavar="PATH",
                   help="once every listener is bound, write the endpoints, control URL, CA file and accounts "
                        "here as JSON, atomically (default: state/<config stem>.ready.json beside the config)")
    s.add_argument("--plaintext", action="store_true",
                   help="no TLS, for clients that cannot do it (loopback hosts only)")
    s.add_argument("--log-messages", action="store_true",
                   help="log every FIX message, readably, per session (logger kalshi_fixsim.messages)")
    s.add_argument("--message-log", default=None, metavar="DIR",
                   help="write one message log file per session in DIR (FIXT.1.1-SENDER-TARGET.messages.log)")
    s.add_argument("--no-rate-limits", action="store_true",
                   help="turn every rate limit off, Logon limits included (config rate_limits.enabled: false)")
    s.add_argument("--fresh", action="store_true",
                   help="start from the configured state: discard the store file's books, balances, sessions "
                        "and history (default: restore them)")

    ctl = sub.add_parser("ctl", help="drive a running simulator through its control plane", parents=[common],
                         description="drive a running simulator through its HTTP control plane")
    ctl.add_argument("--port", type=int, default=None,
                     help=f"the control plane's port on 127.0.0.1 (default: from the running simulator of "
                          f"--config, else {CONTROL_PORT})")
    ctl.add_argument("--config", default="sim.yaml", help="find the running simulator of this config (default "
                                                            "sim.yaml)")
    ctl.add_argument("--ready-file", default=None, metavar="PATH",
                     help="the running simulator's ready file (default: state/<config stem>.ready.json)")
    ctl_common = argparse.ArgumentParser(add_help=False)  # also after the operation: `ctl pause trading --json`
    for target, keep in ((ctl, lambda value: value), (ctl_common, lambda _value: argparse.SUPPRESS)):
        target.add_argument("--product", choices=("prediction", "margin"), default=keep(None),
                            help="act on one product (default: both; market commands: the ticker's)")
        target.add_argument("--json", action="store_true", default=keep(False),
                            help="print the raw JSON of the views too")
    ctl_ops = ctl.add_subparsers(dest="ctl_command", required=True, metavar="OPERATION")
    for name, help_text, positionals in CTL_COMMANDS:
        c = ctl_ops.add_parser(name, help=help_text, description=help_text, parents=[common, ctl_common])
        for arg in positionals:
            arg_name = arg.rstrip("?")
            c.add_argument(arg_name, nargs="?" if arg.endswith("?") else None, choices=CTL_CHOICES.get(arg_name),
                           help=CTL_ARG_HELP[arg_name])
        if name == "messages":  # issue 10 §7: filters and the readable forms of GET /messages
            c.add_argument("--format", choices=("raw", "text", "block"), default="raw",
                           help="raw JSON (default), text: one readable line per message, block: aligned fields")
            c.add_argument("--session", default=None, help="session id (prediction/NR/<api key>) or a prefix of one")
            c.add_argument("--msg-type", default=None, help="only this MsgType, e.g. D or 8")
            c.add_argument("--cl-ord-id", default=None, help="only messages whose ClOrdID or OrigClOrdID is this")
        if name == "order":
            c.add_argument("--tif", choices=("gtc", "ioc", "fok", "day"), default="gtc",
                           help="time in force (default gtc)")
            c.add_argument("--cl-ord-id", default=None, help="the order's ClOrdID (default ctl-N)")
    fault_cli.add_ctl_parser(ctl_ops)  # ctl fault add|list|show|rm|clear
    fault_cli.add_parser(sub)          # faults: the catalogue

    s = sub.add_parser("certs", help="make a dev CA and a server certificate", parents=[common],
                       description="make a dev CA and a server certificate (kept if present)")
    s.add_argument("--out", default="certs", help="folder for ca.pem, ca.key, server.pem, server.key (default certs)")
    s.add_argument("--force", action="store_true", help="make new ones even if present")

    keys = sub.add_parser("keys", help="API keys", parents=[common], description="API keys").add_subparsers(
        dest="keys_command", required=True, metavar="{new}")
    s = keys.add_parser("new", help="make an RSA key pair and API key id, register it in the config",
                        description="make an RSA key pair and API key id, register it in the config", parents=[common])
    s.add_argument("--name", required=True, help="account name (also the key file name)")
    s.add_argument("--config", default="sim.yaml", help="config to register the account in (default sim.yaml)")
    s.add_argument("--out", default=None, help="key folder (default: keys/ beside the config)")
    s.add_argument("--products", default="prediction,margin",
                   help="comma-separated products the key may use (default prediction,margin)")

    add_client_parser(sub, common)
    cli_dictionary.register(sub)  # dictionary, client-config
    scenario_cli.register(sub)  # scenario run|check|list (simulator/scenario/cli.py)
    conform_cli.register(sub)  # conform: grade a client (simulator/conform/cli.py)
    use_client(_reference_client)  # glue: `raw: false` scenario sessions are the reference client
    return p


def _setup_logging(args: argparse.Namespace) -> None:
    level = args.log_level or ("INFO" if args.verbose else "WARNING")
    kwargs = {"filename": args.log_file} if args.log_file else {}
    logging.basicConfig(level=getattr(logging, level), format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        **kwargs)


def _certs(args: argparse.Namespace) -> None:
    out = Path(args.out)
    existed = CertPaths.in_dir(out).all_exist()
    paths = make_dev_certs(out, overwrite=args.force)
    if existed and not args.force:
        print(f"kept the existing certificates in {out} (--force makes new ones)")
    else:
        print(f"made new certificates in {out}")
    print(f"CA {paths.ca}  (give this file to clients)\nserver certificate {paths.cert}\nserver key {paths.key}")
    if args.force:
        print("a running simulator still serves the old certificate: restart it, and give clients the new CA file")


def _keys_new(args: argparse.Namespace) -> None:
    config_path = Path(args.config)
    out = Path(args.out) if args.out else config_path.absolute().parent / "keys"
    pair = new_key_pair(out, args.name)
    add_account(config_path, args.name, pair.api_key, pair.public_key_path,
                tuple(p.strip() for p in args.products.split(",") if p.strip()))
    print(f"api_key {pair.api_key}\nprivate key {pair.private_key_path}\npublic key {pair.public_key_path}")
    print(f"registered {args.name!r} in {config_path}: restart a running simulator to load the key")


def _config_error(exc: ConfigError, args: argparse.Namespace) -> str:
    """The message with the config file in front (load_config's own messages name only the key)."""
    config = getattr(args, "config", None)
    message = str(exc)
    if config is None:
        return message
    shown, absolute = preflight.where(Path(config))[:-2], str(Path(config).absolute())
    if message.startswith(absolute):
        return shown + message[len(absolute):]
    return message if message.startswith((shown, str(config))) else f"{shown}: {message}"


def _run(args: argparse.Namespace) -> int:
    if args.command == "init":
        init_workspace(Path(args.config))
    elif args.command == "serve":
        config_path = Path(args.config)
        if not config_path.exists():
            print(f"error: {config_path} not found: run `kalshi-fixsim init --config {config_path}` (or `make run`)",
                  file=sys.stderr)
            return 2
        asyncio.run(_serve(config_path, None if args.control_port < 0 else args.control_port,
                           ready_file=Path(args.ready_file) if args.ready_file else None, plaintext=args.plaintext,
                           log_messages=args.log_messages, message_log=args.message_log,
                           no_rate_limits=args.no_rate_limits, fresh=args.fresh))
    elif args.command == "certs":
        _certs(args)
    elif args.command == "keys":
        _keys_new(args)
    elif args.command == "client":
        return client_command(args)
    elif args.command == "ctl":
        return ctl_command(args, _ctl_request)
    elif args.command == "faults":
        return fault_cli.print_catalogue(args)
    elif hasattr(args, "handler"):  # commands registered by their own modules (cli_dictionary)
        return args.handler(args)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _setup_logging(args)
    try:
        return _run(args)
    except ConfigError as exc:
        print(f"error: {_config_error(exc, args)}", file=sys.stderr)
        return 2
    except (preflight.StartupError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `kalshi-fixsim ctl accounts | head`: the reader left, not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's final flush must not fail again
        return 1
    except KeyboardInterrupt:
        return 130
