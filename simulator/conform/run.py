"""One conformance run: the venue, the client, then every planned case in order (issue 14 §1).

    result = asyncio.run(run_plan(options))      # or kalshi_fixsim.conform.run(...)
    result.exit_code                             # 0 only if every mandatory case passed

Per (product, session) group the client is started with that endpoint; before a case it is
restarted when the case says `restart: true`, after a failed case, or when it is not logged on
(after a grace of a few heartbeats to reconnect by itself). Each case is a scenario played by the scenario
runner against the kit's venue (ConformVenue); its fault rules are cleared after it.
"""
from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..scenario.runner import Runner
from .cases import Case, Planned, Selection, kit_for, load_cases, select
from .clients import CallableClient, ClientInfo, ConformError, ManualClient, ProcessClient
from .venue import SUBJECT, ConformVenue, start_feed, start_venue

__all__ = ["Options", "CaseResult", "ConformResult", "run_plan"]

CASE_LIMIT = 180.0  # seconds: a case that takes longer fails (every step has its own timeout too)


@dataclass
class Options:
    profiles: list[str] = field(default_factory=lambda: ["session"])
    products: list[str] = field(default_factory=lambda: ["prediction"])
    sessions: list[str] = field(default_factory=lambda: ["NR"])
    features: list[str] | None = None
    mandatory_only: bool = False
    only: list[str] = field(default_factory=list)
    client_cmd: str | None = None
    client: Callable | None = None
    api_key: str | None = None
    public_key: Path | None = None
    private_key: Path | None = None
    heartbeat: int | None = None
    use_dollars: bool = False
    report: Path | None = None
    junit: Path | None = None
    cases: Path | None = None
    wait: float = 300.0          # manual client: how long the first case waits for its Logon
    grace: float = 5.0           # SIGTERM -> SIGKILL
    case_limit: float = CASE_LIMIT
    out: Callable[[str], None] = lambda line: print(line, flush=True)  # live: a pipe sees each line at once


@dataclass
class CaseResult:
    case: Case
    product: str
    session: str
    verdict: str                 # PASS | FAIL | SKIP
    came: str = ""               # what happened instead (a failure's first line), or why skipped
    failure: str = ""            # the whole failure report (diff, last messages)
    seconds: float = 0.0
    transcript: list = field(default_factory=list)   # the case's journal rows
    transcript_file: Path | None = None
    expected: str = ""           # the case's `expect` with this run's values (HeartBtInt, ...)

    @property
    def expect(self) -> str:
        return self.expected or self.case.expect

    @property
    def mandatory(self) -> bool:
        return self.case.mandatory

    @property
    def label(self) -> str:
        return f"{self.case.id} {self.product}/{self.session}"


