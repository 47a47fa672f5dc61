"""End-to-end order round trips over loopback (issue 15): `kalshi-fixsim serve` in a child
process, the project's own load generator (bench/loadgen.py) in this one.

Matrix: plaintext (`serve --plaintext`) and TLS; memory and file store; NR and RT; window 1
with one session (ping-pong latency) and windows 10 and 100 with four sessions. Figures: order
round trips/s (write -> first ExecutionReport with the ClOrdID) and p50/p99 in µs. Two
sessions buy and two sell one contract at one price, so orders fill (both sides get reports)
or rest. Rate limits are off (`serve --no-rate-limits`), the market maker too.
"""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.loadgen import Target, run_load
from kalshi_fixsim.simulator.cli import main as cli_main
from kalshi_fixsim.simulator.keys import new_key_pair

__all__ = ["run", "Workspace", "Served"]

SYMBOL = "KXHIGHNY-26NOV21-B45.5"
SESSIONS = 4


class Workspace:
    """`kalshi-fixsim init` in a temporary folder, then ports 0, N funded accounts, no market maker."""

    def __init__(self, base: Path, store: str, accounts: int = SESSIONS) -> None:
        self.base = base
        self.config = base / "sim.yaml"
        with open(os.devnull, "w") as quiet:
            stdout, sys.stdout = sys.stdout, quiet
            try:
                assert cli_main(["init", "--config", str(self.config)]) == 0
            finally:
                sys.stdout = stdout
        data = yaml.safe_load(self.config.read_text())
        for conf in data["products"].values():
            conf["ports"] = {code: 0 for code in conf["ports"]}
        data["store"] = store
        data["market_maker"]["enabled"] = False
        data["accounts"] = []
        for n in range(accounts):
            pair = new_key_pair(base / "keys", f"load{n}")
            data["accounts"].append({"name": f"load{n}", "api_key": pair.api_key,
                                     "public_key": str(pair.public_key_path), "products": ["prediction"],
                                     "tier": "premier", "balance": "100000000.00"})
        self.config.write_text(yaml.safe_dump(data, sort_keys=False))


class Served:
    """serve in a child process until its ready file exists (the `kalshi-fixsim ready` line)."""

    def __init__(self, ws: Workspace, *args: str) -> None:
        self.ws, self.args = ws, args
        self.ready_file = ws.base / "ready.json"
        self.proc: subprocess.Popen | None = None
        self.ready: dict = {}
        self.started_in = 0.0
        self.lines: list[str] = []

    def __enter__(self) -> "Served":
        started = time.perf_counter()
        # BENCH_SERVE: another command in place of `python -m kalshi_fixsim` (the "before" figures
        # of docs/benchmarks.md ran an older checkout this way).
        command = os.environ.get("BENCH_SERVE", "").split() or [sys.executable, "-m", "kalshi_fixsim"]
        self.proc = subprocess.Popen(
            [*command, "serve", "--config", str(self.ws.config), "--control-port", "-1",
             "--no-rate-limits", "--ready-file", str(self.ready_file), *self.args],
            cwd=self.ws.base, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("kalshi-fixsim ready"):
                self.started_in = time.perf_counter() - started
                self.ready = json.loads(self.ready_file.read_text())
                import threading  # keep reading (a chatty log must never block the server); kept for errors
                self.lines = lines
                threading.Thread(target=lambda: [lines.append(x) for x in self.proc.stdout], daemon=True).start()
                return self
        self.kill()
        raise RuntimeError("serve did not get ready:\n" + "".join(lines))

    def targets(self, session: str, n: int) -> list[Target]:
        ep = self.ready["products"]["prediction"][session]
        tls = self.ready.get("ca_file") is not None
        comp = "KalshiNR" if session == "NR" else "KalshiRT"
        accounts = self.ready["accounts"]
        return [Target("127.0.0.1", ep["port"], comp, a["api_key"], a["private_key"], tls=tls,
                       ca_file=self.ready.get("ca_file"), side="1" if i % 2 == 0 else "2", symbol=SYMBOL)
                for i, a in enumerate(accounts[:n])]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(2)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def __exit__(self, *exc) -> None:
        self.stop()


def run(quick: bool = False) -> list[dict]:
    per_session = 300 if quick else 2000
    rows = []
    for store in ("memory", "file"):
        for tls in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                ws = Workspace(Path(tmp), "memory" if store == "memory" else "state/sim.db")
                with Served(ws, *([] if tls else ["--plaintext"])) as served:
                    run_no = 0
                    for session in ("NR", "RT"):
                        for sessions, window in ((1, 1), (SESSIONS, 10), (SESSIONS, 100)):
                            run_no += 1
                            orders = per_session // 4 if window == 1 else per_session
                            try:
                                result = asyncio.run(run_load(served.targets(session, sessions), orders, window,
                                                              warmup=min(200, orders // 5), run_id=f"r{run_no}"))
                            except (RuntimeError, OSError, asyncio.TimeoutError) as exc:
                                errors = [x for x in served.lines if "rror" in x or "Traceback" in x]
                                print(f"roundtrip {session} {store} window {window}: {str(exc)[:300]}\n"
                                      + "".join(errors[-20:]), file=sys.stderr)
                                continue
                            rows.append({"session": session, "transport": "TLS" if tls else "plain", "store": store,
                                         "sessions": sessions, "window": window, "orders": result.orders,
                                         "round trips/s": result.orders / result.seconds,
                                         "p50 µs": result.percentile(0.5) * 1e6,
                                         "p99 µs": result.percentile(0.99) * 1e6})
    return rows
