"""Config loading and validation: every error names its key path (ConfigError)."""
from __future__ import annotations

import dataclasses
import ipaddress
import uuid
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from kalshi_fixsim.simulator.engine.types import Market, MarketStatus
from kalshi_fixsim.simulator.keys import load_public_key

from .model import (DEFAULT_PORTS, PRODUCT_SESSIONS, TIERS, SCOPES, MEMORY_STORE,
                    PRICE_STRUCTURES, _TOP_KEYS, _MARKET_KEYS, _UNIVERSE_KEYS, _FEE_KEYS,
                    _MARKET_MAKER_KEYS, _TICKER_RE, _TLS_KEYS, _PRODUCT_KEYS, _ACCOUNT_KEYS,
                    _COMP_ID_RE, _PEM_MARKER, _RATE_LIMIT_KEYS, _LOGON_LIMIT_KEYS, ConfigError,
                    LogonLimitConfig, RateLimitsConfig, TlsConfig, ProductConfig,
                    SessionSettings, AccountConfig, FeeConfig, MarketMakerConfig, UniverseConfig,
                    SimConfig, JournalConfig, OrderMemoryConfig, _JOURNAL_KEYS, _ORDER_MEMORY_KEYS)

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
        rate = Decimal("0.10")
        if "margin_rate" in pdata:
            if name != "margin":
                raise _fail(f"{path}.margin_rate", "only the margin product has a margin rate")
            rate = _parse_rate(pdata["margin_rate"], f"{path}.margin_rate")
            if rate <= 0:
                raise _fail(f"{path}.margin_rate", "must be above 0 (a fraction of notional, e.g. 0.10)")
        out[name] = ProductConfig(_bool(pdata.get("enabled", True), f"{path}.enabled"), ports, rate)
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

    logon_timeout = get("logon_timeout", _positive)
    handshake = get("tls_handshake_timeout", _positive)
    if "tls_handshake_timeout" in data and handshake > logon_timeout:  # issue 11 §4
        raise _fail("session.tls_handshake_timeout",
                    f"{handshake:g} s is longer than session.logon_timeout ({logon_timeout:g} s); use at most that")
    return SessionSettings(
        sending_time_tolerance=get("sending_time_tolerance", _positive),
        server_comp_id=comp_id,
        one_connection_scope=scope,
        logon_timeout=logon_timeout,
        tls_handshake_timeout=min(handshake, logon_timeout),
        max_connections=get("max_connections", lambda v, p: _int(v, p, lo=1)),
        max_connections_per_peer=get("max_connections_per_peer", lambda v, p: _int(v, p, lo=1)),
        max_retention_hours=get("max_retention_hours", lambda v, p: _int(v, p, lo=1)),
        accept_legacy_21003=get("accept_legacy_21003", _bool),
    )


