"""An optional, seeded background market maker so a client alone can get fills.

Each refresh moves every open market's fair price by a seeded random step and re-quotes
`levels` bids and asks of `size` contracts around it, `spread_cents` apart
(perps: around the market's reference price, in steps of 1 bp of it, `spread_cents` steps apart). Its orders
trade with clients like anyone's (clients see ordinary fills); it has no FIX session, so
nothing is reported to it. FIX-free and clock-free: the simulator's ticker calls refresh(now).
"""
from __future__ import annotations

import random

from .config import MarketMakerConfig
from .engine.exchange import Exchange
from .engine.types import QTY_SCALE, CxlReject, Event, MarketStatus, OrderRequest, Side, TimeInForce

__all__ = ["MarketMaker", "MM_ACCOUNT"]

MM_ACCOUNT = "kalshi-fixsim-mm"
CENT = 100  # pips


class MarketMaker:
    def __init__(self, exchange: Exchange, config: MarketMakerConfig, rng: random.Random) -> None:
        self.exchange = exchange
        self.config = config
        self.rng = rng
        self.next_refresh = 0.0
        self._fair: dict[str, int] = {}        # ticker -> fair YES price, whole cents in pips
        self._live: dict[str, list[tuple[str, Side]]] = {}  # ticker -> (ClOrdID, side) of its quotes
        self._count = 0
        exchange.add_account(MM_ACCOUNT, int(config.balance * 1_000_000))

    def refresh(self, now: float) -> list[Event]:
        events: list[Event] = []
        half = self.config.spread_cents * CENT // 2
        for market in self.exchange.markets():
            if market.status is not MarketStatus.OPEN:
                continue
            ticker = market.ticker
            fair = self._fair.get(ticker)
            if market.perp:  # spec 08 §3: perps quote around a reference price, ticks of 1 bp of it
                ref = market.reference_price or 100 * CENT * 100
                step = max(1, ref // 10_000)
                fair = ref if fair is None else fair
                fair = max(step * 10, fair + self.rng.choice((-step, 0, 0, step)))
                lo, hi, tick_half = step, None, self.config.spread_cents * step // 2
            else:
                step = CENT
                if fair is None:
                    fair = self.rng.randint(20, 80) * CENT
                fair = min(95 * CENT, max(5 * CENT, fair + self.rng.choice((-CENT, 0, 0, CENT))))
                lo, hi, tick_half = CENT, 99 * CENT, half
            self._fair[ticker] = fair
            for cl, side in self._live.pop(ticker, []):
                result = self.exchange.cancel_order(MM_ACCOUNT, cl, self._next_id(), side=side, symbol=ticker, now=now)
                if not isinstance(result, CxlReject):  # already filled: nothing to cancel
                    events.extend(result)
            quotes: list[tuple[str, Side]] = []
            for level in range(self.config.levels):
                for side, price in ((Side.BUY, fair - tick_half - level * step),
                                    (Side.SELL, fair + tick_half + level * step)):
                    if price < lo or (hi is not None and price > hi):
                        continue
                    cl = self._next_id()
                    events.extend(self.exchange.new_order(OrderRequest(
                        account=MM_ACCOUNT, client_order_id=cl, symbol=ticker, side=side, price=price,
                        qty=self.config.size * QTY_SCALE, tif=TimeInForce.GTC), now))
                    quotes.append((cl, side))
            self._live[ticker] = quotes
        self.next_refresh = now + self.config.refresh_seconds
        return events

    def _next_id(self) -> str:
        self._count += 1
        return f"mm-{self._count}"
