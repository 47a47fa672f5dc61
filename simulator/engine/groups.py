"""Order groups (spec 03): a contracts limit over a rolling 15 s window of fills.

The registry keeps, per group, its resting orders and the rolling filled volume. The
exchange owns the cancels (exchange.py) so that events come out in one place.
"""
from __future__ import annotations

from .types import QTY_SCALE, GroupState, Order, OrderGroup

__all__ = ["WINDOW", "MAX_LIMIT", "GroupRegistry"]

WINDOW = 15.0          # seconds, rolling (spec 03 §1)
MAX_LIMIT = 1_000_000  # OrderGroupContractsLimit 1..1,000,000 (spec 03 §1)


class GroupRegistry:
    def __init__(self, *, trigger_at_limit: bool = False) -> None:
        self.groups: dict[str, OrderGroup] = {}
        self.orders: dict[str, dict[str, Order]] = {}   # group id -> resting orders (priority order)
        self._volume: dict[str, int] = {}               # group id -> hundredths in group.fills
        # spec 03 §1 open question: trigger when the rolling total exceeds (default) or reaches the limit
        self.trigger_at_limit = trigger_at_limit

    def create(self, group_id: str, account: str, subaccount: int, limit: int) -> OrderGroup:
        group = OrderGroup(group_id=group_id, account=account, subaccount=subaccount, limit=limit)
        self.groups[group_id] = group
        self.orders[group_id] = {}
        self._volume[group_id] = 0
        return group

    def owned(self, group_id: str | None, account: str, subaccount: int) -> OrderGroup | None:
        """The group if it exists and belongs to (account, subaccount) (spec 03 §1 Ownership)."""
        group = self.groups.get(group_id) if group_id is not None else None
        if group is None or group.account != account or group.subaccount != subaccount:
            return None
        return group

    def remove(self, group_id: str) -> None:
        del self.groups[group_id]
        del self.orders[group_id]
        del self._volume[group_id]

    def _prune(self, group: OrderGroup, now: float) -> int:
        fills = group.fills
        horizon = now - WINDOW
        if fills and fills[0][0] <= horizon:
            i = 0
            dropped = 0
            while i < len(fills) and fills[i][0] <= horizon:
                dropped += fills[i][1]
                i += 1
            del fills[:i]
            self._volume[group.group_id] -= dropped
        return self._volume[group.group_id]

    def rolling(self, group: OrderGroup, now: float) -> int:
        """Filled hundredths in the 15 s window ending at `now`."""
        return self._prune(group, now)

    def over(self, group: OrderGroup, volume: int, limit: int | None = None) -> bool:
        cap = (group.limit if limit is None else limit) * QTY_SCALE
        return volume >= cap if self.trigger_at_limit else volume > cap

    def add_fill(self, group: OrderGroup, qty: int, now: float) -> bool:
        """Count a fill; True when it takes an Active group over its limit (spec 03 §1)."""
        volume = self._prune(group, now) + qty
        group.fills.append((now, qty))
        self._volume[group.group_id] = volume
        return group.state is GroupState.ACTIVE and self.over(group, volume)

    def reset(self, group: OrderGroup) -> None:
        """Clears the triggered state and the rolling counter (spec 03 §1 Reset)."""
        group.state = GroupState.ACTIVE
        group.fills.clear()
        self._volume[group.group_id] = 0
