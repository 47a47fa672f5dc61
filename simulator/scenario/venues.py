"""Where a scenario runs: a simulator on the runner's loop (virtual clock, in-memory
connections), a simulator on its own thread (real clock, TLS on port 0: the CLI's real-clock
runs and `fix_exchange.run_scenario`), or any venue given by `--target` (no venue control).
"""
from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

from ...fixproto.aio import SystemClock


class NoControl(Exception):
    """The venue offers no control plane (a --target run): the step is skipped."""


def _tls_connector(host: str, port: int, ca_file: Path | None, server_hostname: str | None = None):
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2

    def connect(factory):
        return asyncio.get_running_loop().create_connection(factory, host, port, ssl=ctx,
                                                            server_hostname=server_hostname or host)
    return connect


class LocalVenue:
    """A Simulator started on the runner's own (virtual) loop; everything is called directly."""

    has_control = True
    deterministic = True

    def __init__(self, sim, accounts: dict) -> None:
        self.sim, self.accounts = sim, accounts
        self.clock = sim.clock

    async def control(self, op: str, **kwargs) -> Any:
        return getattr(self.sim.control, op)(**kwargs)

    async def add_fault(self, rule: dict) -> None:
        self.sim.faults.add(rule)

    async def remove_fault(self, rule_id: str) -> None:
        self.sim.faults.remove(rule_id)

    async def clear_faults(self) -> None:
        self.sim.faults.clear()

    async def wait_fault(self, rule_id: str, hits: int, timeout: float) -> int:
        return await asyncio.wait_for(self.sim.faults.wait_hits(rule_id, hits), timeout)

    async def advance(self, seconds: float) -> None:
        from ..virtual_clock import advance
        await advance(seconds)

    def connector(self, product: str, session: str):
        return self.sim.in_memory_connector(product, session)

    async def journal(self) -> list | None:
        return list(self.sim.transcript.entries)


class ThreadVenue:
    """A SimulatorThread (real clock, TLS on 127.0.0.1 port 0): operations hop to its loop."""

    has_control = True
    deterministic = False

    def __init__(self, runner, accounts: dict, ca_file: Path) -> None:
        self.runner, self.accounts, self.ca_file = runner, accounts, ca_file
        self.sim = runner.sim
        self.clock = SystemClock()

    async def _on_sim(self, fn, timeout: float = 10.0):
        async def call():
            return fn()
        return await asyncio.wait_for(asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), self.runner.loop)),
                                      timeout)

    async def control(self, op: str, **kwargs) -> Any:
        return await self._on_sim(lambda: getattr(self.sim.control, op)(**kwargs))

    async def add_fault(self, rule: dict) -> None:
        await self._on_sim(lambda: self.sim.faults.add(rule))

    async def remove_fault(self, rule_id: str) -> None:
        await self._on_sim(lambda: self.sim.faults.remove(rule_id))

    async def clear_faults(self) -> None:
        await self._on_sim(lambda: self.sim.faults.clear())

    async def wait_fault(self, rule_id: str, hits: int, timeout: float) -> int:
        async def waiting():
            return await self.sim.faults.wait_hits(rule_id, hits)
        future = asyncio.run_coroutine_threadsafe(waiting(), self.runner.loop)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        finally:
            future.cancel()

    async def advance(self, seconds: float) -> None:
        await asyncio.sleep(seconds)  # a real clock: `advance` waits (docs/scenarios.md)

    def connector(self, product: str, session: str):
        ep = self.sim.endpoint(product, session)
        return _tls_connector(ep.host, ep.port, self.ca_file)

    async def journal(self) -> list | None:
        return await self._on_sim(lambda: list(self.sim.transcript.entries))

    feed = None          # external.ConnFeed: the venue's connection events, made at the first external()
    since_now = False    # True (conform): an external session starts with empty queues

    def external(self, name: str, product: str, code: str, api_key: str):
        """A session of a client the runner does not drive, judged from the venue's side (external.py)."""
        from .external import ConnFeed, watch_feed

        if self.feed is None:
            self.feed = ConnFeed()
            watch_feed(self.runner.loop, self.sim, self.feed)
            self._own_feed = True
        return self.feed.peer(name, product, code, api_key, since_now=self.since_now)

    def close(self) -> None:
        if getattr(self, "_own_feed", False) and self.feed is not None:
            self.feed.close()
            self.feed = None


class TargetVenue:
    """Any venue (e.g. Kalshi demo): connections only; venue-control steps are skipped."""

    has_control = False
    deterministic = False

    def __init__(self, target) -> None:
        self.target = target
        self.accounts = target.accounts
        self.clock = SystemClock()

    async def control(self, op: str, **kwargs) -> Any:
        raise NoControl("needs the venue's control plane")

    async def add_fault(self, rule: dict) -> None:
        raise NoControl("needs the venue's fault engine")

    async def remove_fault(self, rule_id: str) -> None:
        raise NoControl("needs the venue's fault engine")

    async def clear_faults(self) -> None:
        raise NoControl("needs the venue's fault engine")

    async def wait_fault(self, rule_id: str, hits: int, timeout: float) -> int:
        raise NoControl("needs the venue's fault engine")

    async def advance(self, seconds: float) -> None:
        raise NoControl("needs the venue's clock")

    def connector(self, product: str, session: str):
        host, port = self.target.address(product, session)
        return _tls_connector(host, port, self.target.ca_file, self.target.server_hostname)

    async def journal(self) -> list | None:
        return None  # the runner's own record of its sessions is the transcript
