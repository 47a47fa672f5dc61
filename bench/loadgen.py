"""The project's own order round-trip load generator (issue 15): windowed, several sessions.

Each session logs on (RSA-PSS signature, spec 01 §3), then keeps at most `window`
NewOrderSingle in flight: an order is in flight from its write until the first
ExecutionReport with its ClOrdID. Even sessions buy, odd sessions sell, one contract at one
price, so orders of different sessions cross and fill (both sides get reports) or rest.
Built to be cheap per order, so that it is not the bottleneck: orders are formatted from one
template (only MsgSeqNum, SendingTime, ClOrdID change), inbound frames are cut with
bytes.find and only 35 and 11 are looked at, refills go out as one write per read.
"""
from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass, field

from kalshi_fixsim.fixproto.codec import format_utc
from kalshi_fixsim.fixproto.kalshi import LogonOptions, load_private_key, logon_payload, sign_logon

__all__ = ["Target", "Result", "run_load", "frame"]

SOH = "\x01"


def frame(body: str) -> bytes:
    """8=FIXT.1.1|9=len|<body>10=sum| for a body of `tag=value<SOH>` pairs."""
    head = f"8=FIXT.1.1\x019={len(body)}\x01{body}".encode("latin-1")
    return head + b"10=%03d\x01" % (sum(head) % 256)


@dataclass
class Target:
    host: str
    port: int
    comp_id: str            # KalshiNR / KalshiRT
    api_key: str
    private_key: str        # path
    tls: bool = False
    ca_file: str | None = None
    side: str = "1"         # 1 buy, 2 sell
    symbol: str = ""
    price: str = "50"


@dataclass
class Result:
    orders: int = 0
    rejected: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    acked_ids: set[bytes] = field(default_factory=set)   # every ClOrdID that got a report (kill tests)
    milestone: tuple[int, asyncio.Event] | None = None   # (acks, event set when that many arrived)

    def percentile(self, q: float) -> float:
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(q * len(data)))] if data else 0.0


