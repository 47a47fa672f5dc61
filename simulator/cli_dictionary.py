"""`kalshi-fixsim dictionary` and `kalshi-fixsim client-config`: plugging QuickFIX-family clients in.

`register(sub)` adds both sub-commands to the CLI's sub-parsers; each sets `args.handler`, which
`cli.main` calls. Errors are one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kalshi_fixsim.fixproto.qfdict import write_dictionaries

from . import ready
from .client_config import DEFAULT_TRUSTSTORE_PASSWORD, ENGINES, render, target_from_config
from .config import ConfigError, default_config, load_config

__all__ = ["register"]


def _dictionary(args: argparse.Namespace) -> int:
    try:
        paths = write_dictionaries(Path(args.out))
    except OSError as exc:
        raise ConfigError(f"--out {args.out}: cannot write there ({exc.strerror or exc})") from None
    for path in paths:
        print(path)
    return 0


def _running_port(args: argparse.Namespace, config_path: Path) -> int | None:
    """The port the running simulator of this config bound (its ready file), if it is running."""
    try:
        document = ready.read(args.ready_file or ready.default_path(config_path))
    except ready.ReadyFileError:
        return None  # not running: the config's port (0 there is an error naming --port)
    endpoint = document.get("products", {}).get(args.product, {}).get(args.session.upper())
    return endpoint["port"] if endpoint else None


def _client_config(args: argparse.Namespace) -> int:
    config_path = Path(args.config)
    if config_path.exists():
        config = load_config(config_path)
    elif args.api_key and args.port:
        config = default_config(config_path.absolute().parent)
    else:
        raise ConfigError(f"{config_path}: not found; run `kalshi-fixsim init` or pass --api-key and --port")
    target = target_from_config(
        config, args.product, args.session, account=args.account, api_key=args.api_key, host=args.host,
        port=args.port if args.port is not None else _running_port(args, config_path), heartbeat=args.heartbeat,
        dictionary_dir=Path(args.dictionary_dir) if args.dictionary_dir else None,
        truststore=Path(args.truststore) if args.truststore else None,
        truststore_password=args.truststore_password, tunnel=args.tunnel)
    text = render(args.engine, target)
    if args.out:
        try:
            Path(args.out).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--out {args.out}: cannot write there ({exc.strerror or exc})") from None
        print(args.out)
    else:
        sys.stdout.write(text)
    return 0


def register(sub) -> None:
    """Add `dictionary` and `client-config` to the CLI's sub-parsers."""
    s = sub.add_parser("dictionary", help="write the Kalshi data dictionaries for QuickFIX-family engines")
    s.add_argument("--format", choices=("quickfix",), default="quickfix",
                   help="quickfix: FIXT11-Kalshi.xml + FIX50SP2-Kalshi.xml (QuickFIX, /J, /n, quickfixgo)")
    s.add_argument("--out", default="dict", help="folder to write them to (default dict/)")
    s.set_defaults(handler=_dictionary)

    s = sub.add_parser("client-config", help="print a session settings file for a QuickFIX-family initiator")
    s.add_argument("--engine", required=True, choices=ENGINES, help="the initiator's engine")
    s.add_argument("--session", required=True, help="NR, DC, RT, PT, RFQ or MD")
    s.add_argument("--product", choices=("prediction", "margin"), default="prediction",
                   help="which exchange (default prediction)")
    s.add_argument("--account", default=None, help="account in the config (default: the first that may use it)")
    s.add_argument("--config", default="sim.yaml", help="read host, ports, TLS and keys from this config")
    s.add_argument("--host", default=None, help="override the host")
    s.add_argument("--port", type=int, default=None, help="override the port (e.g. one `serve` chose)")
    s.add_argument("--api-key", default=None, help="SenderCompID, instead of an account's key")
    s.add_argument("--heartbeat", type=int, default=30, help="HeartBtInt seconds (default 30)")
    s.add_argument("--dictionary-dir", default=None, help="where the dictionaries are (default dict/ beside the config)")
    s.add_argument("--truststore", default=None, help="QuickFIX/J truststore (default truststore.jks beside the CA)")
    s.add_argument("--truststore-password", default=DEFAULT_TRUSTSTORE_PASSWORD,
                   help=f"the truststore's password (default {DEFAULT_TRUSTSTORE_PASSWORD})")
    s.add_argument("--ready-file", default=None, metavar="PATH",
                   help="the running simulator's ready file, for ports chosen at start-up "
                        "(default: state/<config stem>.ready.json)")
    s.add_argument("--tunnel", action="store_true",
                   help="no TLS settings: the engine talks plaintext to a local stunnel (give its --port)")
    s.add_argument("--out", default=None, help="write to this file instead of stdout")
    s.set_defaults(handler=_client_config)
