"""Grading an external client (issue 14): `kalshi-fixsim conform` and `kalshi_fixsim.conform.run`.

    from kalshi_fixsim import conform
    result = conform.run(profile="session", product="prediction", session="RT",
                         client_cmd="java -jar mybot.jar --port {port} ...", report="conform/", junit="conform.xml")
    assert result.passed, result.summary()

The cases are scenario files under scenarios/conform/ (cases.py); the kit plays the venue
(venue.py), starts and restarts the client (clients.py), plays each case with the scenario
runner (run.py) and writes the summary, transcripts and JUnit XML (report.py).
"""
from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Callable

from .cases import PROFILES, Case, CaseError, load_cases
from .clients import ClientInfo, ConformError
from .run import CaseResult, ConformResult, Options, run_plan

__all__ = ["run", "run_async", "ConformResult", "CaseResult", "ClientInfo", "ConformError", "CaseError", "Case",
           "load_cases", "PROFILES"]


def _list(value, default):
    if value is None:
        return list(default)
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def _options(profile, product, session, client_cmd, client, report, junit, features, mandatory_only, cases,
             heartbeat, only, out, **kwargs) -> Options:
    return Options(profiles=_list(profile, ["session"]), products=_list(product, ["prediction"]),
                   sessions=[s.upper() for s in _list(session, ["NR"])],
                   features=None if features is None else _list(features, []), mandatory_only=mandatory_only,
                   only=_list(only, []), client_cmd=client_cmd, client=client,
                   report=Path(report) if report else None, junit=Path(junit) if junit else None,
                   cases=Path(cases) if cases else None, heartbeat=heartbeat, out=out, **kwargs)


async def run_async(*, profile="session", product="prediction", session="NR", client_cmd: str | None = None,
                    client: Callable[[ClientInfo], object] | None = None, report=None, junit=None, features=None,
                    mandatory_only: bool = False, cases=None, heartbeat: int | None = None, only=None,
                    out: Callable[[str], None] = print, **kwargs) -> ConformResult:
    """As run(), on the caller's event loop (a `client=` callable may then start tasks on it)."""
    return await run_plan(_options(profile, product, session, client_cmd, client, report, junit, features,
                                   mandatory_only, cases, heartbeat, only, out, **kwargs))


def run(*, profile="session", product="prediction", session="NR", client_cmd: str | None = None,
        client: Callable[[ClientInfo], object] | None = None, report=None, junit=None, features=None,
        mandatory_only: bool = False, cases=None, heartbeat: int | None = None, only=None,
        out: Callable[[str], None] = print, **kwargs) -> ConformResult:
    """Grade a client: `client_cmd` (a shell command with {placeholders}) or `client` (called with
    a ClientInfo, returns a stopper: a callable or an object with stop(), maybe awaitable; it runs
    on the kit's event loop). Profiles, products and sessions: a name, a comma list or a list.
    Other keywords: api_key, public_key, private_key, use_dollars, wait, grace, case_limit."""
    return asyncio.run(run_async(profile=profile, product=product, session=session, client_cmd=client_cmd,
                                 client=client, report=report, junit=junit, features=features,
                                 mandatory_only=mandatory_only, cases=cases, heartbeat=heartbeat, only=only,
                                 out=out, **kwargs))
