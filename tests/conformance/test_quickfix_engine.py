"""A real QuickFIX C++ initiator against the simulator (issue 17 §3), following docs/clients.md:
the settings file from `client-config --engine quickfix`, the dictionaries from `dictionary`,
the signing helper and toAdmin hook compiled from the page, TLS through QuickFIX's
ThreadedSSLSocketInitiator. It logs on (so the signature verifies and the venue's Logon passes
QuickFIX's validation), sends a NewOrderSingle and validates the ExecutionReport it gets back.

Opt-in: needs g++ and QuickFIX C++ built with SSL (Debian: `apt-get install libquickfix-dev`).
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kalshi_fixsim.client.orders import new_order
from kalshi_fixsim.simulator.cli import main
from tests.wire import run

DOC = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
HEADERS = Path("/usr/include/quickfix/ThreadedSSLSocketInitiator.h")
HARNESS = Path(__file__).with_name("quickfix_harness.cpp")

pytestmark = pytest.mark.skipif(not (shutil.which("g++") and HEADERS.exists()),
                                reason="no g++ / QuickFIX C++ headers (apt-get install libquickfix-dev)")


def block(info: str) -> str:
    match = re.search(rf"^```{re.escape(info)}\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)
    assert match, f"no ```{info} block in {DOC}"
    return match.group(1)


@pytest.fixture(scope="module")
def harness(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("qfcpp")
    (out / "kalshi_signature.h").write_text(block("cpp kalshi_signature.h"))
    (out / "toAdmin.cpp").write_text(block("cpp toAdmin.cpp"))
    shutil.copy(HARNESS, out / "harness.cpp")
    # QuickFIX 1.15 headers use dynamic exception specifications: C++14 at most
    cmd = ["g++", "-std=c++14", "-DHAVE_SSL=1", "-Wno-deprecated", "-Wno-deprecated-declarations", "harness.cpp",
           "-o", "harness", "-lquickfix", "-lssl", "-lcrypto", "-lpthread"]
    done = subprocess.run(cmd, cwd=out, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "cannot find -lquickfix" in done.stderr:
        pytest.skip("QuickFIX C++ library not installed")
    assert done.returncode == 0, done.stderr[-3000:]
    return out / "harness"


def run_engine(fix_exchange, harness, tmp_path, capsys, code: str, mode: str) -> str:
    """client-config + dictionary for the endpoint, then the QuickFIX C++ harness; its output."""
    alice = fix_exchange.accounts["alice"]
    config = tmp_path / "sim.yaml"
    config.write_text(f"tls: {{ca: {fix_exchange.ca_file}}}\naccounts: []\n")
    assert main(["dictionary", "--out", str(tmp_path / "dict")]) == 0
    settings = tmp_path / "session.cfg"
    assert main(["client-config", "--engine", "quickfix", "--session", code, "--config", str(config),
                 "--api-key", alice.api_key, "--port", str(fix_exchange.endpoint("prediction", code).port),
                 "--dictionary-dir", str(tmp_path / "dict"), "--out", str(settings)]) == 0
    capsys.readouterr()
    done = subprocess.run([str(harness), str(settings), str(alice.private_key_path), "KXTEST-26JAN01-A", mode],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-2000:]
    assert "LOGON" in out and "Reject" not in out and "Invalid" not in out, out[-3000:]
    return out


@pytest.mark.parametrize("code", ["NR", "RT"])
def test_quickfix_cpp_logs_on_with_the_generated_settings_and_gets_a_valid_execution_report(
        fix_exchange, harness, tmp_path, capsys, code):
    out = run_engine(fix_exchange, harness, tmp_path, capsys, code, "order")
    assert "APP 8 150=0" in out  # the order's ack, passed by QuickFIX's validation
    orders = fix_exchange.control.orders()
    assert [(o["cl_ord_id"], o["account"]) for o in orders] == [("qf-1", "alice")]


def test_quickfix_cpp_subscribes_on_md_and_accepts_the_snapshot_with_its_group(fix_exchange, harness, tmp_path,
                                                                               capsys):
    async def rest_two_orders():
        async with fix_exchange.client("bob") as bob:
            bob.send("D", new_order("b1", "KXTEST-26JAN01-A", "buy", 40, 3))
            bob.send("D", new_order("b2", "KXTEST-26JAN01-A", "sell", 60, 2))
            await bob.collect()

    run(rest_two_orders())
    out = run_engine(fix_exchange, harness, tmp_path, capsys, "MD", "md")
    assert "APP W 150= 268=2" in out  # the snapshot's NoMDEntries group passed QuickFIX's validation
