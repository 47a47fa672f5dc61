"""The sample config written by `kalshi-fixsim init`, and adding accounts to a config file."""
from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import yaml

from kalshi_fixsim.simulator.keys import atomic_write

from .model import (ConfigError, AccountConfig)
from .parse import _parse, _read_yaml

_SAMPLE = """\
# kalshi-fixsim configuration. Every key is optional; relative paths are
# resolved against this file's folder. Spec references: ../shared/spec/.
seed: {seed}
host: {host}
tls:
  enabled: {tls_enabled}
  cert: certs/server.pem
  key: certs/server.key
  ca: certs/ca.pem            # give this file to clients
products:                     # port 0 = pick a free port (reported at start-up)
  prediction: {{enabled: true, ports: {{NR: 8228, DC: 8229, RT: 8230, PT: 8231, RFQ: 8232, MD: 8233}}}}
  margin:     {{enabled: true, ports: {{NR: 8328, DC: 8329, RT: 8330, MD: 8333}}}}
session:
  sending_time_tolerance: 30  # seconds, spec 01 §1.1
  server_comp_id: echo        # "echo" = the TargetCompID the client sent, or a literal like Kalshi
  one_connection_scope: key_and_product  # per product; "key" (both products) or "key_and_session" (margin docs)
  logon_timeout: 10           # seconds to wait for the first Logon
  tls_handshake_timeout: 10   # seconds; at most logon_timeout
  max_connections: 1000       # open connections per listener ...
  max_connections_per_peer: 500  # ... and per client IP address (more are closed at once)
  max_retention_hours: 72
  accept_legacy_21003: true
store: {store}  # "memory" or an SQLite file
rate_limits:                  # spec 11 token buckets and the Logon limit; `serve --no-rate-limits` = enabled: false
  enabled: true
  logon:                      # authenticated Logons per API key and product; refused ones per client address
    limit: 100
    window_seconds: 1
    failed_limit: 1000
    failed_window_seconds: 10
# Markets: the `markets:` list, plus `universe.markets` prediction markets generated
# from the seed (Kalshi-style series: KXHIGHNY, KXCPI, KXBTC, ...) and the sample perps
# (BTC/ETH/SOL-PERP) while `universe.alongside_markets` is true; false: the list
# replaces them. Entry fields:
#   ticker (required), event_ticker, series_ticker, title,
#   status (initialized|open|halted|closed|settled, default open),
#   price_structure (spec 02 §2.1: linear_cent, deci_cent, tapered_deci_cent, ...),
#   fractional (default false), exchange_index (default 0),
#   product (prediction|margin, default prediction); margin markets also take
#   reference_price ("3500.00") and margin_rate ("0.05"; default products.margin.margin_rate)
markets:                      # the README's examples trade these
  - ticker: KXHIGHNY-26NOV21-B45.5
    event_ticker: KXHIGHNY-26NOV21
    series_ticker: KXHIGHNY
    title: "Will the high temp in NYC be 45-46° on Nov 21, 2026?"
  - ticker: KXHIGHNY-26NOV21-B47.5
    event_ticker: KXHIGHNY-26NOV21
    series_ticker: KXHIGHNY
    title: "Will the high temp in NYC be 47-48° on Nov 21, 2026?"
universe:
  markets: 12                 # how many prediction markets to generate
  seed: null                  # null = the top-level seed
  alongside_markets: true     # generate them next to the `markets:` list above
fees:                         # rates 0..1, default zero fees (spec 02 §13), e.g. taker "0.07"
  taker_rate: "0"
  maker_rate: "0"
market_maker:                 # built-in liquidity: quotes both sides of every open market
  enabled: true
  spread_cents: 4             # best ask - best bid
  size: 10                    # contracts per level
  levels: 3                   # price levels per side
  refresh_seconds: 2.0        # how often it re-quotes
  balance: "1000000.00"
# Fault rules active from start-up (docs/faults.md; `kalshi-fixsim faults` lists them),
# each the same flat rule POST /faults takes, e.g.:
# faults:
#   - {{fault: delay, ms: 250, session: NR, match: {{35: "8"}}}}
#   - {{fault: exchange_unavailable, booked: true, nth: 3}}
# Accounts are added by `kalshi-fixsim keys new --name NAME`. Fields:
#   name, api_key (UUID), public_key (path or inline PEM), products, sessions,
#   tier (basic..prestige, default premier: FIX access is Premier+), balance ("1000.00"),
#   subaccount (0-63 or null), read_only
"""


