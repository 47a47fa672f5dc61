"""Memory: per ended order, per logged-on session, per silent TCP connection, and a soak.

Rows (issue 11 §4):
- heap per ended order (order + cancel), measured with tracemalloc on the engine alone and
  through the gateway (FIX reports rendered, drop-copy history recorded), after a sweep of the
  simulator's clock work has run (the ended orders kept in their compact form);
- memory per logged-on session: a real `Simulator` in a child process, N reference clients
  logged on to KalshiNR (one API key each), the child's RSS before and after, divided by N;
- memory per silent TCP connection: N plain TCP connections to a TLS listener that never send
  a ClientHello, the child's RSS before and after, divided by N;
- the soak: one hour at 100 orders/s compressed in time. A child process runs a Simulator
  (no listeners) on a fake clock that advances 10 ms per order: 360,000 NewOrderSingles, each
  cancelled by an OrderCancelRequest, through the gateway handlers with a session that takes
  every report, the clock work (`Simulator.tick`, sweeps included) run once per simulated
  second. Its RSS at the end and its peak (ru_maxrss) are the figures.
Each child is `python -m bench.memory CASE N`, printing one JSON line, so every figure starts
from a clean process.
"""
from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

__all__ = ["run"]

T0 = 1_795_271_400.0  # 2026-11-21 14:30 UTC
TICKER = "KXBENCH-26NOV21-T0"
STEP = 0.01           # seconds of simulated time per order: 100 orders/s


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _child_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# --- the simulator driven without sockets ------------------------------------------------------

class FakeClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


class Sink:
    """A logged-on order-entry session as the gateway sees it; every report is dropped."""

    product, session_code, comp_id, listener = "prediction", "NR", "KalshiNR", False
    stale_after = 1e9

    def __init__(self, sim, user: str) -> None:
        from kalshi_fixsim.simulator.gateway.reports import ReportFlags
        self.sim, self.user = sim, user
        self.session_id = f"prediction/NR/{user}"
        self.flags = ReportFlags(skip_pending=True)
        self.venue = sim.venues["prediction"]
        self.reports = 0

    def send(self, msg_type: str, body) -> int:
        self.reports += 1
        return self.reports

    def deliver(self, msg_type: str, body) -> None:
        self.send(msg_type, body)

    def reject(self, msg, reason, text, ref_tag=None) -> None:
        raise AssertionError(f"rejected: {text}")

    def now(self) -> float:
        return self.sim.clock.now()


def _simulator(clock: FakeClock, store: str = "memory"):
    from kalshi_fixsim.simulator.config import default_config
    from kalshi_fixsim.simulator.engine.types import Market
    from kalshi_fixsim.simulator.server import Simulator

    config = default_config()
    config = dataclasses.replace(config, store=store, markets={"prediction": [Market(TICKER)], "margin": []},
                                 accounts=[])
    sim = Simulator(config, clock=clock)
    sim.venues["prediction"].exchange.add_account("member", 10**15)
    return sim


_serial = iter(range(10**9))


def _cl_ord_id() -> str:
    """A new UUID-sized ClOrdID (spec 02 recommends UUIDs); its cancel's is the same with a "c"."""
    return f"{next(_serial):08d}-0000-4000-8000-000000000000"


def _drive(sim, sink: Sink, clock: FakeClock, n: int, *, tick_every: int = 100) -> None:
    """n orders that rest, each cancelled right away, one every STEP seconds."""
    from kalshi_fixsim.fixproto.codec import FixMessage
    from kalshi_fixsim.simulator.gateway.order_entry import on_cancel, on_new_order

    for i in range(n):
        clock.t += STEP
        cl = _cl_ord_id()
        on_new_order(sink, FixMessage([(35, "D"), (34, "2"), (11, cl), (38, "10"), (40, "2"), (44, "40"), (54, "1"),
                                       (55, TICKER), (59, "1")]))
        on_cancel(sink, FixMessage([(35, "F"), (34, "3"), (11, "c" + cl[1:]), (41, cl), (54, "1"), (55, TICKER)]))
        if i % tick_every == 0:
            sim.tick()
    sim.tick()


