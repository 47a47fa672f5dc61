"""Drop copy (KalshiDC, spec 04): request a range of past ExecutionReports and collect the replay.

    async with FixClient(session="DC", ...) as dc:
        replay = await request_replay(dc, "812;3", "815;1")
        replay.ok, replay.count, [r.get(17) for r in replay.reports]

ExecIDs are `clock;event` (exchange index 0) or `clock;event;index`; they order numerically,
clock first (spec 02 §8.2): use `exec_id_key` to sort or de-duplicate, never string order.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kalshi_fixsim.fixproto.codec import FixMessage

if TYPE_CHECKING:
    from .session import FixClient

__all__ = ["event_resend_request", "request_replay", "Replay", "exec_id_key", "REJECT_REASONS"]

Body = list[tuple[int, object]]
REJECT_REASONS = {1: "RATE_LIMITED", 2: "SERVER_ERROR", 3: "BEGIN_EXECID_TOO_SMALL", 4: "END_EXECID_TOO_LARGE"}


def event_resend_request(begin: str, end: str | None = None) -> Body:
    """EventResendRequest (35=U1) body: BeginExecID(21001), optional EndExecID(21002), inclusive."""
    body: Body = [(21001, begin)]
    if end is not None:
        body.append((21002, end))
    return body


def exec_id_key(exec_id: str) -> tuple[int, int, int] | None:
    """(exchange index, clock, event) for sorting and de-duplication; None for `-1;-1` or junk."""
    parts = exec_id.split(";")
    if len(parts) not in (2, 3) or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    clock, event = int(parts[0]), int(parts[1])
    return (int(parts[2]) if len(parts) == 3 else 0), clock, event


@dataclass
class Replay:
    """The answer to one U1: the replayed reports and how it ended."""
    request_seq: int
    reports: list[FixMessage] = field(default_factory=list)
    complete: FixMessage | None = None   # EventResendComplete (U2)
    reject: FixMessage | None = None     # EventResendReject (U3), session Reject (3) or BMR (j)

    @property
    def ok(self) -> bool:
        return self.complete is not None

    @property
    def count(self) -> int | None:
        """ResendEventCount(21003) of the U2."""
        value = self.complete.get(21003) if self.complete is not None else None
        return int(value) if value is not None else None

    @property
    def reason(self) -> int | None:
        """EventResendRejectReason(21004) of a U3."""
        value = self.reject.get(21004) if self.reject is not None else None
        return int(value) if value is not None else None


async def request_replay(fix: "FixClient", begin: str, end: str | None = None, timeout: float = 30.0) -> Replay:
    """Send a U1 and gather the ExecutionReports until its U2, U3, Reject or BMR (matched by
    RefSeqNum(45)). Reports arriving meanwhile are the replay (spec 04 §6)."""
    seq = fix.send("U1", event_resend_request(begin, end))
    replay = Replay(seq)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await fix.receive(max(0.0, deadline - loop.time()))
        msg_type = msg.msg_type
        if msg_type == "8":
            replay.reports.append(msg)
        elif msg.get(45) == str(seq):
            if msg_type == "U2":
                replay.complete = msg
                return replay
            if msg_type in ("U3", "3", "j"):
                replay.reject = msg
                return replay
