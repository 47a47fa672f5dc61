"""Fault rules over HTTP as a non-Python user drives them (issue 12 §3, §5): raw HTTP requests,
byte for byte what curl sends, then the CLI and the config's `faults:` list."""
from __future__ import annotations

import asyncio
import json
import socket

import pytest

from kalshi_fixsim.simulator.cli import main
from tests.conformance.test_faults_wire import Peer
from tests.wire import run

# The two requests of the issue, exactly as written: curl -d sends form-encoded content type.
CURL_DROP = ('{"fault": "drop", "direction": "outbound",\n  "product": "prediction", "session": "RT", '
             '"account": "alice", "match": {"35": "8"}, "times": 1}')
CURL_DELAY = '{"fault": "delay", "ms": 250, "direction": "outbound",\n  "session": "NR", "match": {"35": "8"}}'


def curl(port: int, method: str, path: str, body: str | None = None) -> tuple[int, object]:
    """One HTTP/1.1 request on a plain socket, as `curl -s -X METHOD 127.0.0.1:PORT/PATH -d BODY` does."""
    data = body.encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n"
    if body is not None:
        head += f"Content-Length: {len(data)}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + b"\r\n" + data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    _headers, _, payload = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), json.loads(payload)


@pytest.fixture
def fx(fix_exchange_factory):
    return fix_exchange_factory(control_port=0)


def test_the_two_curl_examples_work_as_written_and_the_rules_act(fx):
    port = fx.sim.control_server.port
    status, drop = curl(port, "POST", "/faults", CURL_DROP)
    assert status == 200 and drop["id"] == "f1" and drop["fault"] == "drop" and drop["times"] == 1
    status, delay = curl(port, "POST", "/faults", CURL_DELAY)
    assert status == 200 and delay["id"] == "f2" and delay["ms"] == 250

    async def go():
        peer = await Peer.open(fx)  # NR: the delay rule's session
        peer.order("o1")
        assert (await peer.expect("8")).get(11) == "o1"
    run(go())
    status, shown = curl(port, "GET", "/faults/f2")
    assert status == 200 and shown["hits"] == 1 and shown["recent"][0]["what"] == "delayed 250 ms by rule f2"
    status, listed = curl(port, "GET", "/faults")
    assert [(r["id"], r["hits"]) for r in listed] == [("f1", 0), ("f2", 1)]
    assert curl(port, "DELETE", "/faults/f1") == (200, {**curl_show_removed(listed[0])})
    assert curl(port, "GET", "/faults/f1")[0] == 404
    assert curl(port, "DELETE", "/faults") == (200, {"removed": 1})
    assert curl(port, "GET", "/faults") == (200, [])


def curl_show_removed(rule: dict) -> dict:
    return {**rule, "active": False, "ended": "removed"}


def test_bad_rules_are_answered_400_naming_the_field_and_nothing_is_installed(fx):
    port = fx.sim.control_server.port
    for body, field in [('{"fault": "dorp"}', "fault"),
                        ('{"fault": "delay", "ms": "soon"}', "ms"),
                        ('{"fault": "drop", "session": "NR", "match": {"35": "W"}}', "msg_type"),
                        ('{"fault": "drop", "direction": "sideways"}', "direction"),
                        ('{"fault": "drop", "nth": 2, "every": 3}', "every"),
                        ('{"fault": "drop", "colour": "red"}', "colour")]:
        status, answer = curl(port, "POST", "/faults", body)
        assert status == 400 and answer["error"].startswith(f"bad fault rule: {field}: "), answer
    assert curl(port, "POST", "/faults", "[1, 2]")[0] == 400
    assert curl(port, "GET", "/faults") == (200, [])


def test_reset_clears_the_rules_added_at_run_time(fx):
    port = fx.sim.control_server.port
    curl(port, "POST", "/faults", CURL_DELAY)
    assert curl(port, "POST", "/reset", "{}")[0] == 200
    assert curl(port, "GET", "/faults") == (200, [])


def test_the_catalogue_lists_every_fault_with_its_parameters(fx):
    status, catalogue = curl(fx.sim.control_server.port, "GET", "/faults/catalogue")
    assert status == 200
    by_name = {k["fault"]: k for k in catalogue}
    assert {k["family"] for k in catalogue} == {"transport", "frame", "session", "venue"}
    assert by_name["delay"]["params"][1]["choices"] == ["fixed", "uniform", "normal", "lognormal"]
    assert all(k["doc"] for k in catalogue)


