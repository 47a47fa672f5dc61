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

from .certs import make_dev_certs
from .config import ConfigError, add_account, load_config, write_sample_config
from .keys import new_key_pair

__all__ = ["main", "init_workspace"]

SAMPLE_ACCOUNTS = ("alice", "bob")


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


async def _serve(config_path: Path) -> None:
    from .server import Simulator

    config = load_config(config_path)
    sim = Simulator(config)
    await sim.start()
    print(sim.endpoint_table(), flush=True)
    print(f"CA file for clients: {config.tls.ca}" if config.tls.enabled else "TLS disabled (loopback only)",
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    await stop.wait()
    await sim.stop()


def _client_logon(args: argparse.Namespace) -> int:
    """Log on to one endpoint with the reference client, show the exchange, log out."""
    from client import FixClient, LogonError  # lazy: the simulator proper never imports the client
    from fixproto.kalshi import DEFAULT_PORTS, LogonOptions

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
    options = LogonOptions(listener_session=True, skip_pending_exec_reports=True) if args.listener else LogonOptions()

    async def run() -> int:
        fix = FixClient(product=args.product, session=args.session, host=args.host, port=port, api_key=api_key,
                        private_key=key_path, ca_file=ca, heartbeat=args.heartbeat, options=options)
        try:
            reply = await fix.connect()
        except LogonError as exc:
            print(f"logon refused: {exc.text}")
            return 1
        print(f"logged on to {fix.session_type.comp_id} ({args.product}) at {args.host}:{port}")
        print("reply: " + "|".join(f"{t}={v}" for t, v in reply.pairs))
        disconnect = await fix.logout()
        print(f"logged out ({disconnect.reason}); next seq out={fix.store.next_sender_seq} "
              f"in={fix.store.next_target_seq}")
        return 0

    return asyncio.run(run())


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kalshi-fixsim", description="Kalshi FIX gateway simulator")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("init", help="make dev certs, sample keys and a sample config if missing")
    s.add_argument("--config", default="sim.yaml")

    s = sub.add_parser("serve", help="serve every endpoint of both products")
    s.add_argument("--config", default="sim.yaml")

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
    s = client.add_parser("logon", help="log on and off one endpoint")
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
            asyncio.run(_serve(config_path))
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
            return _client_logon(args)
    except (ConfigError, FileExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
