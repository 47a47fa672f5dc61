"""aiohttp and prometheus-client each enter through one module (issue 17): swapping either is a
one-file change, and the rest of the simulator never depends on them."""
from __future__ import annotations

import pytest

from tests.unit.test_dependencies import ROOT, imports, rel

DOORS = {"aiohttp": "simulator/control_http.py", "prometheus_client": "simulator/metrics.py"}
SOURCES = sorted(p for package in ("fixproto", "simulator", "client") for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=rel)
def test_aiohttp_and_prometheus_client_are_imported_by_one_module_each(path):
    for library, door in DOORS.items():
        if library in imports(path):
            assert rel(path) == door, f"{rel(path)} imports {library}; only {door} may"


def test_both_are_declared_dependencies():
    import tomllib
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("aiohttp") for d in deps) and any(d.startswith("prometheus-client") for d in deps)
