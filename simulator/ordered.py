"""An insertion-ordered set, for collections whose iteration order reaches the wire.

A plain set of connections iterates in hash order, and a connection's hash is its address:
the order of the Logouts of a maintenance window, or of the disconnects of a reset, would
change from run to run. Visiting connections in the order they came keeps virtual-clock runs
byte-identical (issue 12 §4).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableSet
from typing import TypeVar

__all__ = ["OrderedSet"]

T = TypeVar("T")


class OrderedSet(MutableSet[T]):
    __slots__ = ("_items",)

    def __init__(self, items: Iterable[T] = ()) -> None:
        self._items: dict[T, None] = dict.fromkeys(items)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T) -> None:
        self._items[item] = None

    def discard(self, item: T) -> None:
        self._items.pop(item, None)

    def __repr__(self) -> str:
        return f"OrderedSet({list(self._items)!r})"
