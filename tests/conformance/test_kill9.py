"""kill -9 of a real `kalshi-fixsim serve` (issue 15): no acknowledged order is lost.

Two KalshiRT sessions (a buyer and a seller, one contract at one price: orders fill or rest)
keep 10 orders each in flight through the project's load generator (bench/loadgen.py); the
process is killed with SIGKILL once 300 orders were acknowledged, then served again from the
same state file. Every acknowledged order is there: resting in the book or filled (its
account's position counts it), positions are equal and opposite, and money is conserved."""
from __future__ import annotations

import asyncio
import json
import urllib.request

from bench.loadgen import Result, run_load
from bench.roundtrip import Served, Workspace

KILL_AFTER = 300      # acknowledged orders before the SIGKILL
PER_SESSION = 5000    # more than can be sent before the kill: the load is cut mid-flow
BALANCE = 100_000_000.0


def control(served: Served, path: str):
    with urllib.request.urlopen(served.ready["control_url"] + path, timeout=10) as answer:
        return json.loads(answer.read())


def test_kill_9_mid_flow_loses_no_acknowledged_order_and_the_books_come_back(tmp_path):
    ws = Workspace(tmp_path, "state/sim.db", accounts=2)
    result = Result()
    with Served(ws, "--plaintext", "--control-port", "0") as served:
        targets = served.targets("RT", 2)

        async def load_then_kill():
            result.milestone = (KILL_AFTER, asyncio.Event())
            load = asyncio.ensure_future(run_load(targets, PER_SESSION, 10, result=result, timeout=60))
            await asyncio.wait_for(result.milestone[1].wait(), 60)
            served.kill()  # SIGKILL: no Logout, no snapshot, nothing flushed by the process
            try:
                await load
            except (RuntimeError, ConnectionError, asyncio.TimeoutError):
                pass  # the connections died with the process
        asyncio.run(load_then_kill())
    acked = {cl.decode() for cl in result.acked_ids}
    assert len(acked) >= KILL_AFTER

    with Served(ws, "--plaintext", "--control-port", "0") as again:
        open_orders = {o["cl_ord_id"]: o for o in control(again, "/orders")}
        accounts = {a["account"]: a for a in control(again, "/accounts")}
    buyer, seller = (a["name"] for a in again.ready["accounts"][:2])
    position = {name: sum(float(p["net_yes"]) for p in accounts[name]["positions"]) for name in (buyer, seller)}
    assert position[buyer] == -position[seller] >= 0  # each fill has both sides
    for n, name in enumerate((buyer, seller)):
        mine = {cl for cl in acked if cl.startswith(f"s{n}o")}
        resting = {cl for cl in open_orders if cl.startswith(f"s{n}o")}
        gone = mine - resting  # acknowledged, not resting: must have filled (one contract each)
        assert len(gone) <= abs(position[name]), f"{name}: {len(gone) - abs(position[name])} acknowledged orders lost"
    total = sum(float(accounts[name]["balance"]) for name in (buyer, seller))
    # Zero fees: each contract filled holds $1 of the two sides' money (YES at 50 + NO at 50).
    assert abs(total + position[buyer] * 1.00 - 2 * BALANCE) < 0.005
    # The RT stores (resend) and the drop-copy history hold a report of every acknowledged order.
    import re
    import sqlite3
    db = sqlite3.connect(ws.base / "state" / "sim.db")
    ids = re.compile(rb"\x0111=([^\x01]+)\x01")
    in_rt = {m.decode() for (frame,) in db.execute("SELECT frame FROM messages") for m in ids.findall(frame)}
    in_dc = {m.decode() for (body,) in db.execute("SELECT body FROM exec_history") for m in ids.findall(b"\x01" + body)}
    db.close()
    assert acked <= in_rt and acked <= in_dc
