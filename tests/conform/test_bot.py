"""The reference bot (`python -m kalshi_fixsim.client.bot`) against a plain simulator: it logs
on from the contract's environment variables, trades, reconnects after the venue drops it,
and logs out on SIGTERM."""
from __future__ import annotations

import pytest

from .procs import PYTHON, ClientProcess, contract_env

BOT = [PYTHON, "-m", "kalshi_fixsim.client.bot"]


def _sessions(fx, code: str) -> list[dict]:
    return [s for s in fx.control.sessions() if s["session"] == code and s["account"] == "alice"]


def test_bot_logs_on_trades_and_cancels_from_the_contract_env(fix_exchange):
    with ClientProcess(BOT, contract_env(fix_exchange, session="NR")) as bot:
        bot.wait_line(r"logged on prediction NR")
        first = bot.wait_line(r"order (bot\w+-\d+) buy 1 @ 10$").group(1)
        bot.wait_line(rf"execution report {first} exec_type=0 ord_status=0")
        bot.wait_line(rf"cancel {first}$")
        bot.wait_line(rf"execution report \S+ exec_type=4 ord_status=4")
        sent = fix_exchange.control.messages(session="prediction/NR", msg_type="D", cl_ord_id=first)
        assert [m["direction"] for m in sent] == ["in"] and "|44=10|" in sent[0]["frame"]
        assert bot.terminate() == 0
        assert any("logged out" in line for line in bot.drain())


def test_bot_prices_in_dollars_on_margin_and_with_use_dollars(fix_exchange):
    with ClientProcess(BOT, contract_env(fix_exchange, product="margin", session="RT")) as bot:
        bot.wait_line(r"logged on margin RT")
        order = bot.wait_line(r"order (\S+) buy 1 @ 3000.0000$").group(1)
        bot.wait_line(rf"execution report {order} exec_type=0 ord_status=0")
        assert bot.terminate() == 0
    with ClientProcess(BOT, contract_env(fix_exchange, session="NR", use_dollars="Y")) as bot:
        order = bot.wait_line(r"order (\S+) buy 1 @ 0.10$").group(1)
        bot.wait_line(rf"execution report {order} exec_type=0 ord_status=0")
        assert bot.terminate() == 0


def test_bot_reconnects_with_backoff_after_a_venue_reset(fix_exchange):
    with ClientProcess(BOT, contract_env(fix_exchange, session="RT")) as bot:
        bot.wait_line(r"logged on prediction RT seq=1$")
        bot.wait_line(r"execution report")
        fix_exchange.faults.add(fault="reset", session="RT", now=True)
        bot.wait_line(r"disconnected")
        delay = float(bot.wait_line(r"reconnecting in ([\d.]+) s \(attempt 1\)").group(1))
        assert 1.0 <= delay < 1.5  # spec 01 §5.1 aside: never at once, never in step (docs/conform.md)
        reply = bot.wait_line(r"logged on prediction RT seq=(\d+)$")
        assert int(reply.group(1)) > 1  # RT keeps continuity: no reset on the re-logon
        bot.wait_line(r"order \S+ buy")
        assert bot.terminate() == 0


@pytest.mark.parametrize("session", ["MD", "DC", "PT"])
def test_bot_does_its_session_duty_after_each_logon(fix_exchange, session):
    duty = {"MD": r"book KXTEST-26JAN01-A", "DC": r"EventResend complete",
            "PT": r"settled KXTEST-26JAN01-B yes at 100"}[session]
    with ClientProcess(BOT, contract_env(fix_exchange, session=session)) as bot:
        for _ in range(2):  # the first Logon, and the one after the venue closed the connection
            bot.wait_line(rf"logged on prediction {session}")
            if session == "PT":  # a fill, then the settlement the bot must reassemble
                fix_exchange.control.place_order("alice", "KXTEST-26JAN01-B", "buy", 50, 1)
                fix_exchange.control.place_order("bob", "KXTEST-26JAN01-B", "sell", 50, 1)
                fix_exchange.control.settle_market("KXTEST-26JAN01-B", "yes")
            bot.wait_line(duty)
            if session == "PT":
                break
            fix_exchange.faults.add(fault="close", session=session, now=True)
        assert bot.terminate() == 0


def test_bot_exits_0_after_the_logout_handshake_on_sigterm(fix_exchange):
    with ClientProcess(BOT, contract_env(fix_exchange, session="NR")) as bot:
        bot.wait_line(r"logged on")
        assert _sessions(fix_exchange, "NR")
        assert bot.terminate() == 0
        lines = bot.drain()
    assert any("SIGTERM: logging out" in line for line in lines)
    assert any("logged out: logout" in line for line in lines), lines[-5:]
    logouts = fix_exchange.control.messages(session="prediction/NR", msg_type="5")
    assert len(logouts) >= 2  # ours and the venue's answer


def test_bot_refuses_missing_settings_in_one_line(tmp_path):
    import subprocess
    done = subprocess.run(BOT + ["--port", "1"], capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert "--api-key, --key-file required" in done.stderr
    assert "Traceback" not in done.stderr
