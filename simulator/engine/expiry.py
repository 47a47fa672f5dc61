"""Day and GTD expiry (spec 02 §4): the end of the ET trading day and a queue of deadlines."""
from __future__ import annotations

import heapq
from datetime import datetime
from zoneinfo import ZoneInfo

from .types import Order, OrderStatus

__all__ = ["NEW_YORK", "day_end", "DayEnd", "ExpiryQueue"]

NEW_YORK = ZoneInfo("America/New_York")


def day_end(now: float) -> float:
    """23:59:59.999 America/New_York of the day `now` falls on, as epoch seconds (DST-correct)."""
    local = datetime.fromtimestamp(now, NEW_YORK)
    end = local.replace(hour=23, minute=59, second=59, microsecond=999_000)
    return round(end.timestamp(), 3)


class DayEnd:
    """`day_end` with the last day cached: one datetime computation per day, not per order."""

    __slots__ = ("_start", "_end")

    def __init__(self) -> None:
        self._start = self._end = -1.0

    def __call__(self, now: float) -> float:
        if self._start <= now <= self._end:
            return self._end
        end = day_end(now)
        local = datetime.fromtimestamp(now, NEW_YORK)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        # 00:00 ET may not exist on a DST day in some zones; NY changes at 02:00, so it does.
        self._start = midnight.timestamp()
        self._end = end
        return end


class ExpiryQueue:
    """Deadlines of resting DAY/GTD orders; entries of orders gone since are skipped lazily."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Order]] = []
        self._seq = 0

    def push(self, order: Order) -> None:
        """Once per order, when it first rests (a replace keeps the order's deadline)."""
        if order.expire_time is not None:
            self._seq += 1
            heapq.heappush(self._heap, (order.expire_time, self._seq, order))

    @staticmethod
    def _live(entry: tuple[float, int, Order]) -> bool:
        t, _, order = entry
        return order.status in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED) and order.expire_time == t

    def prune(self) -> None:
        """Drop the entries of orders that ended or moved their deadline (a cancelled GTD order
        would otherwise stay here, whole, until its old deadline)."""
        live = [entry for entry in self._heap if self._live(entry)]
        if len(live) < len(self._heap):
            heapq.heapify(live)
            self._heap = live

    def next(self) -> float | None:
        heap = self._heap
        while heap and not self._live(heap[0]):
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def due(self, now: float) -> list[Order]:
        """Pop the live orders whose deadline is <= now, earliest first."""
        out = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            entry = heapq.heappop(heap)
            if self._live(entry):
                out.append(entry[2])
        return out

