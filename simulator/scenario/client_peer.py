"""`connect: {raw: false}`: the session is the reference client (kalshi_fixsim.client.FixClient),
with its own session handling (resends, PossResend dedupe, Logon flags); every frame it
receives is still queued for `expect`, as on a raw session (peer.py).

The simulator never imports the client (DESIGN.md §2): the glue (simulator/cli.py, the pytest
plugin) hands the client classes over with `use_client(lambda: (FixClient, LogonOptions))`.
"""
from __future__ import annotations

import asyncio

from .peer import RawPeer

_client_factory = None


def use_client(factory) -> None:
    """Set by the glue: factory() -> (FixClient, LogonOptions)."""
    global _client_factory
    _client_factory = factory


class ClientPeer(RawPeer):
    """A RawPeer whose FIX session is a FixClient's: open() keeps the connector, logon() connects."""

    def __init__(self, name: str, product: str, code: str, api_key: str, private_key_path, clock, *,
                 heartbeat: int = 30, options: dict | None = None, deterministic: bool = False, record=None,
                 store=None, reset: bool | None = None) -> None:
        super().__init__(name, product, code, api_key, private_key_path, clock, heartbeat=heartbeat,
                         options=options, deterministic=deterministic, record=record, store=store)
        if _client_factory is None:
            raise ValueError("raw: false needs the reference client: run it with `kalshi-fixsim scenario run` "
                             "or the pytest plugin")
        FixClient, LogonOptions = _client_factory()  # noqa: N806 - classes
        self.client = FixClient(api_key=api_key, private_key=private_key_path, product=product, session=code,
                                heartbeat=heartbeat, options=LogonOptions(**(options or {})), reset=reset, store=store,
                                clock=clock, interceptor=self, connector=lambda factory: None,
                                deterministic_signature=deterministic)
        self._never = asyncio.get_running_loop().create_future()
        self._connecting: asyncio.Task | None = None

    @property
    def store(self):
        return self.client.store

    @property
    def closed(self) -> asyncio.Future:
        return self.client.driver.closed if self.client.driver is not None else self._never

    async def open(self, connector, timeout: float) -> None:
        self.client.connector = connector
        self.client.connect_timeout = timeout

    def logon(self, reset: bool | None) -> None:
        async def connecting():
            try:
                reply = await self.client.connect()
            except Exception as exc:  # noqa: BLE001 - LogonError and friends: the connect step's failure
                if not self.logged_on.done():
                    self.logged_on.set_exception(ConnectionError(str(exc)))
                    self.logged_on.exception()
                return
            if not self.logged_on.done():
                self.logged_on.set_result(reply)
        self._connecting = asyncio.get_running_loop().create_task(connecting())

    @property
    def driver(self):
        client = self.__dict__.get("client")
        return client.driver if client is not None else None

    @driver.setter
    def driver(self, value) -> None:
        pass  # RawPeer.__init__ sets it; the FixClient owns its driver

    def send(self, msg_type: str, fields: list[tuple[int, str]]) -> None:
        from .peer import HEADER_OVERRIDES
        if any(t in HEADER_OVERRIDES for t, _ in fields):
            raise ValueError("header overrides (MsgSeqNum, SendingTime, PossDupFlag, ...) need a raw session "
                             "(connect: {raw: true})")
        self.client.send(msg_type, fields)

    def logout(self, text: str) -> None:
        self.client.driver.logout(text)

    def abort(self) -> None:
        self.client.driver.abort()
