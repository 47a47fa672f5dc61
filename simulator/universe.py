"""A seeded, Kalshi-like market universe: series -> events -> markets.

``generate_universe(seed, count)`` returns ``count`` open prediction markets
grouped in events of several markets each, with the ticker shapes Kalshi uses:

    series  KXHIGHNY, KXCPI, KXRAIN, KXFEDDECISION, KXNBAGAME, KXBTC, KXMAYOR<CITY>
    event   <SERIES>-<YY><MON><DD>            KXHIGHNY-26NOV21
            <SERIES>-<YY><MON>                KXCPI-26DEC (monthly releases, FOMC meetings)
            <SERIES>-<YY><MON><DD><AWAY><HOME> KXNBAGAME-26NOV21LALBOS
    market  <EVENT>-<suffix>                  KXHIGHNY-26NOV21-B45.5, KXCPI-26DEC-T0.3,
                                              KXNBAGAME-26NOV21LALBOS-LAL

Determinism (DESIGN §3 rule 8): one ``random.Random(seed)`` and one ``Faker``
seeded with ``seed_instance(seed)``; dates come from a fixed calendar, never
from the wall clock. Same seed (and same Faker version) -> the same list.
Faker enters the project through this module only (DESIGN §3 rule 10).
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import random
from typing import Callable

from faker import Faker

from kalshi_fixsim.simulator.engine.types import Market, MarketStatus

__all__ = ["sample_perps", "generate_universe"]

_MON = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_FIRST_DAY = _dt.date(2026, 11, 21)  # a fixed calendar: never today's date
_SPAN_DAYS = 120
# spec 02 §2.1: mostly whole cents, some sub-penny grids.
_STRUCTURES = ("linear_cent", "deci_cent", "tapered_deci_cent")
_STRUCTURE_WEIGHTS = (70, 15, 15)
_FRACTIONAL_SHARE = 0.25  # spec 02 §2.2: fractional trading is per market

_CITIES = (("NY", "NYC"), ("CHI", "Chicago"), ("MIA", "Miami"), ("AUS", "Austin"),
           ("LAX", "Los Angeles"), ("DEN", "Denver"), ("PHIL", "Philadelphia"))
_NBA = {
    "LAL": "Los Angeles Lakers", "BOS": "Boston Celtics", "GSW": "Golden State Warriors",
    "NYK": "New York Knicks", "MIA": "Miami Heat", "DEN": "Denver Nuggets", "PHX": "Phoenix Suns",
    "MIL": "Milwaukee Bucks", "DAL": "Dallas Mavericks", "CHI": "Chicago Bulls",
}
_FED = (("C26", "cut rates by more than 25 bps"), ("C25", "cut rates by 25 bps"),
        ("H0", "hold rates"), ("H25", "hike rates by 25 bps"), ("H26", "hike rates by more than 25 bps"))

# An event: (series ticker, event ticker, [(market suffix, title)]).
_Event = tuple[str, str, list[tuple[str, str]]]


def _day(d: _dt.date) -> str:
    return f"{d:%y}{_MON[d.month - 1]}{d.day:02d}"


def _month(d: _dt.date) -> str:
    return f"{d:%y}{_MON[d.month - 1]}"


def _human(d: _dt.date) -> str:
    return f"{_MON[d.month - 1].title()} {d.day}, {d.year}"


def _human_month(d: _dt.date) -> str:
    return f"{_MON[d.month - 1].title()} {d.year}"


def _letters(text: str) -> str:
    return "".join(c for c in text.upper() if "A" <= c <= "Z")


# ------------------------------------------------------------------ event templates


def _high_temp(rng: random.Random, fake: Faker, d: _dt.date) -> _Event:
    code, city = rng.choice(_CITIES)
    series = f"KXHIGH{code}"
    when, base, brackets = _human(d), rng.randint(25, 85), rng.randint(2, 4)
    top = base + 2 * brackets - 1
    markets = [(f"T{base}", f"Will the high temp in {city} be <{base}° on {when}?")]
    for lo in range(base, top, 2):
        markets.append((f"B{lo}.5", f"Will the high temp in {city} be {lo}-{lo + 1}° on {when}?"))
    markets.append((f"T{top}", f"Will the high temp in {city} be >{top}° on {when}?"))
    return series, f"{series}-{_day(d)}", markets


def _cpi(rng: random.Random, fake: Faker, d: _dt.date) -> _Event:
    tenths = sorted(rng.sample(range(0, 7), rng.randint(3, 5)))
    month = _human_month(d)
    markets = [(f"T{t / 10:.1f}", f"Will CPI rise more than {t / 10:.1f}% in {month}?") for t in tenths]
    return "KXCPI", f"KXCPI-{_month(d)}", markets


def _rain(rng: random.Random, fake: Faker, d: _dt.date) -> _Event:
    city, when = "NYC", _human(d)  # the KXRAIN series is New York's (spec 02 §3 example)
    inches = sorted(rng.sample((0.1, 0.25, 0.5, 1, 2), rng.randint(2, 4)))
    markets = [(f"T{x:g}", f"Will {city} get more than {x:g} in. of rain on {when}?") for x in inches]
    return "KXRAIN", f"KXRAIN-{_day(d)}", markets


def _fed(rng: random.Random, fake: Faker, d: _dt.date) -> _Event:
    start = rng.randint(0, 2)
    month = _human_month(d)
    markets = [(s, f"Will the Fed {what} at the {month} meeting?") for s, what in _FED[start:start + 3]]
    return "KXFEDDECISION", f"KXFEDDECISION-{_month(d)}", markets


def _nba(rng: random.Random, fake: Faker, d: _dt.date) -> _Event:
    away, home = rng.sample(sorted(_NBA), 2)
    when = _human(d)
    markets = [
        (away, f"Will the {_NBA[away]} beat the {_NBA[home]} on {when}?"),
        (home, f"Will the {_NBA[home]} beat the {_NBA[away]} on {when}?"),
    ]
    return "KXNBAGAME", f"KXNBAGAME-{_day(d)}{away}{home}", markets


def _btc(rng: random.Random, fake: Faker, d: _dt.date) -> _Event:
    width, when = 500, _human(d)
    low = rng.randrange(60_000, 140_000, width)
    markets = []
    for lo in range(low, low + width * rng.randint(3, 5), width):
        markets.append((f"B{lo + width // 2}",
                        f"Will the Bitcoin price be ${lo:,} to ${lo + width - 1:,}.99 at 5pm EST on {when}?"))
    return "KXBTC", f"KXBTC-{_day(d)}", markets


def _mayor(rng: random.Random, fake: Faker, d: _dt.date) -> _Event:
    city = fake.city()
    series = f"KXMAYOR{_letters(city)[:10] or 'CITY'}"
    markets: list[tuple[str, str]] = []
    wanted = rng.randint(2, 4)
    for _ in range(wanted * 5):  # a few tries to find distinct suffixes
        first, last = fake.first_name(), fake.last_name()
        suffix = _letters(last)[:6] or "CAND"
        if all(s != suffix for s, _ in markets):
            markets.append((suffix, f"Will {first} {last} win the {city} mayoral election on {_human(d)}?"))
        if len(markets) == wanted:
            break
    return series, f"{series}-{_day(d)}", markets


_TEMPLATES: tuple[Callable[[random.Random, Faker, _dt.date], _Event], ...] = (
    _high_temp, _cpi, _rain, _fed, _nba, _btc, _mayor,
)


# ------------------------------------------------------------------ public API


@functools.lru_cache(maxsize=32)
def _cached(seed: int, count: int) -> tuple[Market, ...]:
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    out: list[Market] = []
    seen_events: set[str] = set()
    misses = 0
    while len(out) < count:
        template = rng.choice(_TEMPLATES)
        day = _FIRST_DAY + _dt.timedelta(days=rng.randrange(_SPAN_DAYS))
        series, event, markets = template(rng, fake, day)
        if event in seen_events:  # e.g. a second KXCPI event for the same month
            misses += 1
            if misses > 10_000:  # pragma: no cover - needs an absurd count
                raise ValueError(f"cannot generate {count} distinct markets")
            continue
        seen_events.add(event)
        for suffix, title in markets[: count - len(out)]:
            out.append(Market(
                ticker=f"{event}-{suffix}",
                event_ticker=event,
                series_ticker=series,
                title=title,
                status=MarketStatus.OPEN,
                price_structure=rng.choices(_STRUCTURES, _STRUCTURE_WEIGHTS)[0],
                fractional=rng.random() < _FRACTIONAL_SHARE,
                exchange_index=0,
            ))
    return tuple(out)


def generate_universe(seed: int, count: int) -> list[Market]:
    """``count`` open prediction markets, the same list for the same ``seed``.

    Each call returns fresh ``Market`` objects, so callers may mutate them
    (status changes, settlement) without affecting later calls.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be an integer >= 0, got {count!r}")
    return [dataclasses.replace(m) for m in _cached(seed, count)]


# Margin (perps) sample markets: (ticker, title, reference price in dollars). spec 08 §3.
_PERPS = (
    ("BTC-PERP", "Bitcoin perpetual", "95000.0000"),
    ("ETH-PERP", "Ether perpetual", "3500.0000"),
    ("SOL-PERP", "Solana perpetual", "150.0000"),
)


def sample_perps() -> list[Market]:
    """The margin product's sample perpetual markets (fresh objects on every call)."""
    from decimal import Decimal
    return [Market(ticker=t, event_ticker=t, series_ticker=t.split("-")[0], title=title, status=MarketStatus.OPEN,
                   price_structure="margin_tick", reference_price=int(Decimal(ref) * 10_000))
            for t, title, ref in _PERPS]
