"""`kalshi-fixsim scenario run|check|list` (issue 13 §2).

`register(sub)` adds the `scenario` command to the CLI's sub-parsers; it sets `args.handler`,
which `cli.main` calls. A malformed file: one line per problem (`file:line: key: expected ...`)
on stderr and exit status 2; a failing scenario: exit status 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .loader import ScenarioErrors, load_path

__all__ = ["register"]


def _load(paths: list[str]):
    scenarios, errors = [], []
    for path in paths:
        try:
            scenarios += load_path(Path(path))
        except ScenarioErrors as exc:
            errors += exc.errors
    return scenarios, errors


def _check(args: argparse.Namespace) -> int:
    scenarios, errors = _load(args.paths)
    for error in errors:
        print(error, file=sys.stderr)
    if errors:
        print(f"{len(errors)} problem(s)", file=sys.stderr)
        return 2
    files = {sc.file for sc in scenarios}
    print(f"ok: {len(scenarios)} scenario(s) in {len(files)} file(s)")
    return 0


def _list(args: argparse.Namespace) -> int:
    scenarios, errors = _load(args.paths or ["scenarios"])
    for error in errors:
        print(error, file=sys.stderr)
    for sc in scenarios:
        mark = " [portable]" if sc.portable else ""
        tags = f" ({', '.join(sc.tags)})" if sc.tags else ""
        print(f"{sc.name}{mark}{tags}  {sc.file}\n    {sc.description or '(no description)'}")
    return 2 if errors else 0


def _run(args: argparse.Namespace) -> int:
    from .cli_run import run_command
    return run_command(args, _load)


def register(sub) -> None:
    """Add `scenario run|check|list` to the CLI's sub-parsers."""
    top = sub.add_parser("scenario", help="scenario files: run, check or list them (docs/scenarios.md)",
                         description="scenario files: run, check or list them (docs/scenarios.md)")
    cmds = top.add_subparsers(dest="scenario_command", required=True, metavar="{run,check,list}")

    s = cmds.add_parser("check", help="validate scenario files without running them")
    s.add_argument("paths", nargs="+", metavar="FILE|DIR", help="scenario files or folders of them")
    s.set_defaults(handler=_check)

    s = cmds.add_parser("list", help="list scenarios with their descriptions, tags and portable mark")
    s.add_argument("paths", nargs="*", metavar="DIR", help="folders or files (default scenarios/)")
    s.set_defaults(handler=_list)

    s = cmds.add_parser("run", help="run scenarios on an in-process simulator (or --target a venue)")
    s.add_argument("paths", nargs="+", metavar="FILE|DIR", help="scenario files or folders of them")
    s.add_argument("--junit", default=None, metavar="OUT.xml", help="write a JUnit XML report here")
    s.add_argument("--transcript", default=None, metavar="DIR",
                   help="write each scenario's transcript here (NAME.txt and NAME.jsonl)")
    s.add_argument("-k", dest="keyword", default=None, metavar="EXPR",
                   help="run only scenarios whose name, tags or file contain EXPR (a,b: either; !x: not x)")
    s.add_argument("--target", default=None, metavar="HOST:PORT",
                   help="run the client side against this venue (steps needing venue control are skipped)")
    s.add_argument("--target-config", default=None, metavar="FILE",
                   help="a target file: host, ports per session, CA, API keys per account (docs/scenarios.md)")
    s.add_argument("--last", type=int, default=20, metavar="N",
                   help="messages per session shown when a scenario fails (default 20)")
    s.set_defaults(handler=_run)
