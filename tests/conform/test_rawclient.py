"""The raw-socket client (clients/rawclient.py, no kalshi_fixsim code) against a plain simulator:
without --bug it logs on, trades, recovers a gap, answers a resend and reconnects."""
from __future__ import annotations

import pytest

from .procs import CLIENTS, PYTHON, ClientProcess, contract_env

pytestmark = pytest.mark.conform_full  # by default test_grading.py grades it through the kit

RAW = [PYTHON, str(CLIENTS / "rawclient.py")]


@pytest.mark.parametrize("product", ["prediction", "margin"])
def test_raw_client_logs_on_with_its_own_signature_and_trades(fix_exchange, product):
    with ClientProcess(RAW, contract_env(fix_exchange, product=product, session="NR")) as raw:
        raw.wait_line(rf"logged on {product} NR seq=1")
        order = raw.wait_line(r"order (\S+) buy 1 @ (\S+)")
        assert order.group(2) == ("10" if product == "prediction" else "3000.0000")
        raw.wait_line(rf"execution report {order.group(1)} 0/0")
        raw.wait_line(r"execution report \S+ 4/4")  # its cancel of the resting order
        assert raw.terminate() == 0
        assert "logout answered" in " ".join(raw.drain())


def test_raw_client_asks_for_a_gap_on_rt_and_reconnects_after_a_reset(fix_exchange):
    with ClientProcess(RAW, contract_env(fix_exchange, session="RT")) as raw:
        raw.wait_line(r"logged on prediction RT seq=1")
        raw.wait_line(r"execution report")
        fix_exchange.faults.add(fault="skip_seq", count=2, session="RT", now=True)
        raw.wait_line(r"gap: expected seq=\d+")
        raw.wait_line(r"ResendRequest \d+\.\.0")
        raw.wait_line(r"gap filled")
        fix_exchange.faults.add(fault="resend_request", begin=1, end=0, session="RT", now=True)
        raw.wait_line(r"ResendRequest from the venue 1\.\.0")
        assert int(raw.wait_line(r"resent (\d+) messages of 1\.\.").group(1)) >= 1
        raw.wait_line(r"execution report")  # answered after the venue read the replay (TCP order)
        fix_exchange.faults.add(fault="reset", session="RT", now=True)
        raw.wait_line(r"disconnected")
        delay = float(raw.wait_line(r"reconnecting in ([\d.]+) s").group(1))
        assert 1.0 <= delay < 1.5
        raw.wait_line(r"logon sent seq=\d+ reset=N")
        raw.wait_line(r"logged on prediction RT")
        assert raw.terminate() == 0
    resent = [m for m in fix_exchange.control.messages(session="prediction/RT", limit=500)
              if m["direction"] == "in" and "|43=Y|" in m["frame"]]
    assert any("|35=D|" in m["frame"] for m in resent)   # orders replayed with PossDup
    assert any("|35=4|" in m["frame"] and "|123=Y|" in m["frame"] for m in resent)  # admin gap-filled


def test_raw_client_resets_on_a_gap_on_nr(fix_exchange):
    with ClientProcess(RAW, contract_env(fix_exchange, session="NR")) as raw:
        raw.wait_line(r"logged on prediction NR seq=1")
        fix_exchange.faults.add(fault="skip_seq", count=1, session="NR", now=True)
        raw.wait_line(r"logout sent MsgSeqNum gap")
        raw.wait_line(r"logon sent seq=1 reset=Y")
        raw.wait_line(r"logged on prediction NR seq=1")
        assert raw.terminate() == 0


@pytest.mark.parametrize("session,duty", [("MD", r"received W"), ("DC", r"received U2")])
def test_raw_client_does_its_session_duty(fix_exchange, session, duty):
    with ClientProcess(RAW, contract_env(fix_exchange, session=session)) as raw:
        raw.wait_line(rf"logged on prediction {session}")
        raw.wait_line(duty)
        assert raw.terminate() == 0
