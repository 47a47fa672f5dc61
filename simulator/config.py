"""The simulator's YAML configuration: model, loader, sample writer, add_account.

One file (``sim.yaml`` by default) says which listeners to open, how the
session layer resolves the spec's open questions, where state lives and which
API keys exist. Every key is optional; ``load_config`` fills defaults,
validates everything up front and raises ``ConfigError`` naming the key path
(``accounts[1].api_key: not a UUID``) so a typo fails at start-up, not at the
first Logon. Relative paths are resolved against the YAML file's folder, so a
config works whatever the current directory is.
"""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import os
import re
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from simulator.engine.types import Market, MarketStatus
from simulator.keys import atomic_write, load_public_key

__all__ = [
    "AccountConfig",
    "ConfigError",
    "DEFAULT_PORTS",
    "FeeConfig",
    "MarketMakerConfig",
    "PRICE_STRUCTURES",
    "PRODUCT_SESSIONS",
    "ProductConfig",
    "SessionSettings",
    "SimConfig",
    "TIERS",
    "TlsConfig",
    "UniverseConfig",
    "add_account",
    "default_config",
    "load_config",
    "write_sample_config",
]

# spec 00 §2: margin has no PT and no RFQ.
PRODUCT_SESSIONS: dict[str, tuple[str, ...]] = {
    "prediction": ("NR", "DC", "RT", "PT", "RFQ", "MD"),
    "margin": ("NR", "DC", "RT", "MD"),
}
# DESIGN §1: one process serves both products, so margin moves to 83xx.
DEFAULT_PORTS: dict[str, dict[str, int]] = {
    "prediction": {"NR": 8228, "DC": 8229, "RT": 8230, "PT": 8231, "RFQ": 8232, "MD": 8233},
    "margin": {"NR": 8328, "DC": 8329, "RT": 8330, "MD": 8333},
}
# spec 11 §2 (lower-case here).
TIERS = ("basic", "advanced", "expert", "premier", "paragon", "prime", "prestige")
SCOPES = ("key", "key_and_session")  # spec 00 §3.1 open question
MEMORY_STORE = "memory"

# spec 02 §2.1: the known valid-price grids of prediction markets.
PRICE_STRUCTURES = (
    "linear_cent", "deci_cent", "tapered_deci_cent",
    "center_whole_edge_half_cent", "center_whole_edge_quint_cent",
    "center_half_edge_half_cent", "center_half_edge_quint_cent", "center_half_edge_deci_cent",
    "center_quint_edge_quint_cent", "center_quint_edge_deci_cent",
    "center_centi_edge_centi_cent", "center_deci_edge_centi_cent",
)

_TOP_KEYS = (
    "seed", "host", "tls", "products", "session", "store",
    "markets", "universe", "fees", "market_maker", "accounts",
)
_MARKET_KEYS = (
    "ticker", "event_ticker", "series_ticker", "title", "status",
    "price_structure", "fractional", "exchange_index", "product",
)
_UNIVERSE_KEYS = ("markets", "seed")
_FEE_KEYS = ("taker_rate", "maker_rate")
_MARKET_MAKER_KEYS = ("enabled", "spread_cents", "size", "levels", "refresh_seconds", "balance")
# A ticker goes into Symbol(55) verbatim; Kalshi tickers are upper case (KXHIGHNY-26NOV21-B45.5).
_TICKER_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,99}$")
_TLS_KEYS = ("enabled", "cert", "key", "ca")
_PRODUCT_KEYS = ("enabled", "ports")
_ACCOUNT_KEYS = (
    "name", "api_key", "public_key", "products", "sessions",
    "tier", "balance", "subaccount", "read_only", "user",
)
# A CompID goes into tag 49 verbatim: no SOH, '=', '|' or spaces.
_COMP_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_PEM_MARKER = "-----BEGIN"


class ConfigError(ValueError):
    """A config problem; the message starts with the key path."""


@dataclass(frozen=True)
class TlsConfig:
    enabled: bool = True
    cert: Path = Path("certs/server.pem")
    key: Path = Path("certs/server.key")
    ca: Path = Path("certs/ca.pem")


@dataclass(frozen=True)
class ProductConfig:
    enabled: bool
    ports: dict[str, int]


