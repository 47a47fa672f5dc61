"""Virtual clock: the wall time a virtual-clock run takes for a stretch of simulated time.

One event loop (simulator.virtual_clock), the simulator with no socket, reference clients over
in-memory connections (simulator.memory_transport). Rows:
- idle: nobody connected, the simulator's clock work alone (no polling: it jumps between
  deadlines);
- heartbeats: N sessions logged on to prediction KalshiNR with HeartBtInt=30, exchanging
  heartbeats both ways for the whole stretch;
- thursday: one session with HeartBtInt=30 crossing the Thursday 03:00-05:00 ET trading pause
  (02:55 to 05:05), an order before, during (refused) and after.
Figures: virtual seconds, wall milliseconds, the speed-up (virtual / wall), loop jumps and
FIX messages (both directions).
"""
from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from collections import deque
from pathlib import Path

from kalshi_fixsim.client import FixClient, LogonOptions
from kalshi_fixsim.client.orders import new_order
from kalshi_fixsim.simulator import ops
from kalshi_fixsim.simulator.config import AccountConfig, TlsConfig, default_config
from kalshi_fixsim.simulator.keys import new_key_pair
from kalshi_fixsim.simulator.server import Simulator
from kalshi_fixsim.simulator.virtual_clock import run_virtual

__all__ = ["run"]

KEY_IDS = [f"0f6a1c2e-1111-4222-8333-9444555566{i:02d}" for i in range(10)]
MARKET = "KXTEST-26JAN01-A"


def _config(pem: bytes, n: int):
    accounts = [AccountConfig(name=f"hb-{i}", api_key=KEY_IDS[i], public_key_pem=pem, products=("prediction",),
                              sessions=("NR",)) for i in range(n)]
    return dataclasses.replace(default_config().with_ports_zero(), host="127.0.0.1", store="memory",
                               tls=TlsConfig(enabled=False, cert=None, key=None, ca=None), accounts=accounts)


def _measure(name: str, config, key_path: Path, sessions: int, seconds: float, start: str | None = None,
             thursday: bool = False) -> dict:
    async def main():
        loop = asyncio.get_running_loop()
        sim = Simulator(config)
        sim.transcript.entries = deque(maxlen=None)  # count every frame (the default keeps 2,000)
        await sim.start(listen=False)
        if thursday:
            ops.install(sim, schedule=ops.THURSDAY)
        clients = [FixClient(api_key=KEY_IDS[i], private_key=key_path, heartbeat=30,
                             options=LogonOptions(skip_pending_exec_reports=True), deterministic_signature=True,
                             connector=sim.in_memory_connector("prediction", "NR")) for i in range(sessions)]
        for fix in clients:
            await fix.connect()
        began, jumps = time.perf_counter(), loop.jumps
        if thursday:  # an order at the start, in the middle (refused: paused) and at the end
            fix = clients[0]
            for i, cl in enumerate(("before", "during", "after")):
                if i:
                    await asyncio.sleep(seconds / 2)
                fix.send("D", new_order(cl, MARKET, "buy", 40, 1))
                await fix.collect()
        else:
            await asyncio.sleep(seconds)
        wall = time.perf_counter() - began
        jumps = loop.jumps - jumps
        for fix in clients:
            await fix.close()
        await sim.stop()
        return wall, jumps, len(sim.transcript.entries)
    wall, jumps, frames = run_virtual(main, start=start)
    return {"run": name, "sessions": sessions, "virtual s": seconds, "wall ms": wall * 1000,
            "virtual/wall": seconds / wall if wall else float("inf"), "jumps": jumps, "messages": frames}


def run(quick: bool) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        pair = new_key_pair(Path(tmp) / "keys", "bench")
        pem = pair.public_key_path.read_bytes()
        hour = 600.0 if quick else 3600.0
        rows = [
            _measure("idle", _config(pem, 0), pair.private_key_path, 0, 24 * hour),
            _measure("heartbeats", _config(pem, 1), pair.private_key_path, 1, hour),
            _measure("heartbeats", _config(pem, 10), pair.private_key_path, 10, hour),
        ]
        config = _config(pem, 1)
        config = dataclasses.replace(config, markets={"prediction": [_market()]})
        rows.append(_measure("thursday", config, pair.private_key_path, 1, 2 * 3900.0,
                             start="Thursday 02:55:00 America/New_York", thursday=True))
        return rows


def _market():
    from kalshi_fixsim.simulator.engine.types import Market
    return Market(MARKET, "KXTEST-26JAN01", "KXTEST", "Benchmark market")
