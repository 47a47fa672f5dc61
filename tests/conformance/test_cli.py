"""The `kalshi-fixsim` shell commands: init, serve, keys new, client logon."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from kalshi_fixsim.simulator.cli import main
from kalshi_fixsim.simulator.config import load_config

ROOT = Path(__file__).resolve().parents[2]


def test_init_makes_certs_sample_keys_and_a_loadable_config_once(tmp_path):
    config = tmp_path / "sim.yaml"
    assert main(["init", "--config", str(config)]) == 0
    loaded = load_config(config)
    assert [a.name for a in loaded.accounts] == ["alice", "bob"]
    assert (tmp_path / "certs" / "ca.pem").exists() and (tmp_path / "keys" / "alice.pem").stat().st_mode & 0o077 == 0
    before = config.read_text()
    assert main(["init", "--config", str(config)]) == 0
    assert config.read_text() == before  # a second run changes nothing


def test_keys_new_registers_the_public_key_in_the_config(tmp_path):
    config = tmp_path / "sim.yaml"
    assert main(["keys", "new", "--name", "mybot", "--config", str(config), "--products", "margin"]) == 0
    account = load_config(config).accounts[0]
    assert account.name == "mybot" and account.products == ("margin",)
    assert (tmp_path / "keys" / "mybot.pem").exists()


def test_client_logon_command_logs_on_and_off(fix_exchange, tmp_path, capsys):
    alice = fix_exchange.accounts["alice"]
    ep = fix_exchange.endpoint("prediction", "RT")
    code = main(["client", "logon", "--session", "RT", "--config", str(tmp_path / "absent.yaml"),
                 "--port", str(ep.port), "--api-key", alice.api_key, "--key", str(alice.private_key_path),
                 "--ca", str(fix_exchange.ca_file)])
    out = capsys.readouterr().out
    assert code == 0 and "logged on to KalshiRT (prediction)" in out and "logged out (logout)" in out


def test_client_logon_command_reports_a_refusal(fix_exchange, tmp_path, capsys):
    account = fix_exchange.accounts["margin_only"]
    ep = fix_exchange.endpoint("prediction", "NR")
    code = main(["client", "logon", "--config", str(tmp_path / "absent.yaml"), "--port", str(ep.port),
                 "--api-key", account.api_key, "--key", str(account.private_key_path),
                 "--ca", str(fix_exchange.ca_file)])
    assert code == 1 and "not enabled for the prediction product" in capsys.readouterr().out


def test_serve_prints_the_endpoint_table_and_stops_on_sigint(tmp_path):
    config = tmp_path / "sim.yaml"
    main(["init", "--config", str(config)])
    data = yaml.safe_load(config.read_text())
    for product in data["products"].values():
        product["ports"] = {code: 0 for code in product["ports"]}
    data["store"] = "memory"
    config.write_text(yaml.safe_dump(data))
    proc = subprocess.Popen([sys.executable, "-m", "kalshi_fixsim", "serve", "--config", str(config),
                             "--control-port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("CA file"):
                break
        table = "".join(lines)
        rows = re.findall(r"^(prediction|margin)\s+(\w+)\s+(Kalshi\w+)\s+127\.0\.0\.1:(\d+)\s+yes$", table, re.M)
        assert len(rows) == 10 and all(int(port) > 0 for *_, port in rows), table
        control = re.search(r"^control plane: http://127\.0\.0\.1:(\d+)", table, re.M)
        assert control and int(control.group(1)) > 0, table
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_no_rate_limits_turns_off_the_logon_limit_of_the_config(tmp_path, capsys):
    config = tmp_path / "sim.yaml"
    main(["init", "--config", str(config)])
    data = yaml.safe_load(config.read_text())
    for product in data["products"].values():
        product["ports"] = {code: 0 for code in product["ports"]}
    data["store"] = "memory"
    data["rate_limits"] = {"logon": {"limit": 1, "window_seconds": 600}}  # one Logon per key, then refused
    config.write_text(yaml.safe_dump(data))

    def serve(*flags: str) -> tuple[subprocess.Popen, int]:
        proc = subprocess.Popen([sys.executable, "-m", "kalshi_fixsim", "serve", "--config", str(config),
                                 "--control-port", "-1", *flags], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (lines and lines[-1].startswith(("CA file", "TLS"))):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        port = re.search(r"^prediction\s+NR\s+KalshiNR\s+127\.0\.0\.1:(\d+)", "".join(lines), re.M)
        assert port, "".join(lines)
        return proc, int(port.group(1))

    def logons(port: int) -> list[int]:
        return [main(["client", "logon", "--config", str(config), "--port", str(port)]) for _ in range(2)]

    for flags, expected in (((), [0, 1]), (("--no-rate-limits",), [0, 0])):
        proc, port = serve(*flags)
        try:
            assert logons(port) == expected, capsys.readouterr().out
            if expected == [0, 1]:
                assert "rate limited: more than 1 Logons in 600 s" in capsys.readouterr().out
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
