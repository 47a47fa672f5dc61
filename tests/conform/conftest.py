"""tests/conform: the full grading matrix is opt-in (`-m conform_full`, several minutes)."""
from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config, items) -> None:
    if "conform_full" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="the full conform matrix is opt-in: pytest -m conform_full")
    for item in items:
        if item.get_closest_marker("conform_full"):
            item.add_marker(skip)
