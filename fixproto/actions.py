"""What an interceptor may return besides frames: transport actions, sans-IO (issue 12 §1).

An interceptor's `inbound(frame)` / `outbound(frame)` returns an iterable of items. A `bytes`
item is a frame (or any bytes) to pass on; the items below are instructions the driver
(fixproto/aio.py, the one asyncio module) carries out in order on that direction's lane.
Everything after a `Wait` on the same lane waits too, so a delay never reorders a stream
(reordering is a fault of its own). Nothing here does I/O or reads a clock.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

__all__ = ["Wait", "Close", "HalfClose", "PauseReading", "Later", "Action"]


@dataclass(frozen=True)
class Wait:
    """Hold this lane for `seconds`: later items of the lane (and later frames) go after it."""
    seconds: float


@dataclass(frozen=True)
class Close:
    """Close the connection here. `reset`: TCP RST (SO_LINGER 0, then close), not a FIN;
    `flush`: for a FIN, what was written before still leaves first."""
    reset: bool = False


@dataclass(frozen=True)
class HalfClose:
    """Shut the write side (the peer reads EOF) while still reading what it sends."""


@dataclass(frozen=True)
class PauseReading:
    """Stop reading from the socket for `seconds` (the peer's writes back up in TCP)."""
    seconds: float


@dataclass(frozen=True)
class Later:
    """Call `callback()` after `seconds` and run the items it returns on the same lane then
    (a frame held back by a fault, coalesced frames flushed by a timeout, ...)."""
    seconds: float
    callback: Callable[[], Iterable[Any]]


Action = Wait | Close | HalfClose | PauseReading | Later