@dataclass
class ConformResult:
    results: list[CaseResult]
    report: Path | None = None
    junit: Path | None = None
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Every mandatory case passed (optional failures and skips do not count)."""
        return all(r.verdict != "FAIL" or not r.mandatory for r in self.results)

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def counts(self) -> dict[str, int]:
        out = {"PASS": 0, "FAIL": 0, "SKIP": 0}
        for r in self.results:
            out[r.verdict] += 1
        return out

    def failed(self, mandatory_only: bool = True) -> list[CaseResult]:
        return [r for r in self.results if r.verdict == "FAIL" and (r.mandatory or not mandatory_only)]

    def verdicts(self) -> dict[str, str]:
        """`{"S04 prediction/RT": "PASS", ...}`: handy in tests."""
        return {r.label: r.verdict for r in self.results}

    def summary(self) -> str:
        from .report import summary_text
        return summary_text(self)


def _came(failure: str) -> str:
    """`file:line: steps[3].expect: nothing matching ...` -> `steps[3].expect: nothing matching ...`."""
    first = failure.splitlines()[0] if failure else "failed"
    parts = first.split(": ", 1)
    return parts[1] if len(parts) == 2 and parts[0].count(":") >= 1 else first


def _client_for(opts: Options, logs: Path):
    if opts.client is not None and opts.client_cmd:
        raise ConformError("give either --client-cmd or client=, not both")
    if opts.client is not None:
        return CallableClient(opts.client)
    if opts.client_cmd:
        return ProcessClient(opts.client_cmd, logs, grace=opts.grace)
    return ManualClient(opts.out)


async def run_plan(opts: Options) -> ConformResult:
    """The whole run (on the caller's loop); ConformError for usage/config problems."""
    began = time.perf_counter()
    cases = load_cases(opts.cases)
    plan = select(cases, Selection(opts.profiles, opts.products, opts.sessions, opts.features,
                                   opts.mandatory_only, opts.only))
    if not plan:
        raise ConformError(f"no case applies to profile(s) {','.join(opts.profiles)} on "
                           f"{','.join(opts.products)} {','.join(opts.sessions)} (kalshi-fixsim conform --list)")
    report = Path(opts.report) if opts.report else Path(tempfile.mkdtemp(prefix="kalshi-fixsim-conform-"))
    report.mkdir(parents=True, exist_ok=True)
    loop = asyncio.get_running_loop()
    try:
        kit = await loop.run_in_executor(None, lambda: start_venue(report / "venue", api_key=opts.api_key,
                                                                   public_key=opts.public_key,
                                                                   private_key=opts.private_key))
    except ValueError as exc:
        raise ConformError(str(exc)) from None
    client = _client_for(opts, report / "client")
    feed = start_feed(kit)
    results: list[CaseResult] = []
    try:
        groups: dict[tuple[str, str], list[Planned]] = {}
        for p in plan:
            groups.setdefault((p.product, p.session), []).append(p)
        for (product, session), planned in groups.items():
            info = _info(kit, product, session, opts, report)
            started, last_failed = False, False
            for p in planned:
                if p.skip:
                    results.append(_say(opts, CaseResult(p.case, product, session, "SKIP", came=p.skip)))
                    continue
                if not started:
                    await client.start(info)
                    started = True
                elif p.case.restart or (last_failed and not isinstance(client, ManualClient)) \
                        or not await _logged_on(feed, kit, product, session, info.heartbeat):
                    # after a FAIL the session may be mid-way (a Logout unanswered, a gap open):
                    # a fresh client, so one failure never spills into the next case's verdict
                    await client.stop()
                    await client.start(info)
                first = client.starts == 1 and isinstance(client, ManualClient)
                results.append(_say(opts, await _play(p, kit, feed, opts, info, report, first, client)))
                last_failed = results[-1].verdict == "FAIL"
            if started:
                await client.stop()
    finally:
        try:
            await client.stop()
        finally:
            feed.close()
            result = ConformResult(results, report, Path(opts.junit) if opts.junit else None,
                                   time.perf_counter() - began)
            _record(kit, result, opts)
            kit.stop()
    from .report import write_junit, write_transcripts
    write_transcripts(result)
    if result.junit is not None:
        write_junit(result, result.junit)
    return result


def _info(kit, product: str, session: str, opts: Options, report: Path) -> ClientInfo:
    from ...fixproto.kalshi import session_type
    from ..scenario.kitvars import DEFAULT_HEARTBEAT, SYMBOLS

    ep = kit.endpoint(product, session)
    client_dir = report / "client"
    client_dir.mkdir(parents=True, exist_ok=True)
    return ClientInfo(host="127.0.0.1", port=ep.port, api_key=kit.api_key,
                      key_file=str(kit.key_file or ""), ca_file=str(kit.ca_file), session=session,
                      target_comp_id=session_type(product, session).comp_id, product=product,
                      symbol=SYMBOLS[product], heartbeat=opts.heartbeat or DEFAULT_HEARTBEAT[product],
                      use_dollars="Y" if opts.use_dollars else "N", report_dir=str(client_dir))


async def _logged_on(feed, kit, product: str, session: str, heartbeat: int) -> bool:
    """Is the subject logged on? A client that is reconnecting gets two heartbeats' grace."""
    peer = feed.peer("probe", product, session, kit.api_key, since_now=True)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 2 * heartbeat
        while True:
            if peer.current is not None and peer.current.closed is None and peer.current.logged_on is not None:
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            await peer.wait_change(left)
    finally:
        feed.peers.remove(peer)


async def _play(p: Planned, kit, feed, opts: Options, info: ClientInfo, report: Path, first: bool,
                client) -> CaseResult:
    kit_vars = kit_for(p, info.heartbeat, kit.api_key, use_dollars=opts.use_dollars)
    try:
        sc = p.case.scenario(kit_vars)
    except Exception as exc:  # noqa: BLE001 - ScenarioErrors: the case file is wrong for this session
        return CaseResult(p.case, p.product, p.session, "FAIL", came=f"the case does not load: {exc}",
                          failure=str(exc))
    if first:  # a person starts their client: the first connect waits longer
        for step in sc.steps:
            if step.kind == "connect" and step.args.get("client") == "external":
                step.args["within"] = max(step.args["within"], opts.wait)
                break
    venue = ConformVenue(kit, feed)
    t0 = kit.sim.clock.now()
    lines: list[str] = []
    runner = Runner(sc, venue, out=lines.append)
    started = time.perf_counter()
    try:
        outcome = await asyncio.wait_for(runner.run(), opts.case_limit)
        passed, failure = outcome.passed, outcome.failure
        records = outcome.records
    except asyncio.TimeoutError:
        passed, failure = False, f"{sc.file}:{sc.line}: the case did not finish within {opts.case_limit:g} s"
        records = await venue.journal() or []
        records = [(e.time, e.session or f"{e.endpoint}/-", e.direction, e.frame, e.note) for e in records]
    mine = set(map(id, runner.peers.values()))
    feed.peers[:] = [q for q in feed.peers if id(q) not in mine]  # the case's sessions stop listening
    try:
        await venue.clear_faults()
    except Exception:  # noqa: BLE001 - a venue gone: nothing to clear
        pass
    status = client.exit_status()
    if not passed and status is not None:
        failure += f"\n  the client process exited with status {status} (its output: {report / 'client'})"
    rows = [r for r in records if r[0] >= t0 - 0.001]
    return CaseResult(p.case, p.product, p.session, "PASS" if passed else "FAIL",
                      came="" if passed else _came(failure), failure=failure,
                      seconds=time.perf_counter() - started, transcript=rows,
                      expected=str((sc.conform or {}).get("expect", p.case.expect)))


def _say(opts: Options, r: CaseResult) -> CaseResult:
    tail = f"  ({r.came})" if r.verdict == "SKIP" else ""
    optional = "" if r.mandatory else " [optional]"
    opts.out(f"{r.verdict:<4} {r.case.id:<6} {r.product}/{r.session:<4} {r.case.name}{optional}  "
             f"{r.seconds:.1f}s{tail}")
    if r.verdict == "FAIL":
        opts.out(f"     {r.came}")
    return r


def _record(kit, result: ConformResult, opts: Options) -> None:
    """The verdict in the venue's web view ("Last runs"), as the scenario runner does."""
    c = result.counts()
    try:
        kit.thread.call(lambda: kit.sim.control.record_run(
            "conform", f"{','.join(opts.profiles)} {','.join(opts.products)} {','.join(opts.sessions)}",
            "pass" if result.passed else "fail", passed=c["PASS"], failed=c["FAIL"],
            detail=f"{c['SKIP']} skipped"))
    except Exception:  # noqa: BLE001 - the web view's record must never change a verdict
        pass


def subject() -> str:
    return SUBJECT
