"""The test venue: the accounts, markets and config the pytest plugin and the scenario runner
start (one definition, imported by both; no pytest import here, so the CLI can use it)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from .certs import make_dev_certs
from .config import AccountConfig, RateLimitsConfig, SimConfig, TlsConfig, default_config
from .engine.types import Market, MarketStatus
from .keys import new_key_pair

__all__ = ["TEST_ACCOUNTS", "TEST_MARKETS", "TestAccount", "make_material", "make_test_config"]

_ALL_SESSIONS = ("NR", "DC", "RT", "PT", "RFQ", "MD")
# name -> AccountConfig overrides. Several plain accounts because one key = one connection.
TEST_ACCOUNTS: dict[str, dict] = {
    "alice": {}, "bob": {}, "carol": {}, "dave": {},
    "margin_only": {"products": ("margin",)},
    "restricted": {"subaccount": 3},
    "readonly": {"read_only": True},
    "no_rt": {"sessions": ("NR", "DC", "RFQ", "MD")},
    "alice_listener": {"account": "alice", "read_only": True},  # a second key of alice's account
    "bob_listener": {"account": "bob", "read_only": True},
}

# Markets of the test venue (spec 02 §2.1 structures; statuses for the reject paths).
TEST_MARKETS = {
    "prediction": [
        Market("KXTEST-26JAN01-A", "KXTEST-26JAN01", "KXTEST", "Test market A"),
        Market("KXTEST-26JAN01-B", "KXTEST-26JAN01", "KXTEST", "Test market B"),
        Market("KXFRAC-26JAN01-T1", "KXFRAC-26JAN01", "KXFRAC", "Fractional, deci-cent", price_structure="deci_cent",
               fractional=True),
        Market("KXCLOSED-26JAN01-T1", "KXCLOSED-26JAN01", "KXCLOSED", "Closed", status=MarketStatus.CLOSED),
        Market("KXINIT-26JAN01-T1", "KXINIT-26JAN01", "KXINIT", "Not yet open", status=MarketStatus.INITIALIZED),
        Market("KXSHARD-26JAN01-T1", "KXSHARD-26JAN01", "KXSHARD", "On exchange index 2", exchange_index=2),
    ],
    "margin": [  # spec 08 §3: perps on the $0.0001 grid, no upper price bound
        Market("ETH-PERP", "ETH-PERP", "ETH", "Ether perpetual", price_structure="margin_tick",
               reference_price=35_000_000),
        Market("BTC-PERP", "BTC-PERP", "BTC", "Bitcoin perpetual", price_structure="margin_tick",
               reference_price=950_000_000, margin_rate=Decimal("0.05")),  # its own rate; ETH has the product's
    ],
}


@dataclass(frozen=True)
class TestAccount:
    __test__ = False  # not a test class, despite the name
    name: str
    api_key: str
    private_key_path: Path
    config: AccountConfig


def make_material(base: Path) -> tuple[Path, dict[str, TestAccount], TlsConfig]:
    """Dev certificates and the test accounts' keys, made once per test run."""
    certs = make_dev_certs(base / "certs")
    accounts: dict[str, TestAccount] = {}
    for name, overrides in TEST_ACCOUNTS.items():
        pair = new_key_pair(base / "keys", name)
        # tier basic (not the config's premier default): the rate-limit tests reach its limits quickly
        fields = dict(name=name, api_key=pair.api_key, public_key_pem=pair.public_key_path.read_bytes(),
                      products=("prediction", "margin"), sessions=_ALL_SESSIONS, tier="basic",
                      balance=Decimal("1000.00"), subaccount=None, read_only=False)
        fields.update(overrides)
        accounts[name] = TestAccount(name, pair.api_key, pair.private_key_path, AccountConfig(**fields))
    tls = TlsConfig(enabled=True, cert=certs.cert, key=certs.key, ca=certs.ca)
    return certs.ca, accounts, tls


def make_test_config(accounts: dict[str, TestAccount], tls: TlsConfig, **overrides) -> SimConfig:
    """Every endpoint on 127.0.0.1 port 0, an in-memory store, the test accounts.
    `rate_limits` may be a bool (False: no limits at all, as `serve --no-rate-limits`)."""
    if isinstance(overrides.get("rate_limits"), bool):
        overrides["rate_limits"] = dataclasses.replace(RateLimitsConfig(), enabled=overrides["rate_limits"])
    markets = {product: [dataclasses.replace(m) for m in ms] for product, ms in TEST_MARKETS.items()}
    config = dataclasses.replace(default_config().with_ports_zero(), host="127.0.0.1", tls=tls, store="memory",
                                 accounts=[a.config for a in accounts.values()], markets=markets)
    return dataclasses.replace(config, **overrides) if overrides else config
