"""Order-group actions (spec 03 §2): create, reset, delete, trigger, update. A mixin of `Exchange`.

Reset/Delete/Trigger/Update return the cancel events, or the string "ORDER_GROUP_NOT_FOUND"
for an unknown id or a group owned by another (account, subaccount) (spec 03 §1 Ownership).
The limit is validated by the gateway (1..1,000,000); here a bad one is a caller bug.
"""
from __future__ import annotations

from .accounts import MAX_SUBACCOUNT
from .groups import MAX_LIMIT
from .ids import new_uuid
from .types import Event, GroupState, OrderGroup

__all__ = ["GroupOpsMixin", "ORDER_GROUP_NOT_FOUND"]

ORDER_GROUP_NOT_FOUND = "ORDER_GROUP_NOT_FOUND"


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"order group limit {limit} outside 1..{MAX_LIMIT}")


class GroupOpsMixin:
    """Needs from Exchange: _groups, _ledger, _rng, _eids, _trigger, _cancel_group_orders."""

    def group(self, group_id: str) -> OrderGroup | None:
        return self._groups.groups.get(group_id)

    def groups(self, account: str | None = None) -> list[OrderGroup]:
        return [g for g in self._groups.groups.values() if account is None or g.account == account]

    def group_volume(self, group_id: str, now: float) -> int:
        """Filled hundredths in the group's rolling 15 s window ending at `now`."""
        return self._groups.rolling(self._groups.groups[group_id], now)

    def create_group(self, account: str, subaccount: int, limit: int, now: float) -> OrderGroup:
        """A new Active group; the id is a UUID from the exchange's RNG (spec 03 §1 IDs)."""
        if account not in self._ledger.accounts:
            raise ValueError(f"unknown account {account!r}")
        if not 0 <= subaccount <= MAX_SUBACCOUNT:
            raise ValueError(f"subaccount {subaccount} outside 0..{MAX_SUBACCOUNT}")
        _check_limit(limit)
        group_id = new_uuid(self._rng)
        while group_id in self._groups.groups:  # pragma: no cover - 122 random bits
            group_id = new_uuid(self._rng)
        return self._groups.create(group_id, account, subaccount, limit)

    def reset_group(self, account: str, subaccount: int, group_id: str, now: float) -> list[Event] | str:
        """Triggered -> Active and the rolling count -> 0 (spec 03 §2 Reset)."""
        group = self._groups.owned(group_id, account, subaccount)
        if group is None:
            return ORDER_GROUP_NOT_FOUND
        self._groups.reset(group)
        return []

    def delete_group(self, account: str, subaccount: int, group_id: str, now: float) -> list[Event] | str:
        """Cancel every resting order of the group (ORDER_GROUP) and remove it (spec 03 §2 Delete)."""
        group = self._groups.owned(group_id, account, subaccount)
        if group is None:
            return ORDER_GROUP_NOT_FOUND
        self._eids.begin()
        events: list[Event] = []
        self._cancel_group_orders(group, now, events)
        self._groups.remove(group_id)
        return events

    def trigger_group(self, account: str, subaccount: int, group_id: str, now: float) -> list[Event] | str:
        """Cancel every resting order now; Triggered until Reset (spec 03 §2 Trigger)."""
        group = self._groups.owned(group_id, account, subaccount)
        if group is None:
            return ORDER_GROUP_NOT_FOUND
        self._eids.begin()
        events: list[Event] = []
        self._trigger(group, now, events)
        return events

    def update_group(self, account: str, subaccount: int, group_id: str, now: float,
                     limit: int) -> list[Event] | str:
        """New limit; when the rolling volume is already over it, trigger at once (spec 03 §2 Update)."""
        group = self._groups.owned(group_id, account, subaccount)
        if group is None:
            return ORDER_GROUP_NOT_FOUND
        _check_limit(limit)
        group.limit = limit
        events: list[Event] = []
        if group.state is GroupState.ACTIVE and self._groups.over(group, self._groups.rolling(group, now)):
            self._eids.begin()
            self._trigger(group, now, events)
        return events
