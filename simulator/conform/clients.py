"""The client under test: a process from `--client-cmd` (placeholders and KALSHI_FIX_* variables,
docs/conform.md "The client contract"), a Python callable (`conform.run(client=...)`), or
nobody (the user starts their own client against the printed endpoints).

A process is started in its own process group, its stdout/stderr appended to files in the
report folder; stop() sends SIGTERM, then SIGKILL after `grace` seconds.
"""
from __future__ import annotations

import asyncio
import os
import shlex
import signal
import string
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = ["ClientInfo", "ProcessClient", "CallableClient", "ManualClient", "ConformError", "PLACEHOLDERS",
           "check_command"]


class ConformError(Exception):
    """A usage or configuration error: one line, exit status 2."""


@dataclass
class ClientInfo:
    """What the client needs to reach the venue (the placeholders of --client-cmd)."""
    host: str
    port: int
    api_key: str
    key_file: str
    ca_file: str
    session: str
    target_comp_id: str
    product: str
    symbol: str
    heartbeat: int
    use_dollars: str
    report_dir: str

    def env(self) -> dict[str, str]:
        return {f"KALSHI_FIX_{k.upper()}": str(v) for k, v in asdict(self).items()}

    def table(self) -> str:
        rows = [("host", self.host), ("port", str(self.port)), ("session", f"{self.session} "
                f"(TargetCompID {self.target_comp_id}, {self.product})"), ("api key (SenderCompID)", self.api_key),
                ("private key", self.key_file or "(your own)"), ("CA file", self.ca_file),
                ("HeartBtInt", f"{self.heartbeat} s"), ("symbol", self.symbol), ("UseDollars", self.use_dollars)]
        width = max(len(k) for k, _ in rows)
        return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


PLACEHOLDERS = tuple(ClientInfo.__dataclass_fields__)


def check_command(template: str) -> None:
    """Every {placeholder} of --client-cmd is known; ConformError names the unknown ones."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ConformError(f"--client-cmd: {exc} (write {{{{ and }}}} for literal braces)") from None
    unknown = sorted({n for n in names if n not in PLACEHOLDERS})
    if unknown:
        raise ConformError(f"--client-cmd: unknown placeholder(s) {', '.join('{' + n + '}' for n in unknown)}; "
                           f"known: {', '.join('{' + n + '}' for n in PLACEHOLDERS)}")


class ProcessClient:
    """`--client-cmd`: a shell command, its placeholders shell-quoted."""

    def __init__(self, template: str, logs: Path, grace: float = 5.0) -> None:
        check_command(template)
        self.template, self.logs, self.grace = template, logs, grace
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.command = ""

    def describe(self) -> str:
        return self.command or self.template

    async def start(self, info: ClientInfo) -> None:
        values = {k: shlex.quote(str(v)) for k, v in asdict(info).items()}
        self.command = self.template.format(**values)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        out = open(self.logs / "client-stdout.log", "ab")
        err = open(self.logs / "client-stderr.log", "ab")
        for f in (out, err):
            f.write(f"--- start {self.starts}: {self.command}\n".encode())
            f.flush()
        try:
            self.proc = subprocess.Popen(self.command, shell=True, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         env={**os.environ, **info.env()}, start_new_session=True)
        except OSError as exc:
            raise ConformError(f"--client-cmd: cannot start {self.command!r}: {exc}") from None
        finally:
            out.close()
            err.close()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_status(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    async def stop(self) -> int | None:
        """SIGTERM to its process group, SIGKILL after the grace time; its exit status."""
        proc = self.proc
        if proc is None:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        if proc.poll() is None or self._group_alive():
            self._signal(signal.SIGTERM)

            def wait() -> bool:
                try:
                    proc.wait(self.grace)
                    return True
                except subprocess.TimeoutExpired:
                    return False
            await loop.run_in_executor(None, wait)
            # the shell may be gone while what it started still runs: its whole group gets the grace
            while self._group_alive() and loop.time() < deadline:
                await asyncio.sleep(0.05)  # no event tells a process group's end: look again shortly
        if self._group_alive() or proc.poll() is None:
            self._signal(signal.SIGKILL)
            await loop.run_in_executor(None, proc.wait)
            self.killed = True
        return proc.returncode

    killed = False  # the last stop needed SIGKILL

    def _group_alive(self) -> bool:
        try:
            os.killpg(self.proc.pid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def _signal(self, sig) -> None:
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class CallableClient:
    """`conform.run(client=fn)`: fn(info) starts the client and returns something to stop it
    (a callable, an object with stop(), or an awaitable of either); called again on restart."""

    def __init__(self, fn: Callable[[ClientInfo], Any]) -> None:
        self.fn = fn
        self.handle = None
        self.starts = 0

    def describe(self) -> str:
        return getattr(self.fn, "__qualname__", repr(self.fn))

    async def start(self, info: ClientInfo) -> None:
        self.starts += 1
        handle = self.fn(info)
        if asyncio.iscoroutine(handle) or isinstance(handle, asyncio.Future):
            handle = await handle
        self.handle = handle

    running = True

    def exit_status(self) -> int | None:
        return None

    async def stop(self) -> int | None:
        handle, self.handle = self.handle, None
        if handle is None:
            return None
        stop = getattr(handle, "stop", handle)
        if callable(stop):
            result = stop()
            if asyncio.iscoroutine(result):
                await result
            elif asyncio.isfuture(result):
                await result
        return None


class ManualClient:
    """No --client-cmd: the user runs their client against the printed endpoints."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.starts = 0
        self.info: ClientInfo | None = None

    def describe(self) -> str:
        return "your client (started by you)"

    running = True

    def exit_status(self) -> int | None:
        return None

    async def start(self, info: ClientInfo) -> None:
        self.starts += 1
        if self.info is None or (self.info.port, self.info.session) != (info.port, info.session):
            self.out("start your client against:\n" + info.table())
        else:
            self.out("restart your client now (the next case needs a fresh start)")
        self.info = info

    async def stop(self) -> int | None:
        return None
