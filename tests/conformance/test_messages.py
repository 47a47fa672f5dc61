"""The /messages journal and the message logs (issue 10 §3, §7; issue 11 §4)."""
from __future__ import annotations

import dataclasses
import logging
import ssl
import urllib.request

import pytest

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.orders import cancel_order, new_order
from kalshi_fixsim.fixproto.codec import encode
from kalshi_fixsim.simulator.cli import main
from kalshi_fixsim.simulator.config import JournalConfig
from kalshi_fixsim.simulator.transcript import message_log_name
from tests.conformance.test_control import http
from tests.wire import RawConnection, logon, message, run

A = "KXTEST-26JAN01-A"
OPTS = LogonOptions(skip_pending_exec_reports=True)


def get_text(base: str, path: str) -> tuple[str, str]:
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return response.headers.get_content_type(), response.read().decode()


@pytest.fixture
def fx(fix_exchange_factory):
    return fix_exchange_factory(control_port=0)


async def order_then_cancel(fx, account="alice", cl="o1", product="prediction", session="NR"):
    async with fx.client(account, product, session, options=OPTS) as fix:
        fix.send("D", new_order(cl, A, "buy", 40, 1))
        await fix.expect("8")
        fix.send("F", cancel_order(cl + "-c", cl, A, "buy"))
        await fix.collect()


def session_id(fx, account: str, product="prediction", code="NR") -> str:
    return f"{product}/{code}/{fx.accounts[account].api_key}"


def test_get_messages_text_format_is_one_readable_line_per_message_and_raw_stays_the_default(fx):
    run(order_then_cancel(fx))
    base = fx.control_url
    status, rows = http(base, "GET", "/messages?limit=500")
    assert status == 200 and isinstance(rows, list) and all("|35=" in r["frame"] for r in rows)
    content_type, text = get_text(base, "/messages?format=text&limit=500")
    assert content_type == "text/plain"
    lines = text.splitlines()
    assert len(lines) == len(rows)
    order = next(line for line in lines if "35=D(NewOrderSingle)" in line)
    assert session_id(fx, "alice") in order and " in 35=D(NewOrderSingle) " in order
    assert "11(ClOrdID)=o1" in order and "54(Side)=1(BuyYes)" in order
    assert any("35=8(ExecutionReport)" in line and "150(ExecType)=0(New)" in line for line in lines)
    _, block = get_text(base, "/messages?format=block&msg_type=D")
    rows_of_block = [line.split() for line in block.splitlines()]
    assert ["11", "ClOrdID", "o1"] in rows_of_block and ["35", "MsgType", "D", "(NewOrderSingle)"] in rows_of_block
    assert sum(row[:2] == ["35", "MsgType"] for row in rows_of_block) == 1
    assert http(base, "GET", "/messages?format=xml")[0] == 400


def test_messages_filter_by_session_msgtype_and_clordid_in_both_forms(fx):
    run(order_then_cancel(fx, "alice", "a1"))
    run(order_then_cancel(fx, "bob", "b1"))
    base = fx.control_url
    alice = session_id(fx, "alice")
    rows = http(base, "GET", f"/messages?limit=500&session={alice}")[1]
    assert rows and {r["session"] for r in rows} == {alice}
    assert any("|35=A|" in r["frame"] for r in rows)  # the Logon that opened the session is the session's too
    assert {r["session"] for r in http(base, "GET", "/messages?limit=500&session=prediction/NR")[1]} == \
        {alice, session_id(fx, "bob")}
    reports = http(base, "GET", "/messages?limit=500&msg_type=8")[1]
    assert reports and all("|35=8|" in r["frame"] for r in reports)
    by_order = http(base, "GET", "/messages?limit=500&cl_ord_id=b1")[1]
    # the order, its New report, the cancel (41=b1) and its Canceled report (41=b1)
    assert [r["frame"].split("|35=")[1][0] for r in by_order] == ["D", "8", "F", "8"]
    _, text = get_text(base, "/messages?format=text&limit=500&cl_ord_id=b1&msg_type=F")
    assert len(text.splitlines()) == 1 and "11(ClOrdID)=b1-c" in text and "41(OrigClOrdID)=b1" in text
    assert http(base, "GET", "/messages?limit=2")[1] == rows_tail(http(base, "GET", "/messages?limit=500")[1], 2)


