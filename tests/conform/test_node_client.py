"""The Node.js raw-socket client (clients/node/client.js) against a plain simulator: the client
contract works for a program in another language (its own TLS, RSA-PSS and FIX framing)."""
from __future__ import annotations

import shutil

import pytest

from .procs import CLIENTS, ClientProcess, contract_env

NODE = shutil.which("node")
pytestmark = [pytest.mark.skipif(NODE is None, reason="node is not installed"),
              pytest.mark.conform_full]  # by default test_grading.py grades it through the CLI
CLIENT = [NODE or "node", str(CLIENTS / "node" / "client.js")]


def test_node_client_logs_on_and_out_on_sigterm(fix_exchange):
    with ClientProcess(CLIENT, contract_env(fix_exchange, session="NR", heartbeat=4)) as node:
        node.wait_line(r"logged on NR seq=1")
        fix_exchange.faults.add(fault="test_request", test_req_id="NODE-TR", session="NR", now=True)
        node.wait_line(r"TestRequest NODE-TR answered")
        assert node.terminate() == 0
        assert "exit" in node.drain()[-1]
    frames = [m["frame"] for m in fix_exchange.control.messages(session="prediction/NR", limit=50)
              if m["direction"] == "in"]
    assert any("|35=0|" in f and "|112=NODE-TR|" in f for f in frames)  # the TestRequest answered
    assert "|35=5|" in frames[-1]  # its Logout


def test_node_client_recovers_a_gap_on_rt_and_reconnects(fix_exchange):
    with ClientProcess(CLIENT, contract_env(fix_exchange, session="RT", heartbeat=4)) as node:
        node.wait_line(r"logged on RT seq=1")
        fix_exchange.faults.add(fault="skip_seq", count=2, session="RT", now=True)
        node.wait_line(r"ResendRequest \d+\.\.0")
        node.wait_line(r"gap filled")
        fix_exchange.faults.add(fault="resend_request", begin=1, end=0, session="RT", now=True)
        node.wait_line(r"gap fill 1\.\.\d+")
        fix_exchange.faults.add(fault="reset", session="RT", now=True)
        delay = float(node.wait_line(r"reconnecting in ([\d.]+) s").group(1))
        assert 1.0 <= delay < 1.5
        node.wait_line(r"logon sent reset=N")
        node.wait_line(r"logged on RT seq=\d+")
        assert node.terminate() == 0