def _parse_rate_limits(data: Any) -> RateLimitsConfig:
    data = _mapping(data, "rate_limits")
    _no_unknown(data, _RATE_LIMIT_KEYS, "rate_limits")
    logon = _mapping(data.get("logon"), "rate_limits.logon")
    _no_unknown(logon, _LOGON_LIMIT_KEYS, "rate_limits.logon")
    d = LogonLimitConfig()

    def get(key: str, check):  # the key's value or its default, checked
        return check(logon.get(key, getattr(d, key)), f"rate_limits.logon.{key}")

    return RateLimitsConfig(
        enabled=_bool(data.get("enabled", RateLimitsConfig.enabled), "rate_limits.enabled"),
        logon=LogonLimitConfig(
            enabled=get("enabled", _bool),
            limit=get("limit", lambda v, p: _int(v, p, lo=1)),
            window_seconds=get("window_seconds", _positive),
            failed_limit=get("failed_limit", lambda v, p: _int(v, p, lo=1)),
            failed_window_seconds=get("failed_window_seconds", _positive),
        ),
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
    tier = _str(data.get("tier", "premier"), f"{path}.tier").lower()  # spec 11 §2: FIX access is Premier+
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


def _parse_journal(data: Any, base: Path | None) -> JournalConfig:
    data = _mapping(data, "journal")
    _no_unknown(data, _JOURNAL_KEYS, "journal")
    d = JournalConfig()
    log_dir = data.get("message_log")
    return JournalConfig(
        max_entries=_int(data.get("max_entries", d.max_entries), "journal.max_entries", lo=1),
        max_bytes=_int(data.get("max_bytes", d.max_bytes), "journal.max_bytes", lo=1024),
        max_frame_bytes=_int(data.get("max_frame_bytes", d.max_frame_bytes), "journal.max_frame_bytes", lo=64),
        log_messages=_bool(data.get("log_messages", d.log_messages), "journal.log_messages"),
        message_log=None if log_dir is None else _resolve(log_dir, "journal.message_log", base),
    )


def _parse_order_memory(data: Any) -> OrderMemoryConfig:
    data = _mapping(data, "order_memory")
    _no_unknown(data, _ORDER_MEMORY_KEYS, "order_memory")
    d = OrderMemoryConfig()
    hours = data.get("hours", d.hours)
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or not 0 < hours <= 24 * 365:
        raise _fail("order_memory.hours", f"expected a positive number of hours, got {hours!r}")
    return OrderMemoryConfig(
        hours=float(hours),
        max_ended_orders=_int(data.get("max_ended_orders", d.max_ended_orders), "order_memory.max_ended_orders",
                              lo=0),
    )


def _parse_universe(data: Any) -> UniverseConfig:
    data = _mapping(data, "universe")
    _no_unknown(data, _UNIVERSE_KEYS, "universe")
    seed = data.get("seed")
    return UniverseConfig(
        markets=_int(data.get("markets", UniverseConfig.markets), "universe.markets", 0, 10_000),
        seed=None if seed is None else _int(seed, "universe.seed"),
        alongside_markets=_bool(data.get("alongside_markets", False), "universe.alongside_markets"),
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
    if product == "margin":  # spec 08 §3: perps trade on a $0.0001 grid with no upper bound
        structure = _choice(data.get("price_structure", "margin_tick"), f"{path}.price_structure",
                            ("margin_tick",), "price structure")
    else:
        structure = _choice(data.get("price_structure", "linear_cent"), f"{path}.price_structure",
                            PRICE_STRUCTURES, "price structure")  # spec 02 §2.1
    reference = data.get("reference_price", 0)
    try:
        reference_pips = Decimal(str(reference)) * 10_000
    except (InvalidOperation, ValueError):
        reference_pips = Decimal(-1)
    if not reference_pips.is_finite() or reference_pips < 0 or reference_pips != reference_pips.to_integral_value():
        raise _fail(f"{path}.reference_price", "must be a price in dollars >= 0 with at most 4 decimals")
    fractional = _bool(data.get("fractional", False), f"{path}.fractional")
    exchange_index = _int(data.get("exchange_index", 0), f"{path}.exchange_index", lo=0)
    if product == "margin" and fractional:  # spec 02 §2.2
        raise _fail(f"{path}.fractional", "margin markets trade whole contracts only")
    if product == "margin" and exchange_index:  # spec 00 §6
        raise _fail(f"{path}.exchange_index", "margin markets are all on exchange index 0")
    margin_rate = None
    if "margin_rate" in data:  # the initial-margin rate of this perp (behaviour.md "Margin")
        if product != "margin":
            raise _fail(f"{path}.margin_rate", "only margin markets have a margin rate")
        margin_rate = _parse_rate(data["margin_rate"], f"{path}.margin_rate")
        if margin_rate <= 0:
            raise _fail(f"{path}.margin_rate", "must be above 0 (a fraction of notional, e.g. 0.10)")
    return product, Market(
        ticker=ticker,
        event_ticker=event,
        series_ticker=series,
        title=_str(data.get("title", ticker), f"{path}.title"),
        status=MarketStatus(status),
        price_structure=structure,
        fractional=fractional,
        exchange_index=exchange_index,
        reference_price=int(reference_pips),
        margin_rate=margin_rate,
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
    generate = not data or universe.alongside_markets
    if generate and universe.markets:
        from kalshi_fixsim.simulator.universe import generate_universe  # faker is only needed here

        generated = generate_universe(seed if universe.seed is None else universe.seed, universe.markets)
        out["prediction"] += [m for m in generated if ("prediction", m.ticker) not in where]
    if generate:  # spec 08: the margin product serves the sample perps (BTC/ETH/SOL-PERP)
        from kalshi_fixsim.simulator.universe import sample_perps

        out["margin"] += [m for m in sample_perps() if ("margin", m.ticker) not in where]
    return out


def is_loopback(host: str) -> bool:
    """Plaintext is allowed only on these hosts (DESIGN §1)."""
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
    if not tls.enabled and not is_loopback(host):
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
        journal=_parse_journal(data.get("journal"), base),
        order_memory=_parse_order_memory(data.get("order_memory")),
        rate_limits=_parse_rate_limits(data.get("rate_limits")),
        markets=_parse_markets(data.get("markets"), universe, seed),
        faults=_parse_faults(data.get("faults"), accounts),
    )


def _parse_faults(data: Any, accounts: list[AccountConfig]) -> tuple[dict, ...]:
    """`faults:` a list of fault rules (issue 12 §3), checked as POST /faults checks them."""
    from ..faults import RuleError, parse_rule

    if data is None:
        return ()
    if not isinstance(data, list):
        raise _fail("faults", f"expected a list of fault rules, got {type(data).__name__}")
    names = {a.user for a in accounts} | {a.name for a in accounts}
    keys = [a.api_key for a in accounts]
    ids: dict[str, int] = {}
    for i, raw in enumerate(data):
        try:
            rule = parse_rule(raw, accounts=names, api_keys=keys)
        except RuleError as exc:
            raise _fail(f"faults[{i}].{exc.field}" if exc.field != "(rule)" else f"faults[{i}]", exc.message) from None
        if rule.id:
            if rule.id in ids:
                raise _fail(f"faults[{i}].id", f"duplicate id {rule.id!r} (also faults[{ids[rule.id]}])")
            ids[rule.id] = i
    return tuple(dict(r) for r in data)

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
