"""Durability figures (issue 15): kill -9 of a real `serve` under load, and restart times.

1. kill -9: two KalshiRT sessions (a buyer, a seller; window 10) send orders through
   bench/loadgen.py to `serve` with a file store; SIGKILL after N acknowledged orders; serve
   again from the same file and count acknowledged orders that are neither resting nor filled
   (lost; must be 0), as tests/conformance/test_kill9.py checks.
2. Restart time with a journal of N orders: a Simulator with a file store takes N resting
   orders (entered through the journaled engine, as the gateway enters them), its file is
   left as a crash leaves it (no snapshot), then a new Simulator is built on it (journal
   replay); and the same after a clean stop (the snapshot is loaded, nothing replayed).
"""
from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.loadgen import Result, run_load
from bench.roundtrip import Served, Workspace

__all__ = ["run", "kill9", "restart_times"]


def _control(served: Served, path: str):
    with urllib.request.urlopen(served.ready["control_url"] + path, timeout=30) as answer:
        return json.loads(answer.read())


def kill9(kill_after: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp), "state/sim.db", accounts=2)
        result = Result()
        with Served(ws, "--plaintext", "--control-port", "0") as served:
            targets = served.targets("RT", 2)

            async def load_then_kill():
                result.milestone = (kill_after, asyncio.Event())
                load = asyncio.ensure_future(run_load(targets, 10 * kill_after, 10, result=result, timeout=300))
                await asyncio.wait_for(result.milestone[1].wait(), 300)
                served.kill()
                try:
                    await load
                except (RuntimeError, ConnectionError, asyncio.TimeoutError):
                    pass
            asyncio.run(load_then_kill())
        acked = {cl.decode() for cl in result.acked_ids}
        with Served(ws, "--plaintext", "--control-port", "0") as again:
            restart = again.started_in
            open_orders = {o["cl_ord_id"] for o in _control(again, "/orders")}
            accounts = {a["account"]: a for a in _control(again, "/accounts")}
        lost = 0
        for n, account in enumerate(a["name"] for a in again.ready["accounts"][:2]):
            position = abs(sum(float(p["net_yes"]) for p in accounts[account]["positions"]))
            gone = {cl for cl in acked if cl.startswith(f"s{n}o")} - open_orders
            lost += max(0, len(gone) - int(position))
        return {"case": f"kill -9 after {kill_after:,} acks", "acknowledged": len(acked), "lost": lost,
                "resting after restart": len(open_orders), "restart s": restart, "replayed": "-"}


def restart_times(orders: int) -> list[dict]:
    from kalshi_fixsim.simulator.config import AccountConfig, default_config
    from kalshi_fixsim.simulator.engine.types import OrderRequest, Side, TimeInForce
    from kalshi_fixsim.simulator.keys import new_key_pair
    from kalshi_fixsim.simulator.server import Simulator
    import dataclasses
    from decimal import Decimal

    from kalshi_fixsim.simulator import journal

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        pair = new_key_pair(Path(tmp), "maker")
        account = AccountConfig(name="maker", api_key=pair.api_key, public_key_pem=pair.public_key_path.read_bytes(),
                                products=("prediction",), sessions=("NR", "RT", "DC", "PT", "RFQ", "MD"),
                                balance=Decimal("100000000"))
        base = default_config().with_ports_zero()
        config = dataclasses.replace(base, accounts=[account],
                                     market_maker=dataclasses.replace(base.market_maker, enabled=False))

        async def build(store: str, snapshot_every: int) -> float:
            """N resting orders, committed 1,000 at a time; the file copied as a crash leaves it."""
            saved, journal.SNAPSHOT_EVERY = journal.SNAPSHOT_EVERY, snapshot_every
            try:
                sim = Simulator(dataclasses.replace(config, store=store))
                ex = sim.venues["prediction"].exchange
                ticker = ex.markets()[0].ticker
                now = sim.clock.now()
                for n in range(orders):  # resting bids at 1..49 cents, 1 contract
                    ex.new_order(OrderRequest(account="maker", client_order_id=f"m{n}", symbol=ticker,
                                              side=Side.BUY, price=(1 + n % 49) * 100, qty=100,
                                              tif=TimeInForce.GTC), now)
                    if n % 1000 == 999:
                        sim.state_file.commit()
                sim.state_file.commit()
                for suffix in ("", "-wal"):
                    if Path(store + suffix).exists():
                        shutil.copyfile(store + suffix, store + ".crash" + suffix)
                started = time.perf_counter()
                await sim.stop()  # a clean stop writes a snapshot
                return time.perf_counter() - started
            finally:
                journal.SNAPSHOT_EVERY = saved

        async def restart(path: str) -> tuple[float, int, int]:
            started = time.perf_counter()
            sim = Simulator(dataclasses.replace(config, store=path))
            seconds = time.perf_counter() - started
            open_orders = len(sim.venues["prediction"].exchange.open_orders())
            replayed = sim.restored.replayed
            sim.state_file.close()
            return seconds, open_orders, replayed

        whole = str(Path(tmp) / "whole.db")      # no snapshot at all: the whole journal replayed
        periodic = str(Path(tmp) / "periodic.db")  # the default: a snapshot every SNAPSHOT_EVERY records
        stop_seconds = asyncio.run(build(whole, 10 ** 12))
        asyncio.run(build(periodic, journal.SNAPSHOT_EVERY))
        cases = (("crash, no snapshot (whole journal replayed)", whole + ".crash"),
                 (f"crash, snapshot every {journal.SNAPSHOT_EVERY:,} records", periodic + ".crash"),
                 (f"clean stop (snapshot written in {stop_seconds:.2f} s)", whole))
        for case, path in cases:
            seconds, open_orders, replayed = asyncio.run(restart(path))
            rows.append({"case": f"{orders:,} orders: restart after a {case}", "acknowledged": orders,
                         "lost": orders - open_orders, "resting after restart": open_orders,
                         "restart s": seconds, "replayed": replayed})
    return rows


def run(quick: bool = False) -> list[dict]:
    rows = [kill9(500 if quick else 5000)]
    rows += restart_times(10_000 if quick else 100_000)
    return rows
