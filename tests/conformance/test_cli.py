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


# --- issue 10: first contact -------------------------------------------------------------------

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import urllib.request  # noqa: E402

import pytest  # noqa: E402

from kalshi_fixsim import __version__  # noqa: E402
from kalshi_fixsim.simulator.cli import _parser  # noqa: E402
from kalshi_fixsim.simulator.keys import load_public_key  # noqa: E402

from .serving import Served, make_workspace  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One `make run`-style simulator (TLS, ports 0, control plane on a free port) for the
    read-mostly tests below; each test leaves it as it found it."""
    base = tmp_path_factory.mktemp("served")
    config = make_workspace(base)
    log_file = base / "serve.log"
    with Served(config, "--control-port", "0", "--log-level", "INFO", "--log-file", str(log_file)) as s:
        s.log_file = log_file
        yield s


def _get(served, path: str):
    with urllib.request.urlopen(served.ready["control_url"] + path, timeout=10) as response:
        return json.loads(response.read())


def _serve_error(capsys, config: Path, *args: str) -> str:
    """Run serve in-process where it must fail: exit status 2 and one line on stderr."""
    code = main(["serve", "--config", str(config), "--control-port", "-1", *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def test_version_is_printed_by_the_cli_and_by_python_dash_m(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"kalshi-fixsim {__version__}"
    out = subprocess.run([sys.executable, "-m", "kalshi_fixsim", "--version"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"kalshi-fixsim {__version__}"


def test_log_options_are_accepted_before_and_after_the_subcommand():
    after = _parser().parse_args(["serve", "-v", "--log-level", "debug", "--log-file", "x.log"])
    assert (after.verbose, after.log_level, after.log_file) == (True, "DEBUG", "x.log")
    before = _parser().parse_args(["-v", "ctl", "pause", "trading"])
    assert before.verbose is True and before.log_level is None and before.kind == "trading"
    nested = _parser().parse_args(["client", "order", "--log-level", "INFO", "--symbol", "X", "--side", "buy",
                                   "--cl-ord-id", "a", "--qty", "1", "--price", "2"])
    assert nested.log_level == "INFO"


def test_serve_log_file_receives_the_log(served):
    assert "serving 10 endpoints" in served.log_file.read_text()


def _actions(parser: argparse.ArgumentParser, path: str = "kalshi-fixsim"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _actions(child, f"{path} {name}")
        else:
            yield path, action


def test_every_option_has_help_text_and_closed_sets_list_their_choices():
    missing = [f"{path} {'/'.join(a.option_strings) or a.dest}" for path, a in _actions(_parser())
               if not a.help and not isinstance(a, argparse._SubParsersAction)]
    assert missing == []
    parser = _parser()
    assert parser.parse_args(["ctl", "maintenance", "reset"]).mode == "reset"
    for argv in (["ctl", "pause", "sometimes"], ["ctl", "maintenance", "soon"], ["ctl", "settle", "T", "maybe"]):
        with pytest.raises(SystemExit):
            parser.parse_args(argv)
    usage = subprocess.run([sys.executable, "-m", "kalshi_fixsim", "ctl", "pause", "--help"], capture_output=True,
                           text=True, timeout=60).stdout
    assert "{trading,exchange}" in usage
    usage = subprocess.run([sys.executable, "-m", "kalshi_fixsim", "ctl", "maintenance", "--help"],
                           capture_output=True, text=True, timeout=60).stdout
    assert "{continuity,reset}" in usage


# --- §4: one-line errors naming the config file, the key, the file and the fix ----------------

@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return make_workspace(tmp_path)


def test_missing_tls_cert_is_one_line_naming_the_key_the_file_and_the_certs_command(workspace, capsys):
    (workspace.parent / "certs" / "server.pem").unlink()
    assert _serve_error(capsys, workspace) == (
        "error: sim.yaml: tls.cert: certs/server.pem does not exist; make dev certificates with "
        "`kalshi-fixsim certs --out certs` (or point tls.cert at your own file)")


def test_missing_tls_key_is_one_line_naming_the_key_and_the_file(workspace, capsys):
    (workspace.parent / "certs" / "server.key").unlink()
    err = _serve_error(capsys, workspace)
    assert err.startswith("error: sim.yaml: tls.key: certs/server.key does not exist; ") and \
        "kalshi-fixsim certs --out certs" in err


def test_missing_tls_ca_is_one_line_naming_the_key_and_the_file(workspace, capsys):
    (workspace.parent / "certs" / "ca.pem").unlink()
    err = _serve_error(capsys, workspace)
    assert err.startswith("error: sim.yaml: tls.ca: certs/ca.pem does not exist; ") and \
        "kalshi-fixsim certs --out certs" in err


def test_a_key_that_does_not_match_the_certificate_is_one_line(workspace, capsys):
    from kalshi_fixsim.simulator.certs import make_dev_certs

    other = make_dev_certs(workspace.parent / "other")
    (workspace.parent / "certs" / "server.key").write_bytes(other.key.read_bytes())
    assert _serve_error(capsys, workspace) == (
        "error: sim.yaml: tls.key: certs/server.key is not the key of the certificate in tls.cert "
        "(certs/server.pem); make dev certificates with `kalshi-fixsim certs --out certs --force`")


def test_a_ca_that_did_not_sign_the_certificate_is_one_line(workspace, capsys):
    from kalshi_fixsim.simulator.certs import make_dev_certs

    other = make_dev_certs(workspace.parent / "other")
    (workspace.parent / "certs" / "ca.pem").write_bytes(other.ca.read_bytes())
    err = _serve_error(capsys, workspace)
    assert err.startswith("error: sim.yaml: tls.ca: certs/ca.pem did not sign tls.cert (certs/server.pem)"), err


def test_a_port_in_use_names_the_address_the_config_key_and_the_way_out(workspace, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        text = workspace.read_text().replace("ports: {NR: 0, DC: 0, RT: 0, MD: 0}",
                                             f"ports: {{NR: 0, DC: 0, RT: {port}, MD: 0}}")
        workspace.write_text(text)
        assert _serve_error(capsys, workspace) == (
            f"error: sim.yaml: products.margin.ports.RT: cannot listen on 127.0.0.1:{port}: address already in "
            f"use; set another port or 0 (any free port) in sim.yaml")
        workspace.write_text(text.replace(f"RT: {port}", "RT: 0"))
        code = main(["serve", "--config", str(workspace), "--control-port", str(port)])
        err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"error: --control-port: cannot listen on 127.0.0.1:{port}: address already in use; "
                          "pass another --control-port, 0 (any free port)"), err


def test_a_store_that_cannot_be_opened_is_one_line_naming_the_store_key(workspace, capsys):
    (workspace.parent / "plain-file").write_text("")
    workspace.write_text(workspace.read_text().replace("store: memory", "store: plain-file/sim.db"))
    err = _serve_error(capsys, workspace)
    assert err.startswith("error: sim.yaml: store: cannot open plain-file/sim.db: ") and \
        err.endswith("; set store to a writable file path or to memory"), err


def test_config_errors_name_the_config_file(workspace, capsys):
    workspace.write_text(workspace.read_text().replace("seed: 42", "seed: many"))
    err = _serve_error(capsys, workspace)
    assert err.startswith("error: sim.yaml: seed: "), err
    assert main(["client", "logon", "--config", str(workspace)]) == 2
    assert capsys.readouterr().err.startswith("error: sim.yaml: seed: ")


def test_plaintext_is_refused_off_loopback_in_one_line(workspace, capsys):
    workspace.write_text(workspace.read_text().replace("host: 127.0.0.1", "host: 0.0.0.0"))
    assert _serve_error(capsys, workspace, "--plaintext") == (
        "error: --plaintext: plaintext is allowed only on a loopback host, but sim.yaml: host is '0.0.0.0'; "
        "set host: 127.0.0.1 or keep TLS (a client without TLS can use a local stunnel)")


def test_serve_plaintext_on_loopback_serves_without_tls_and_the_client_follows(workspace, capsys):
    with Served(workspace, "--plaintext", "--control-port", "-1") as s:
        assert s.ready["tls"] is False and s.ready["ca_file"] is None and s.ready["control_url"] is None
        assert "TLS disabled (loopback only)" in s.output
        assert main(["client", "logon", "--config", str(workspace), "--session", "RT"]) == 0
        out = capsys.readouterr().out
        assert f"logged on to KalshiRT (prediction) at 127.0.0.1:{s.port('prediction', 'RT')}" in out


@pytest.mark.fix_exchange(plaintext=True)
def test_the_fixture_takes_the_plaintext_switch(fix_exchange):
    import asyncio

    assert not fix_exchange.endpoint("prediction", "NR").tls

    async def logon():
        async with fix_exchange.client("alice", "prediction", "NR") as fix:
            return fix.is_active
    assert asyncio.run(logon())


# --- §6: the ready file -------------------------------------------------------------------------

def test_ready_file_lists_every_endpoint_the_control_url_the_ca_and_the_accounts(served):
    ready, config = served.ready, load_config(served.config)
    assert ready["version"] == 1 and ready["config"] == str(served.config) and ready["tls"] is True
    got = {(p, s): (e["host"], e["target_comp_id"]) for p, sessions in ready["products"].items()
           for s, e in sessions.items()}
    assert got == {(p, s): ("127.0.0.1", f"Kalshi{s}") for p, s, _ in config.listeners()}
    table = dict(re.findall(r"^(?:prediction|margin)\s+\w+\s+Kalshi\w+\s+(127\.0\.0\.1:\d+)\s+yes$()", served.output,
                            re.M))
    assert {f"127.0.0.1:{e['port']}" for sessions in ready["products"].values() for e in sessions.values()} == \
        set(table)
    assert ready["control_url"].startswith("http://127.0.0.1:") and _get(served, "/endpoints")
    assert ready["ca_file"] == str(config.tls.ca)
    keys = served.config.parent / "keys"
    assert ready["accounts"] == [{"name": a.name, "api_key": a.api_key, "private_key": str(keys / f"{a.name}.pem")}
                                 for a in config.accounts]
    lines = served.output.splitlines()
    at = lines.index(f"kalshi-fixsim ready (ready file: {served.ready_path})")  # exactly one such line
    assert lines[at - 1].startswith("CA file for clients:") and lines[0].startswith("product ")  # after the table


def test_ready_file_is_written_where_asked_and_removed_at_exit(workspace):
    target = workspace.parent / "ci" / "ready.json"
    with Served(workspace, "--ready-file", str(target), "--control-port", "-1") as s:
        assert s.ready_path == target and json.loads(target.read_text())["pid"] == s.proc.pid
        assert not (workspace.parent / "state" / "sim.ready.json").exists()
        assert s.stop() == 0
    assert not target.exists()


# --- §3: bugs a new user hits -----------------------------------------------------------------

def test_client_with_port_0_in_the_config_connects_to_the_running_simulators_ports(served, capsys):
    code = main(["client", "logon", "--config", str(served.config), "--session", "RT", "--account", "bob"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"logged on to KalshiRT (prediction) at 127.0.0.1:{served.port('prediction', 'RT')}" in out


def test_client_with_port_0_and_no_running_simulator_says_so_instead_of_trying_8228(workspace, capsys):
    assert main(["client", "logon", "--config", str(workspace)]) == 2
    assert capsys.readouterr().err == (
        "error: sim.yaml: products.prediction.ports.NR is 0 (any free port), so the port must come from the running "
        "simulator, but there is no ready file state/sim.ready.json (is `kalshi-fixsim serve` running for this "
        "config?); start it, or pass --port\n")


def test_ctl_pause_and_resume_without_product_act_on_both_products(served, capsys):
    ctl = ["ctl", "--config", str(served.config)]
    assert main([*ctl, "pause", "exchange"]) == 0
    states = {p: s["state"] for p, s in _get(served, "/status")["products"].items()}
    assert states == {"prediction": "exchange_paused", "margin": "exchange_paused"}
    assert main([*ctl, "resume"]) == 0
    assert {s["state"] for s in _get(served, "/status")["products"].values()} == {"open"}
    assert main([*ctl, "pause", "trading", "--product", "margin"]) == 0  # before or after the operation
    assert {p: s["state"] for p, s in _get(served, "/status")["products"].items()} == \
        {"prediction": "open", "margin": "trading_paused"}
    assert main([*ctl, "resume"]) == 0
    capsys.readouterr()


def test_client_exits_1_and_prints_the_reject_when_the_order_is_rejected(served, capsys):
    base = ["client", "order", "--config", str(served.config), "--account", "bob", "--side", "buy", "--qty", "1"]
    assert main([*base, "--symbol", "KXNOPE-1", "--price", "5", "--cl-ord-id", "x1"]) == 1
    assert re.search(r"^ExecutionReport 8/8 ClOrdID=x1 .* text=", capsys.readouterr().out, re.M)
    cancel = ["client", "cancel", "--config", str(served.config), "--account", "bob", "--side", "buy",
              "--symbol", "KXHIGHNY-26NOV21-B45.5", "--cl-ord-id", "c9", "--orig", "never-sent"]
    assert main(cancel) == 1
    out = capsys.readouterr().out
    assert re.search(r"^OrderCancelReject \(cancel\) ClOrdID=c9 OrigClOrdID=never-sent .*reason=1\(unknown order\)",
                     out, re.M), out


def test_ctl_book_and_orders_name_their_units_and_sides(served, capsys):
    ticker = "KXHIGHNY-26NOV21-B47.5"
    assert main(["client", "order", "--config", str(served.config), "--account", "alice", "--symbol", ticker,
                 "--side", "sell", "--price", "99", "--qty", "1", "--cl-ord-id", "u1"]) == 0
    capsys.readouterr()
    assert main(["ctl", "--config", str(served.config), "book", ticker]) == 0
    out = capsys.readouterr().out
    assert f"{ticker} (prediction): prices in dollars per contract" in out and "bids = buy YES" in out
    assert re.search(r"^\s+1\.00\s+0\.99\s*$", out, re.M) or "0.99" in out
    assert main(["ctl", "--config", str(served.config), "orders", "alice"]) == 0
    out = capsys.readouterr().out
    assert "prices in dollars" in out and re.search(rf"u1\s+{re.escape(ticker)}\s+sell\s+0\.99\s", out), out
    assert main(["client", "cancel", "--config", str(served.config), "--account", "alice", "--symbol", ticker,
                 "--side", "sell", "--cl-ord-id", "u2", "--orig", "u1"]) == 0
    capsys.readouterr()


def test_ctl_market_commands_find_the_tickers_product(served, capsys):
    ctl = ["ctl", "--config", str(served.config)]
    assert main([*ctl, "book", "ETH-PERP"]) == 0
    assert capsys.readouterr().out.startswith("ETH-PERP (margin): prices in dollars")
    assert main([*ctl, "halt", "SOL-PERP"]) == 0 and main([*ctl, "unhalt", "SOL-PERP"]) == 0
    out = capsys.readouterr().out
    assert out.index('"status": "halted"') < out.index('"status": "open"') and "SOL-PERP" in out
    assert main([*ctl, "halt", "KXNOPE-1"]) == 1
    assert "unknown market 'KXNOPE-1' on prediction" in capsys.readouterr().err


def test_ctl_markets_lists_both_products(served, capsys):
    assert main(["ctl", "--config", str(served.config), "markets"]) == 0
    out = capsys.readouterr().out
    assert "KXHIGHNY-26NOV21-B45.5" in out and "ETH-PERP" in out and "margin markets (3):" in out


def test_ctl_output_into_a_closed_pipe_is_not_a_traceback(served):
    proc = subprocess.Popen([sys.executable, "-m", "kalshi_fixsim", "ctl", "--config", str(served.config),
                             "--json", "accounts"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head` having read enough: every write now fails with EPIPE
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 1 and err == ""


def test_certs_says_whether_it_made_or_kept_files_and_that_force_needs_a_restart(tmp_path, capsys):
    out_dir = str(tmp_path / "certs")
    assert main(["certs", "--out", out_dir]) == 0
    assert capsys.readouterr().out.startswith(f"made new certificates in {out_dir}")
    assert main(["certs", "--out", out_dir]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"kept the existing certificates in {out_dir}") and "restart" not in out
    assert main(["certs", "--out", out_dir, "--force"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("made new certificates") and "restart it" in out


def test_keys_new_says_a_running_simulator_must_be_restarted(tmp_path, capsys):
    assert main(["keys", "new", "--name", "mybot", "--config", str(tmp_path / "sim.yaml")]) == 0
    assert "restart a running simulator to load the key" in capsys.readouterr().out


def test_init_remakes_the_sample_keys_after_keys_is_deleted(tmp_path):
    import shutil

    config = tmp_path / "sim.yaml"
    assert main(["init", "--config", str(config)]) == 0
    before = {a.name: a.api_key for a in load_config(config).accounts}
    shutil.rmtree(tmp_path / "keys")
    assert main(["init", "--config", str(config)]) == 0
    loaded = load_config(config)  # serve would load it: the public keys are back
    assert {a.name: a.api_key for a in loaded.accounts} == before  # the same api_key ids
    from cryptography.hazmat.primitives import serialization

    for account in loaded.accounts:
        private = serialization.load_pem_private_key((tmp_path / "keys" / f"{account.name}.pem").read_bytes(), None)
        assert private.public_key().public_numbers() == load_public_key(account.public_key_pem).public_numbers()
    assert os.stat(tmp_path / "keys" / "alice.pem").st_mode & 0o077 == 0


def test_client_refuses_bad_numbers_and_missing_files_before_connecting(workspace, capsys):
    order = ["client", "order", "--config", str(workspace), "--symbol", "KXHIGHNY-26NOV21-B45.5", "--side", "buy",
             "--cl-ord-id", "z", "--price", "2"]
    with pytest.raises(SystemExit) as info:
        main([*order, "--qty", "abc"])
    assert info.value.code == 2 and "argument --qty: not a number: 'abc'" in capsys.readouterr().err
    assert main(["client", "logon", "--config", str(workspace), "--port", "1", "--key", "nope.pem"]) == 2
    assert capsys.readouterr().err == "error: --key: private key nope.pem not found\n"
    assert main(["client", "logon", "--config", str(workspace), "--port", "1", "--ca", "nope.pem"]) == 2
    assert capsys.readouterr().err.startswith("error: --ca: CA file nope.pem not found")


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
