"""The scenario side of the pytest plugin: `fix_exchange.run_scenario(path)`,
`@pytest.mark.fix_scenario(path)` and the transcript section on failing tests' reports."""
from __future__ import annotations

import threading
from pathlib import Path

from .loader import load_path
from .report import recent_text

TRANSCRIPT_LAST = 20  # messages per session in a failing test's report section


class ScenarioFailed(AssertionError):
    """One or more scenarios failed; the message is their failure reports."""


def _resolve(path, rootdir: Path | None) -> Path:
    p = Path(path)
    if not p.exists() and rootdir is not None and (rootdir / p).exists():
        return rootdir / p
    return p


def run_on_exchange(fx, path, *, rootdir: Path | None = None, last: int = TRANSCRIPT_LAST, out=print) -> list:
    """Play every scenario of a file or folder: real-clock ones against this fix_exchange,
    virtual-clock ones on a fresh virtual venue with the same accounts. Raises ScenarioFailed."""
    from .play import play, play_on

    outcomes = []
    for sc in load_path(_resolve(path, rootdir)):
        if sc.setup.clock == "virtual":
            outcomes.append(play(sc, fx.accounts, fx.sim.config.tls, fx.ca_file, out=out, last=last))
        else:
            outcomes.append(play_on(sc, fx, out=out, last=last))
    failed = [o for o in outcomes if not o.passed]
    if failed:
        raise ScenarioFailed("\n\n".join(f"scenario {o.scenario.name} failed:\n{o.failure}" for o in failed))
    return outcomes


class MarkedRun:
    """@pytest.mark.fix_scenario(path): the scenario runs beside the test body (the test's own
    client), and the test fails if the scenario does."""

    def __init__(self, fx, paths, rootdir: Path | None) -> None:
        self.error: BaseException | None = None
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._run, args=(fx, paths, rootdir), daemon=True,
                                       name="kalshi-fixsim-scenario")

    def _run(self, fx, paths, rootdir) -> None:
        try:
            for path in paths:
                run_on_exchange(fx, path, rootdir=rootdir, out=self.lines.append)
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self.error = exc

    def start(self) -> "MarkedRun":
        self.thread.start()
        return self

    def finish(self, timeout: float = 600.0) -> None:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise ScenarioFailed(f"the scenario did not finish within {timeout:g}s")
        if self.error is not None:
            raise self.error


def transcript_section(exchanges: list, last: int = TRANSCRIPT_LAST) -> str:
    """The last `last` messages of every session of each fix_exchange, tag names shown."""
    parts = []
    for fx in exchanges:
        try:
            entries = fx.call(lambda: list(fx.sim.transcript.entries))
        except Exception:  # noqa: BLE001 - a stopped simulator: nothing to show
            continue
        rows = [(e.time, e.session or f"{e.endpoint}/-", e.direction, e.frame, e.note) for e in entries]
        parts.append(recent_text(rows, last).lstrip("\n"))
    return "\n".join(parts)
