"""Config model: the dataclasses of a simulator config and the names of its keys."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path


from kalshi_fixsim.simulator.engine.types import Market


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
SCOPES = ("key", "key_and_product", "key_and_session")  # spec 00 §3.1 open question
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
    "markets", "universe", "fees", "market_maker", "accounts", "rate_limits", "faults",
    "journal", "order_memory",
)
_JOURNAL_KEYS = ("max_entries", "max_bytes", "max_frame_bytes", "log_messages", "message_log")
_ORDER_MEMORY_KEYS = ("hours", "max_ended_orders")
_MARKET_KEYS = (
    "ticker", "event_ticker", "series_ticker", "title", "status",
    "price_structure", "fractional", "exchange_index", "product", "reference_price", "margin_rate",
)
_UNIVERSE_KEYS = ("markets", "seed", "alongside_markets")
_FEE_KEYS = ("taker_rate", "maker_rate")
_MARKET_MAKER_KEYS = ("enabled", "spread_cents", "size", "levels", "refresh_seconds", "balance")
# A ticker goes into Symbol(55) verbatim; Kalshi tickers are upper case (KXHIGHNY-26NOV21-B45.5).
_TICKER_RE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,99}$")
_TLS_KEYS = ("enabled", "cert", "key", "ca")
_RATE_LIMIT_KEYS = ("enabled", "logon")
_LOGON_LIMIT_KEYS = ("enabled", "limit", "window_seconds", "failed_limit", "failed_window_seconds")
_PRODUCT_KEYS = ("enabled", "ports", "margin_rate")
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
    margin_rate: Decimal = Decimal("0.10")  # margin only: initial margin = rate x notional (behaviour.md)


@dataclass(frozen=True)
class SessionSettings:
    sending_time_tolerance: float = 30  # seconds, spec 01 §1.1
    server_comp_id: str = "echo"  # "echo" = the TargetCompID the client sent (spec 00 §3)
    one_connection_scope: str = "key_and_product"  # spec 00 §3.1; margin is its own venue (behaviour.md)
    logon_timeout: float = 10
    tls_handshake_timeout: float = 10  # seconds; at most logon_timeout (issue 11 §4)
    max_connections: int = 1000        # open connections per listener (issue 11 §4)
    max_connections_per_peer: int = 500  # open connections per peer address, all listeners
    max_retention_hours: int = 72  # spec 01 §2.2, §6
    accept_legacy_21003: bool = True  # spec 01 §2.2


@dataclass(frozen=True)
class LogonLimitConfig:
    """spec 00 §7: Logon is rate-limited. Only Logons that pass authentication count toward
    the key's limit; refused ones count toward their peer address's (issue 11 §5)."""
    enabled: bool = True
    limit: int = 100                    # accepted Logons per API key and product ...
    window_seconds: float = 1.0         # ... per this many seconds (spec 11 §3: 10 Read tokens)
    failed_limit: int = 1000            # Logons refused before authentication per peer address ...
    failed_window_seconds: float = 10.0  # ... per this many seconds


@dataclass(frozen=True)
class RateLimitsConfig:
    """spec 11: `enabled: false` (or `serve --no-rate-limits`) turns off every limit."""
    enabled: bool = True
    logon: LogonLimitConfig = LogonLimitConfig()


@dataclass(frozen=True)
class AccountConfig:
    name: str
    api_key: str
    public_key_pem: bytes
    products: tuple[str, ...]
    sessions: tuple[str, ...]
    tier: str = "premier"
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
    """How many prediction markets to generate when ``markets:`` is empty (or next to it)."""
    markets: int = 12
    seed: int | None = None  # None = the top-level seed
    # True: generated next to a ``markets:`` list (listed tickers win), with the sample perps
    # on margin; False: a ``markets:`` list replaces the generated universe.
    alongside_markets: bool = False


@dataclass(frozen=True)
class JournalConfig:
    """The control plane's record of recent frames (GET /messages) and the message logs."""
    max_entries: int = 2000
    max_bytes: int = 8 * 1024 * 1024      # whole journal; oldest frames go first (behaviour.md)
    max_frame_bytes: int = 64 * 1024      # a longer frame is kept truncated, saying so
    log_messages: bool = False            # every frame in the log (logger kalshi_fixsim.messages)
    message_log: Path | None = None       # folder of per-session message log files


@dataclass(frozen=True)
class OrderMemoryConfig:
    """How long, and how many, ended orders stay known by OrderID and ClOrdID (behaviour.md)."""
    hours: float = 24.0
    max_ended_orders: int = 500_000


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
    journal: JournalConfig = JournalConfig()
    order_memory: OrderMemoryConfig = OrderMemoryConfig()
    rate_limits: RateLimitsConfig = RateLimitsConfig()
    # product -> its markets, config order: the ``markets:`` list, or the generated
    # universe (prediction) when that list is empty. Use ``markets_for`` to get copies.
    markets: dict[str, list[Market]] = field(default_factory=dict)
    # fault rules active from start-up (issue 12 §3), each the plain dict POST /faults takes
    faults: tuple[dict, ...] = ()

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

    def without_rate_limits(self) -> "SimConfig":
        """A copy with every rate limit off, Logon limits included (`serve --no-rate-limits`)."""
        return dataclasses.replace(self, rate_limits=dataclasses.replace(self.rate_limits, enabled=False))

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
