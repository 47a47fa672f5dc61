"""Config sections for markets, the generated universe, fees and the market maker (simulator.config)."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
import yaml

from kalshi_fixsim.simulator.config import (
    ConfigError,
    FeeConfig,
    MarketMakerConfig,
    PRICE_STRUCTURES,
    SimConfig,
    UniverseConfig,
    default_config,
    load_config,
    write_sample_config,
)
from kalshi_fixsim.simulator.engine.types import Market, MarketStatus
from kalshi_fixsim.simulator.universe import generate_universe


def _load(tmp_path, data) -> SimConfig:
    path = tmp_path / "sim.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return load_config(path)


# ------------------------------------------------------------------ defaults


def test_empty_config_has_zero_fees_an_idle_market_maker_and_a_generated_universe(tmp_path):
    cfg = _load(tmp_path, {})
    assert cfg.fees == FeeConfig(Decimal("0"), Decimal("0"))
    assert cfg.market_maker == MarketMakerConfig(False, 4, 10, 3, 2.0, Decimal("1000000.00"))
    assert cfg.universe == UniverseConfig(markets=12, seed=None)
    assert cfg.markets["prediction"] == generate_universe(42, 12)  # the top-level seed
    assert [m.ticker for m in cfg.markets["margin"]] == ["BTC-PERP", "ETH-PERP", "SOL-PERP"]  # sample perps (issue 6)


def test_universe_uses_its_own_seed_when_given_and_its_count(tmp_path):
    cfg = _load(tmp_path, {"seed": 1, "universe": {"markets": 5, "seed": 9}})
    assert cfg.markets["prediction"] == generate_universe(9, 5)
    assert _load(tmp_path, {"seed": 3}).markets["prediction"] == generate_universe(3, 12)
    assert _load(tmp_path, {"universe": {"markets": 0}}).markets["prediction"] == []


def test_sim_config_built_in_code_defaults_to_no_markets():
    base = default_config()
    bare = SimConfig(base.seed, base.host, base.tls, base.products, base.session, base.store, [])
    assert bare.markets == {} and bare.markets_for("prediction") == []
    assert bare.fees == FeeConfig() and bare.market_maker == MarketMakerConfig() and bare.universe == UniverseConfig()


def test_markets_for_returns_copies(tmp_path):
    cfg = _load(tmp_path, {})
    copies = cfg.markets_for("prediction")
    copies[0].status = MarketStatus.HALTED
    assert cfg.markets["prediction"][0].status is MarketStatus.OPEN
    assert cfg.markets_for("prediction") == cfg.markets["prediction"]


# ------------------------------------------------------------------ explicit markets


def test_explicit_markets_replace_the_universe_and_keep_their_order(tmp_path):
    cfg = _load(tmp_path, {"markets": [
        {"ticker": "KXHIGHNY-26NOV21-B45.5", "event_ticker": "KXHIGHNY-26NOV21", "series_ticker": "KXHIGHNY",
         "title": "Will the high temp in NYC be 45-46° on Nov 21, 2026?", "status": "halted",
         "price_structure": "deci_cent", "fractional": True, "exchange_index": 2},
        {"ticker": "KXCPI-26DEC-T0.3"},
        {"ticker": "ETH-PERP", "product": "margin", "status": "initialized"},
        {"ticker": "KXCPI-26DEC-T0.3", "product": "margin"},  # unique per product only
    ]})
    first, second = cfg.markets["prediction"]
    assert first == Market("KXHIGHNY-26NOV21-B45.5", "KXHIGHNY-26NOV21", "KXHIGHNY",
                           "Will the high temp in NYC be 45-46° on Nov 21, 2026?", MarketStatus.HALTED,
                           "deci_cent", True, 2)
    # Omitted fields: Kalshi's SERIES-EVENT-SUFFIX shape, title = ticker, open, linear_cent, whole, index 0.
    assert second == Market("KXCPI-26DEC-T0.3", "KXCPI-26DEC", "KXCPI", "KXCPI-26DEC-T0.3")
    assert [(m.ticker, m.status) for m in cfg.markets["margin"]] == [
        ("ETH-PERP", MarketStatus.INITIALIZED), ("KXCPI-26DEC-T0.3", MarketStatus.OPEN)]
    assert cfg.markets["margin"][0].event_ticker == "ETH" and cfg.markets["margin"][0].series_ticker == "ETH"


@pytest.mark.parametrize("structure", PRICE_STRUCTURES)
def test_every_spec_price_structure_is_accepted(tmp_path, structure):
    cfg = _load(tmp_path, {"markets": [{"ticker": "KXA-26NOV21-X", "price_structure": structure}]})
    assert cfg.markets["prediction"][0].price_structure == structure


def test_every_market_status_is_accepted(tmp_path):
    statuses = [s.value for s in MarketStatus]
    cfg = _load(tmp_path, {"markets": [{"ticker": f"KXA-26NOV21-{i}", "status": s} for i, s in enumerate(statuses)]})
    assert [m.status.value for m in cfg.markets["prediction"]] == statuses


def test_spec_lists_twelve_price_structures():
    assert len(PRICE_STRUCTURES) == len(set(PRICE_STRUCTURES)) == 12  # spec 02 §2.1
    assert PRICE_STRUCTURES[0] == "linear_cent"


# ------------------------------------------------------------------ fees, market maker


def test_fees_and_market_maker_are_parsed(tmp_path):
    cfg = _load(tmp_path, {
        "fees": {"taker_rate": "0.07", "maker_rate": 0.0175},
        "market_maker": {"enabled": True, "spread_cents": 2, "size": 5, "levels": 1,
                         "refresh_seconds": 0.5, "balance": "250.50"},
    })
    assert cfg.fees == FeeConfig(Decimal("0.07"), Decimal("0.0175"))
    assert cfg.market_maker == MarketMakerConfig(True, 2, 5, 1, 0.5, Decimal("250.50"))
    assert _load(tmp_path, {"fees": {"taker_rate": 1}}).fees.taker_rate == Decimal(1)


def test_with_ports_zero_keeps_the_new_sections(tmp_path):
    cfg = _load(tmp_path, {"fees": {"taker_rate": "0.07"}, "market_maker": {"enabled": True}})
    zero = cfg.with_ports_zero()
    assert (zero.fees, zero.market_maker, zero.universe, zero.markets) == (
        cfg.fees, cfg.market_maker, cfg.universe, cfg.markets)


# ------------------------------------------------------------------ errors name the key path


BAD_CASES = [
    # (config, expected start of the message)
    ({"markets": {"ticker": "X"}}, "markets: expected a list"),
    ({"markets": ["KXA"]}, "markets[0]: expected a mapping"),
    ({"markets": [{"title": "no ticker"}]}, "markets[0].ticker: required"),
    ({"markets": [{"ticker": "KXA-1", "colour": "red"}]}, "markets[0].colour: unknown key"),
    ({"markets": [{"ticker": "kxa-26nov21-x"}]}, "markets[0].ticker: expected a ticker"),
    ({"markets": [{"ticker": "KX A"}]}, "markets[0].ticker: expected a ticker"),
    ({"markets": [{"ticker": "KXA|B"}]}, "markets[0].ticker: expected a ticker"),
    ({"markets": [{"ticker": ""}]}, "markets[0].ticker: expected a non-empty string"),
    ({"markets": [{"ticker": 12}]}, "markets[0].ticker: expected a non-empty string"),
    ({"markets": [{"ticker": "KXA-1", "event_ticker": "kxa"}]}, "markets[0].event_ticker: expected a ticker"),
    ({"markets": [{"ticker": "KXA-1", "series_ticker": "K X"}]}, "markets[0].series_ticker: expected a ticker"),
    ({"markets": [{"ticker": "KXA-1", "title": ""}]}, "markets[0].title: expected a non-empty string"),
    ({"markets": [{"ticker": "KXA-1", "status": "paused"}]}, "markets[0].status: unknown status 'paused'"),
    ({"markets": [{"ticker": "KXA-1", "price_structure": "whole_cent"}]},
     "markets[0].price_structure: unknown price structure 'whole_cent'"),
    ({"markets": [{"ticker": "KXA-1", "fractional": "yes"}]}, "markets[0].fractional: expected true or false"),
    ({"markets": [{"ticker": "KXA-1", "exchange_index": -1}]}, "markets[0].exchange_index: must be >= 0"),
    ({"markets": [{"ticker": "KXA-1", "exchange_index": True}]}, "markets[0].exchange_index: expected an integer"),
    ({"markets": [{"ticker": "KXA-1", "product": "options"}]}, "markets[0].product: unknown product 'options'"),
    ({"markets": [{"ticker": "BTC-PERP", "product": "margin", "fractional": True}]},
     "markets[0].fractional: margin markets trade whole contracts only"),
    ({"markets": [{"ticker": "BTC-PERP", "product": "margin", "exchange_index": 1}]},
     "markets[0].exchange_index: margin markets are all on exchange index 0"),
    ({"markets": [{"ticker": "KXA-1"}, {"ticker": "KXA-2"}, {"ticker": "KXA-1"}]},
     "markets[2].ticker: duplicate prediction ticker 'KXA-1' (also markets[0])"),
    ({"universe": []}, "universe: expected a mapping"),
    ({"universe": {"count": 3}}, "universe.count: unknown key"),
    ({"universe": {"markets": -1}}, "universe.markets: -1 is outside 0..10000"),
    ({"universe": {"markets": "many"}}, "universe.markets: expected an integer"),
    ({"universe": {"seed": "x"}}, "universe.seed: expected an integer"),
    ({"fees": "0.07"}, "fees: expected a mapping"),
    ({"fees": {"rate": "0.07"}}, "fees.rate: unknown key"),
    ({"fees": {"taker_rate": "1.5"}}, "fees.taker_rate: rate must be between 0 and 1"),
    ({"fees": {"maker_rate": "-0.01"}}, "fees.maker_rate: rate must be between 0 and 1"),
    ({"fees": {"maker_rate": "NaN"}}, "fees.maker_rate: rate must be between 0 and 1"),
    ({"fees": {"taker_rate": "seven"}}, "fees.taker_rate: not a number"),
    ({"fees": {"taker_rate": True}}, "fees.taker_rate: expected a rate"),
    ({"market_maker": {"enabled": "on"}}, "market_maker.enabled: expected true or false"),
    ({"market_maker": {"spread": 4}}, "market_maker.spread: unknown key"),
    ({"market_maker": {"spread_cents": 0}}, "market_maker.spread_cents: 0 is outside 1..98"),
    ({"market_maker": {"spread_cents": 99}}, "market_maker.spread_cents: 99 is outside 1..98"),
    ({"market_maker": {"size": 0}}, "market_maker.size: must be >= 1"),
    ({"market_maker": {"levels": 0}}, "market_maker.levels: must be >= 1"),
    ({"market_maker": {"levels": 1.5}}, "market_maker.levels: expected an integer"),
    ({"market_maker": {"refresh_seconds": 0}}, "market_maker.refresh_seconds: expected a positive number"),
    ({"market_maker": {"refresh_seconds": -2.0}}, "market_maker.refresh_seconds: expected a positive number"),
    ({"market_maker": {"balance": "-1"}}, "market_maker.balance: balance must not be negative"),
    ({"market_maker": {"balance": "lots"}}, "market_maker.balance: not a number"),
]


@pytest.mark.parametrize("data, message", BAD_CASES, ids=[c[1].split(":")[0] + ":" + str(i) for i, c in enumerate(BAD_CASES)])
def test_config_error_names_the_key_path(tmp_path, data, message):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, data)
    assert str(info.value).startswith(message), str(info.value)


# ------------------------------------------------------------------ sample config


def test_sample_config_round_trips_with_a_market_maker_listed_markets_and_a_generated_universe(tmp_path):
    path = write_sample_config(tmp_path / "sim.yaml", seed=7)
    text = path.read_text(encoding="utf-8")
    for section in ("universe:", "fees:", "market_maker:", "\nmarkets:"):
        assert section in text
    assert text.rstrip().endswith("accounts: []")  # add_account appends at the end
    cfg = load_config(path)
    assert cfg.market_maker.enabled is True
    assert cfg.market_maker == MarketMakerConfig(enabled=True)
    assert cfg.fees == FeeConfig() and cfg.universe == UniverseConfig(alongside_markets=True)
    listed = ["KXHIGHNY-26NOV21-B45.5", "KXHIGHNY-26NOV21-B47.5"]  # the README's tickers (issue 10 §2)
    assert [m.ticker for m in cfg.markets["prediction"]] == listed + [m.ticker for m in generate_universe(7, 12)]
    assert cfg.markets["prediction"][0].title.startswith("Will the high temp in NYC")
    assert [m.ticker for m in cfg.markets["margin"]] == ["BTC-PERP", "ETH-PERP", "SOL-PERP"]


def test_universe_alongside_markets_adds_the_generated_markets_and_perps_after_the_list(tmp_path):
    listed = [{"ticker": "KXMINE-1"}, {"ticker": "ETH-PERP", "product": "margin", "reference_price": "2000.00"}]
    cfg = _load(tmp_path, {"markets": listed, "universe": {"markets": 3, "alongside_markets": True}})
    assert [m.ticker for m in cfg.markets["prediction"]] == ["KXMINE-1"] + [m.ticker for m in generate_universe(42, 3)]
    margin = cfg.markets["margin"]
    assert [m.ticker for m in margin] == ["ETH-PERP", "BTC-PERP", "SOL-PERP"]  # the listed ETH-PERP wins
    assert margin[0].reference_price == 20_000_000
    replaced = _load(tmp_path, {"markets": listed, "universe": {"markets": 3}})  # default: the list replaces
    assert [m.ticker for m in replaced.markets["prediction"]] == ["KXMINE-1"]
    assert [m.ticker for m in replaced.markets["margin"]] == ["ETH-PERP"]
    with pytest.raises(ConfigError, match=r"^universe\.alongside_markets: "):
        _load(tmp_path, {"universe": {"alongside_markets": "often"}})


def test_margin_rate_is_configurable_on_the_margin_product_only(tmp_path):
    from kalshi_fixsim.simulator.config import ConfigError, load_config
    from kalshi_fixsim.simulator.world import build_venues

    path = tmp_path / "sim.yaml"
    path.write_text("products:\n  margin:\n    margin_rate: '0.25'\n")
    config = load_config(path)
    assert config.products["margin"].margin_rate == Decimal("0.25")
    ledger = build_venues(config)["margin"].exchange._ledger
    assert ledger.rate == Fraction(1, 4)  # the exchange really uses 0.25
    for bad, message in (("  prediction:\n    margin_rate: '0.25'\n", "only the margin product"),
                         ("  margin:\n    margin_rate: '0'\n", "must be above 0"),
                         ("  margin:\n    margin_rate: '2'\n", "between 0 and 1")):
        path.write_text("products:\n" + bad)
        with pytest.raises(ConfigError, match=message):
            load_config(path)


def test_a_margin_market_may_set_its_own_margin_rate(tmp_path):
    from kalshi_fixsim.simulator.config import ConfigError, load_config
    from kalshi_fixsim.simulator.world import build_venues

    path = tmp_path / "sim.yaml"
    path.write_text("products:\n  margin:\n    margin_rate: '0.2'\n"
                    "markets:\n"
                    "  - {ticker: BTC-PERP, product: margin, reference_price: '95000', margin_rate: '0.05'}\n"
                    "  - {ticker: ETH-PERP, product: margin}\n")
    config = load_config(path)
    assert [m.margin_rate for m in config.markets["margin"]] == [Decimal("0.05"), None]
    exchange = build_venues(config)["margin"].exchange
    assert exchange.market_margin_rate("BTC-PERP") == Fraction(1, 20)
    assert exchange.market_margin_rate("ETH-PERP") == Fraction(1, 5)  # the product's rate
    for bad, message in (("{ticker: KXA-26JAN01-T1, margin_rate: '0.05'}", "only margin markets"),
                         ("{ticker: X-PERP, product: margin, margin_rate: '0'}", "must be above 0"),
                         ("{ticker: X-PERP, product: margin, margin_rate: '1.5'}", "between 0 and 1"),
                         ("{ticker: X-PERP, product: margin, margin_rate: ten}", "not a number")):
        path.write_text("markets:\n  - " + bad + "\n")
        with pytest.raises(ConfigError, match=message):
            load_config(path)