@dataclass(frozen=True)
class SessionSettings:
    sending_time_tolerance: float = 30  # seconds, spec 01 §1.1
    server_comp_id: str = "echo"  # "echo" = the TargetCompID the client sent (spec 00 §3)
    one_connection_scope: str = "key"  # spec 00 §3.1
    logon_timeout: float = 10
    max_retention_hours: int = 72  # spec 01 §2.2, §6
    accept_legacy_21003: bool = True  # spec 01 §2.2


@dataclass(frozen=True)
class AccountConfig:
    name: str
    api_key: str
    public_key_pem: bytes
    products: tuple[str, ...]
    sessions: tuple[str, ...]
    tier: str = "basic"
    balance: Decimal = Decimal("1000.00")
    subaccount: int | None = None  # spec 00 §3.2 restricted key
    read_only: bool = False
    account: str | None = None     # the trading account this key belongs to (default: its name)

    @property
    def user(self) -> str:
        """Engine account: several API keys (e.g. a trading key and a listener key) may share one."""
        return self.account or self.name


@dataclass(frozen=True)
class FeeConfig:
    """Fee coefficients, 0..1; zero by default (spec 02 §13: fees are configurable).

    Meant as the rate of Kalshi's published schedule, fee = rate x contracts x
    P x (1 - P) rounded up to $0.0001 (e.g. taker "0.07"); the engine owns the formula.
    """
    taker_rate: Decimal = Decimal("0")
    maker_rate: Decimal = Decimal("0")


@dataclass(frozen=True)
class MarketMakerConfig:
    """The built-in liquidity provider that quotes every open market."""
    enabled: bool = False
    spread_cents: int = 4          # best ask - best bid, whole cents
    size: int = 10                 # contracts per level
    levels: int = 3                # price levels per side
    refresh_seconds: float = 2.0   # how often it re-quotes
    balance: Decimal = Decimal("1000000.00")


@dataclass(frozen=True)
class UniverseConfig:
    """How many prediction markets to generate when ``markets:`` is empty."""
    markets: int = 12
    seed: int | None = None  # None = the top-level seed


@dataclass(frozen=True)
class SimConfig:
    seed: int
    host: str
    tls: TlsConfig
    products: dict[str, ProductConfig]
    session: SessionSettings
    store: str
    accounts: list[AccountConfig]
    path: Path | None = None
    fees: FeeConfig = FeeConfig()
    market_maker: MarketMakerConfig = MarketMakerConfig()
    universe: UniverseConfig = UniverseConfig()
    # product -> its markets, config order: the ``markets:`` list, or the generated
    # universe (prediction) when that list is empty. Use ``markets_for`` to get copies.
    markets: dict[str, list[Market]] = field(default_factory=dict)

    def markets_for(self, product: str) -> list[Market]:
        """Fresh copies of a product's markets (an engine may mutate its own)."""
        return [dataclasses.replace(m) for m in self.markets.get(product, [])]

    def with_ports_zero(self) -> "SimConfig":
        """A copy where every listener asks the OS for a free port (tests)."""
        products = {
            name: ProductConfig(p.enabled, {s: 0 for s in p.ports})
            for name, p in self.products.items()
        }
        return dataclasses.replace(self, products=products, accounts=list(self.accounts))

    def listeners(self) -> list[tuple[str, str, int]]:
        """(product, session, port) for every enabled product, in spec order."""
        return [
            (name, session, p.ports[session])
            for name, p in self.products.items()
            if p.enabled
            for session in PRODUCT_SESSIONS[name]
            if session in p.ports
        ]

    def account_by_key(self, api_key: str) -> AccountConfig | None:
        wanted = api_key.lower()
        return next((a for a in self.accounts if a.api_key.lower() == wanted), None)


# ---------------------------------------------------------------- validation


def _fail(path: str, message: str) -> ConfigError:
    return ConfigError(f"{path}: {message}")


