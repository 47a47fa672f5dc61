"""Matching-engine throughput: in-process operations/s on a seeded flow, no FIX, no I/O.

The flow mixes, over 4 markets and 8 accounts with 2 sessions each:
- adds that rest: GTC limit orders 1-20 contracts at or behind the touch (bids 40-49¢,
  asks 51-60¢, one in three with STP maker);
- cancels of orders resting at that point of the flow;
- crossing orders: IOC (half) or GTC orders of 1-20 contracts priced at the opposite touch
  or one cent through it, so they fill one to a few resting orders.
The flow is built by running it once on an engine (untimed), so that cancels name orders
that are resting and crossing orders are priced from the book they will meet; replaying it
on a fresh engine repeats the same states. Every operation returns its events (snapshots,
ExecIDs, fills) as the gateway would get them; they are dropped at once. The whole mix is
timed once per repeat (overall ops/s); a second pass with a timer around each call gives
the per-kind figures.
"""
from __future__ import annotations

import gc
import random
import time

from kalshi_fixsim.simulator.engine.exchange import Exchange
from kalshi_fixsim.simulator.runtime import GC_THRESHOLDS, tune_gc
from kalshi_fixsim.simulator.engine.types import STP, Market, OrderRequest, Side, TimeInForce

__all__ = ["run", "build_flow"]

N_FULL = 200_000
N_QUICK = 20_000
REPEAT = 3
SEED = 20261121
T0 = 1_795_271_400.0  # 2026-11-21 14:30 UTC
STEP = 0.0001         # seconds between operations
MARKETS = [f"KXBENCH-26NOV21-T{i}" for i in range(4)]
ACCOUNTS = [f"member-{i}" for i in range(8)]
MIX = (("add", 0.5), ("cancel", 0.3), ("cross", 0.2))


def build_flow(n: int, seed: int = SEED) -> list[tuple]:
    """[(kind, args)]: ("add" | "cross", OrderRequest) or ("cancel", (account, clid, side, symbol))."""
    rng = random.Random(seed)
    ex = new_exchange()
    flow: list[tuple] = []
    added: list[tuple[str, str, Side, str]] = []  # candidates for cancels; dead ones dropped lazily
    now = T0
    for i in range(n):
        now += STEP
        roll = rng.random()
        account = rng.choice(ACCOUNTS)
        session = f"{account}-s{i & 1}"
        symbol = rng.choice(MARKETS)
        side = rng.choice((Side.BUY, Side.SELL))
        target = None
        if MIX[0][1] <= roll < MIX[0][1] + MIX[1][1]:
            while added and target is None:
                j = rng.randrange(len(added))
                candidate = added[j]
                added[j] = added[-1]
                added.pop()
                order = ex.order_by_client_id(candidate[0], candidate[1])
                if order is not None and not order.status.final:
                    target = candidate
        if roll < MIX[0][1] or (roll < MIX[0][1] + MIX[1][1] and target is None):
            price = rng.randint(40, 49) * 100 if side is Side.BUY else rng.randint(51, 60) * 100
            req = OrderRequest(account, f"a{i}", symbol, side, price, rng.randint(1, 20) * 100,
                               tif=TimeInForce.GTC, stp=STP.MAKER if i % 3 == 0 else STP.TAKER_AT_CROSS,
                               session=session)
            flow.append(("add", req))
            if ex.new_order(req, now)[-1].order.status.value in "01":
                added.append((account, req.client_order_id, side, symbol))
        elif target is not None:
            flow.append(("cancel", target))
            ex.cancel_order(target[0], target[1], f"k{i}", side=target[2], symbol=target[3], now=now)
        else:
            book = ex.book(symbol)
            touch = book.best_ask() if side is Side.BUY else book.best_bid()
            if touch is None:
                touch = 5000
            price = min(touch + rng.randint(0, 1) * 100, 9900) if side is Side.BUY else max(
                touch - rng.randint(0, 1) * 100, 100)
            req = OrderRequest(account, f"x{i}", symbol, side, price, rng.randint(1, 20) * 100,
                               tif=TimeInForce.IOC if i % 2 else TimeInForce.GTC, stp=STP.MAKER, session=session)
            flow.append(("cross", req))
            ex.new_order(req, now)
    return flow


def new_exchange() -> Exchange:
    ex = Exchange(rng=random.Random(SEED))
    for ticker in MARKETS:
        ex.add_market(Market(ticker))
    for account in ACCOUNTS:
        ex.add_account(account, 10**15)
    return ex


def run_flow(ex: Exchange, flow: list[tuple]) -> int:
    new_order, cancel = ex.new_order, ex.cancel_order
    now = T0
    events = 0
    for i, (kind, arg) in enumerate(flow):
        now += STEP
        if kind == "cancel":
            account, clid, side, symbol = arg
            out = cancel(account, clid, f"k{i}", side=side, symbol=symbol, now=now)
            events += len(out) if isinstance(out, list) else 0
        else:
            events += len(new_order(arg, now))
    return events


def run_flow_timed(ex: Exchange, flow: list[tuple]) -> dict[str, float]:
    new_order, cancel = ex.new_order, ex.cancel_order
    clock = time.perf_counter
    spent = {kind: 0.0 for kind, _ in MIX}
    now = T0
    for i, (kind, arg) in enumerate(flow):
        now += STEP
        if kind == "cancel":
            account, clid, side, symbol = arg
            t = clock()
            cancel(account, clid, f"k{i}", side=side, symbol=symbol, now=now)
            spent[kind] += clock() - t
        else:
            t = clock()
            new_order(arg, now)
            spent[kind] += clock() - t
    return spent


def run(quick: bool = False) -> list[dict]:
    n = N_QUICK if quick else N_FULL
    flow = build_flow(n)
    # The flow's 200k requests are the benchmark's input, not engine state: keep the cyclic GC
    # from walking them in every full collection (the simulator never holds requests). The GC
    # thresholds are the ones `kalshi-fixsim serve` runs with (simulator/runtime.py).
    gc.collect()
    gc.freeze()
    previous = tune_gc()
    counts = {kind: sum(1 for k, _ in flow if k == kind) for kind, _ in MIX}
    best_total = float("inf")
    best_kind = {kind: float("inf") for kind in counts}
    events = 0
    for _ in range(REPEAT):
        ex = new_exchange()
        gc.collect()
        started = time.perf_counter()
        events = run_flow(ex, flow)
        best_total = min(best_total, time.perf_counter() - started)
        ex.check_invariants()  # outside the timing
        ex = new_exchange()
        gc.collect()
        for kind, spent in run_flow_timed(ex, flow).items():
            best_kind[kind] = min(best_kind[kind], spent)
    gc.unfreeze()
    gc.set_threshold(*previous)
    resting = len(ex.open_orders())
    print(f"GC thresholds {GC_THRESHOLDS} (kalshi-fixsim serve's); "
          f"flow: {n:,} ops ({', '.join(f'{counts[k]:,} {k}' for k in counts)}), {events:,} events, "
          f"{resting:,} orders resting at the end; best of {REPEAT}")
    rows = [{"operation": kind, "ops": counts[kind], "best s": best_kind[kind],
             "ops/s": counts[kind] / best_kind[kind], "µs/op": best_kind[kind] / counts[kind] * 1e6}
            for kind in counts]
    rows.append({"operation": "overall (mix, untimed calls)", "ops": n, "best s": best_total,
                 "ops/s": n / best_total, "µs/op": best_total / n * 1e6})
    return rows
