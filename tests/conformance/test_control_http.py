"""The control plane on aiohttp (issue 17 §1): the web view's files, its live feed, errors."""
from __future__ import annotations

import asyncio
import json
import re
import urllib.error
import urllib.request

import aiohttp
import pytest

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.simulator.control_http import STATIC
from tests.conformance.test_control import http
from tests.wire import run

OPTS = LogonOptions(skip_pending_exec_reports=True)


@pytest.fixture
def fx(fix_exchange_factory):
    return fix_exchange_factory(control_port=0)


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_the_web_view_and_its_assets_are_served_by_the_simulator_with_no_cdn(fx):
    status, kind, page = get(fx.control_url + "/")
    assert status == 200 and kind.startswith("text/html")
    assets = re.findall(rb'(?:src|href)="([^"#]+)"', page)
    assert set(assets) >= {b"/static/app.js", b"/static/style.css"}
    for asset in assets:
        assert asset.startswith(b"/"), f"{asset!r} is not served by the simulator"
        assert get(fx.control_url + asset.decode())[0] == 200
    assert get(fx.control_url + "/static/app.js")[1].startswith("text/javascript")
    for item in STATIC.iterdir():  # no file loads anything from elsewhere
        text = item.read_text()
        assert not re.search(r"(?:src|href|import)[^\n]*https?://", text), f"{item.name} reaches out"
        assert "//cdn" not in text


@pytest.mark.parametrize("path", ["/static/../control.py", "/static/nope.js", "/static/.hidden.js", "/static/x.py"])
def test_only_the_web_views_own_files_are_served(fx, path):
    status, kind, body = get(fx.control_url + path)
    assert status == 404 and kind.startswith("application/json") and "error" in json.loads(body)


def test_a_bug_in_an_operation_is_a_500_naming_it_and_the_plane_keeps_serving(fx, monkeypatch):
    def broken(**_):
        raise RuntimeError("boom")
    monkeypatch.setattr(fx.sim.control, "endpoints", broken)
    status, body = http(fx.control_url, "GET", "/endpoints")
    assert status == 500 and body == {"error": "internal error: RuntimeError: boom"}
    assert http(fx.control_url, "GET", "/markets")[0] == 200


def test_a_json_body_that_is_not_an_object_is_400_and_an_oversized_one_413(fx):
    assert http(fx.control_url, "POST", "/reset", raw=b"[1, 2]") == (400, {"error": "the JSON body must be an object"})
    status, body = http(fx.control_url, "POST", "/reset", raw=b"{" + b" " * 1_000_001 + b"}")
    assert status == 413 and body == {"error": "request body too large"}


def test_the_live_feed_pushes_the_json_api_documents_and_new_messages_as_they_change(fx):
    async def go():
        async with aiohttp.ClientSession() as web:
            async with web.ws_connect(fx.control_url.replace("http", "ws") + "/ws") as ws:
                seen: list[dict] = []  # the journal rows pushed so far
                first = json.loads((await ws.receive(timeout=10)).data)
                assert first["docs"]["/sessions"] == http(fx.control_url, "GET", "/sessions")[1] == []
                assert first["docs"]["/endpoints"] == http(fx.control_url, "GET", "/endpoints")[1]
                async with fx.client("alice", options=OPTS):
                    while True:  # each push carries only what changed since the one before
                        update = json.loads((await ws.receive(timeout=10)).data)
                        seen += update["messages"]
                        assert "/endpoints" not in update["docs"]
                        if update["docs"].get("/sessions"):
                            break
                    assert [s["account"] for s in update["docs"]["/sessions"]] == ["alice"]
                    while not any(m["msg_type"] == "A" and m["direction"] == "out" for m in seen):
                        seen += json.loads((await ws.receive(timeout=10)).data)["messages"]
                    row = next(m for m in seen if m["msg_type"] == "A" and m["direction"] == "out")
                    assert row["line"].startswith("35=A(Logon)") and row["session"].startswith("prediction/NR/")
                    fields = http(fx.control_url, "GET", f"/messages/{row['id']}")[1]["fields"]
                    assert {"depth": 0, "tag": 35, "name": "MsgType", "value": "A", "enum": "Logon"} in fields
    run(go())
    recent = http(fx.control_url, "GET", "/sessions/recent")[1]
    assert [(s["account"], s["session"]) for s in recent] == [("alice", "NR")] and recent[0]["reason"]


def test_runs_are_none_until_the_runner_records_one_and_a_bad_verdict_is_400(fx):
    assert http(fx.control_url, "GET", "/runs")[1] == []
    fx.control.record_run("scenario", "fills", "fail", passed=3, failed=1, detail="step 4")
    assert [(r["name"], r["verdict"], r["failed"]) for r in http(fx.control_url, "GET", "/runs")[1]] == \
        [("fills", "fail", 1)]
    with pytest.raises(Exception, match="verdict must be pass, fail or error"):
        fx.control.record_run("scenario", "x", "maybe")
    # a conformance tool in any language records its run over HTTP
    status, row = http(fx.control_url, "POST", "/runs", {"kind": "conform", "name": "RT resend", "verdict": "pass",
                                                         "passed": 9})
    assert status == 200 and [r["name"] for r in http(fx.control_url, "GET", "/runs")[1]] == ["RT resend", "fills"]
    assert http(fx.control_url, "POST", "/runs", {"kind": "conform", "name": "x", "verdict": "maybe"})[0] == 400
    assert http(fx.control_url, "GET", "/messages/999999")[0] == 404
    assert http(fx.control_url, "GET", "/messages/abc")[0] == 400
