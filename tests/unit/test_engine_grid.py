"""Price grids of spec 02 §2.1 (simulator/engine/grid.py)."""
from __future__ import annotations

import pytest

from kalshi_fixsim.simulator.engine.grid import STRUCTURES, bands, price_table, tick_at, valid_price, valid_prices

# structure -> (edge step below the low edge, center step, edge step above the high edge, low edge, high edge)
EXPECTED = {
    "linear_cent": (100, 100, 100, 1000, 9000),
    "deci_cent": (10, 10, 10, 1000, 9000),
    "tapered_deci_cent": (10, 100, 10, 1000, 9000),
    "center_whole_edge_half_cent": (50, 100, 50, 1000, 9000),
    "center_whole_edge_quint_cent": (20, 100, 20, 1000, 9000),
    "center_half_edge_half_cent": (50, 50, 50, 1000, 9000),
    "center_half_edge_quint_cent": (20, 50, 20, 1000, 9000),
    "center_half_edge_deci_cent": (10, 50, 10, 1000, 9000),
    "center_quint_edge_quint_cent": (20, 20, 20, 1000, 9000),
    "center_quint_edge_deci_cent": (10, 20, 10, 1000, 9000),
    "center_centi_edge_centi_cent": (1, 1, 1, 1000, 9000),
    "center_deci_edge_centi_cent": (1, 10, 1, 100, 9900),
}


def brute_force(structure: str) -> set[int]:
    low_step, center, high_step, lo, hi = EXPECTED[structure]
    out = set()
    for p in range(1, 10_000):
        if p % 100 == 0:
            out.add(p)  # whole cents: valid in every structure
        elif p < lo:
            if p % low_step == 0:
                out.add(p)
        elif p > hi:
            if (10_000 - p) % high_step == 0:
                out.add(p)
        elif p % center == 0:
            out.add(p)
    return out


def test_every_named_structure_of_the_spec_is_known():
    assert set(STRUCTURES) == set(EXPECTED)


@pytest.mark.parametrize("structure", sorted(EXPECTED))
def test_each_structure_accepts_exactly_its_grid(structure):
    expected = brute_force(structure)
    assert set(valid_prices(structure)) == expected
    assert all(valid_price(structure, p) == (p in expected) for p in range(-5, 10_006))


@pytest.mark.parametrize("structure", sorted(EXPECTED))
def test_whole_cents_are_valid_everywhere_and_zero_and_one_dollar_never(structure):
    assert all(valid_price(structure, c * 100) for c in range(1, 100))
    assert not valid_price(structure, 0)
    assert not valid_price(structure, 10_000)
    assert not valid_price(structure, -100)


def test_examples_from_the_spec():
    # spec 02 §2.1: 72.5¢ needs a half-cent center; 1.23¢ needs centi-cents at the edge
    assert not valid_price("linear_cent", 7250)
    assert valid_price("center_half_edge_half_cent", 7250)
    assert not valid_price("tapered_deci_cent", 7250)
    assert valid_price("tapered_deci_cent", 9050) and valid_price("tapered_deci_cent", 950)
    assert not valid_price("tapered_deci_cent", 5050)
    assert valid_price("center_centi_edge_centi_cent", 123)
    assert not valid_price("center_deci_edge_centi_cent", 101)  # between 0.01 and 0.99 the step is 0.001
    assert valid_price("center_deci_edge_centi_cent", 99) and valid_price("center_deci_edge_centi_cent", 9901)
    assert valid_price("center_deci_edge_centi_cent", 110)


def test_tick_is_the_step_of_the_band_that_starts_at_the_price():
    assert tick_at("linear_cent", 5000) == 100
    assert tick_at("tapered_deci_cent", 500) == 10
    assert tick_at("tapered_deci_cent", 1000) == 100   # 0.10 starts the center band
    assert tick_at("tapered_deci_cent", 8990) == 100
    assert tick_at("tapered_deci_cent", 9000) == 10    # 0.90 starts the upper edge band
    assert tick_at("tapered_deci_cent", 9990) == 10
    assert tick_at("center_deci_edge_centi_cent", 50) == 1
    assert tick_at("center_deci_edge_centi_cent", 100) == 10
    assert tick_at("center_deci_edge_centi_cent", 9900) == 1
    with pytest.raises(ValueError):
        tick_at("linear_cent", 10_000)


def test_bands_are_start_end_step_in_pips():
    assert bands("tapered_deci_cent") == ((10, 1000, 10), (1000, 9000, 100), (9000, 9990, 10))
    assert bands("center_deci_edge_centi_cent") == ((1, 100, 1), (100, 9900, 10), (9900, 9999, 1))


def test_unknown_structure_raises_value_error():
    for call in (lambda: valid_price("quarter_cent", 5000), lambda: tick_at("quarter_cent", 5000),
                 lambda: bands("quarter_cent"), lambda: price_table("quarter_cent"),
                 lambda: valid_prices("quarter_cent")):
        with pytest.raises(ValueError):
            call()
