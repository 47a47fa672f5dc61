"""Conformance cases: the scenario files under `scenarios/conform/<profile>/` (sans-IO).

Each case is one scenario whose `meta.conform` says how the kit uses it (docs/conform.md):

    meta:
      name: conform_session_test_request_answered
      spec: ["01 §4"]
      sessions: [NR, RT]
      products: [prediction, margin]
      conform: {profile: session, id: S04, fix_test_case: "6", mandatory: true, features: [],
                restart: false, expect: "Heartbeat(0) with the same TestReqID(112) within 2×HeartBtInt"}

A case without one of the required keys is refused, naming the file and the key. The file is
loaded again for each (product, session) it runs on, with the kit's variables put in
(scenario/kitvars.py), so its steps are checked with concrete values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..scenario.kitvars import kit_values
from ..scenario.loader import ScenarioErrors, load, scenario_files
from ..scenario.model import Scenario

__all__ = ["Case", "CaseError", "PROFILES", "load_cases", "select", "default_root", "Selection"]

PROFILES = ("session", "order-entry", "market-data", "drop-copy", "post-trade")
_CONFORM_KEYS = {"profile": str, "id": str, "fix_test_case": str, "mandatory": bool, "features": list,
                 "restart": bool, "expect": str}
_REQUIRED = ("profile", "id", "mandatory", "expect")
_META_REQUIRED = ("name", "spec", "sessions", "products")


class CaseError(Exception):
    """A case file the kit cannot use: one line, `file: key: what to do`."""


@dataclass
class Case:
    file: Path
    text: str
    name: str
    description: str
    spec: list[str]
    sessions: list[str]
    products: list[str]
    profile: str
    id: str
    mandatory: bool
    expect: str
    fix_test_case: str = ""
    features: list[str] = field(default_factory=list)
    restart: bool = False

    def scenario(self, kit: dict) -> Scenario:
        """The case's scenario for one product and session (the kit's variables put in)."""
        (sc,) = load(self.text, self.file, kit=kit)
        return sc

    def applies(self, product: str, session: str) -> bool:
        return product in self.products and session in self.sessions


def default_root() -> Path:
    """scenarios/conform of the working folder, else of this checkout."""
    here = Path("scenarios/conform")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "scenarios" / "conform"


def _case(file: Path) -> Case:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(f"{file}: cannot read: {exc}") from None
    try:
        scenarios = load(text, file)
    except ScenarioErrors as exc:
        raise CaseError(str(exc.errors[0]) + (f" (and {len(exc.errors) - 1} more: kalshi-fixsim scenario check "
                                             f"{file})" if len(exc.errors) > 1 else "")) from None
    if len(scenarios) != 1:
        raise CaseError(f"{file}: expected one scenario per case file, found {len(scenarios)}")
    sc = scenarios[0]
    conform = sc.conform
    if conform is None:
        raise CaseError(f"{file}: meta.conform: missing: a conformance case says profile, id, mandatory and "
                        "expect (docs/conform.md)")
    for key in _META_REQUIRED:
        if not getattr(sc, key) or (key == "name" and sc.name == file.stem and "name:" not in text):
            raise CaseError(f"{file}: meta.{key}: missing: every case names its {key} (docs/conform.md)")
    for key in _REQUIRED:
        if key not in conform:
            raise CaseError(f"{file}: meta.conform.{key}: missing (docs/conform.md, 'Adding a case')")
    for key, value in conform.items():
        kind = _CONFORM_KEYS.get(key)
        if kind is None:
            raise CaseError(f"{file}: meta.conform.{key}: unknown key: expected one of {', '.join(_CONFORM_KEYS)}")
        if kind is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = conform[key] = str(value)
        if not isinstance(value, kind) or (kind is str and not value.strip()):
            raise CaseError(f"{file}: meta.conform.{key}: expected {kind.__name__}, not {value!r}")
    if conform["profile"] not in PROFILES:
        raise CaseError(f"{file}: meta.conform.profile: expected one of {', '.join(PROFILES)}, "
                        f"not {conform['profile']!r}")
    if not sc.needs_external_client:
        raise CaseError(f"{file}: steps: a case judges the client: expected a connect: {{client: external, "
                        "as: subject}} step")
    return Case(file=file, text=text, name=sc.name, description=sc.description, spec=list(sc.spec),
                sessions=list(sc.sessions), products=list(sc.products), profile=conform["profile"],
                id=conform["id"], mandatory=conform["mandatory"], expect=conform["expect"],
                fix_test_case=conform.get("fix_test_case", ""), features=list(conform.get("features", [])),
                restart=conform.get("restart", False))


def load_cases(root: Path | str | None = None) -> list[Case]:
    """Every case under root (default: scenarios/conform), in file order; CaseError on the
    first unusable file or a repeated id / name."""
    root = Path(root) if root is not None else default_root()
    if not root.exists():
        raise CaseError(f"{root}: no such folder of conformance cases (give --cases DIR)")
    cases = [_case(f) for f in scenario_files(root)]
    ids: dict[str, Case] = {}
    names: dict[str, Case] = {}
    for case in cases:
        if case.id in ids:
            raise CaseError(f"{case.file}: meta.conform.id: {case.id!r} is also {ids[case.id].file}: ids are unique")
        if case.name in names:
            raise CaseError(f"{case.file}: meta.name: {case.name!r} is also {names[case.name].file}")
        ids[case.id], names[case.name] = case, case
    return cases


@dataclass
class Selection:
    """Which cases run: the profiles, the client's session types, products and features."""
    profiles: list[str]
    products: list[str]
    sessions: list[str]
    features: list[str] | None = None   # None: every feature (run every case that applies)
    mandatory_only: bool = False
    only: list[str] = field(default_factory=list)   # case ids or names (empty: all)


@dataclass
class Planned:
    case: Case
    product: str
    session: str
    skip: str = ""   # why it is not run ("" = run it)


def select(cases: list[Case], sel: Selection) -> list[Planned]:
    """The plan: for each (product, session) of the selection, every case of the profiles that
    applies to it, in file order; a case needing a feature the client lacks is planned as SKIP."""
    out = []
    for product in sel.products:
        for session in sel.sessions:
            if not _exists(product, session):
                continue
            for case in cases:
                if case.profile not in sel.profiles or not case.applies(product, session):
                    continue
                if sel.only and case.id not in sel.only and case.name not in sel.only:
                    continue
                skip = ""
                if sel.mandatory_only and not case.mandatory:
                    skip = "optional (--mandatory-only)"
                missing = [f for f in case.features if sel.features is not None and f not in sel.features]
                if missing:
                    skip = f"needs feature(s) the client does not have: {', '.join(missing)}"
                out.append(Planned(case, product, session, skip))
    return out


def _exists(product: str, session: str) -> bool:
    from ...fixproto.kalshi import session_type
    try:
        session_type(product, session)
        return True
    except (KeyError, ValueError):
        return False


def all_features(cases: list[Case]) -> list[str]:
    return sorted({f for c in cases for f in c.features})


def kit_for(planned: Planned, heartbeat: int | None, api_key: str, use_dollars: bool = False) -> dict:
    return kit_values(planned.product, planned.session, heartbeat, api_key, use_dollars=use_dollars)
