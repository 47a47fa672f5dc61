"""Python calls and bytecodes per order through the whole acceptor path (issue 16).

Deterministic where times are not (bench/tracing.py): a Simulator in this process, on a fixed
clock, with its acceptor SessionDrivers made as a listener makes them (`_new_driver`: the
transcript recorder, the fault layer, the gateway, the write batch) on a fake socket transport.
Each measured read hands the driver order frames as a socket would (get_buffer /
buffer_updated) and ends when the batch has committed and written the reports: bytes in ->
framing -> parse -> session checks -> gateway -> engine -> reports encoded -> drop-copy
history -> (RT, file store) journal and SQLite commit -> bytes out. Everything the loop runs
after the read (callbacks the read scheduled) is counted too.

Mixes (all NewOrderSingle buy 1 @ 50¢, limit):
- ioc:    IOC on an empty book, SkipPendingExecReports=Y: one report (150=4)
- gtc:    GTC that rests, SkipPendingExecReports=Y: one report (150=0)
- fill:   IOC that fills against a large resting sell of another session: a 150=F to both sides
- gtc+pn: GTC that rests, SkipPendingExecReports=N: Pending New and New, two reports
Sessions: NR with the memory store (plaintext: TLS is below the protocol), RT with the SQLite
file store. Reads of 1 order (window 1) and of 10 orders (a window-10 client's refill).
"""
from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.loadgen import frame
from bench.roundtrip import SYMBOL, Workspace
from bench.tracing import Counts, counting
from kalshi_fixsim.fixproto.codec import format_utc
from kalshi_fixsim.fixproto.kalshi import LogonOptions, session_types, load_private_key, logon_payload, sign_logon
from kalshi_fixsim.simulator.config import load_config
from kalshi_fixsim.simulator.server import Simulator

__all__ = ["run", "measure"]

SOH = "\x01"
NOW = 1_796_000_000.0     # 2026-11-30: a fixed, deterministic clock
READS = 20                # measured reads per case
WARMUP = 20               # reads before those
STEP = 0.000_1            # the clock moves 100 µs per read (10k orders/s)

MIXES = {  # name: (TimeInForce, SkipPendingExecReports, a resting sell to fill against)
    "ioc": ("3", True, False),
    "gtc": ("1", True, False),
    "fill": ("3", True, True),
    "gtc+pn": ("1", False, False),
}


class _Clock:
    def __init__(self) -> None:
        self.t = NOW

    def now(self) -> float:
        return self.t


class _Transport(asyncio.Transport):
    """A socket transport that keeps what is written (bytes out)."""

    def __init__(self) -> None:
        super().__init__({"peername": ("127.0.0.1", 40000)})
        self.out = bytearray()
        self.protocol: asyncio.BaseProtocol | None = None
        self.closing = False

    def write(self, data) -> None:
        self.out += data

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)

    abort = close


class _Client:
    """One session as the load generator sends it: frames from a template."""

    def __init__(self, sim: Simulator, clock: _Clock, code: str, account: dict, skip_pending: bool) -> None:
        self.clock = clock
        self.comp = f"Kalshi{code}"
        self.key = account["api_key"]
        st = next(s for s in session_types("prediction") if s.code == code)
        self.driver = sim._new_driver("prediction", st, "127.0.0.1")  # as the listener makes it
        self.transport = _Transport()
        self.transport.protocol = self.driver
        self.driver.connection_made(self.transport)
        self.seq = 1
        self.n = 0
        sending = format_utc(clock.now())
        sig = sign_logon(load_private_key(account["private_key"]), logon_payload(sending, 1, self.key, self.comp))
        options = "".join(f"{tag}={value}{SOH}" for tag, value in
                          LogonOptions(skip_pending_exec_reports=skip_pending).to_fields("prediction"))
        self.head = f"{SOH}49={self.key}{SOH}56={self.comp}{SOH}34="
        self.feed([frame(f"35=A{self.head}1{SOH}52={sending}{SOH}98=0{SOH}108=30{SOH}95={len(sig)}{SOH}"
                         f"96={sig}{SOH}141=Y{SOH}1137=9{SOH}{options}")])
        self.seq = 2
        assert self.driver.session.is_active, bytes(self.transport.out)
        self.transport.out.clear()

    def order(self, side: str, tif: str, qty: int = 1) -> bytes:
        self.n += 1
        seq, self.seq = self.seq, self.seq + 1
        st = format_utc(self.clock.now())
        return frame(f"35=D{self.head}{seq}{SOH}52={st}{SOH}11=o{self.n}{SOH}38={qty}{SOH}40=2{SOH}44=50{SOH}"
                     f"54={side}{SOH}55={SYMBOL}{SOH}59={tif}{SOH}60={st}{SOH}")

    def feed(self, frames: list[bytes]) -> None:
        """One read, as the event loop hands it to the protocol."""
        data = b"".join(frames)
        buffer = self.driver.get_buffer(len(data))
        buffer[:len(data)] = data
        self.driver.buffer_updated(len(data))


