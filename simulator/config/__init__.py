"""The simulator's YAML configuration: model, loader, sample writer, add_account.

One file (``sim.yaml`` by default) says which listeners to open, how the
session layer resolves the spec's open questions, where state lives and which
API keys exist. Every key is optional; ``load_config`` fills defaults,
validates everything up front and raises ``ConfigError`` naming the key path
(``accounts[1].api_key: not a UUID``) so a typo fails at start-up, not at the
first Logon. Relative paths are resolved against the YAML file's folder, so a
config works whatever the current directory is.
"""
from .model import (DEFAULT_PORTS, PRODUCT_SESSIONS, TIERS, PRICE_STRUCTURES, ConfigError,
                    TlsConfig, ProductConfig, SessionSettings, AccountConfig, FeeConfig,
                    MarketMakerConfig, UniverseConfig, SimConfig, JournalConfig, OrderMemoryConfig,
                    RateLimitsConfig, LogonLimitConfig)
from .parse import default_config, load_config
from .sample import add_account, write_sample_config

__all__ = [
    "AccountConfig",
    "ConfigError",
    "DEFAULT_PORTS",
    "FeeConfig",
    "JournalConfig",
    "OrderMemoryConfig",
    "LogonLimitConfig",
    "MarketMakerConfig",
    "PRICE_STRUCTURES",
    "PRODUCT_SESSIONS",
    "ProductConfig",
    "RateLimitsConfig",
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