def rows_tail(rows, n):
    return rows[-n:]


def test_ctl_messages_takes_the_same_options(fx, capsys):
    run(order_then_cancel(fx, "alice", "c1"))
    port = str(fx.sim.control_server.port)
    assert main(["ctl", "--port", port, "messages", "--format", "text", "--msg-type", "8", "--cl-ord-id", "c1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all("35=8(ExecutionReport)" in line for line in lines)
    assert main(["ctl", "--port", port, "messages", "3", "--session", session_id(fx, "alice")]) == 0
    out = capsys.readouterr().out
    assert out.count('"session"') == 3


def test_reset_clears_the_messages_journal(fx, capsys):
    run(order_then_cancel(fx))
    assert http(fx.control_url, "GET", "/messages")[1]
    assert http(fx.control_url, "POST", "/reset", {})[0] == 200
    assert http(fx.control_url, "GET", "/messages")[1] == []
    run(order_then_cancel(fx, cl="o2"))
    assert main(["ctl", "--port", str(fx.sim.control_server.port), "reset"]) == 0
    assert http(fx.control_url, "GET", "/messages")[1] == []
    assert fx.sim.transcript.bytes == 0


def test_a_flood_of_990kb_test_requests_keeps_the_journal_under_its_byte_cap(fix_exchange_factory):
    cap = 1024 * 1024
    fx = fix_exchange_factory(control_port=0, journal=JournalConfig(max_bytes=cap, max_frame_bytes=32 * 1024))
    alice = fx.accounts["alice"]
    big = "x" * 990_000
    count = 40  # 40 MB in, 40 MB of Heartbeats out

    async def flood():
        conn = await RawConnection.open(fx, "prediction", "NR")
        conn.send(logon(alice, "KalshiNR"))
        assert (await conn.expect("A")).get(35) == "A"
        for seq in range(2, 2 + count):
            conn.send(message(alice, "KalshiNR", "1", seq, [(112, f"{seq}-{big}")]))
            beat = await conn.expect("0", timeout=10)
            assert beat.get(112, "").startswith(f"{seq}-")  # the session keeps answering
        conn.close()
    run(flood(), timeout=60)
    journal = fx.sim.transcript
    kept = fx.call(lambda: list(journal.entries))
    assert journal.bytes <= cap and sum(len(e.frame) for e in kept) <= cap
    assert all(len(e.frame) <= 32 * 1024 for e in kept)
    rows = http(fx.control_url, "GET", "/messages?limit=2000&msg_type=1")[1]
    assert rows and all(r["truncated"] and r["size"] > 990_000 for r in rows)
    assert all(r["frame"].endswith(f"[truncated, {r['size']} bytes]") for r in rows)
    _, text = get_text(fx.control_url, "/messages?format=text&limit=1&msg_type=0")
    assert "35=0(Heartbeat)" in text and "[truncated, " in text


def test_message_log_folder_has_one_file_per_session_with_time_direction_and_readable_lines(
        fix_exchange_factory, tmp_path):
    folder = tmp_path / "logs"
    fx = fix_exchange_factory(journal=JournalConfig(message_log=folder))
    run(order_then_cancel(fx, "alice", "f1"))
    run(order_then_cancel(fx, "alice", "f2"))  # a second connection of the same session: the same file
    run(order_then_cancel(fx, "bob", "f3", "prediction", "RT"))

    async def margin():
        async with fx.client("alice", "margin", "NR", options=OPTS) as fix:
            await fix.collect()
    run(margin())
    # line-buffered: every line is in the file as soon as the message crossed the wire
    alice, bob = fx.accounts["alice"].api_key, fx.accounts["bob"].api_key
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([f"FIXT.1.1-KalshiNR-{alice}.messages.log", f"FIXT.1.1-KalshiRT-{bob}.messages.log",
                            f"FIXT.1.1-KalshiNR-{alice}-margin.messages.log"])
    assert message_log_name(f"prediction/NR/{alice}", "KalshiNR") == names[names.index(
        f"FIXT.1.1-KalshiNR-{alice}.messages.log")]
    lines = (folder / f"FIXT.1.1-KalshiNR-{alice}.messages.log").read_text().splitlines()
    assert sum("35=A(Logon)" in line for line in lines) == 4  # two connections: Logon in and out each
    first = lines[0].split(maxsplit=2)
    assert first[1] == "in" and first[2].startswith("35=A(Logon)") and len(first[0]) == len("20260101-00:00:00.000")
    assert any(" out 35=8(ExecutionReport)" in line and "11(ClOrdID)=f2" in line for line in lines)
    assert not any("11(ClOrdID)=f3" in line for line in lines)


def test_log_messages_logs_every_message_per_session_and_is_off_by_default(fix_exchange_factory, caplog):
    caplog.set_level(logging.INFO, logger="kalshi_fixsim.messages")
    quiet = fix_exchange_factory()
    run(order_then_cancel(quiet, "alice", "q1"))
    assert not [r for r in caplog.records if r.name == "kalshi_fixsim.messages"]
    loud = fix_exchange_factory(journal=JournalConfig(log_messages=True))
    run(order_then_cancel(loud, "alice", "l1"))
    lines = [r.getMessage() for r in caplog.records if r.name == "kalshi_fixsim.messages"]
    alice = session_id(loud, "alice")
    assert any(line.startswith(f"{alice} in  35=D(NewOrderSingle)") and "11(ClOrdID)=l1" in line for line in lines)
    assert any(line.startswith(f"{alice} out 35=8(ExecutionReport)") for line in lines)
    assert any(line.startswith("prediction/NR/- in  35=A(Logon)") for line in lines)  # before the Logon is accepted


def test_serve_log_messages_and_message_log_switches(tmp_path):
    import re
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import yaml

    from kalshi_fixsim.client import FixClient
    from kalshi_fixsim.simulator.config import load_config

    config = tmp_path / "sim.yaml"
    assert main(["init", "--config", str(config)]) == 0
    data = yaml.safe_load(config.read_text())
    for product in data["products"].values():
        product["ports"] = {code: 0 for code in product["ports"]}
    data["store"] = "memory"
    config.write_text(yaml.safe_dump(data))
    alice = next(a for a in load_config(config).accounts if a.name == "alice")
    logs = tmp_path / "fixlogs"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "kalshi_fixsim", "serve", "--config", str(config),
                             "--control-port", "-1", "--log-messages", "--message-log", str(logs)], cwd=root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (lines and lines[-1].startswith("CA file")):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        port = int(re.search(r"^prediction\s+NR\s+KalshiNR\s+127\.0\.0\.1:(\d+)", "".join(lines), re.M).group(1))

        async def logon_and_off():
            fix = FixClient(product="prediction", session="NR", host="127.0.0.1", port=port, api_key=alice.api_key,
                            private_key=tmp_path / "keys" / "alice.pem", ca_file=tmp_path / "certs" / "ca.pem")
            await fix.connect()
            await fix.logout()
        run(logon_and_off())
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    session = f"prediction/NR/{alice.api_key}"
    assert f"kalshi_fixsim.messages: prediction/NR/- in  35=A(Logon)" in out  # without -v; before acceptance
    assert f"kalshi_fixsim.messages: {session} out 35=A(Logon)" in out
    assert f"kalshi_fixsim.messages: {session} in  35=5(Logout)" in out
    (log_file,) = logs.iterdir()
    assert log_file.name == f"FIXT.1.1-KalshiNR-{alice.api_key}.messages.log"
    kinds = [line.split(maxsplit=2)[1:] for line in log_file.read_text().splitlines()]
    assert [(d, rest.split()[0]) for d, rest in kinds] == [("in", "35=A(Logon)"), ("out", "35=A(Logon)"),
                                                         ("in", "35=5(Logout)"), ("out", "35=5(Logout)")]
