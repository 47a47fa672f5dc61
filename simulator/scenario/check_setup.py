"""Checks of a scenario's `setup:` (config overrides, clock, accounts, markets, orders, pauses)."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from .model import Setup
from .problems import Problems
from .yamlnodes import LDict, LList

_SETUP_KEYS = ("config", "clock", "accounts", "markets", "orders", "pauses")
_ORDER_KEYS = ("account", "symbol", "side", "price", "qty", "tif", "product", "cl_ord_id", "subaccount")
TIFS = ("gtc", "ioc", "fok", "day")
SIDES = ("buy", "sell")


def _config_parsers() -> dict:
    from ..config import parse as p
    return {"fees": p._parse_fees, "session": p._parse_session, "market_maker": p._parse_market_maker,
            "order_memory": p._parse_order_memory, "rate_limits": _rate_limits, "seed": _seed}


def _rate_limits(value: Any):
    from ..config import parse as p
    return value if isinstance(value, bool) else p._parse_rate_limits(value)


def _seed(value: Any):
    from ..config import parse as p
    return p._int(value, "seed")


def check_setup(raw: Any, line: int, path: str, problems: Problems) -> Setup:
    from ..config import ConfigError

    setup = Setup()
    if not isinstance(raw, LDict):
        problems.add(line, path, f"expected a mapping ({', '.join(_SETUP_KEYS)})")
        return setup
    for key in raw:
        if key not in _SETUP_KEYS:
            problems.add(raw.line_of(key), f"{path}.{key}", f"unknown key: expected one of {', '.join(_SETUP_KEYS)}")
    config = raw.get("config")
    if config is not None:
        parsers = _config_parsers()
        if not isinstance(config, LDict):
            problems.add(raw.line_of("config"), f"{path}.config", "expected a mapping of SimConfig overrides")
        else:
            for key, value in config.items():
                where, at = config.line_of(key), f"{path}.config.{key}"
                if key not in parsers:
                    problems.add(where, at, f"expected one of {', '.join(parsers)} (SimConfig overrides)")
                    continue
                try:
                    setup.config[key] = parsers[key](_plain(value))
                except ConfigError as exc:
                    problems.add(where, f"{path}.config", str(exc))
    clock = raw.get("clock")
    if clock is not None:
        _clock(clock, raw.line_of("clock"), f"{path}.clock", setup, problems)
    accounts = raw.get("accounts")
    if accounts is not None:
        _accounts(accounts, raw.line_of("accounts"), f"{path}.accounts", setup, problems)
    markets = raw.get("markets")
    if markets is not None:
        from ..config import parse as p
        if not isinstance(markets, LList):
            problems.add(raw.line_of("markets"), f"{path}.markets", "expected a list of markets (config keys)")
        else:
            for i, m in enumerate(markets):
                at = f"{path}.markets[{i}]"
                try:
                    setup.markets.append(p._parse_market(_plain(m), at))
                except ConfigError as exc:
                    problems.add(markets.line_of(i), at, str(exc).removeprefix(at + ": ").removeprefix(at + "."))
    orders = raw.get("orders")
    if orders is not None:
        if not isinstance(orders, LList):
            problems.add(raw.line_of("orders"), f"{path}.orders", "expected a list of orders")
        else:
            for i, o in enumerate(orders):
                checked = check_order(o, orders.line_of(i), f"{path}.orders[{i}]", problems)
                if checked is not None:
                    setup.orders.append(checked)
    pauses = raw.get("pauses")
    if pauses is not None:
        if not isinstance(pauses, LList):
            problems.add(raw.line_of("pauses"), f"{path}.pauses", "expected a list like [{kind: trading}]")
        else:
            for i, p in enumerate(pauses):
                at = f"{path}.pauses[{i}]"
                if not isinstance(p, LDict) or p.get("kind") not in ("trading", "exchange") or \
                        set(p) - {"kind", "product"}:
                    problems.add(pauses.line_of(i), at, "expected {kind: trading|exchange, product: ...}")
                else:
                    setup.pauses.append(dict(p))
    return setup


def _clock(clock: Any, line: int, path: str, setup: Setup, problems: Problems) -> None:
    from ..virtual_clock import parse_start

    if not isinstance(clock, LDict) or set(clock) - {"mode", "start"}:
        problems.add(line, path, "expected {mode: virtual|real, start: \"Thursday 02:59:50 America/New_York\"}")
        return
    mode = clock.get("mode", "virtual")
    if mode not in ("virtual", "real"):
        problems.add(clock.line_of("mode"), f"{path}.mode", f"expected virtual or real, not {mode!r}")
    setup.clock = mode
    if "start" in clock:
        if mode == "real":
            problems.add(clock.line_of("start"), f"{path}.start", "expected no start on a real clock (it is now)")
        try:
            parse_start(clock["start"])
            setup.start = clock["start"]
        except ValueError as exc:
            problems.add(clock.line_of("start"), f"{path}.start", str(exc))


def _accounts(accounts: Any, line: int, path: str, setup: Setup, problems: Problems) -> None:
    from ..ratelimit import TIERS
    from ..testvenue import TEST_ACCOUNTS

    if not isinstance(accounts, LDict):
        problems.add(line, path, "expected a mapping: account name -> {balance, tier}")
        return
    for name, spec in accounts.items():
        at, where = f"{path}.{name}", accounts.line_of(name)
        if name not in TEST_ACCOUNTS:
            problems.add(where, at, f"expected a test-venue account ({', '.join(TEST_ACCOUNTS)})")
            continue
        if not isinstance(spec, LDict) or set(spec) - {"balance", "tier"}:
            problems.add(where, at, "expected {balance: \"1000.00\", tier: premier}")
            continue
        entry: dict = {}
        if "balance" in spec:
            try:
                value = Decimal(str(spec["balance"]))
                if value < 0 or isinstance(spec["balance"], bool):
                    raise InvalidOperation
                entry["balance"] = str(value)
            except InvalidOperation:
                problems.add(spec.line_of("balance"), f"{at}.balance", "expected a dollar amount such as \"1000.00\"")
        if "tier" in spec:
            if spec["tier"] not in TIERS:
                problems.add(spec.line_of("tier"), f"{at}.tier", f"expected one of {', '.join(TIERS)}")
            else:
                entry["tier"] = spec["tier"]
        setup.accounts[name] = entry


def check_order(o: Any, line: int, at: str, problems: Problems, accounts=None) -> dict | None:
    """{account, symbol, side, price, qty, tif?, product?, cl_ord_id?, subaccount?}: a resting order;
    `accounts`: the venue's account names (default: the test venue's; a conform case adds `subject`)."""
    from ..testvenue import TEST_ACCOUNTS

    TEST_ACCOUNTS = accounts if accounts is not None else TEST_ACCOUNTS  # noqa: N806

    if not isinstance(o, LDict):
        problems.add(line, at, "expected {account, symbol, side, price, qty, tif, product, cl_ord_id}")
        return None
    bad = False
    for key in o:
        if key not in _ORDER_KEYS:
            problems.add(o.line_of(key), f"{at}.{key}", f"unknown key: expected one of {', '.join(_ORDER_KEYS)}")
            bad = True
    for key in ("account", "symbol", "side", "price", "qty"):
        if key not in o:
            problems.add(line, f"{at}.{key}", "missing")
            bad = True
    if "account" in o and o["account"] not in TEST_ACCOUNTS:
        problems.add(o.line_of("account"), f"{at}.account", f"expected a test-venue account ({', '.join(TEST_ACCOUNTS)})")
        bad = True
    if "side" in o and o["side"] not in SIDES:
        problems.add(o.line_of("side"), f"{at}.side", "expected buy or sell")
        bad = True
    if "tif" in o and o["tif"] not in TIFS:
        problems.add(o.line_of("tif"), f"{at}.tif", f"expected one of {', '.join(TIFS)}")
        bad = True
    if "product" in o and o["product"] not in ("prediction", "margin"):
        problems.add(o.line_of("product"), f"{at}.product", "expected prediction or margin")
        bad = True
    for key in ("price", "qty"):
        if key in o:
            try:
                if isinstance(o[key], bool) or Decimal(str(o[key])) <= 0:
                    raise InvalidOperation
            except InvalidOperation:
                problems.add(o.line_of(key), f"{at}.{key}", "expected a positive number")
                bad = True
    return None if bad else {**dict(o), "line": line}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
