"""The venues of a simulator built from its config: one exchange per product, with markets
(configured, or a generated sample universe) and the accounts' balances."""
from __future__ import annotations

import asyncio
import random
import sqlite3
from decimal import Decimal
from typing import Callable

from kalshi_fixsim.fixproto.aio import SystemClock

from .config import SimConfig
from .engine.accounts import FeeSchedule
from .engine.exchange import Exchange
from .engine.perps import PerpExchange
from .engine.types import MONEY_SCALE
from .gateway.drop_copy import DropCopyService
from .gateway.venue import Venue
from .history import MemoryHistory, SqliteHistory, history_tables, open_history_db
from .universe import generate_universe, sample_perps

__all__ = ["build_venues", "dollars_to_micros", "attach_history", "defer", "later"]


def dollars_to_micros(amount: Decimal) -> int:
    return int(amount * MONEY_SCALE)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def defer(fn: Callable[[], None]) -> None:
    """Run fn at the end of this loop turn (at once when no loop runs: scripts, unit tests)."""
    loop = _running_loop()
    if loop is None:
        fn()
    else:
        loop.call_soon(fn)


def later(delay: float, fn: Callable[[], None]) -> bool:
    """Run fn on a later loop turn; False (not scheduled) when no loop runs."""
    loop = _running_loop()
    if loop is None:
        return False
    if delay > 0:
        loop.call_later(delay, fn)
    else:
        loop.call_soon(fn)
    return True


def attach_history(venues: dict[str, Venue], store: str, clock: Callable[[], float] | None = None,
                   db: sqlite3.Connection | None = None) -> None:
    """Give every venue its drop-copy history (spec 04 §2): in memory, or in the SQLite state
    file so it survives a restart. `clock` None: wall time (the Simulator's default clock)
    until the first Logon on the venue, when the drop-copy gateway binds the Simulator's own
    clock (an order, hence a report, needs a logged-on session first).
    `db`: the simulator's state file (journal.StateFile), whose commit per batch writes the
    history too; the engine's ids then come back by replaying the journal."""
    shared = db is not None
    if db is None and store != "memory":
        db = open_history_db(store)
    elif db is not None:
        history_tables(db)
    for product, venue in venues.items():
        history: MemoryHistory | SqliteHistory
        if db is None:
            history = MemoryHistory(clock or SystemClock().now)
        else:
            history = SqliteHistory(db, product, clock or SystemClock().now, schedule=None if shared else defer,
                                    commit=not shared)
        history.late_clock = clock is None
        venue.history = history
        venue.services["drop_copy"] = DropCopyService(later=later)  # replays yield to the loop
        if not shared:  # ExecIDs continue above the ones already in the file (spec 02 §8.2)
            venue.exchange.resume_exec_ids(history.max_clocks())


def build_venues(config: SimConfig, clock: Callable[[], float] | None = None,
                 db: sqlite3.Connection | None = None) -> dict[str, Venue]:
    venues: dict[str, Venue] = {}
    for product, pconf in config.products.items():
        # One seeded RNG per product: the products never share ids, books or accounts (issue 6).
        rng = random.Random(f"{config.seed}/{product}")
        exchange: Exchange
        if product == "margin":  # spec 08: the perps engine (margin model, banding)
            exchange = PerpExchange(rng=rng, margin_rate=pconf.margin_rate)
        else:
            exchange = Exchange(rng=rng, fees=FeeSchedule(config.fees.taker_rate, config.fees.maker_rate))
        markets = config.markets_for(product)
        if not markets and product == "margin" and not any(config.markets_for(p) for p in config.products):
            markets = sample_perps()  # a config built without parse (the parser adds them too)
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
    attach_history(venues, config.store, clock, db)
    return venues
