"""The matching engine (DESIGN.md §2): FIX-free, clock-free, deterministic.

Modules: types (business contract), grid (price grids), book (price-time book), accounts
(balances, collateral, positions, fees), groups / group_ops (order groups), expiry (Day/GTD),
ids (UUIDs, ExecIDs), orders (fast constructors), matching / amend (mixins) and exchange
(`Exchange`, the public entry point).
"""
__all__: list[str] = []
