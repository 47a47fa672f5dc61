"""The checked form of a scenario (what loader.py produces and runner.py plays)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STEP_KINDS = ("connect", "send", "expect", "expect_nothing", "expect_disconnect", "advance", "control", "fault",
              "wait_fault", "repeat", "parallel", "disconnect", "logout",
              # judging a client the runner does not drive (client: external; scenario/judge.py)
              "expect_logon", "expect_connections", "expect_heartbeats", "expect_sending_time", "expect_resend",
              # judging what an external client sends (conform_steps.py)
              "check_dialect", "expect_client", "expect_client_none", "expect_client_count", "capture_fault")
# Steps that need control of the venue: skipped (with the reason) under --target.
VENUE_CONTROL = {"advance": "needs the venue's clock", "control": "needs the venue's control plane",
                 "fault": "needs the venue's fault engine", "wait_fault": "needs the venue's fault engine",
                 "check_dialect": "needs the venue's journal", "capture_fault": "needs the venue's fault engine"}


@dataclass
class Step:
    kind: str
    args: Any                     # normalised arguments (a dict for most kinds)
    line: int
    path: str                     # e.g. steps[3].expect
    children: list["Step"] = field(default_factory=list)          # repeat
    branches: list[list["Step"]] = field(default_factory=list)    # parallel


@dataclass
class Setup:
    config: dict = field(default_factory=dict)       # SimConfig field -> parsed value
    clock: str = "virtual"
    start: str | float | None = None
    accounts: dict = field(default_factory=dict)     # name -> {"balance": str, "tier": str}
    markets: list = field(default_factory=list)      # (product, Market)
    orders: list = field(default_factory=list)       # dicts with "line"
    pauses: list = field(default_factory=list)       # dicts: kind, product


@dataclass
class Scenario:
    name: str
    file: Path
    line: int
    description: str = ""
    spec: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)
    portable: bool = False
    seed: int = 1
    setup: Setup = field(default_factory=Setup)
    faults: list[tuple[dict, int]] = field(default_factory=list)   # (rule, line)
    steps: list[Step] = field(default_factory=list)
    conform: dict | None = None       # meta.conform of a conformance case (simulator/conform/cases.py)
    kit: dict = field(default_factory=dict)   # the kit variables it was loaded with (scenario/kitvars.py)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    @property
    def needs_external_client(self) -> bool:
        """Has a `connect: {client: external}`: only a client under test (pytest, conform) can play it."""
        def walk(steps):
            for st in steps:
                if st.kind == "connect" and st.args.get("client") == "external":
                    return True
                if walk(st.children) or any(walk(b) for b in st.branches):
                    return True
            return False
        return walk(self.steps)
