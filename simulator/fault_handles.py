"""The Python door to fault rules (issue 12 §3): `fix_exchange.faults.add(...)` and its handles.

    with fix_exchange.faults.add(fault="drop", session="RT", match={"35": "8"}, times=1) as rule:
        ...                       # the rule is installed here
        assert rule.hits == 1
    # removed on leaving the block

The rule is the same plain dict POST /faults takes (keyword arguments or one dict). Calls run
on the simulator's event loop thread, so they are safe from a test's own thread.
"""
from __future__ import annotations

from typing import Any, Callable

__all__ = ["FaultsProxy", "FaultHandle"]


class FaultHandle:
    """One installed rule: `.id`, `.hits`, `.info()`, `.remove()`; a context manager."""

    def __init__(self, call: Callable, service_of: Callable, rule_id: str, run: Callable | None = None) -> None:
        self._call = call
        self._service_of = service_of
        self._run = run  # runs a coroutine on the simulator's loop and returns its result
        self.id = rule_id

    def info(self) -> dict:
        """The rule as GET /faults/{id} shows it (hits, whether still active, recent marks)."""
        found = self._call(lambda: self._service_of().get(self.id))
        if found is None:
            raise KeyError(f"fault rule {self.id} is not installed")
        return found

    @property
    def hits(self) -> int:
        return self.info()["hits"]

    @property
    def active(self) -> bool:
        return self.info()["active"]

    def wait_hits(self, count: int = 1, timeout: float = 10.0) -> int:
        """Block until the rule has applied `count` times (no polling); TimeoutError after
        `timeout` seconds. Returns the hit count."""
        import asyncio

        async def wait() -> int:
            return await asyncio.wait_for(self._service_of().wait_hits(self.id, count), timeout)
        return self._run(wait(), timeout + 1)

    def remove(self) -> None:
        """Remove the rule (no error if it is gone already)."""
        def _remove() -> None:
            service = self._service_of()
            if service.get(self.id) is not None:
                service.remove(self.id)
        self._call(_remove)

    def __enter__(self) -> "FaultHandle":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"FaultHandle({self.id!r})"


class FaultsProxy:
    def __init__(self, call: Callable, service_of: Callable, run: Callable | None = None) -> None:
        self._call = call
        self._service_of = service_of
        self._run = run

    def add(self, rule: dict | None = None, /, **fields: Any) -> FaultHandle:
        """Install a rule (faults.RuleError naming the field if it is bad: nothing installed)."""
        data = {**(rule or {}), **fields}
        state = self._call(lambda: self._service_of().add(data))
        return FaultHandle(self._call, self._service_of, state.id, self._run)

    def list(self) -> list[dict]:
        return self._call(lambda: self._service_of().list())

    def clear(self) -> int:
        return self._call(lambda: self._service_of().clear())

    def catalogue(self) -> list[dict]:
        return self._service_of().catalogue()
