"""`kalshi-fixsim faults` and `kalshi-fixsim ctl fault add|list|show|rm|clear` (issue 12 §3).

    kalshi-fixsim faults                                   # the catalogue, with parameters
    kalshi-fixsim ctl fault add fault=drop session=RT direction=outbound match.35=8 times=1
    kalshi-fixsim ctl fault add --json '{"fault": "delay", "ms": 250, "match": {"35": "8"}}'
    kalshi-fixsim ctl fault list | show f1 | rm f1 | clear

`KEY=VALUE` pairs build the same flat rule POST /faults takes: a dotted key nests
(`match.35=8` is `{"match": {"35": "8"}}`), values read as JSON when they parse (250, true,
["NR","RT"]) and as text otherwise.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .faults import FAMILIES, describe

__all__ = ["add_parser", "add_ctl_parser", "ctl_request", "print_catalogue", "rule_from_pairs", "print_active"]


def add_parser(sub: Any) -> None:
    s = sub.add_parser("faults", help="list the fault catalogue (what ctl fault add / POST /faults take)")
    s.add_argument("--json", action="store_true", help="print it as JSON")
    s.add_argument("--family", choices=FAMILIES, default=None, help="only this family of faults")


def add_ctl_parser(ops: Any) -> None:
    c = ops.add_parser("fault", help="fault rules: add, list, show, rm, clear")
    fs = c.add_subparsers(dest="fault_command", required=True)
    a = fs.add_parser("add", help="install a rule: KEY=VALUE ... or --json '{...}'")
    a.add_argument("pairs", nargs="*", help="fault=NAME and its parameters, selectors, trigger, lifetime")
    a.add_argument("--json", dest="rule_json", default=None, help="the rule as one JSON object")
    fs.add_parser("list", help="installed rules with their hit counts")
    s = fs.add_parser("show", help="one rule, with its recent applications")
    s.add_argument("id", help="the rule's id (as `ctl fault add` or `ctl fault list` printed it)")
    s = fs.add_parser("rm", help="remove a rule")
    s.add_argument("id", help="the rule's id (as `ctl fault add` or `ctl fault list` printed it)")
    fs.add_parser("clear", help="remove every rule")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def rule_from_pairs(pairs: list[str], rule_json: str | None = None) -> dict:
    """The rule dict of `ctl fault add` (ValueError with a one-line message if malformed)."""
    rule: dict[str, Any] = {}
    if rule_json:
        try:
            loaded = json.loads(rule_json)
        except ValueError as exc:
            raise ValueError(f"--json: not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise ValueError("--json: expected a JSON object")
        rule.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{pair!r}: expected KEY=VALUE (e.g. fault=drop, match.35=8)")
        target = rule
        parts = key.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ValueError(f"{key}: {part} is not a mapping")
        target[parts[-1]] = value if parts[0] in ("match", "match_regex", "id", "text", "note") else _value(value)
    if not rule:
        raise ValueError("no rule given: e.g. `ctl fault add fault=drop match.35=8 times=1`")
    return rule


def ctl_request(args: argparse.Namespace) -> tuple[str, str, dict]:
    c = args.fault_command
    if c == "add":
        return "POST", "/faults", rule_from_pairs(args.pairs, args.rule_json)
    if c == "list":
        return "GET", "/faults", {}
    if c == "show":
        return "GET", f"/faults/{args.id}", {}
    if c == "rm":
        return "DELETE", f"/faults/{args.id}", {}
    return "DELETE", "/faults", {}


def print_catalogue(args: argparse.Namespace) -> int:
    kinds = [k for k in describe() if args.family is None or k["family"] == args.family]
    if args.json:
        print(json.dumps(kinds, indent=1))
        return 0
    for family in FAMILIES:
        rows = [k for k in kinds if k["family"] == family]
        if not rows:
            continue
        print(f"{family}:")
        for k in rows:
            params = " ".join(f"{p['name']}=<{p['type']}>" if p.get("required") else f"{p['name']}={p['default']}"
                              for p in k["params"])
            print(f"  {k['fault']:<22} {k['doc']}")
            if params:
                print(f"  {'':<22}   {params}")
        print()
    print("Rule keys: selectors product, session, account, api_key, session_id, direction; trigger msg_type, "
          "match, match_regex, nth, every, probability, after_s, now; lifetime times, duration_s. "
          "See docs/faults.md.", file=sys.stdout)
    return 0


def print_active(sim: Any) -> None:
    """At start-up: the fault rules the config installed (nothing if none)."""
    rules = sim.faults.list()
    if rules:
        shown = ", ".join(f"{r['id']} ({r['fault']})" for r in rules)
        print(f"fault rules active from the config: {shown}  (GET /faults, kalshi-fixsim ctl fault list)",
              flush=True)
