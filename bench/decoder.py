"""Decoder throughput: fixproto's Framer + parse against simplefix's FixParser, same bytes.

The corpus is deterministic: ~60% ExecutionReports, ~30% NewOrderSingles, ~10% Heartbeats,
encoded with fixproto's `encode` and concatenated into one stream.

Both decoders get the stream as 4 KiB reads (a socket's recv size), so the ratio compares
like with like. fixproto is also timed on the whole stream in one `feed`. simplefix is not:
its parser re-slices the rest of its buffer after every field, so one append of a stream of
megabytes gets slower with its size (quadratic), which says nothing about real use.
"""
from __future__ import annotations

import calendar
import gc
import random
import time
from decimal import Decimal
from importlib.metadata import version

from kalshi_fixsim.fixproto.codec import Framer, encode, format_utc, parse

N_FULL = 10_000
N_QUICK = 1_000
REPEAT = 5
READ_SIZE = 4096
SEED = 20261121

_T0 = calendar.timegm((2026, 11, 21, 14, 30, 0, 0, 0, 0))
_SERIES = ["KXHIGHNY", "KXHIGHCHI", "KXINXD", "KXBTCD", "KXFEDDECISION", "KXCPIYOY"]
_MEMBERS = ["member-7f3a", "member-02c1", "member-9be4"]


def build_corpus(n: int, seed: int = SEED) -> list[bytes]:
    """n realistic frames: ExecutionReport 60%, NewOrderSingle 30%, Heartbeat 10%."""
    rng = random.Random(seed)
    symbols = [f"{s}-26NOV21-T{rng.randint(10, 99)}" for s in _SERIES for _ in range(4)]
    frames = []
    seq = {"in": 1, "out": 1}
    now = _T0
    open_orders: list[tuple[str, str, str, int, Decimal]] = []
    for i in range(n):
        now += rng.uniform(0.0005, 0.02)
        stamp = format_utc(now)
        roll = rng.random()
        if roll < 0.6 and open_orders:
            frames.append(_execution_report(rng, seq, stamp, open_orders))
        elif roll < 0.9 or not open_orders:
            frames.append(_new_order_single(rng, seq, stamp, symbols, open_orders, i))
        else:
            frames.append(_heartbeat(rng, seq, stamp))
    return frames


def _header(msg_type: str, sender: str, target: str, seq: int, stamp: str) -> list:
    return [(35, msg_type), (49, sender), (56, target), (34, seq), (52, stamp)]


def _new_order_single(rng, seq, stamp, symbols, open_orders, i) -> bytes:
    member = rng.choice(_MEMBERS)
    cl_ord_id = f"cl-20261121-{i:07d}"
    symbol = rng.choice(symbols)
    side = rng.choice("12")
    qty = rng.choice((1, 5, 10, 25, 50, 100, 250))
    price = Decimal(rng.randint(1, 99)) / 100
    fields = _header("D", "KX-CLIENT-01", "KalshiNR", seq["out"], stamp) + [
        (11, cl_ord_id), (55, symbol), (54, side), (38, qty), (40, "2"), (44, price),
        (59, rng.choice("0136")), (60, stamp),
        (453, 1), (448, member), (447, "D"), (452, 24),
    ]
    if rng.random() < 0.5:
        fields.append((18, "6"))  # post-only
    if rng.random() < 0.3:
        fields.append((1138, rng.randint(1, qty)))  # DisplayQty
    if rng.random() < 0.3:
        fields.append((526, f"strategy-{rng.randint(1, 9)}"))
    seq["out"] += 1
    open_orders.append((cl_ord_id, symbol, side, qty, price))
    if len(open_orders) > 200:
        open_orders.pop(0)
    return encode(fields)


def _execution_report(rng, seq, stamp, open_orders) -> bytes:
    cl_ord_id, symbol, side, qty, price = rng.choice(open_orders)
    filled = rng.randint(0, qty)
    status = "0" if filled == 0 else ("2" if filled == qty else "1")
    exec_type = "0" if filled == 0 else "F"
    last_qty = rng.randint(1, filled) if filled else 0
    fields = _header("8", "KalshiNR", "KX-CLIENT-01", seq["in"], stamp) + [
        (37, "%08x-%04x-4%03x-%04x-%012x" % (
            rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
            rng.getrandbits(16), rng.getrandbits(48))),
        (11, cl_ord_id), (17, f"ex-{rng.getrandbits(40):010x}"), (150, exec_type), (39, status),
        (55, symbol), (54, side), (40, "2"), (59, "1"), (38, qty), (44, price),
        (32, last_qty), (31, price), (151, qty - filled), (14, filled), (6, price), (60, stamp),
        (453, 2), (448, rng.choice(_MEMBERS)), (447, "D"), (452, 24),
        (448, "KX-CLIENT-01"), (447, "D"), (452, 3),
    ]
    if filled:
        fields += [(1057, rng.choice("YN")), (12, Decimal(rng.randint(0, 7)) / 100)]
    if rng.random() < 0.25:
        fields.append((58, rng.choice(["partially filled", "order accepted", "post-only resting"])))
    seq["in"] += 1
    return encode(fields)