def _mapping(value: Any, path: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail(path, f"expected a mapping, got {type(value).__name__}")
    return value


def _no_unknown(data: dict, allowed: tuple[str, ...], path: str) -> None:
    for key in data:
        if key not in allowed:
            where = f"{path}.{key}" if path else str(key)
            raise _fail(where, f"unknown key (expected one of: {', '.join(allowed)})")


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(path, f"expected true or false, got {value!r}")
    return value


def _int(value: Any, path: str, lo: int | None = None, hi: int | None = None) -> int:
    # bool is an int subclass; `true` is never a sensible number here.
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"expected an integer, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise _fail(path, f"{value} is outside {lo}..{hi}" if hi is not None else f"must be >= {lo}")
    return value


def _positive(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise _fail(path, f"expected a positive number of seconds, got {value!r}")
    return value


def _str(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"expected a non-empty string, got {value!r}")
    return value.strip()


def _resolve(value: Any, path: str, base: Path | None) -> Path:
    p = Path(_str(value, path)).expanduser()
    return p if p.is_absolute() or base is None else base / p


def _str_list(value: Any, path: str) -> list[str]:
    if not isinstance(value, list):
        raise _fail(path, f"expected a list, got {value!r}")
    out: list[str] = []
    for i, item in enumerate(value):
        item = _str(item, f"{path}[{i}]")
        if item in out:
            raise _fail(f"{path}[{i}]", f"{item} is listed twice")
        out.append(item)
    return out


def _parse_tls(data: Any, base: Path | None) -> TlsConfig:
    data = _mapping(data, "tls")
    _no_unknown(data, _TLS_KEYS, "tls")
    d = TlsConfig()
    return TlsConfig(
        enabled=_bool(data.get("enabled", d.enabled), "tls.enabled"),
        cert=_resolve(data.get("cert", str(d.cert)), "tls.cert", base),
        key=_resolve(data.get("key", str(d.key)), "tls.key", base),
        ca=_resolve(data.get("ca", str(d.ca)), "tls.ca", base),
    )


def _parse_products(data: Any) -> dict[str, ProductConfig]:
    data = _mapping(data, "products")
    out: dict[str, ProductConfig] = {}
    for name in data:
        if name not in PRODUCT_SESSIONS:
            raise _fail(f"products.{name}", f"unknown product (expected one of: {', '.join(PRODUCT_SESSIONS)})")
    for name, sessions in PRODUCT_SESSIONS.items():
        path = f"products.{name}"
        pdata = _mapping(data.get(name), path)
        _no_unknown(pdata, _PRODUCT_KEYS, path)
        ports = dict(DEFAULT_PORTS[name])
        for session, port in _mapping(pdata.get("ports"), f"{path}.ports").items():
            ppath = f"{path}.ports.{session}"
            if session not in sessions:
                raise _fail(ppath, f"unknown session type for {name} (expected one of: {', '.join(sessions)})")
            if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
                raise _fail(ppath, f"port must be an integer 0..65535, got {port!r}")
            ports[session] = port
        out[name] = ProductConfig(_bool(pdata.get("enabled", True), f"{path}.enabled"), ports)
    # Two listeners cannot bind the same port; 0 means "any free port".
    seen: dict[int, str] = {}
    for name, p in out.items():
        if not p.enabled:
            continue
        for session, port in p.ports.items():
            where = f"products.{name}.ports.{session}"
            if port and port in seen:
                raise _fail(where, f"port {port} is already used by {seen[port]}")
            seen[port] = where
    return out


def _parse_session(data: Any) -> SessionSettings:
    data = _mapping(data, "session")
    d = SessionSettings()
    _no_unknown(data, tuple(f.name for f in dataclasses.fields(SessionSettings)), "session")
    comp_id = _str(data.get("server_comp_id", d.server_comp_id), "session.server_comp_id")
    if not _COMP_ID_RE.match(comp_id):
        raise _fail("session.server_comp_id", f'expected "echo" or a CompID like "Kalshi", got {comp_id!r}')
    scope = data.get("one_connection_scope", d.one_connection_scope)
    if scope not in SCOPES:
        raise _fail("session.one_connection_scope", f"expected one of: {', '.join(SCOPES)}, got {scope!r}")
    def get(key: str, check):  # the key's value or its default, checked
        return check(data.get(key, getattr(d, key)), f"session.{key}")

    return SessionSettings(
        sending_time_tolerance=get("sending_time_tolerance", _positive),
        server_comp_id=comp_id,
        one_connection_scope=scope,
        logon_timeout=get("logon_timeout", _positive),
        max_retention_hours=get("max_retention_hours", lambda v, p: _int(v, p, lo=1)),
        accept_legacy_21003=get("accept_legacy_21003", _bool),
    )


def _parse_public_key(value: Any, path: str, base: Path | None) -> bytes:
    text = _str(value, path)
    if _PEM_MARKER in text:
        pem = text.encode("ascii", errors="replace")
        source = "inline PEM"
    else:
        file = _resolve(text, path, base)
        source = text
        try:
            pem = file.read_bytes()
        except OSError as exc:
            raise _fail(path, f"cannot read {source}: {exc.strerror or exc}") from exc
    try:
        load_public_key(pem)  # spec 00 §3: the key must be RSA
    except (ValueError, TypeError) as exc:
        raise _fail(path, f"{source} is not an RSA public key in PEM form ({exc})") from exc
    return pem


def _parse_balance(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _fail(path, f"expected a dollar amount like \"1000.00\", got {value!r}")
    try:
        # str() first so 0.1 stays 0.1 rather than its binary expansion.
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise _fail(path, f"not a number: {value!r}") from None
    if not amount.is_finite():
        raise _fail(path, f"not a finite amount: {value!r}")
    if amount < 0:
        raise _fail(path, f"balance must not be negative, got {value!r}")
    return amount


def _parse_account(data: Any, path: str, base: Path | None) -> AccountConfig:
    data = _mapping(data, path)
    _no_unknown(data, _ACCOUNT_KEYS, path)
    for required in ("name", "api_key", "public_key"):
        if required not in data:
            raise _fail(f"{path}.{required}", "required")
    name = _str(data["name"], f"{path}.name")
    api_key = _str(data["api_key"], f"{path}.api_key")
    try:
        # Only the canonical 8-4-4-4-12 form: it is sent verbatim as SenderCompID.
        if str(uuid.UUID(api_key)) != api_key.lower():
            raise ValueError
    except ValueError:
        raise _fail(f"{path}.api_key", f"not a UUID: {api_key!r}") from None
    products = _str_list(data.get("products", list(PRODUCT_SESSIONS)), f"{path}.products")
    for i, product in enumerate(products):
        if product not in PRODUCT_SESSIONS:
            raise _fail(f"{path}.products[{i}]", f"unknown product {product!r} (expected one of: {', '.join(PRODUCT_SESSIONS)})")
    allowed = [s for s in PRODUCT_SESSIONS["prediction"] if any(s in PRODUCT_SESSIONS[p] for p in products)]
    sessions = _str_list(data.get("sessions", allowed), f"{path}.sessions")
    for i, session in enumerate(sessions):
        if session not in allowed:
            raise _fail(
                f"{path}.sessions[{i}]",
                f"unknown session type {session!r} for products {', '.join(products) or '(none)'} "
                f"(expected one of: {', '.join(allowed)})",
            )
    tier = _str(data.get("tier", "basic"), f"{path}.tier").lower()
    if tier not in TIERS:
        raise _fail(f"{path}.tier", f"unknown tier {tier!r} (expected one of: {', '.join(TIERS)})")
    subaccount = data.get("subaccount")
    if subaccount is not None:
        subaccount = _int(subaccount, f"{path}.subaccount", 0, 63)  # spec 00 §3.2
    return AccountConfig(
        name=name,
        api_key=api_key,
        public_key_pem=_parse_public_key(data["public_key"], f"{path}.public_key", base),
        products=tuple(products),
        sessions=tuple(sessions),
        tier=tier,
        balance=_parse_balance(data.get("balance", "1000.00"), f"{path}.balance"),
        subaccount=subaccount,
        read_only=_bool(data.get("read_only", False), f"{path}.read_only"),
        account=_str(data["user"], f"{path}.user") if data.get("user") is not None else None,
    )


def _parse_rate(value: Any, path: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _fail(path, f"expected a rate like \"0.07\", got {value!r}")
    try:
        rate = Decimal(str(value).strip())
    except InvalidOperation:
        raise _fail(path, f"not a number: {value!r}") from None
    if not rate.is_finite() or not 0 <= rate <= 1:
        raise _fail(path, f"rate must be between 0 and 1, got {value!r}")
    return rate


def _parse_fees(data: Any) -> FeeConfig:
    data = _mapping(data, "fees")
    _no_unknown(data, _FEE_KEYS, "fees")
    return FeeConfig(**{key: _parse_rate(data.get(key, "0"), f"fees.{key}") for key in _FEE_KEYS})


def _parse_market_maker(data: Any) -> MarketMakerConfig:
    data = _mapping(data, "market_maker")
    _no_unknown(data, _MARKET_MAKER_KEYS, "market_maker")
    d = MarketMakerConfig()

    def get(key: str, check):  # the key's value or its default, checked
        return check(data.get(key, getattr(d, key)), f"market_maker.{key}")

    return MarketMakerConfig(
        enabled=get("enabled", _bool),
        spread_cents=get("spread_cents", lambda v, p: _int(v, p, 1, 98)),
        size=get("size", lambda v, p: _int(v, p, lo=1)),
        levels=get("levels", lambda v, p: _int(v, p, lo=1)),
        refresh_seconds=get("refresh_seconds", _positive),
        balance=_parse_balance(data.get("balance", str(d.balance)), "market_maker.balance"),
    )


def _parse_universe(data: Any) -> UniverseConfig:
    data = _mapping(data, "universe")
    _no_unknown(data, _UNIVERSE_KEYS, "universe")
    seed = data.get("seed")
    return UniverseConfig(
        markets=_int(data.get("markets", UniverseConfig.markets), "universe.markets", 0, 10_000),
        seed=None if seed is None else _int(seed, "universe.seed"),
    )


def _ticker(value: Any, path: str) -> str:
    ticker = _str(value, path)
    if not _TICKER_RE.match(ticker):
        raise _fail(path, f"expected a ticker of upper-case letters, digits, '.', '-' or '_' "
                          f"(like KXHIGHNY-26NOV21-B45.5), got {ticker!r}")
    return ticker


def _choice(value: Any, path: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise _fail(path, f"unknown {what} {value!r} (expected one of: {', '.join(allowed)})")
    return value


def _parse_market(data: Any, path: str) -> tuple[str, Market]:
    data = _mapping(data, path)
    _no_unknown(data, _MARKET_KEYS, path)
    if "ticker" not in data:
        raise _fail(f"{path}.ticker", "required")
    ticker = _ticker(data["ticker"], f"{path}.ticker")
    # Defaults follow Kalshi's shape SERIES-EVENTPART-SUFFIX.
    event = _ticker(data.get("event_ticker", ticker.rsplit("-", 1)[0]), f"{path}.event_ticker")
    series = _ticker(data.get("series_ticker", ticker.split("-", 1)[0]), f"{path}.series_ticker")
    product = _choice(data.get("product", "prediction"), f"{path}.product", tuple(PRODUCT_SESSIONS), "product")
    status = _choice(data.get("status", MarketStatus.OPEN.value), f"{path}.status",
                     tuple(s.value for s in MarketStatus), "status")
    structure = _choice(data.get("price_structure", "linear_cent"), f"{path}.price_structure",
                        PRICE_STRUCTURES, "price structure")  # spec 02 §2.1
    fractional = _bool(data.get("fractional", False), f"{path}.fractional")
    exchange_index = _int(data.get("exchange_index", 0), f"{path}.exchange_index", lo=0)
    if product == "margin" and fractional:  # spec 02 §2.2
        raise _fail(f"{path}.fractional", "margin markets trade whole contracts only")
    if product == "margin" and exchange_index:  # spec 00 §6
        raise _fail(f"{path}.exchange_index", "margin markets are all on exchange index 0")
    return product, Market(
        ticker=ticker,
        event_ticker=event,
        series_ticker=series,
        title=_str(data.get("title", ticker), f"{path}.title"),
        status=MarketStatus(status),
        price_structure=structure,
        fractional=fractional,
        exchange_index=exchange_index,
    )


def _parse_markets(data: Any, universe: UniverseConfig, seed: int) -> dict[str, list[Market]]:
    """The ``markets:`` list by product; the generated universe if it is empty."""
    if data is None:
        data = []
    if not isinstance(data, list):
        raise _fail("markets", f"expected a list, got {type(data).__name__}")
    out: dict[str, list[Market]] = {name: [] for name in PRODUCT_SESSIONS}
    where: dict[tuple[str, str], int] = {}
    for i, raw in enumerate(data):
        product, market = _parse_market(raw, f"markets[{i}]")
        if (product, market.ticker) in where:
            raise _fail(f"markets[{i}].ticker", f"duplicate {product} ticker {market.ticker!r} "
                                                f"(also markets[{where[product, market.ticker]}])")
        where[product, market.ticker] = i
        out[product].append(market)
    if not data and universe.markets:
        from simulator.universe import generate_universe  # faker is only needed here

        out["prediction"] = generate_universe(seed if universe.seed is None else universe.seed, universe.markets)
    return out


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse(data: Any, base: Path | None, path: Path | None) -> SimConfig:
    data = _mapping(data, "(top level)")
    _no_unknown(data, _TOP_KEYS, "")
    host = _str(data.get("host", "127.0.0.1"), "host")
    tls = _parse_tls(data.get("tls"), base)
    # DESIGN §1: plaintext only on loopback.
    if not tls.enabled and not _is_loopback(host):
        raise _fail("tls.enabled", f"plaintext is allowed only on a loopback host, not {host!r}")
    store = _str(data.get("store", MEMORY_STORE), "store")
    if store != MEMORY_STORE:
        store = str(_resolve(store, "store", base))
    raw_accounts = data.get("accounts") or []
    if not isinstance(raw_accounts, list):
        raise _fail("accounts", f"expected a list, got {type(raw_accounts).__name__}")
    accounts: list[AccountConfig] = []
    names: dict[str, int] = {}
    keys: dict[str, int] = {}
    for i, raw in enumerate(raw_accounts):
        account = _parse_account(raw, f"accounts[{i}]", base)
        if account.name in names:
            raise _fail(f"accounts[{i}].name", f"duplicate name {account.name!r} (also accounts[{names[account.name]}])")
        if account.api_key.lower() in keys:
            raise _fail(f"accounts[{i}].api_key", f"duplicate api_key (also accounts[{keys[account.api_key.lower()]}])")
        names[account.name] = i
        keys[account.api_key.lower()] = i
        accounts.append(account)
    seed = _int(data.get("seed", 42), "seed")
    universe = _parse_universe(data.get("universe"))
    return SimConfig(
        seed=seed,
        host=host,
        tls=tls,
        products=_parse_products(data.get("products")),
        session=_parse_session(data.get("session")),
        store=store,
        accounts=accounts,
        path=path,
        fees=_parse_fees(data.get("fees")),
        market_maker=_parse_market_maker(data.get("market_maker")),
        universe=universe,
        markets=_parse_markets(data.get("markets"), universe, seed),
    )


# ---------------------------------------------------------------- public API


def default_config(base_dir: Path | None = None) -> SimConfig:
    """The config an empty YAML file gives; paths relative to ``base_dir`` if given."""
    return _parse({}, Path(base_dir) if base_dir is not None else None, None)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def load_config(path: Path | str) -> SimConfig:
    """Load and validate a YAML config; raises ConfigError naming the bad key."""
    path = Path(path).absolute()
    return _parse(_read_yaml(path), path.parent, path)


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
  one_connection_scope: key   # "key" (prediction docs) or "key_and_session" (margin docs)
  logon_timeout: 10           # seconds to wait for the first Logon
  max_retention_hours: 72
  accept_legacy_21003: true
store: {store}  # "memory" or an SQLite file
# Markets. With no `markets:` list, `universe.markets` prediction markets are
# generated from the seed (Kalshi-style series: KXHIGHNY, KXCPI, KXBTC, ...).
# A `markets:` list replaces the generated universe. Entry fields:
#   ticker (required), event_ticker, series_ticker, title,
#   status (initialized|open|halted|closed|settled, default open),
#   price_structure (spec 02 §2.1: linear_cent, deci_cent, tapered_deci_cent, ...),
#   fractional (default false), exchange_index (default 0),
#   product (prediction|margin, default prediction)
# markets:
#   - ticker: KXHIGHNY-26NOV21-B45.5
#     title: "Will the high temp in NYC be 45-46° on Nov 21, 2026?"
universe:
  markets: 12                 # how many prediction markets to generate
  seed: null                  # null = the top-level seed
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
# Accounts are added by `kalshi-fixsim keys new --name NAME`. Fields:
#   name, api_key (UUID), public_key (path or inline PEM), products, sessions,
#   tier, balance ("1000.00"), subaccount (0-63 or null), read_only
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
    tier: str = "basic",
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
