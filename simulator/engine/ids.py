"""Identifiers: UUIDs from the injected RNG (DESIGN.md §3 rule 8) and ExecIDs (spec 02 §8.2)."""
from __future__ import annotations

import random

__all__ = ["new_uuid", "Uuids", "ExecIds"]

_VERSION_MASK = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_BITS = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def new_uuid(rng: random.Random) -> str:
    """A version-4 UUID string built from `rng.getrandbits(128)` (same text as uuid.UUID(int=..., version=4))."""
    h = "%032x" % ((rng.getrandbits(128) & _VERSION_MASK) | _VERSION_BITS)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Uuids:
    """Version-4 UUIDs for order and trade ids at a quarter of `new_uuid`'s cost (the engine's
    hot path makes one per order and one per match).

    The first 76 bits are drawn once from the seeded RNG; the last group is a 48-bit counter
    passed through an affine bijection mod 2^48 (random odd multiplier and offset), so ids
    never repeat within 2^48 and do not look sequential. Deterministic for a seed."""

    __slots__ = ("_prefix", "_n", "_mul", "_add")

    def __init__(self, rng: random.Random) -> None:
        self._prefix = new_uuid(rng)[:24]  # "xxxxxxxx-xxxx-4xxx-yxxx-": version and variant set
        self._mul = rng.getrandbits(48) | 1
        self._add = rng.getrandbits(48)
        self._n = 0

    def __call__(self) -> str:
        n = self._n = self._n + 1
        return f"{self._prefix}{(n * self._mul + self._add) & 0xFFFF_FFFF_FFFF:012x}"

    def fork(self, salt: str) -> "Uuids":
        """A generator with its own random prefix, seeded from this one's and `salt`:
        deterministic, and (76 random bits) never issuing this one's ids."""
        return Uuids(random.Random(f"{self._prefix}/{self._mul}/{salt}"))


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
        if self._index < 0:  # the first id of a call (begin() emptied _saved): its index's clock moves
            clock = self.clocks.get(index, 0) + 1
            self.clocks[index] = clock
            prefix = self._prefix = f"{clock};"
            suffix = self._suffix = f";{index}" if index else ""
            self._index = index
            self._n = 1
            return f"{prefix}1{suffix}"
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
