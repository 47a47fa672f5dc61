"""`kalshi-fixsim client-config` and `kalshi-fixsim dictionary` (issue 17 §3): the settings file
parses as INI (QuickFIX/J and C++ style; quickfixgo reads the same), carries the right values
per session type, points at dictionaries that `dictionary` writes, and logs on to a running
simulator when a client follows it."""
from __future__ import annotations

import asyncio
import configparser
import ssl
from pathlib import Path

import pytest

from kalshi_fixsim.fixproto.codec import Framer, parse
from kalshi_fixsim.simulator.cli import main
from kalshi_fixsim.simulator.config import load_config
from tests.wire import logon, run

# spec 01 §5.1: ResetSeqNumFlag=Y on every Logon of these sessions; RT and PT keep continuity
ALWAYS_RESET = {"NR", "DC", "RFQ", "MD"}
SESSIONS = {"prediction": ("NR", "DC", "RT", "PT", "RFQ", "MD"), "margin": ("NR", "DC", "RT", "MD")}
TARGETS = {"NR": "KalshiNR", "DC": "KalshiDC", "RT": "KalshiRT", "PT": "KalshiPT", "RFQ": "KalshiRFQ", "MD": "KalshiMD"}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("ws")
    assert main(["init", "--config", str(base / "sim.yaml")]) == 0
    return base


def settings(capsys, *args) -> configparser.ConfigParser:
    assert main(["client-config", *args]) == 0
    text = capsys.readouterr().out
    ini = configparser.ConfigParser(interpolation=None, comment_prefixes=("#",), strict=True)
    ini.optionxform = str  # QuickFIX keys are case-sensitive
    ini.read_string(text)
    assert ini.sections() == ["SESSION"] and ini.defaults()
    return ini


@pytest.mark.parametrize("engine", ["quickfixj", "quickfix", "quickfixgo"])
def test_settings_parse_as_ini_with_the_configs_endpoint_and_the_accounts_key(workspace, capsys, engine):
    config = load_config(workspace / "sim.yaml")
    alice = next(a for a in config.accounts if a.name == "alice")
    for product, sessions in SESSIONS.items():
        for code in sessions:
            ini = settings(capsys, "--engine", engine, "--session", code, "--product", product,
                           "--config", str(workspace / "sim.yaml"), "--account", "alice")
            s, d = ini["SESSION"], ini["DEFAULT"]
            assert (s["BeginString"], s["DefaultApplVerID"]) == ("FIXT.1.1", "9")  # FIX50SP2, spec 01 §2.1
            assert (s["SenderCompID"], s["TargetCompID"]) == (alice.api_key, TARGETS[code])
            assert (s["SocketConnectHost"], int(s["SocketConnectPort"])) == ("127.0.0.1",
                                                                            config.products[product].ports[code])
            assert s["HeartBtInt"] == "30" and d["ConnectionType"] == "initiator"
            assert s["ResetOnLogon"] == ("Y" if code in ALWAYS_RESET else "N"), (product, code)
            assert d["UseDataDictionary"] == "Y"
            assert Path(d["TransportDataDictionary"]).name == "FIXT11-Kalshi.xml"
            assert Path(d["AppDataDictionary"]).name == "FIX50SP2-Kalshi.xml"


