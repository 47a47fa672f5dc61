"""Memory per connection (issue 11 §4): the simulator's RSS growth for N silent TCP connections
(accepted, TLS never started) and for N logged-on KalshiNR sessions, over TLS.

Each measurement runs in a fresh process (memory freed by an earlier one would be reused and hide
the cost): a Simulator in a background thread (SimulatorThread), the clients in a child process,
so only the server's memory is counted. RSS is read from /proc/self/statm after a
full collection, before the clients connect and once the server has accepted all of them (the
connection caps' counters say when). Figures: KiB of RSS per connection.
"""
from __future__ import annotations

import dataclasses
import gc
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from kalshi_fixsim.simulator.certs import make_dev_certs
from kalshi_fixsim.simulator.config import AccountConfig, SessionSettings, TlsConfig, default_config
from kalshi_fixsim.simulator.keys import new_api_key_id, new_key_pair
from kalshi_fixsim.simulator.server import SimulatorThread

_SILENT = """
import socket, sys
socks = [socket.create_connection(("127.0.0.1", {port})) for _ in range({n})]
print("ready", flush=True); sys.stdin.readline()
"""

_LOGGED_ON = """
import socket, ssl, sys, time
from kalshi_fixsim.fixproto.codec import encode, format_utc
from kalshi_fixsim.fixproto.kalshi import load_private_key, logon_payload, sign_logon
key = load_private_key({key!r})
ctx = ssl.create_default_context(cafile={ca!r})
conns = []
for api_key in {keys!r}:
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", {port})), server_hostname="localhost")
    now = format_utc(time.time())
    sig = sign_logon(key, logon_payload(now, 1, api_key, "KalshiNR"))
    s.sendall(encode([(35, "A"), (49, api_key), (56, "KalshiNR"), (34, 1), (52, now), (98, 0), (108, 30),
                      (95, len(sig)), (96, sig), (141, "Y"), (1137, "9")]))
    assert b"\\x0135=A\\x01" in s.recv(65536)
    conns.append(s)
print("ready", flush=True); sys.stdin.readline()
"""


def _rss() -> int:
    gc.collect()
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _measure(runner: SimulatorThread, port: int, n: int, script: str) -> float:
    sim = runner.sim
    before = _rss()
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while runner.call(lambda: sim.connection_limits.peers.get("127.0.0.1", 0)) < n:
            assert time.monotonic() < deadline, "the server never accepted every connection"
            time.sleep(0.05)
        after = _rss()
    finally:
        child.stdin.write("\n")
        child.stdin.flush()
        child.wait(30)
    deadline = time.monotonic() + 30
    while runner.call(lambda: sim.connection_limits.peers.get("127.0.0.1", 0)) and time.monotonic() < deadline:
        time.sleep(0.05)  # all closed before the next measurement starts
    return (after - before) / n / 1024


def measure(kind: str, n: int) -> float:
    """KiB of RSS per connection of one kind ("silent" or "logged_on"), in this process."""
    base = Path(tempfile.mkdtemp(prefix="bench-connections-"))
    certs = make_dev_certs(base / "certs")
    pair = new_key_pair(base / "keys", "load")
    keys = [new_api_key_id() for _ in range(n)]
    accounts = [AccountConfig(name=f"load{i}", api_key=k, public_key_pem=pair.public_key_path.read_bytes(),
                              products=("prediction",), sessions=("NR",), balance=Decimal("1000"))
                for i, k in enumerate(keys)]
    session = dataclasses.replace(SessionSettings(), max_connections=10 * n, max_connections_per_peer=10 * n)
    config = dataclasses.replace(default_config().with_ports_zero().without_rate_limits(), accounts=accounts,
                                 tls=TlsConfig(True, certs.cert, certs.key, certs.ca), session=session)
    runner = SimulatorThread(config)
    sim = runner.start()
    port = sim.endpoint("prediction", "NR").port
    try:
        if kind == "silent":
            return _measure(runner, port, n, _SILENT.format(port=port, n=n))
        return _measure(runner, port, n, _LOGGED_ON.format(port=port, keys=keys, key=str(pair.private_key_path),
                                                          ca=str(certs.ca)))
    finally:
        runner.stop()


KINDS = {"silent": "silent TCP (no TLS handshake)", "logged_on": "logged-on KalshiNR session (TLS)"}


def run(quick: bool = False) -> list[dict]:
    n = 200 if quick else 1000
    rows = []
    for kind, label in KINDS.items():
        out = subprocess.run([sys.executable, "-c", f"from bench.connections import measure; print(measure({kind!r}, {n}))"],
                             capture_output=True, text=True, timeout=600, check=True)
        rows.append({"connections": n, "kind": label, "KiB each": float(out.stdout.strip().splitlines()[-1])})
    return rows