def write_sample_config(
    path: Path | str,
    *,
    seed: int = 42,
    host: str = "127.0.0.1",
    store: str = "state/sim.db",
    tls_enabled: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write a commented sample config; keeps an existing file unless ``overwrite``.

    The sample uses an SQLite store (DESIGN §1: the default store of a served
    simulator); an absent ``store`` key still means "memory".
    """
    path = Path(path)
    if path.exists() and not overwrite:
        return path
    text = _SAMPLE.format(
        seed=int(seed),
        host=host,
        tls_enabled="true" if tls_enabled else "false",
        store=store,
    ) + "accounts: []\n"
    _parse(yaml.safe_load(text), path.absolute().parent, path)  # never write a bad sample
    atomic_write(path, text.encode("utf-8"))
    return path


def _portable(target: Path, base: Path) -> str:
    """``target`` relative to ``base`` if possible, so the config can be moved."""
    try:
        return Path(os.path.relpath(target.absolute(), base)).as_posix()
    except ValueError:  # different drive on Windows
        return target.absolute().as_posix()


def _appended(text: str, entry: dict) -> list[str]:
    """Candidate texts that add ``entry`` at the end while keeping comments."""
    item = yaml.safe_dump([entry], sort_keys=False, default_flow_style=False, allow_unicode=True)
    body = text if text.endswith("\n") or not text else text + "\n"
    indented = "".join("  " + line if line.strip() else line for line in item.splitlines(True))
    empty = re.compile(r"^accounts:[ \t]*(\[[ \t]*\])?[ \t]*(#.*)?$", re.M)
    return [
        body + item,  # accounts is the last block sequence, "- " at column 0
        body + indented,  # ... or indented by two
        empty.sub(lambda m: "accounts:", body, count=1) + indented,  # "accounts: []" last
        body + "accounts:\n" + indented,  # no accounts key yet
    ]


def add_account(
    config_path: Path | str,
    name: str,
    api_key: str,
    public_key_path: Path | str,
    products: tuple[str, ...] | list[str] = ("prediction", "margin"),
    *,
    sessions: tuple[str, ...] | list[str] | None = None,
    tier: str = "premier",  # spec 11 §2: FIX access is Premier+ by default
    balance: str = "1000.00",
    subaccount: int | None = None,
    read_only: bool = False,
) -> AccountConfig:
    """Append an account to the YAML config (created from the sample if missing).

    Comments are kept when the account can simply be appended at the end; if
    not, the file is rewritten through safe_load/safe_dump. The result is
    validated before anything is written. Refuses a duplicate name.
    """
    config_path = Path(config_path)
    if not config_path.exists():
        write_sample_config(config_path)
    base = config_path.absolute().parent
    text = config_path.read_text(encoding="utf-8")
    data = _read_yaml(config_path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{config_path}: expected a mapping at the top level")
    current = data.get("accounts") or []
    if not isinstance(current, list):
        raise ConfigError("accounts: expected a list")
    if any(isinstance(a, dict) and a.get("name") == name for a in current):
        raise ConfigError(f"accounts: an account named {name!r} already exists")

    entry: dict[str, Any] = {
        "name": name,
        "api_key": str(api_key),
        "public_key": _portable(Path(public_key_path), base),
        "products": list(products),
    }
    if sessions is not None:
        entry["sessions"] = list(sessions)
    entry.update(tier=tier, balance=str(balance), subaccount=subaccount, read_only=read_only)

    expected = copy.deepcopy(data)
    expected["accounts"] = [*current, entry]
    config = _parse(expected, base, config_path.absolute())  # raises before writing

    new_text = next((c for c in _appended(text, entry) if _safe_load_or_none(c) == expected), None)
    if new_text is None:
        new_text = yaml.safe_dump(expected, sort_keys=False, default_flow_style=False, allow_unicode=True)
    mode = config_path.stat().st_mode & 0o777
    atomic_write(config_path, new_text.encode("utf-8"), mode)
    return config.accounts[-1]


def _safe_load_or_none(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None
