"""The venues of a simulator built from its config: one exchange per product, with markets
(configured, or a generated sample universe) and the accounts' balances."""
from __future__ import annotations

import random
from decimal import Decimal

from .config import SimConfig
from .engine.accounts import FeeSchedule
from .engine.exchange import Exchange
from .engine.types import MONEY_SCALE
from .gateway.venue import Venue
from .universe import generate_universe

__all__ = ["build_venues", "dollars_to_micros"]


def dollars_to_micros(amount: Decimal) -> int:
    return int(amount * MONEY_SCALE)


def build_venues(config: SimConfig) -> dict[str, Venue]:
    venues: dict[str, Venue] = {}
    for product, pconf in config.products.items():
        # One seeded RNG per product: the products never share ids, books or accounts (issue 6).
        rng = random.Random(f"{config.seed}/{product}")
        exchange = Exchange(rng=rng, fees=FeeSchedule(config.fees.taker_rate, config.fees.maker_rate))
        markets = config.markets_for(product)
        if not markets and product == "prediction" and not any(config.markets_for(p) for p in config.products):
            seed = config.universe.seed if config.universe.seed is not None else config.seed
            markets = generate_universe(seed, config.universe.markets)
        for market in markets:
            exchange.add_market(market)
        seen: set[str] = set()
        for account in config.accounts:
            # The first key of an account sets its starting balance (behaviour.md).
            if product in account.products and account.user not in seen:
                seen.add(account.user)
                exchange.add_account(account.user, dollars_to_micros(account.balance))
        venues[product] = Venue(product, exchange)
    return venues