class _Client(asyncio.Protocol):
    def __init__(self, target: Target, orders: int, window: int, prefix: str, result: Result,
                 done: asyncio.Future) -> None:
        self.t, self.total, self.window, self.prefix, self.result, self.done = \
            target, orders, window, prefix, result, done
        self.seq = 1
        self.sent = 0
        self.acked = 0
        self.inflight: dict[bytes, float] = {}
        self.buf = b""
        self.logged_on = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.head = f"{SOH}49={target.api_key}{SOH}56={target.comp_id}{SOH}34="
        self.tail = f"{SOH}38=1{SOH}40=2{SOH}44={target.price}{SOH}54={target.side}{SOH}55={target.symbol}{SOH}"

    def connection_made(self, transport) -> None:
        self.transport = transport
        now = time.time()
        st = format_utc(now)
        sig = sign_logon(load_private_key(self.t.private_key), logon_payload(st, 1, self.t.api_key, self.t.comp_id))
        options = "".join(f"{tag}={value}{SOH}" for tag, value in
                          LogonOptions(skip_pending_exec_reports=True).to_fields("prediction"))
        reset = f"141=Y{SOH}"  # every run starts at 1 (NR requires it; RT allows it, spec 01 §6)
        body = (f"35=A{self.head}1{SOH}52={st}{SOH}98=0{SOH}108=30{SOH}95={len(sig)}{SOH}96={sig}{SOH}"
                f"{reset}1137=9{SOH}{options}")
        self.seq = 2
        transport.write(frame(body))

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data
        pos = 0
        out: list[bytes] = []
        now = time.perf_counter()
        while True:
            end = buf.find(b"\x0110=", pos)
            if end < 0:
                break
            stop = buf.find(b"\x01", end + 4)
            if stop < 0:
                break
            msg = buf[pos:stop + 1]
            pos = stop + 1
            i = msg.find(b"\x0135=")
            mt = msg[i + 4:msg.find(b"\x01", i + 4)]
            if mt == b"8":
                j = msg.find(b"\x0111=")
                cl = msg[j + 4:msg.find(b"\x01", j + 4)]
                sent = self.inflight.pop(cl, None)
                if sent is not None:
                    result = self.result
                    result.latencies.append(now - sent)
                    result.acked_ids.add(cl)
                    self.acked += 1
                    if result.milestone is not None and len(result.latencies) >= result.milestone[0]:
                        result.milestone[1].set()
                    if b"\x01150=8\x01" in msg:
                        self.result.rejected += 1
            elif mt == b"A":
                if not self.logged_on.done():
                    self.logged_on.set_result(None)
            elif mt == b"1":  # TestRequest: a Heartbeat with its id
                j = msg.find(b"\x01112=") + 5
                test_id = msg[j:msg.find(b"\x01", j)].decode("latin-1")
                out.append(self._admin("0", f"112={test_id}{SOH}"))
            elif mt in (b"5", b"3", b"j"):
                error = RuntimeError(f"{self.t.comp_id}: {msg!r}")
                for future in (self.logged_on, self.done):
                    if not future.done():
                        future.set_exception(error)
                return
        self.buf = buf[pos:]
        if self.logged_on.done():
            self._refill(out)
        elif out:
            self.transport.write(b"".join(out))

    def _admin(self, mt: str, body: str) -> bytes:
        seq, self.seq = self.seq, self.seq + 1
        return frame(f"35={mt}{self.head}{seq}{SOH}52={format_utc(time.time())}{SOH}{body}")

    def start(self) -> None:
        self._refill([])

    def _refill(self, out: list[bytes]) -> None:
        st = format_utc(time.time())
        now = time.perf_counter()
        while self.sent < self.total and len(self.inflight) < self.window:
            self.sent += 1
            cl = f"{self.prefix}{self.sent}"
            seq, self.seq = self.seq, self.seq + 1
            out.append(frame(f"35=D{self.head}{seq}{SOH}52={st}{SOH}11={cl}{self.tail}60={st}{SOH}"))
            self.inflight[cl.encode()] = now
        if out:
            self.transport.write(b"".join(out))
        if self.acked >= self.total and not self.done.done():
            self.done.set_result(None)

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.done.set_exception(RuntimeError(f"{self.t.comp_id}: connection lost ({exc})"))


async def run_load(targets: list[Target], orders: int, window: int, *, warmup: int = 0,
                   timeout: float = 120.0, run_id: str = "", result: Result | None = None) -> Result:
    """Every target's session logs on, then sends `orders` (after `warmup` unmeasured ones)."""
    loop = asyncio.get_running_loop()
    result = result or Result()
    clients: list[_Client] = []
    for n, t in enumerate(targets):
        ctx = None
        if t.tls:
            ctx = ssl.create_default_context(cafile=t.ca_file)
        done = loop.create_future()
        _, client = await loop.create_connection(
            lambda t=t, d=done, n=n: _Client(t, warmup + orders, window, f"{run_id}s{n}o", result, d),
            t.host, t.port, ssl=ctx, server_hostname="localhost" if ctx else None)
        clients.append(client)
    await asyncio.wait_for(asyncio.gather(*(c.logged_on for c in clients)), timeout)
    for c in clients:
        c.total = warmup
        c.start()
    if warmup:
        await _all(clients, timeout)
    if warmup:
        result.latencies.clear()
        result.rejected = 0
    for c in clients:
        c.done = loop.create_future()
        c.total = warmup + orders
    started = time.perf_counter()
    for c in clients:
        c.start()
    await _all(clients, timeout)
    result.seconds = time.perf_counter() - started
    result.orders = orders * len(clients)
    for c in clients:
        c.transport.close()
    return result


async def _all(clients: list[_Client], timeout: float) -> None:
    await asyncio.wait_for(asyncio.gather(*(c.done for c in clients)), timeout)
