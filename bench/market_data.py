"""Market-data fan-out: X updates/s delivered to 100 subscribed KalshiMD sessions.

In one process and one event loop: a Simulator on 127.0.0.1 port 0 (TLS, then plaintext),
100 reference clients logged on to prediction KalshiMD, each subscribed to the same market,
and a seeded order flow driven on the engine and dispatched as the gateway does (no
order-entry sessions, so every dispatch is pure market data). The flow on one market mixes:
- adds that rest (GTC, 1-20 contracts, bids 40-49¢, asks 51-60¢): one level change;
- cancels of resting orders: one level change or delete;
- crossing orders (IOC half of the time) at the opposite touch or a cent through it:
  trade entries plus level changes, all in one X.
Every dispatch gives each of the 100 sessions one X. The flow yields to the loop after each
chunk of operations and keeps at most WINDOW messages per session in flight, so nobody
becomes a slow consumer. Figures:
- delivered X/s: X messages received and decoded by all clients / wall time from the first
  operation to the last message received (server + 100 clients share one CPU here);
- fan-out X/s: X messages written / time spent in venue.dispatch (the server's share: render
  one X per batch, then 100 session sends: sequence number, encode, TLS write);
- µs/batch: dispatch time per batch for the 100 sessions.
Clients count X messages in place of queueing them (the inbox is replaced by a counter).
"""
from __future__ import annotations

import asyncio
import dataclasses
import gc
import math
import random
import tempfile
import time
from pathlib import Path

from kalshi_fixsim.client import FixClient
from kalshi_fixsim.client.orderbook import subscribe
from kalshi_fixsim.simulator.certs import make_dev_certs
from kalshi_fixsim.simulator.config import AccountConfig, TlsConfig, default_config
from kalshi_fixsim.simulator.engine.types import STP, Market, OrderRequest, Side, TimeInForce
from kalshi_fixsim.simulator.gateway.market_data import MAX_ENTRIES_PER_X, service_for
from kalshi_fixsim.simulator.keys import new_api_key_id, new_key_pair
from kalshi_fixsim.simulator.server import Simulator

__all__ = ["run"]

N_SESSIONS = 100
N_FULL = 3_000
N_QUICK = 300
SEED = 20261121
MARKET = "KXBENCH-26NOV21-MD"
TRADERS = [f"member-{i}" for i in range(8)]
CHUNK = 20        # operations between yields to the loop
WINDOW = 200      # X messages per session allowed in flight before the flow waits
MIX = (("add", 0.5), ("cancel", 0.3), ("cross", 0.2))


class _Counter:
    """Stands in for a client's inbox: counts X messages instead of queueing them."""

    def __init__(self, tally: "_Tally") -> None:
        self.tally = tally

    def put_nowait(self, msg) -> None:
        if msg.msg_type == "X":
            self.tally.add()
        else:
            self.tally.other += 1


class _Tally:
    def __init__(self) -> None:
        self.received = 0
        self.other = 0
        self.target = math.inf
        self.reached: asyncio.Future | None = None

    def add(self) -> None:
        self.received += 1
        if self.received >= self.target and self.reached is not None and not self.reached.done():
            self.reached.set_result(None)

    async def wait(self, target: int, timeout: float = 60.0) -> None:
        if self.received >= target:
            return
        self.target = target
        self.reached = asyncio.get_running_loop().create_future()
        await asyncio.wait_for(self.reached, timeout)


def _config(base: Path, tls: bool):
    pair = new_key_pair(base / "keys", "bench")
    pem = pair.public_key_path.read_bytes()
    rng = random.Random(SEED)
    accounts = [AccountConfig(name=f"md-{i}", api_key=new_api_key_id(rng), public_key_pem=pem,
                              products=("prediction",), sessions=("MD",)) for i in range(N_SESSIONS)]
    certs = make_dev_certs(base / "certs")
    config = dataclasses.replace(default_config().with_ports_zero(), host="127.0.0.1", store="memory",
                                 tls=TlsConfig(enabled=tls, cert=certs.cert, key=certs.key, ca=certs.ca),
                                 accounts=accounts, markets={"prediction": [Market(MARKET)], "margin": []})
    return config, pair.private_key_path, certs.ca


