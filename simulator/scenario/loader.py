"""Read and check scenario files (sans-IO): every error names `file:line: key.path: expected ...`.

The whole file is checked before anything runs (issue 13 §1); `load_path` raises
ScenarioErrors carrying all the problems found, in file order.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .check_steps import StepChecker
from .check_setup import check_setup
from .model import Scenario
from .problems import Problems, ScenarioError, ScenarioErrors
from .yamlnodes import LDict, LList, YamlError, parse

__all__ = ["ScenarioError", "ScenarioErrors", "load", "load_path", "scenario_files"]

_TOP_KEYS = ("meta", "setup", "faults", "steps", "seed", "clock")
_META_KEYS = ("name", "description", "spec", "tags", "products", "sessions", "portable", "conform")
_PRODUCTS = ("prediction", "margin")
_SESSIONS = ("NR", "DC", "RT", "PT", "RFQ", "MD")


def scenario_files(path: Path) -> list[Path]:
    """A file, or every *.yaml/*.yml under a folder (sorted)."""
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [path]


def load_path(path: Path | str) -> list[Scenario]:
    """Every scenario of a file or folder, checked; ScenarioErrors lists every problem."""
    path = Path(path)
    if not path.exists():
        raise ScenarioErrors([ScenarioError(path, 0, "", "no such file or folder")])
    files = scenario_files(path)
    problems = Problems(path)
    scenarios: list[Scenario] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.file = file
            problems.add(0, "", f"cannot read: {exc}")
            continue
        try:
            scenarios += load(text, file)
        except ScenarioErrors as exc:
            problems.errors += exc.errors
    names: dict[str, Scenario] = {}
    for sc in scenarios:
        if sc.name in names:
            problems.file = sc.file
            problems.add(sc.line, "meta.name", f"expected a unique name: {sc.name!r} is also {names[sc.name].where}")
        names[sc.name] = sc
    problems.raise_if_any()
    return scenarios


def load(text: str, file: Path | str = "<scenario>", kit: dict | None = None) -> list[Scenario]:
    """The scenarios of one YAML text (a mapping, or a list of mappings). A conformance case
    (meta.conform) gets the kit's variables put in first (`kit`, else its meta's defaults)."""
    from .kitvars import defaults_for, substitute

    file = Path(file)
    problems = Problems(file)
    if kit is None and "conform" in text:
        kit = defaults_for(text)
    if kit is not None:
        text = substitute(text, kit)
    try:
        doc = parse(text)
    except YamlError as exc:
        problems.add(exc.line, "", exc.message)
        problems.raise_if_any()
    if isinstance(doc, LDict):
        docs, prefix = [doc], [""]
    elif isinstance(doc, LList) and doc:
        docs, prefix = list(doc), [f"[{i}]." for i in range(len(doc))]
        for i, d in enumerate(docs):
            if not isinstance(d, LDict):
                problems.add(doc.line_of(i), f"[{i}]", "expected a scenario mapping (meta, setup, faults, steps)")
    else:
        problems.add(getattr(doc, "line", 1), "", "expected a scenario mapping (meta, setup, faults, steps) "
                                                 "or a list of them")
        problems.raise_if_any()
    out = []
    for i, (d, pre) in enumerate(zip(docs, prefix)):
        if isinstance(d, LDict):
            stem = file.stem if len(docs) == 1 else f"{file.stem}[{i}]"
            out.append(_scenario(d, pre, stem, file, problems))
            out[-1].kit = dict(kit or {})
    problems.raise_if_any()
    return out


def _scenario(doc: LDict, pre: str, stem: str, file: Path, problems: Problems) -> Scenario:
    for key in doc:
        if key not in _TOP_KEYS:
            problems.add(doc.line_of(key), f"{pre}{key}", f"unknown key: expected one of {', '.join(_TOP_KEYS)}")
    sc = Scenario(name=stem, file=file, line=doc.line)
    meta = doc.get("meta", LDict())
    if not isinstance(meta, LDict):
        problems.add(doc.line_of("meta"), f"{pre}meta", "expected a mapping (name, description, spec, tags, ...)")
        meta = LDict()
    for key in meta:
        if key not in _META_KEYS:
            problems.add(meta.line_of(key), f"{pre}meta.{key}", f"unknown key: expected one of {', '.join(_META_KEYS)}")
    if "name" in meta:
        if isinstance(meta["name"], str) and meta["name"].strip():
            sc.name = meta["name"]
        else:
            problems.add(meta.line_of("name"), f"{pre}meta.name", "expected a non-empty text")
    if "description" in meta:
        if isinstance(meta["description"], str):
            sc.description = " ".join(meta["description"].split())
        else:
            problems.add(meta.line_of("description"), f"{pre}meta.description", "expected a text")
    for key, allowed in (("spec", None), ("tags", None), ("products", _PRODUCTS), ("sessions", _SESSIONS)):
        if key in meta:
            setattr(sc, key, _str_list(meta, key, f"{pre}meta.{key}", allowed, problems))
    if "conform" in meta:
        if isinstance(meta["conform"], LDict):
            sc.conform = plain(meta["conform"])  # checked by simulator/conform/cases.py
        else:
            problems.add(meta.line_of("conform"), f"{pre}meta.conform", "expected a mapping (profile, id, mandatory, "
                                                                         "...): see docs/conform.md")
    if "portable" in meta:
        if isinstance(meta["portable"], bool):
            sc.portable = meta["portable"]
        else:
            problems.add(meta.line_of("portable"), f"{pre}meta.portable", "expected true or false")
    if "seed" in doc:
        if isinstance(doc["seed"], int) and not isinstance(doc["seed"], bool):
            sc.seed = doc["seed"]
        else:
            problems.add(doc.line_of("seed"), f"{pre}seed", "expected an integer")
    if "clock" in doc:  # `clock:` at the top (the conformance cases' form) = setup.clock
        setup = doc.get("setup")
        if setup is None:
            setup = LDict()
            setup.line = doc.line_of("clock")
            doc["setup"] = setup
            doc.lines["setup"] = doc.line_of("clock")
        if isinstance(setup, LDict) and "clock" in setup:
            problems.add(doc.line_of("clock"), f"{pre}clock", "expected clock either at the top or in setup, not both")
        elif isinstance(setup, LDict):
            setup["clock"] = doc["clock"]
            setup.lines["clock"] = doc.line_of("clock")
    if "setup" in doc:
        sc.setup = check_setup(doc["setup"], doc.line_of("setup"), f"{pre}setup", problems)
    accounts = set(_known_accounts())
    fault_ids = _faults(doc, pre, sc, accounts, problems)
    steps = doc.get("steps")
    if steps is None:
        problems.add(doc.line, f"{pre}steps", "missing: expected a list of steps")
    else:
        checker = StepChecker(problems, accounts, fault_ids, clock=sc.setup.clock)
        sc.steps = checker.steps(steps, doc.line_of("steps"), f"{pre}steps")
        if sc.portable:
            checker.check_portable(sc, pre)
    return sc


def _known_accounts() -> list[str]:
    from ..testvenue import TEST_ACCOUNTS
    return list(TEST_ACCOUNTS) + ["subject"]  # subject: the conformance kit's client under test


def _faults(doc: LDict, pre: str, sc: Scenario, accounts: set[str], problems: Problems) -> set[str]:
    ids: set[str] = set()
    raw = doc.get("faults")
    if raw is None:
        return ids
    if not isinstance(raw, LList):
        problems.add(doc.line_of("faults"), f"{pre}faults", "expected a list of fault rules (docs/faults.md)")
        return ids
    for i, rule in enumerate(raw):
        path, line = f"{pre}faults[{i}]", raw.line_of(i)
        if check_rule(rule, line, path, accounts, problems, ids):
            sc.faults.append((plain(rule), line))
    return ids


def check_rule(rule: Any, line: int, path: str, accounts: set[str], problems: Problems, ids: set[str]) -> bool:
    """A fault rule checked by the fault engine's own parser; its id remembered."""
    from ..faults import RuleError, parse_rule

    if isinstance(rule, dict) and isinstance(rule.get("id"), str) and rule["id"] not in ids:
        ids.add(rule["id"])  # known even if the rule is bad: no second error at its wait_fault
        rule_id_new = True
    else:
        rule_id_new = False
    try:
        parsed = parse_rule(plain(rule), accounts=accounts)
    except RuleError as exc:
        where = line
        if isinstance(rule, LDict) and exc.field in rule:
            where = rule.line_of(exc.field)
        suffix = "" if exc.field == "(rule)" else f".{exc.field}"
        problems.add(where, f"{path}{suffix}", exc.message)
        return False
    if parsed.id:
        if parsed.id in ids and not rule_id_new:
            problems.add(line, f"{path}.id", f"expected a unique fault id: {parsed.id!r} is used twice")
        ids.add(parsed.id)
    return True


def plain(value: Any) -> Any:
    """LDict/LList -> dict/list, recursively."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def _str_list(meta: LDict, key: str, path: str, allowed, problems: Problems) -> list[str]:
    value = meta[key]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(meta.line_of(key), path, "expected a list of texts")
        return []
    if allowed:
        for v in value:
            if v not in allowed:
                problems.add(meta.line_of(key), path, f"expected one of {', '.join(allowed)}, not {v!r}")
    return list(value)
