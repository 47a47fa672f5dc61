"""Identifiers: UUIDs from the injected RNG (DESIGN.md §3 rule 8) and ExecIDs (spec 02 §8.2)."""
from __future__ import annotations

import random

__all__ = ["new_uuid", "ExecIds"]

_VERSION_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_BITS = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID string built from `rng.getrandbits(128)` (same text as uuid.UUID(int=..., version=4))."""
    h = "%032x" % ((rng.getrandbits(128) & _VERSION_MASK) | _VERSION_BITS)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class ExecIds:
    """ExecID(17) `clock;event` (index 0) or `clock;event;index` (spec 02 §8.2, spec 00 §6).

    `clock` moves once per engine call that produces events on an exchange index; `event`
    counts from 1 within that call. Call `begin()` at the start of every engine call."""

    __slots__ = ("clocks", "_saved", "_index", "_prefix", "_suffix", "_n")

    def __init__(self) -> None:
        self.clocks: dict[int, int] = {}
        self._saved: dict[int, tuple[str, str, int]] = {}  # other indexes touched in this call
        self._index = -1                                    # the index of the last id handed out
        self._prefix = self._suffix = ""
        self._n = 0

    def begin(self) -> None:
        self._index = -1
        if self._saved:
            self._saved = {}

    def next(self, index: int) -> str:
        if index == self._index:  # the usual case: one index per call
            n = self._n = self._n + 1
            return f"{self._prefix}{n}{self._suffix}"
        if self._index >= 0:
            self._saved[self._index] = (self._prefix, self._suffix, self._n)
        saved = self._saved.get(index)
        if saved is None:
            clock = self.clocks.get(index, 0) + 1
            self.clocks[index] = clock
            saved = (f"{clock};", f";{index}" if index else "", 0)
        self._prefix, self._suffix, n = saved
        self._index = index
        n = self._n = n + 1
        return f"{self._prefix}{n}{self._suffix}"
