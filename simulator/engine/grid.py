"""Valid-price grids of prediction markets (spec 02 §2.1), in pips (1/10,000 $).

Each structure is a list of bands (start, end, step): a price p is on a band when
start <= p <= end and (p - start) % step == 0. On top of the bands, whole cents are valid
in every structure, and $0 and $1 never are (spec 02 §2.1).
"""
from __future__ import annotations

from .types import ONE_DOLLAR

__all__ = ["MARGIN_TICK", "valid_margin_price", "STRUCTURES", "bands", "valid_price", "tick_at", "valid_prices", "price_table"]

# Edges at 0.10 / 0.90 unless the spec says otherwise (spec 02 §2.1).
_LO, _HI = 1_000, 9_000


def _tapered(edge: int, center: int, lo: int = _LO, hi: int = _HI) -> tuple[tuple[int, int, int], ...]:
    """edge step below `lo` and above `hi`, center step between."""
    return ((edge, lo, edge), (lo, hi, center), (hi, ONE_DOLLAR - edge, edge))


def _flat(step: int) -> tuple[tuple[int, int, int], ...]:
    return ((step, ONE_DOLLAR - step, step),)


STRUCTURES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "linear_cent": _flat(100),                          # 0.01 everywhere
    "deci_cent": _flat(10),                             # 0.001
    "tapered_deci_cent": _tapered(10, 100),             # 0.001 / 0.01 / 0.001
    "center_whole_edge_half_cent": _tapered(50, 100),   # 0.005 / 0.01 / 0.005
    "center_whole_edge_quint_cent": _tapered(20, 100),  # 0.002 / 0.01 / 0.002
    "center_half_edge_half_cent": _flat(50),            # 0.005
    "center_half_edge_quint_cent": _tapered(20, 50),    # 0.002 / 0.005 / 0.002
    "center_half_edge_deci_cent": _tapered(10, 50),     # 0.001 / 0.005 / 0.001
    "center_quint_edge_quint_cent": _flat(20),          # 0.002
    "center_quint_edge_deci_cent": _tapered(10, 20),    # 0.001 / 0.002 / 0.001
    "center_centi_edge_centi_cent": _flat(1),           # 0.0001
    # 0.0001 below 0.01 and above 0.99, 0.001 between (combo markets; edges 0.01 / 0.99)
    "center_deci_edge_centi_cent": _tapered(1, 10, 100, 9_900),
}


def _table(structure_bands: tuple[tuple[int, int, int], ...]) -> bytes:
    valid = bytearray(ONE_DOLLAR + 1)
    for p in range(100, ONE_DOLLAR, 100):  # whole cents everywhere
        valid[p] = 1
    for start, end, step in structure_bands:
        for p in range(start, end + 1, step):
            if 0 < p < ONE_DOLLAR:
                valid[p] = 1
    return bytes(valid)


_VALID: dict[str, bytes] = {name: _table(b) for name, b in STRUCTURES.items()}


def bands(structure: str) -> tuple[tuple[int, int, int], ...]:
    try:
        return STRUCTURES[structure]
    except KeyError:
        raise ValueError(f"unknown price structure {structure!r}") from None


def valid_price(structure: str, pips: int) -> bool:
    """True when `pips` is on the structure's grid (spec 02 §2.1). Unknown structure: ValueError."""
    table = _VALID.get(structure)
    if table is None:
        raise ValueError(f"unknown price structure {structure!r}")
    return 0 < pips < ONE_DOLLAR and table[pips] == 1


def tick_at(structure: str, pips: int) -> int:
    """The step of the band at `pips`: the distance to the next valid price above it.

    A price on a band boundary belongs to the band that starts there (0.10 in
    tapered_deci_cent has tick 0.01); the last band includes its end."""
    structure_bands = bands(structure)
    if not 0 < pips < ONE_DOLLAR:
        raise ValueError(f"price {pips} outside (0, {ONE_DOLLAR})")
    for start, end, step in structure_bands:
        if start <= pips < end:
            return step
    if pips < structure_bands[0][0]:
        return structure_bands[0][2]
    return structure_bands[-1][2]  # the end of the last band and above


def valid_prices(structure: str) -> tuple[int, ...]:
    """Every valid price of the structure, ascending."""
    table = _VALID.get(structure)
    if table is None:
        raise ValueError(f"unknown price structure {structure!r}")
    return tuple(p for p in range(1, ONE_DOLLAR) if table[p])


def price_table(structure: str) -> bytes:
    """bytes of length 10,001: table[p] == 1 when p pips is valid (the engine's fast lookup)."""
    table = _VALID.get(structure)
    if table is None:
        raise ValueError(f"unknown price structure {structure!r}")
    return table


# Margin (perps) markets: any positive price on the $0.0001 grid, with no upper bound (a BTC
# perp trades at 95,000.0000): spec 08 §3. Integer pips are on that grid by construction, so
# the only checks are "more than 4 decimals" (the gateway's parse) and "> 0". Not in
# STRUCTURES: its prices do not fit the (0, $1) tables above.
MARGIN_TICK = "margin_tick"


def valid_margin_price(pips: int) -> bool:
    return pips > 0
