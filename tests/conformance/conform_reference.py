"""The reference client as a `conform.run(client=...)` callable: our FixClient on its own thread
and loop, doing what the client contract asks (docs/conform.md "The client contract"): log on,
stay logged on, reconnect with backoff forever, and on NR/RT keep a small order flow going (a
limit buy at 1¢ / $0.0001 every 2 s, cancelled when it rests). Stopping logs out."""
from __future__ import annotations

import asyncio
import itertools
import random
import threading

from kalshi_fixsim.client import FixClient, LogonError
from kalshi_fixsim.fixproto.store import MemoryStore

_ids = itertools.count(1)


class ReferenceClient:
    def __init__(self, info, *, orders: bool = True, seed: int = 0, interceptor=None) -> None:
        self.info = info
        self.interceptor = interceptor  # a broken client for the tests: e.g. drop what it receives
        self.orders = orders and info.session in ("NR", "RT")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="reference-client")
        self.client: FixClient | None = None
        self.task = None
        self.seed = seed

    def start(self) -> "ReferenceClient":
        self.thread.start()

        async def spawn():
            return asyncio.get_running_loop().create_task(self._main())
        self.task = asyncio.run_coroutine_threadsafe(spawn(), self.loop).result(5)
        return self

    async def _main(self) -> None:
        info = self.info
        client = self.client = FixClient(
            product=info.product, session=info.session, host=info.host, port=info.port, api_key=info.api_key,
            private_key=info.key_file, ca_file=info.ca_file, heartbeat=int(info.heartbeat), reconnect=True,
            max_reconnects=10**9, backoff_base=0.5, backoff_cap=4.0, store=MemoryStore(),
            rng=random.Random(self.seed), connect_timeout=10.0, interceptor=self.interceptor)
        while not client._closing:
            try:
                await client.connect_with_retry(10**9)
                break
            except LogonError:
                await asyncio.sleep(client.backoff(3))
        while not client._closing:
            if self.orders and client.is_active:
                self._order(client)
            await asyncio.sleep(2.0)  # the contract's order pace: one every 2 s

    def _order(self, client: FixClient) -> None:
        info = self.info
        n = next(_ids)
        price = [(44, "0.0001")] if info.product == "margin" else [(44, 1)]
        try:
            client.send("D", [(11, f"ref{n}-{random.getrandbits(24):x}"), (55, info.symbol), (54, 1), (38, 1),
                              (40, 2), *price, (59, 1)])
        except Exception:  # noqa: BLE001 - not logged on this instant: the next round sends
            return
        for msg in client.drain():
            if msg.get(35) == "8" and msg.get(39) in ("0", "1") and msg.get(37):
                try:
                    client.send("F", [(11, f"cx{n}-{msg.get(11)}"), (41, msg.get(11)), (37, msg.get(37)),
                                      (55, info.symbol), (54, 1)])
                except Exception:  # noqa: BLE001
                    pass

    def stop(self) -> None:
        async def close():
            if self.client is not None:
                await self.client.close()
            if self.task is not None:
                self.task.cancel()
                try:
                    await self.task
                except BaseException:  # noqa: BLE001 - cancelled, as asked
                    pass
            rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in rest:  # the client's reconnect loop, if one was waiting
                t.cancel()
            await asyncio.gather(*rest, return_exceptions=True)
        try:
            asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def reference_client(info):
    """conform.run(client=reference_client)."""
    return ReferenceClient(info).start()


def main() -> int:
    """As a process (`--client-cmd 'python tests/conformance/conform_reference.py'`): the
    endpoint from the KALSHI_FIX_* environment; SIGTERM logs out and exits 0."""
    import os
    import signal
    from types import SimpleNamespace

    env = os.environ
    info = SimpleNamespace(host=env["KALSHI_FIX_HOST"], port=int(env["KALSHI_FIX_PORT"]),
                           api_key=env["KALSHI_FIX_API_KEY"], key_file=env["KALSHI_FIX_KEY_FILE"],
                           ca_file=env["KALSHI_FIX_CA_FILE"], session=env["KALSHI_FIX_SESSION"],
                           product=env["KALSHI_FIX_PRODUCT"], symbol=env["KALSHI_FIX_SYMBOL"],
                           heartbeat=int(env["KALSHI_FIX_HEARTBEAT"]))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    client = ReferenceClient(info).start()
    print(f"reference client on {info.host}:{info.port} {info.session}", flush=True)
    done.wait()
    client.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