async def _measure(base: Path, code: str, store: str, mix: str, per_read: int, reads: int, timed: bool = False):
    tif, skip_pending, crossing = MIXES[mix]
    with open(os.devnull, "w") as quiet:  # `init` talks on stderr too
        stderr, sys.stderr = sys.stderr, quiet
        try:
            ws = Workspace(base, store, accounts=2)
        finally:
            sys.stderr = stderr
    import yaml
    accounts = yaml.safe_load(ws.config.read_text())["accounts"]
    for a in accounts:
        a["private_key"] = a["public_key"].replace(".pub.pem", ".pem")  # keys.new_key_pair's names
    config = load_config(ws.config).without_rate_limits()  # as `serve --no-rate-limits`
    clock = _Clock()
    old = os.getcwd()
    os.chdir(base)  # the file store's path is relative to the workspace
    try:
        sim = Simulator(config, clock=clock)
        await sim.start(control_port=None, listen=False)
        try:
            return await _run(sim, clock, code, accounts, tif, skip_pending, crossing, per_read, reads, timed)
        finally:
            await sim.stop()
    finally:
        os.chdir(old)


async def _run(sim, clock, code, accounts, tif, skip_pending, crossing, per_read, reads, timed=False):
    taker = _Client(sim, clock, code, accounts[0], skip_pending)
    maker = _Client(sim, clock, code, accounts[1], skip_pending)
    if crossing:
        maker.feed([maker.order("2", "1", qty=5_000_000)])
        assert b"39=0" in maker.transport.out, bytes(maker.transport.out)
    loop = asyncio.get_running_loop()
    total = Counts()
    cpu = 0.0
    for i in range(WARMUP + reads):
        clock.t += STEP
        frames = [taker.order("1", tif) for _ in range(per_read)]  # the client's work: not counted
        if i == WARMUP:
            taker.transport.out.clear()
            maker.transport.out.clear()
        started = time.thread_time()
        with counting(i >= WARMUP and not timed) as counts:
            taker.feed(frames)
            if loop._ready:  # what the read left for the loop (call_soon) is the order's cost too
                await asyncio.sleep(0)
        if i >= WARMUP:
            cpu += time.thread_time() - started
        total.calls += counts.calls
        total.opcodes += counts.opcodes
        assert not loop._ready
    for client in (taker, maker):
        client.driver.abort()  # gone before sim.stop(), which would wait for Logout answers
    await asyncio.sleep(0)
    orders = per_read * reads
    reports = taker.transport.out.count(b"\x0135=8\x01") + maker.transport.out.count(b"\x0135=8\x01")
    if timed:
        return cpu / orders * 1e6
    return total.calls / orders, total.opcodes / orders, reports / orders


CASES = [  # (session, store, mix)
    ("NR", "memory", "ioc"), ("NR", "memory", "gtc"), ("NR", "memory", "fill"), ("NR", "memory", "gtc+pn"),
    ("RT", "state/sim.db", "ioc"), ("RT", "state/sim.db", "gtc"), ("RT", "state/sim.db", "fill"),
    ("RT", "state/sim.db", "gtc+pn"),
]


def measure(code: str, store: str, mix: str, per_read: int, reads: int = READS, timed: bool = False):
    """(calls, bytecodes, ExecutionReports) per order for one case, in a fresh workspace; with
    `timed`, the CPU time per order in µs instead (this thread's, so another process running on
    the core does not count; still noisy on a shared machine, unlike the counts)."""
    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(_measure(Path(tmp), code, store, mix, per_read, reads, timed))


def run(quick: bool) -> list[dict]:
    rows = []
    for code, store, mix in CASES:
        row = {"session": code, "store": "memory" if store == "memory" else "file", "mix": mix}
        for per_read in (1, 10):
            calls, ops, reports = measure(code, store, mix, per_read)  # exact: quick or not
            row[f"calls ({per_read}/read)"] = round(calls, 1)
            row[f"bytecodes ({per_read}/read)"] = round(ops)
        row["reports/order"] = round(reports, 2)
        row["cpu µs/order (10/read)"] = round(min(measure(code, store, mix, 10, 200, timed=True)
                                                  for _ in range(1 if quick else 3)), 1)
        rows.append(row)
    return rows


def top(code: str, store: str, mix: str, per_read: int, n: int = 40) -> list[tuple[str, float, float]]:
    """The functions that run most per order in one case, where to look (`--top NR memory ioc
    1`): (function, calls per order, its own bytecodes per order), most bytecodes first."""
    import collections
    from contextlib import contextmanager
    calls: collections.Counter = collections.Counter()
    ops: collections.Counter = collections.Counter()

    def tracer(frame, event, arg):
        co = frame.f_code
        name = f"{co.co_qualname} ({Path(co.co_filename).name}:{co.co_firstlineno})"
        if event == "call":
            calls[name] += 1
            frame.f_trace_opcodes = True
        elif event == "opcode":
            ops[name] += 1
        return tracer

    @contextmanager
    def by_function(enabled: bool = True):
        if enabled:
            sys.settrace(tracer)
        try:
            yield Counts()
        finally:
            sys.settrace(None)
    real = globals()["counting"]
    globals()["counting"] = by_function
    try:
        measure(code, store, mix, per_read)
    finally:
        globals()["counting"] = real
    orders = per_read * READS
    return [(name, calls[name] / orders, count / orders) for name, count in ops.most_common(n)]


if __name__ == "__main__":
    if "--top" in sys.argv:  # python -m bench.order_calls --top NR memory ioc 1
        i = sys.argv.index("--top")
        code, store, mix, per_read = sys.argv[i + 1:i + 5]
        print("   calls  bytecodes  function (per order)")
        for name, calls, ops in top(code, "memory" if store == "memory" else "state/sim.db", mix, int(per_read), 80):
            print(f"{calls:8.2f}  {ops:9.1f}  {name}")
    else:
        from bench.__main__ import print_table
        print_table("order_calls", run(quick="--quick" in sys.argv))
