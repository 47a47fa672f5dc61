"""`connect: {client: external}`: the test's own client is the session; the runner watches
the venue's journal (sim.transcript) for it and judges it by `expect` (pytest plugin only)."""
from __future__ import annotations

import asyncio
from collections import deque

from ...fixproto.codec import FixMessage, parse
from .peer import Received


class ExternalPeer:
    """Messages the venue sent to the client of `api_key` on (product, session), from its Logon on."""

    def __init__(self, name: str, prefix: str, loop: asyncio.AbstractEventLoop) -> None:
        self.name, self.prefix, self.loop = name, prefix, loop
        self.inbox: deque[Received] = deque()
        self.logged_on: asyncio.Future = loop.create_future()
        self.closed: asyncio.Future = loop.create_future()
        self._arrived: asyncio.Future | None = None
        self._logouts = set()
        self.driver = None  # nothing to abort: the client is the test's

    def feed(self, time: float, session: str, direction: str, frame: bytes) -> None:
        """On the runner's loop: one journal entry of any session."""
        if not session.startswith(self.prefix) or not frame.startswith(b"8="):
            return  # another session, or a fault mark (a frame without BeginString: never on the wire)
        try:
            message = parse(frame)
        except Exception:  # noqa: BLE001
            message = FixMessage([])
        kind = message.get(35)
        if direction == "out" and kind == "A":  # the venue's Logon answer: the first entry with the session id
            if not self.logged_on.done():
                self.logged_on.set_result(None)
            return
        if not self.logged_on.done():
            return
        if kind == "5":
            self._logouts.add(direction)
            if len(self._logouts) == 2 and not self.closed.done():
                from ...fixproto.events import Disconnect
                self.closed.set_result(Disconnect("logout", "Logout both ways"))
        if direction == "out":
            self.inbox.append(Received(time, frame, message))
            if self._arrived is not None and not self._arrived.done():
                self._arrived.set_result(None)

    async def wait_arrival(self, timeout: float) -> bool:
        self._arrived = self.loop.create_future()
        try:
            await asyncio.wait_for(asyncio.shield(self._arrived), timeout)
            return True
        except asyncio.TimeoutError:
            return False


def watch_journal(sim_loop, sim, runner_loop, sink) -> callable:
    """Forward every journal entry (time, session, direction, frame) of `sim` to sink() on the
    runner's loop; returns the function that stops it. Entries already there are replayed."""
    transcript = sim.transcript
    original = transcript.add

    def add(direction, endpoint, session, frame, note=""):
        entry = original(direction, endpoint, session, frame, note)
        runner_loop.call_soon_threadsafe(sink, entry.time, session, direction, frame)
        return entry

    async def install():
        for e in list(transcript.entries):
            runner_loop.call_soon_threadsafe(sink, e.time, e.session, e.direction, e.frame)
        transcript.add = add

    async def remove():
        transcript.__dict__.pop("add", None)

    asyncio.run_coroutine_threadsafe(install(), sim_loop).result(10)
    return lambda: asyncio.run_coroutine_threadsafe(remove(), sim_loop).result(10)