def test_each_engine_gets_its_own_tls_settings_and_signature_hook(workspace, capsys):
    ca = str(workspace / "certs" / "ca.pem")
    args = ("--session", "NR", "--config", str(workspace / "sim.yaml"))
    j = settings(capsys, "--engine", "quickfixj", *args)["DEFAULT"]
    assert (j["SocketUseSSL"], j["SocketTrustStore"], j["SocketTrustStorePassword"]) == \
        ("Y", str(workspace / "certs" / "truststore.jks"), "changeit")
    assert j["TimeStampPrecision"] == "MILLIS"
    c = settings(capsys, "--engine", "quickfix", *args)["DEFAULT"]
    assert c["CertificationAuthoritiesFile"] == ca and "SocketUseSSL" not in c
    g = settings(capsys, "--engine", "quickfixgo", *args)["DEFAULT"]
    assert (g["SocketUseSSL"], g["SocketCAFile"], g["SocketMinimumTLSVersion"]) == ("Y", ca, "TLS12")
    hooks = {"quickfixj": "Application.toAdmin(", "quickfix": "Application::toAdmin(",
             "quickfixgo": "Application.ToAdmin("}
    for engine, hook in hooks.items():
        assert main(["client-config", "--engine", engine, *args]) == 0
        text = capsys.readouterr().out
        assert hook in text and "RawData(96)" in text and "RawDataLength(95)" in text
        assert 'SendingTime + SOH + "A" + SOH + MsgSeqNum + SOH + SenderCompID + SOH + TargetCompID' in text


def test_settings_name_the_messages_the_session_takes(workspace, capsys):
    expected = {("prediction", "NR"): "NewOrderSingle(D), OrderCancelRequest(F), OrderCancelReplaceRequest(G), "
                                      "OrderMassCancelRequest(q), OrderGroupRequest(UOG)",
                ("prediction", "PT"): "no application messages",
                ("margin", "MD"): "MarketDataRequest(V)"}
    for (product, code), sends in expected.items():
        assert main(["client-config", "--engine", "quickfixgo", "--session", code, "--product", product,
                     "--config", str(workspace / "sim.yaml")]) == 0
        assert f"you send: {sends}; anything else" in capsys.readouterr().out  # spec 00 §4


