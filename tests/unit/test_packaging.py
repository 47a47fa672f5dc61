"""pyproject.toml lists every package of the kalshi_fixsim namespace (issue 10 §1).

The package list is explicit because package-dir maps kalshi_fixsim.X onto the top-level folder X;
a folder missing from it would be left out of the wheel (it happened once to simulator.engine)."""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _project():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_in_the_wheel():
    setuptools = _project()["tool"]["setuptools"]
    package_dir = setuptools["package-dir"]
    on_disk = set()
    for name, folder in package_dir.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            sub = init.parent.relative_to(ROOT / folder).parts
            on_disk.add(".".join((name, *sub)))
    assert on_disk <= set(setuptools["packages"])


def test_only_the_kalshi_fixsim_namespace_is_installed():
    setuptools = _project()["tool"]["setuptools"]
    assert all(name == "kalshi_fixsim" or name.startswith("kalshi_fixsim.") for name in setuptools["packages"])


def test_license_is_an_spdx_string():
    assert _project()["project"]["license"] == "MIT"