def test_ctl_fault_commands_add_list_show_remove_and_clear(fx, capsys):
    port = str(fx.sim.control_server.port)
    assert main(["ctl", "--port", port, "fault", "add", "fault=drop", "session=RT", "match.35=8", "times=1"]) == 0
    added = json.loads(capsys.readouterr().out)
    assert added["id"] == "f1" and added["match"] == {"35": "8"} and added["times"] == 1
    assert main(["ctl", "--port", port, "fault", "add", "--json", CURL_DELAY]) == 0
    capsys.readouterr()
    assert main(["ctl", "--port", port, "fault", "list"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == ["f1", "f2"]
    assert main(["ctl", "--port", port, "fault", "show", "f2"]) == 0
    assert json.loads(capsys.readouterr().out)["ms"] == 250
    assert main(["ctl", "--port", port, "fault", "rm", "f1"]) == 0
    capsys.readouterr()
    assert main(["ctl", "--port", port, "fault", "add", "fault=delay", "ms=-5"]) == 1
    assert "ms: -5 is out of range" in capsys.readouterr().err
    assert main(["ctl", "--port", port, "fault", "clear"]) == 0
    assert json.loads(capsys.readouterr().out) == {"removed": 1}


def test_faults_command_prints_the_catalogue(capsys):
    assert main(["faults"]) == 0
    out = capsys.readouterr().out
    assert "transport:" in out and "exchange_unavailable" in out and "booked=False" in out
    assert main(["faults", "--json", "--family", "frame"]) == 0
    assert {k["family"] for k in json.loads(capsys.readouterr().out)} == {"frame"}


def test_config_faults_are_active_from_start_up_and_come_back_after_reset(fix_exchange_factory):
    fx = fix_exchange_factory(faults=({"fault": "drop", "id": "boot", "session": "NR", "match": {"35": "0"},
                                       "nth": 1},))

    async def go():
        peer = await Peer.open(fx)
        peer.test_request("T1")
        peer.test_request("T2")
        assert (await peer.expect("0")).get(112) == "T2"
    run(go())
    assert [(r["id"], r["hits"], r["active"]) for r in fx.faults.list()] == [("boot", 1, False)]
    fx.faults.add(fault="delay", ms=5)
    fx.control.reset()
    assert [(r["id"], r["hits"], r["active"]) for r in fx.faults.list()] == [("boot", 0, True)]


def test_the_python_handle_counts_hits_and_removes_its_rule_on_exit(fix_exchange):
    with fix_exchange.faults.add({"fault": "duplicate", "session": "NR"}, match={"35": "0"}) as rule:
        async def go():
            peer = await Peer.open(fix_exchange)
            peer.test_request("T1")
            await peer.expect("0")
            await peer.expect("0")
        run(go())
        assert rule.hits == 1 and rule.active
    assert fix_exchange.faults.list() == []


def test_a_handle_waits_for_its_rule_to_be_hit(fix_exchange):
    rule = fix_exchange.faults.add(fault="drop", account="alice", session="NR", match={"35": "0"}, nth=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        await peer.conn.writer.drain()
        # wait with the connection open: closing it first could race the venue's answer
        return await asyncio.to_thread(rule.wait_hits, 1, timeout=10)
    assert run(go()) == 1


def test_a_refuse_logon_rule_without_selector_refuses_the_logon_exactly_once(fix_exchange):
    rule = fix_exchange.faults.add(fault="refuse_logon", text="Not today", times=1)

    async def go():
        from kalshi_fixsim.client import LogonError
        fix = fix_exchange.client("alice")
        try:
            await fix.connect()
            raise AssertionError("the Logon was accepted")
        except LogonError as exc:
            assert exc.text == "Not today"
        await fix.connect()
        await fix.close()
    run(go())
    assert rule.hits == 1


def test_without_rules_no_fault_code_sits_on_the_frame_or_message_path(fix_exchange):
    from kalshi_fixsim.simulator.faults import ConnectionFaults
    from kalshi_fixsim.simulator.gateway import GATES
    from kalshi_fixsim.simulator.gateway.fault_gate import fault_gate

    def layers():
        return [type(c.recorder.inner).__name__ for c in fix_exchange.sim.connections]

    async def go():
        async with fix_exchange.client("alice"):
            assert layers() == ["NoneType"] and fault_gate not in GATES
            rule = fix_exchange.faults.add(fault="drop", session="MD")
            assert layers() == [ConnectionFaults.__name__] and GATES[0] is fault_gate
            rule.remove()
            assert layers() == ["NoneType"] and fault_gate not in GATES
    run(go())


def test_an_interceptor_factory_interceptor_may_return_transport_actions(fix_exchange_factory):
    import time

    from kalshi_fixsim.fixproto.actions import Wait

    class SlowHeartbeats:
        def inbound(self, frame):
            return [frame]

        def outbound(self, frame):
            return [Wait(0.2), frame] if b"\x0135=0\x01" in frame else [frame]

    fx = fix_exchange_factory(interceptor_factory=lambda product, code: SlowHeartbeats() if code == "NR" else None)

    async def go():
        peer = await Peer.open(fx)
        started = time.monotonic()
        peer.test_request("T1")
        assert (await peer.expect("0")).get(112) == "T1" and time.monotonic() - started >= 0.19
    run(go())


def test_a_spent_rule_takes_the_fault_layer_off_the_connections(fix_exchange):
    from kalshi_fixsim.simulator.gateway import GATES
    from kalshi_fixsim.simulator.gateway.fault_gate import fault_gate

    rule = fix_exchange.faults.add(fault="duplicate", session="NR", match={"35": "0"}, times=1)

    async def go():
        peer = await Peer.open(fix_exchange)
        peer.test_request("T1")
        await peer.expect("0")
        await peer.expect("0")
        peer.test_request("T2")   # read after the rule was spent: one answer
        assert (await peer.expect("0")).get(112) == "T2"
        assert [type(c.recorder.inner).__name__ for c in fix_exchange.sim.connections] == ["NoneType"]
    run(go())
    assert not rule.active and rule.hits == 1 and fault_gate not in GATES
