"""The driver's lanes: transport actions an interceptor returns (fixproto/actions.py, issue 12)."""
from __future__ import annotations

import asyncio

from kalshi_fixsim.fixproto.actions import Close, Later, Wait
from kalshi_fixsim.fixproto.codec import iter_frames, parse
from tests.unit.test_aio import frame, logged_on_driver


async def written(transport, needle: bytes, timeout: float = 2.0) -> None:
    """Wait until the transport has been given `needle` (the fault's timer fired)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while needle not in transport.written:
        assert loop.time() < deadline, f"{needle!r} never written"
        await asyncio.sleep(0)  # yield to the loop: the lane's timer runs


class Scripted:
    """Outbound: what `plan(frame)` says; inbound: frames unchanged."""

    def __init__(self, plan):
        self.plan = plan

    def inbound(self, f):
        return [f]

    def outbound(self, f):
        return self.plan(f)


def test_a_wait_holds_the_frame_and_everything_behind_it_in_order():
    async def scenario():
        first = [True]

        def plan(f):
            if b"112=T1" in f and first[0]:
                first[0] = False
                return [Wait(0.05), f]
            return [f]
        driver, transport = logged_on_driver(lambda d, e: None, Scripted(plan))
        driver.enable_actions()
        driver.feed(frame("1", 2, [(112, "T1")]) + frame("1", 3, [(112, "T2")]))
        assert transport.written == b""                       # both held: order kept
        started = asyncio.get_running_loop().time()
        await written(transport, b"112=T2")
        assert asyncio.get_running_loop().time() - started >= 0.04
        assert [parse(f).get(112) for f in iter_frames(transport.written)] == ["T1", "T2"]
    asyncio.run(scenario())


def test_a_close_after_held_frames_waits_for_them():
    async def scenario():
        driver, transport = logged_on_driver(lambda d, e: None, Scripted(lambda f: [f]))
        driver.enable_actions()
        driver.run_actions(outbound=[Wait(0.05)])
        driver.feed(frame("5", 2))                            # the peer logs out: we answer and close
        assert not transport.closing and transport.written == b""  # the answer is held behind the Wait
        await written(transport, b"35=5")
        assert transport.closing
    asyncio.run(scenario())


def test_later_runs_its_callback_and_writes_what_it_returns():
    async def scenario():
        driver, transport = logged_on_driver(lambda d, e: None, Scripted(lambda f: [f]))
        driver.run_actions(outbound=[Later(0.02, lambda: [b"late"])])
        assert b"late" not in transport.written
        await written(transport, b"late")
        driver.run_actions(outbound=[Close()])
        assert transport.closing
    asyncio.run(scenario())
