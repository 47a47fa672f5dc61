"""`kalshi-fixsim serve` as a subprocess, as `make run` starts it, for the shell-level tests.

    config = make_workspace(tmp_path)            # `init`, then every port 0 in sim.yaml
    with Served(config, "--control-port", "0") as served:
        served.ready                             # the ready file's JSON
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from kalshi_fixsim.simulator.cli import main

STARTUP_TIMEOUT = 60.0  # seconds: a loaded CI machine (2 cores shared by several suites)


def make_workspace(base: Path, *, store: str | None = "memory") -> Path:
    """`kalshi-fixsim init` in `base`, then every listener on port 0 (and an in-memory store)."""
    config = base / "sim.yaml"
    assert main(["init", "--config", str(config)]) == 0
    text = config.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    for product, conf in data["products"].items():
        ports = ", ".join(f"{code}: {port}" for code, port in conf["ports"].items())
        zero = ", ".join(f"{code}: 0" for code in conf["ports"])
        text = text.replace(f"ports: {{{ports}}}", f"ports: {{{zero}}}")  # keep the sample's comments
    if store is not None:
        text = text.replace(f"store: {data['store']}", f"store: {store}")
    config.write_text(text, encoding="utf-8")
    assert all(p == 0 for conf in yaml.safe_load(text)["products"].values() for p in conf["ports"].values())
    return config


class Served:
    """serve in a subprocess; enter waits for its `kalshi-fixsim ready` line (no polling)."""

    def __init__(self, config: Path, *args: str, cwd: Path | None = None) -> None:
        self.config = config
        self.args = args
        self.cwd = cwd or config.parent
        self.lines: list[str] = []
        self.ready: dict = {}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Served":
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "kalshi_fixsim", "serve", "--config", str(self.config),
                                      *self.args], cwd=self.cwd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            if line.startswith("kalshi-fixsim ready"):
                path = line.split("ready file: ", 1)[1].rstrip().rstrip(")")
                self.ready_path = Path(path)
                self.ready = json.loads(self.ready_path.read_text())
                # keep reading, so a chatty log never fills the pipe and blocks the simulator
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        self.__exit__()
        raise AssertionError("serve did not get ready:\n" + "".join(self.lines))

    def _drain(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def port(self, product: str, session: str) -> int:
        return self.ready["products"][product][session]["port"]

    def stop(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.stop()
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
