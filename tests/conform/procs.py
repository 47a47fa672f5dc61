"""Run a client under test as a subprocess and wait for what it logs (no sleeps: each wait
blocks on the next stderr line until an absolute deadline)."""
from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["ClientProcess", "contract_env", "PYTHON"]

PYTHON = sys.executable
CLIENTS = Path(__file__).parent / "clients"


def contract_env(fx, *, product: str = "prediction", session: str = "NR", account: str = "alice",
                 heartbeat: int = 5, symbol: str | None = None, use_dollars: str = "N") -> dict[str, str]:
    """The KALSHI_FIX_* variables of the client contract (docs/conform.md) for a fix_exchange."""
    ep = fx.endpoint(product, session)
    acct = fx.accounts[account]
    return {
        "KALSHI_FIX_HOST": ep.host, "KALSHI_FIX_PORT": str(ep.port), "KALSHI_FIX_API_KEY": acct.api_key,
        "KALSHI_FIX_KEY_FILE": str(acct.private_key_path), "KALSHI_FIX_CA_FILE": str(fx.ca_file),
        "KALSHI_FIX_SESSION": session, "KALSHI_FIX_TARGET_COMP_ID": f"Kalshi{session}",
        "KALSHI_FIX_PRODUCT": product,
        "KALSHI_FIX_SYMBOL": symbol or ("KXTEST-26JAN01-A" if product == "prediction" else "ETH-PERP"),
        "KALSHI_FIX_HEARTBEAT": str(heartbeat), "KALSHI_FIX_USE_DOLLARS": use_dollars,
    }


class ClientProcess:
    """A client program; its stderr lines are collected by a thread and can be waited for."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(argv, env={**os.environ, **env}, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._pump, daemon=True).start()
        self._seen = 0

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_line(self, pattern: str, timeout: float = 20.0) -> re.Match:
        """The next stderr line (after the last one matched) that matches `pattern`."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            while self._seen < len(self.lines):
                line = self.lines[self._seen]
                self._seen += 1
                found = regex.search(line)
                if found:
                    return found
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no stderr line matching {pattern!r} within {timeout} s; "
                                     f"last lines:\n" + "\n".join(self.lines[-15:]))
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self._queue.put(None)
                raise AssertionError(f"the client exited ({self.proc.wait()}) before logging {pattern!r}; "
                                     f"last lines:\n" + "\n".join(self.lines[-15:]))
            self.lines.append(line)

    def terminate(self, timeout: float = 10.0) -> int:
        """SIGTERM, then the exit code (SIGKILL and AssertionError if it does not exit in time)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the client did not exit within {timeout} s of SIGTERM") from None

    def drain(self, timeout: float = 5.0) -> list[str]:
        """Every stderr line up to the client's exit."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                return self.lines
            if line is None:
                self._queue.put(None)
                return self.lines
            self.lines.append(line)

    def __enter__(self) -> "ClientProcess":
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