def test_dictionary_command_writes_the_files_the_settings_point_at(workspace, capsys):
    out = workspace / "qf"
    assert main(["dictionary", "--format", "quickfix", "--out", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(out / "FIXT11-Kalshi.xml"), str(out / "FIX50SP2-Kalshi.xml")]
    d = settings(capsys, "--engine", "quickfixgo", "--session", "RT", "--config", str(workspace / "sim.yaml"),
                 "--dictionary-dir", str(out))["DEFAULT"]
    assert Path(d["TransportDataDictionary"]).is_file() and Path(d["AppDataDictionary"]).is_file()


def test_host_and_port_overrides_and_one_line_errors(workspace, tmp_path, capsys):
    s = settings(capsys, "--engine", "quickfixj", "--session", "MD", "--product", "margin", "--host", "localhost",
                 "--port", "9999", "--config", str(workspace / "sim.yaml"))["SESSION"]
    assert (s["SocketConnectHost"], s["SocketConnectPort"], s["TargetCompID"]) == ("localhost", "9999", "KalshiMD")
    zero = tmp_path / "zero.yaml"
    zero.write_text("products:\n  prediction: {ports: {NR: 0}}\naccounts: []\n")
    assert main(["client-config", "--engine", "quickfix", "--session", "NR", "--config", str(zero),
                 "--api-key", "k"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {zero}: products.prediction.ports.NR: 0 means") and err.count("\n") == 1
    assert main(["client-config", "--engine", "quickfix", "--session", "PT", "--product", "margin",
                 "--config", str(workspace / "sim.yaml")]) == 2
    assert "no session 'PT' on the margin product" in capsys.readouterr().err
    empty = tmp_path / "empty.yaml"
    empty.write_text("accounts: []\n")
    assert main(["client-config", "--engine", "quickfix", "--session", "NR", "--config", str(empty)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {empty}: accounts: no account for prediction NR")


def test_an_unwritable_out_is_a_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["dictionary", "--out", str(blocker / "sub")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {blocker / 'sub'}: cannot write there") and err.count("\n") == 1


def test_a_literal_server_comp_id_is_flagged_because_quickfix_checks_comp_ids(tmp_path, capsys):
    literal = tmp_path / "literal.yaml"
    literal.write_text("session: {server_comp_id: Kalshi}\naccounts: []\n")
    assert main(["client-config", "--engine", "quickfixj", "--session", "NR", "--config", str(literal),
                 "--api-key", "k"]) == 0
    assert "# WARNING: the simulator answers with SenderCompID=Kalshi" in capsys.readouterr().out


def test_plaintext_config_or_a_tunnel_gets_no_tls_settings(workspace, tmp_path, capsys):
    plain = tmp_path / "plain.yaml"
    plain.write_text("tls: {enabled: false}\naccounts: []\n")
    d = settings(capsys, "--engine", "quickfixgo", "--session", "NR", "--config", str(plain), "--api-key", "k")
    assert "SocketUseSSL" not in d["DEFAULT"] and "SocketCAFile" not in d["DEFAULT"]
    t = settings(capsys, "--engine", "quickfixj", "--session", "NR", "--config", str(workspace / "sim.yaml"),
                 "--tunnel", "--port", "18228")
    assert "SocketUseSSL" not in t["DEFAULT"] and t["SESSION"]["SocketConnectPort"] == "18228"


@pytest.mark.parametrize("code", ["NR", "RT"])
def test_a_client_following_the_settings_logs_on_to_the_running_simulator(fix_exchange, tmp_path, capsys, code):
    """Host, port, CompIDs, ResetOnLogon, HeartBtInt and the CA file of the settings, used as a
    QuickFIX engine would: the simulator accepts the Logon (signed as the hook comment says)."""
    alice = fix_exchange.accounts["alice"]
    cfg = tmp_path / "sim.yaml"
    cfg.write_text(f"tls: {{ca: {fix_exchange.ca_file}}}\naccounts: []\n")
    ep = fix_exchange.endpoint("prediction", code)
    s = settings(capsys, "--engine", "quickfixgo", "--session", code, "--config", str(cfg), "--api-key",
                 alice.api_key, "--port", str(ep.port))
    sess, default = s["SESSION"], s["DEFAULT"]

    async def scenario():
        ctx = ssl.create_default_context(cafile=default["SocketCAFile"])
        reader, writer = await asyncio.open_connection(sess["SocketConnectHost"], int(sess["SocketConnectPort"]),
                                                       ssl=ctx, server_hostname="localhost")
        assert sess["SenderCompID"] == alice.api_key
        writer.write(logon(alice, sess["TargetCompID"], hb=int(sess["HeartBtInt"]),
                           reset=sess["ResetOnLogon"] == "Y"))
        framer, replies = Framer(), []
        while not replies:
            data = await asyncio.wait_for(reader.read(65536), 10)
            assert data, "closed before answering the Logon"
            replies += [parse(f) for f in framer.feed(data) if isinstance(f, bytes)]
        writer.close()
        return replies[0]

    reply = run(scenario())
    assert reply.get(35) == "A", reply
    assert reply.get(49) == sess["TargetCompID"] and reply.get(108) == sess["HeartBtInt"]


def test_client_config_takes_the_port_a_running_simulator_chose_from_its_ready_file(tmp_path, capsys):
    """Port 0 in the config: the settings carry the port `serve` bound (its ready file), as the
    reference client does (issue 10 §3), instead of refusing or printing 0."""
    import os

    from kalshi_fixsim.simulator import ready

    config = tmp_path / "sim.yaml"
    assert main(["init", "--config", str(config)]) == 0
    text = config.read_text()
    config.write_text(text.replace("NR: 8228", "NR: 0"))
    capsys.readouterr()
    ready.write(ready.default_path(config), {
        "version": ready.VERSION, "pid": os.getpid(), "config": str(config), "tls": True,
        "products": {"prediction": {"NR": {"host": "127.0.0.1", "port": 40123, "target_comp_id": "KalshiNR",
                                           "tls": True}}},
        "control_url": None, "ca_file": None, "accounts": []})
    ini = settings(capsys, "--engine", "quickfixj", "--session", "NR", "--config", str(config))
    assert ini["SESSION"]["SocketConnectPort"] == "40123"