def _heap_per_order(n: int, *, gateway: bool) -> float:
    """Bytes of Python heap per ended order+cancel, once the sweep has compacted them."""
    clock = FakeClock(T0)
    sim = _simulator(clock)
    sink = Sink(sim, "member")
    sim.venues["prediction"].attach(sink.session_id, "member", sink, listener=False)
    ex = sim.venues["prediction"].exchange
    _drive(sim, sink, clock, 200)  # warm-up: caches, interned strings
    clock.t += sim.FORGET_EVERY
    sim.tick()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    if gateway:
        _drive(sim, sink, clock, n)
    else:
        from kalshi_fixsim.simulator.engine.types import OrderRequest, Side, TimeInForce
        for i in range(n):
            clock.t += STEP
            cl = _cl_ord_id()
            ex.new_order(OrderRequest("member", cl, TICKER, Side.BUY, 4000, 1000, tif=TimeInForce.GTC,
                                      session=sink.session_id), clock.t)
            ex.cancel_order("member", cl, "c" + cl[1:], side=Side.BUY, symbol=TICKER, now=clock.t)
    clock.t += sim.FORGET_EVERY  # the next sweep (compact form); nothing is old enough to forget
    sim.tick()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(ex.open_orders()) == 0
    return (after - before) / n


def _soak(n: int, store: str) -> dict:
    """store: "memory", or "file" for an SQLite state file in a temporary folder (as `make run`)."""
    tmp = tempfile.mkdtemp() if store == "file" else None
    clock = FakeClock(T0)
    sim = _simulator(clock, os.path.join(tmp, "sim.db") if tmp else "memory")
    sink = Sink(sim, "member")
    sim.venues["prediction"].attach(sink.session_id, "member", sink, listener=False)
    for venue in sim.venues.values():
        if hasattr(venue.history, "schedule"):
            venue.history.schedule = None  # no event loop here: write in batches of 512 rows, not per report
    gc.collect()
    start_rss = _rss_kib()
    started = time.perf_counter()
    _drive(sim, sink, clock, n)
    elapsed = time.perf_counter() - started
    gc.collect()
    ex = sim.venues["prediction"].exchange
    for venue in sim.venues.values():
        if venue.history is not None:
            venue.history.flush()
    return {"orders": n, "store": store, "simulated_s": round(n * STEP), "wall_s": round(elapsed, 1), "start_rss_kib": start_rss,
            "end_rss_kib": _rss_kib(), "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            "reports": sink.reports, "known_orders": ex.known_orders()}


# --- a real simulator in a child process -----------------------------------------------------

def _material(base: Path, accounts: int) -> None:
    """Dev certificates and `accounts` API keys in `base`, listed in base/accounts.json."""
    from kalshi_fixsim.simulator.certs import make_dev_certs
    from kalshi_fixsim.simulator.keys import new_key_pair

    make_dev_certs(base / "certs")
    listed = []
    for i in range(accounts):
        pair = new_key_pair(base / "keys", f"m{i}")
        listed.append({"name": f"m{i}", "api_key": pair.api_key, "public": str(pair.public_key_path),
                       "private": str(pair.private_key_path)})
    (base / "accounts.json").write_text(json.dumps(listed))


def _serve_child(base: str) -> None:
    """Child: a Simulator on port 0 with the accounts of base/accounts.json; prints its NR port,
    then answers each line on stdin with its RSS (KiB) until stdin closes."""
    from kalshi_fixsim.simulator.config import AccountConfig, TlsConfig, default_config
    from kalshi_fixsim.simulator.runtime import tune_gc
    from kalshi_fixsim.simulator.server import Simulator

    root = Path(base)
    accts = [AccountConfig(name=a["name"], api_key=a["api_key"], public_key_pem=Path(a["public"]).read_bytes(),
                           products=("prediction",), sessions=("NR",), balance=Decimal("1000"))
             for a in json.loads((root / "accounts.json").read_text())]
    certs = root / "certs"
    tls = TlsConfig(enabled=True, cert=certs / "server.pem", key=certs / "server.key", ca=certs / "ca.pem")
    config = dataclasses.replace(default_config().with_ports_zero(), host="127.0.0.1", tls=tls, store="memory",
                                 accounts=accts)
    tune_gc()

    async def main() -> None:
        sim = Simulator(config)
        await sim.start()
        print(json.dumps({"port": sim.endpoint("prediction", "NR").port}), flush=True)
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while await reader.readline():
            gc.collect()
            print(json.dumps({"rss_kib": _rss_kib(), "connections": len(sim.connections)}), flush=True)
        await sim.stop()
    asyncio.run(main())


class _Child:
    def __init__(self, base: Path, accounts: int) -> None:
        _material(base, accounts)
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.memory", "serve", str(base)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.port = json.loads(self.proc.stdout.readline())["port"]

    def rss(self) -> dict:
        self.proc.stdin.write("rss\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


def _sessions(n: int) -> dict:
    """RSS per logged-on KalshiNR session (reference clients in this process)."""
    from kalshi_fixsim.client import FixClient

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        child = _Child(base, n)
        try:
            accts = json.loads((base / "accounts.json").read_text())
            before = child.rss()

            async def go():
                clients = [FixClient(product="prediction", session="NR", host="127.0.0.1", port=child.port,
                                     api_key=a["api_key"], private_key=a["private"], ca_file=base / "certs" / "ca.pem",
                                     heartbeat=30) for a in accts]
                for c in clients:
                    await asyncio.wait_for(c.connect(), 30)
                after = child.rss()
                for c in clients:
                    await c.logout()
                return after
            after = asyncio.run(go())
        finally:
            child.close()
    assert after["connections"] >= n, after
    return {"n": n, "before_kib": before["rss_kib"], "after_kib": after["rss_kib"],
            "per_kib": (after["rss_kib"] - before["rss_kib"]) / n}


def _silent(n: int) -> dict:
    """RSS per TCP connection to a TLS listener that never starts the handshake."""
    with tempfile.TemporaryDirectory() as tmp:
        child = _Child(Path(tmp), 1)
        socks = []
        try:
            before = child.rss()
            for _ in range(n):
                socks.append(socket.create_connection(("127.0.0.1", child.port), timeout=10))
            # the server has accepted them once a further connection round-trips; then measure
            probe = socket.create_connection(("127.0.0.1", child.port), timeout=10)
            socks.append(probe)
            time.sleep(0.5)  # benchmark only: let the accept loop take the backlog
            after = child.rss()
        finally:
            for s in socks:
                s.close()
            child.close()
    return {"n": n, "before_kib": before["rss_kib"], "after_kib": after["rss_kib"],
            "per_kib": (after["rss_kib"] - before["rss_kib"]) / n}


def _child(case: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.memory", case, *args], capture_output=True, text=True,
                         check=True, timeout=3600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[dict]:
    n_heap = 5_000 if quick else 50_000
    n_soak = 36_000 if quick else 360_000
    n_sessions = 10 if quick else 50
    n_silent = 50 if quick else 500
    engine = _child("heap", str(n_heap), "engine")
    gateway = _child("heap", str(n_heap), "gateway")
    soaks = [_child("soak", str(n_soak), store) for store in ("file", "memory")]
    sessions = _sessions(n_sessions)
    silent = _silent(n_silent)
    rows = [
        {"case": "heap per ended order+cancel, engine", "n": n_heap, "figure": engine["bytes"], "unit": "bytes"},
        {"case": "heap per ended order+cancel, gateway + drop-copy history (memory store)", "n": n_heap,
         "figure": gateway["bytes"], "unit": "bytes"},
        {"case": "RSS per logged-on KalshiNR session", "n": n_sessions, "figure": sessions["per_kib"], "unit": "KiB"},
        {"case": "RSS per silent TCP connection (no TLS handshake)", "n": n_silent, "figure": silent["per_kib"],
         "unit": "KiB"},
    ]
    for soak in soaks:
        print(f"soak ({soak['store']} store): {soak['orders']:,} orders + cancels over {soak['simulated_s']:,} "
              f"simulated s in {soak['wall_s']} s; {soak['reports']:,} reports; "
              f"{soak['known_orders']:,} ended orders still known")
        label = f"soak {soak['simulated_s']:,} s at 100 orders/s, {soak['store']} store"
        rows += [{"case": f"{label}: RSS at start", "n": soak["orders"], "figure": soak["start_rss_kib"] / 1024,
                  "unit": "MiB"},
                 {"case": f"{label}: RSS at the end", "n": soak["orders"], "figure": soak["end_rss_kib"] / 1024,
                  "unit": "MiB"},
                 {"case": f"{label}: peak RSS", "n": soak["orders"], "figure": soak["peak_rss_kib"] / 1024,
                  "unit": "MiB"}]
    return rows


if __name__ == "__main__":
    case, *rest = sys.argv[1:]
    if case == "serve":
        _serve_child(rest[0])
    elif case == "heap":
        print(json.dumps({"bytes": _heap_per_order(int(rest[0]), gateway=rest[1] == "gateway")}))
    elif case == "soak":
        if "whole" in rest[2:]:  # for comparison: ended orders kept whole, as before engine/memory.py
            from kalshi_fixsim.simulator.engine.exchange import Exchange
            Exchange.compact_ended = lambda self: 0  # type: ignore[method-assign]
        print(json.dumps(_soak(int(rest[0]), rest[1] if len(rest) > 1 else "memory")))
    else:
        raise SystemExit(f"unknown case {case!r}")