def _heartbeat(rng, seq, stamp) -> bytes:
    fields = _header("0", "KalshiNR", "KX-CLIENT-01", seq["in"], stamp)
    if rng.random() < 0.3:
        fields.append((112, f"TEST-{rng.getrandbits(32)}"))
    seq["in"] += 1
    return encode(fields)


def _reads(stream: bytes, size: int = READ_SIZE) -> list[bytes]:
    return [stream[i:i + size] for i in range(0, len(stream), size)]


def decode_ours_whole(stream: bytes) -> int:
    count = 0
    for item in Framer().feed(stream):
        if item.__class__ is bytes:
            parse(item)
            count += 1
    return count


def decode_ours_reads(reads: list[bytes]) -> int:
    framer = Framer()
    count = 0
    for chunk in reads:
        for item in framer.feed(chunk):
            if item.__class__ is bytes:
                parse(item)
                count += 1
    return count


def decode_simplefix_reads(reads: list[bytes]) -> int:
    import simplefix

    parser = simplefix.FixParser()
    count = 0
    for chunk in reads:
        parser.append_buffer(chunk)
        while parser.get_message() is not None:
            count += 1
    return count


def check_same_fields(stream: bytes, reads: list[bytes], n: int) -> None:
    """Outside the timing: both decoders give the same n messages with the same fields."""
    import simplefix

    ours = [parse(item) for item in Framer().feed(stream) if item.__class__ is bytes]
    parser = simplefix.FixParser()
    theirs = []
    for chunk in reads:
        parser.append_buffer(chunk)
        while (msg := parser.get_message()) is not None:
            theirs.append([(int(t), v.decode("latin-1")) for t, v in msg.pairs])
    assert len(ours) == len(theirs) == n, (len(ours), len(theirs), n)
    assert [m.pairs for m in ours] == theirs


def run(quick: bool = False) -> list[dict]:
    n = N_QUICK if quick else N_FULL
    frames = build_corpus(n)
    stream = b"".join(frames)
    reads = _reads(stream)
    check_same_fields(stream, reads, n)
    fields = sum(f.count(b"\x01") for f in frames)
    kinds = {t: sum(f.split(b"\x01", 3)[2] == b"35=" + t for f in frames) for t in (b"8", b"D", b"0")}
    sizes = sorted(f.count(b"\x01") for f in frames)

    cases = [
        ("fixproto Framer.feed + parse, 4 KiB reads", decode_ours_reads, reads),
        ("fixproto Framer.feed + parse, whole stream", decode_ours_whole, stream),
        ("simplefix FixParser append_buffer + get_message, 4 KiB reads", decode_simplefix_reads, reads),
    ]
    # Best of REPEAT, the cases interleaved so that a slow spell of the machine hits them all.
    # Messages are dropped as they come, as a session would: keeping them all alive would
    # time the garbage collector walking an ever larger heap.
    best = {name: float("inf") for name, _, _ in cases}
    for _ in range(REPEAT):
        for name, fn, arg in cases:
            gc.collect()
            started = time.perf_counter()
            count = fn(arg)
            best[name] = min(best[name], time.perf_counter() - started)
            assert count == n, (name, count, n)

    corpus = (f"{n:,} msgs ({kinds[b'8'] * 100 // n}% 35=8, {kinds[b'D'] * 100 // n}% 35=D, "
              f"{kinds[b'0'] * 100 // n}% 35=0), {sizes[0]}-{sizes[-1]} fields (mean {fields / n:.1f}, "
              f"8/9/10 included), {len(stream) / n:.0f} B/msg, {len(stream) / 1e6:.2f} MB")
    print(f"corpus: {corpus}; best of {REPEAT}; simplefix {version('simplefix')}")
    simplefix_rate = n / best[cases[-1][0]]
    return [
        {"decoder": name, "best s": best[name], "msg/s": n / best[name],
         "MB/s": len(stream) / best[name] / 1e6,
         "vs simplefix": f"{n / best[name] / simplefix_rate:.1f}x"}
        for name, _, _ in cases
    ]
