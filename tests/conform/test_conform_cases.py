"""Every conform case of the order-entry, market-data, drop-copy and post-trade profiles is a
well-formed scenario once the kit's variables are set (the checker's own rules), and carries the
meta.conform fields the report's table shows."""
from __future__ import annotations

import pytest

from kalshi_fixsim.simulator.conform.cases import load_cases

from .profile_cases import CASES, case_meta

PROFILES = ("order-entry", "market-data", "drop-copy", "post-trade")
FILES = sorted(p for profile in PROFILES for p in (CASES / profile).glob("*.yaml"))


def test_the_kit_loads_every_case_of_these_profiles():
    names = {c.name for c in load_cases(CASES)}
    assert {case_meta(p)["name"] for p in FILES} <= names


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.name}" for p in FILES])
def test_conform_case_meta_names_its_profile_id_spec_and_expectation(path):
    meta = case_meta(path)
    conform = meta["conform"]
    assert conform["profile"] == path.parent.name
    assert meta["name"].startswith("conform_") and meta["spec"] and conform["expect"]
    assert isinstance(conform["mandatory"], bool) and isinstance(conform.get("features", []), list)
    assert conform["mandatory"] or conform["features"], "an optional case names the features it needs"


def test_conform_case_ids_are_unique():
    ids = [case_meta(p)["conform"]["id"] for p in FILES]
    assert len(ids) == len(set(ids)), ids