class _Flow:
    """The seeded add / cancel / cross mix on one market (decided against the live book)."""

    def __init__(self, exchange) -> None:
        self.ex = exchange
        self.rng = random.Random(SEED)
        self.resting: list[tuple[str, str, Side]] = []
        self.now = 1_795_271_400.0
        self.i = 0

    def step(self) -> list:
        rng, ex = self.rng, self.ex
        self.i += 1
        self.now += 0.0001
        i = self.i
        roll = rng.random()
        account = rng.choice(TRADERS)
        side = rng.choice((Side.BUY, Side.SELL))
        if MIX[0][1] <= roll < MIX[0][1] + MIX[1][1]:
            while self.resting:
                j = rng.randrange(len(self.resting))
                acct, clid, oside = self.resting[j]
                self.resting[j] = self.resting[-1]
                self.resting.pop()
                out = ex.cancel_order(acct, clid, f"k{i}", side=oside, symbol=MARKET, now=self.now)
                if isinstance(out, list):
                    return out
        if roll < MIX[0][1] + MIX[1][1]:
            price = rng.randint(40, 49) * 100 if side is Side.BUY else rng.randint(51, 60) * 100
            req = OrderRequest(account, f"a{i}", MARKET, side, price, rng.randint(1, 20) * 100, stp=STP.MAKER)
            events = ex.new_order(req, self.now)
            if events and events[-1].order.status.value in "01":
                self.resting.append((account, req.client_order_id, side))
            return events
        book = ex.book(MARKET)
        touch = (book.best_ask() if side is Side.BUY else book.best_bid()) or 5000
        price = min(touch + rng.randint(0, 1) * 100, 9900) if side is Side.BUY else max(touch - rng.randint(0, 1) * 100,
                                                                                          100)
        req = OrderRequest(account, f"x{i}", MARKET, side, price, rng.randint(1, 20) * 100,
                           tif=TimeInForce.IOC if i % 2 else TimeInForce.GTC, stp=STP.MAKER)
        return ex.new_order(req, self.now)


async def _measure(n: int, tls: bool, base: Path) -> dict:
    config, key_path, ca = _config(base, tls)
    sim = Simulator(config)
    sim.max_send_buffer = 64 * 1024 * 1024
    await sim.start()
    clients: list[FixClient] = []
    tally = _Tally()
    try:
        ep = sim.endpoint("prediction", "MD")
        for account in config.accounts:
            fix = FixClient(product="prediction", session="MD", host=ep.host, port=ep.port, api_key=account.api_key,
                            private_key=key_path, ca_file=ca if tls else None, tls=tls, heartbeat=60)
            await fix.connect()
            fix.inbox = _Counter(tally)  # type: ignore[assignment]
            fix.send("V", subscribe([MARKET]))
            clients.append(fix)
        for fix in clients:
            await fix.sync()
        venue = sim.venues["prediction"]
        for name in TRADERS:
            venue.exchange.add_account(name, 10**15)
        service = service_for(venue)
        sent = batches = 0
        send = service._send

        def counting_send(conns, entries):
            nonlocal sent, batches
            batches += 1
            sent += len(conns) * -(-len(entries) // MAX_ENTRIES_PER_X)
            send(conns, entries)
        service._send = counting_send  # type: ignore[method-assign]

        flow = _Flow(venue.exchange)
        clock = time.perf_counter
        in_dispatch = 0.0
        gc.collect()
        started = clock()
        for done in range(0, n, CHUNK):
            for _ in range(min(CHUNK, n - done)):
                events = flow.step()
                t = clock()
                venue.dispatch(events)
                in_dispatch += clock() - t
            await tally.wait(sent - WINDOW * N_SESSIONS)
        await tally.wait(sent)
        elapsed = clock() - started
        assert tally.received == sent and all(f.is_active for f in clients), "a subscriber was dropped"
    finally:
        for fix in clients:
            await fix.close()
        await sim.stop()
    return {"transport": "TLS" if tls else "plaintext", "sessions": N_SESSIONS, "operations": n,
            "batches": batches, "X delivered": tally.received, "delivered X/s": tally.received / elapsed,
            "fan-out X/s": sent / in_dispatch, "µs/batch": in_dispatch / max(1, batches) * 1e6}


def run(quick: bool = False) -> list[dict]:
    n = N_QUICK if quick else N_FULL
    rows = []
    with tempfile.TemporaryDirectory(prefix="kalshi-fixsim-bench-") as tmp:
        for tls in (True, False):
            rows.append(asyncio.run(_measure(n, tls, Path(tmp) / ("tls" if tls else "plain"))))
    print(f"flow: {n:,} operations on one market ({', '.join(f'{k} {int(p * 100)}%' for k, p in MIX)}), "
          f"{N_SESSIONS} MD sessions subscribed, chunks of {CHUNK}, at most {WINDOW} X in flight per session")
    return rows


if __name__ == "__main__":  # pragma: no cover
    for row in run(quick=True):
        print(row)
