"""The generated market universe (simulator.universe): seeded, Kalshi-shaped, valid."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from kalshi_fixsim.simulator.config import PRICE_STRUCTURES
from kalshi_fixsim.simulator.engine.types import Market, MarketStatus
from kalshi_fixsim.simulator.universe import generate_universe

SERIES_RE = re.compile(r"^KX[A-Z]+$")
# <SERIES>-<YY><MON>[<DD>][extra], e.g. KXHIGHNY-26NOV21, KXCPI-26DEC, KXNBAGAME-26NOV21LALBOS
EVENT_RE = re.compile(r"^(KX[A-Z]+)-(\d{2})(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)(\d{2})?([A-Z]*)$")
SUFFIX_RE = re.compile(r"^[A-Z0-9.]+$")  # no '-' inside a suffix: the ticker splits cleanly
DAY_SERIES_TITLE = re.compile(r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{1,2}, \d{4}\?$")


@pytest.fixture(scope="module")
def big() -> list[Market]:
    return generate_universe(seed=7, count=400)


def test_same_seed_gives_the_identical_list():
    assert generate_universe(42, 40) == generate_universe(42, 40)


def test_different_seeds_give_different_lists():
    assert generate_universe(1, 12) != generate_universe(2, 12)


def test_count_is_exact_and_a_shorter_list_is_a_prefix():
    assert [len(generate_universe(3, n)) for n in (0, 1, 12, 57)] == [0, 1, 12, 57]
    assert generate_universe(3, 12) == generate_universe(3, 57)[:12]


def test_each_call_returns_fresh_market_objects():
    first = generate_universe(5, 3)
    first[0].status = MarketStatus.CLOSED
    assert generate_universe(5, 3)[0].status is MarketStatus.OPEN


@pytest.mark.parametrize("count", [-1, 1.5, True])
def test_a_bad_count_is_refused(count):
    with pytest.raises(ValueError):
        generate_universe(1, count)


def test_tickers_have_kalshi_series_event_market_shape(big):
    for m in big:
        assert SERIES_RE.match(m.series_ticker), m
        match = EVENT_RE.match(m.event_ticker)
        assert match and match.group(1) == m.series_ticker, m
        assert m.ticker.startswith(m.event_ticker + "-"), m
        assert SUFFIX_RE.match(m.ticker[len(m.event_ticker) + 1:]), m
        assert m.ticker == m.ticker.upper() and len(m.ticker) <= 100


def test_known_examples_have_the_documented_formats(big):
    by_series = {m.series_ticker: m for m in big}
    assert {"KXCPI", "KXRAIN", "KXFEDDECISION", "KXNBAGAME", "KXBTC"} <= set(by_series)
    assert any(s.startswith("KXHIGH") for s in by_series) and any(s.startswith("KXMAYOR") for s in by_series)
    high = next(m for m in big if m.series_ticker.startswith("KXHIGH") and "-B" in m.ticker)
    assert re.match(r"^KXHIGH[A-Z]+-\d{2}[A-Z]{3}\d{2}-B\d+\.5$", high.ticker), high
    cpi = next(m for m in big if m.series_ticker == "KXCPI")
    assert re.match(r"^KXCPI-\d{2}[A-Z]{3}-T\d\.\d$", cpi.ticker), cpi
    nba = next(m for m in big if m.series_ticker == "KXNBAGAME")
    game = re.match(r"^KXNBAGAME-\d{2}[A-Z]{3}\d{2}([A-Z]{3})([A-Z]{3})-([A-Z]{3})$", nba.ticker)
    assert game and game.group(3) in game.group(1, 2) and game.group(1) != game.group(2), nba
    btc = next(m for m in big if m.series_ticker == "KXBTC")
    assert re.match(r"^KXBTC-\d{2}[A-Z]{3}\d{2}-B\d+$", btc.ticker), btc


def test_tickers_are_unique(big):
    assert len({m.ticker for m in big}) == len(big)


def test_events_have_several_markets(big):
    per_event = Counter(m.event_ticker for m in big if m.event_ticker != big[-1].event_ticker)  # last may be cut
    assert min(per_event.values()) >= 2
    assert sum(per_event.values()) / len(per_event) > 2


def test_titles_are_readable_english_questions(big):
    for m in big:
        assert m.title.startswith("Will ") and m.title.endswith("?"), m
        assert m.ticker not in m.title
    high = next(m for m in big if m.series_ticker.startswith("KXHIGH") and "-B" in m.ticker)
    assert re.match(r"^Will the high temp in [A-Za-z ]+ be \d+-\d+° on [A-Z][a-z]{2} \d{1,2}, \d{4}\?$", high.title)
    assert all(DAY_SERIES_TITLE.search(m.title) for m in big if m.series_ticker in ("KXNBAGAME", "KXBTC"))


def test_structures_are_valid_spec_names_and_mostly_linear_cent(big):
    counts = Counter(m.price_structure for m in big)
    assert set(counts) <= set(PRICE_STRUCTURES)  # spec 02 §2.1
    assert {"linear_cent", "deci_cent", "tapered_deci_cent"} <= set(counts)
    assert counts["linear_cent"] > len(big) / 2


def test_about_one_market_in_four_is_fractional(big):
    share = sum(m.fractional for m in big) / len(big)
    assert 0.15 < share < 0.35


def test_every_market_is_open_on_exchange_zero(big):
    assert {m.status for m in big} == {MarketStatus.OPEN}
    assert {m.exchange_index for m in big} == {0}
    assert all(m.close_time is None for m in big)
