"""The control plane (issue 5 §5): in-process, and over HTTP/JSON driven by a plain HTTP client."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.orders import ExecutionReport, new_order
from tests.wire import run

A = "KXTEST-26JAN01-A"
OPTS = LogonOptions(skip_pending_exec_reports=True)


def http(base: str, method: str, path: str, body=None, raw: bytes | None = None) -> tuple[int, object]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def fx(fix_exchange_factory):
    return fix_exchange_factory(control_port=0)


async def rest(fx, account, cl, side, price, qty):
    async with fx.client(account, options=OPTS) as fix:
        fix.send("D", new_order(cl, A, side, price, qty))
        return [ExecutionReport(m) for m in await fix.collect()]


def test_http_control_plane_views_books_accounts_orders_sessions_and_messages(fx):
    base = fx.control_url
    run(rest(fx, "alice", "o1", "buy", 40, 10))

    async def with_session():
        async with fx.client("bob", "prediction", "RT", options=OPTS):
            status, sessions = http(base, "GET", "/sessions")
            assert status == 200 and [(s["session"], s["account"]) for s in sessions] == [("RT", "bob")]
            assert sessions[0]["next_seq_out"] >= 2 and sessions[0]["next_seq_in"] >= 2
    run(with_session())
    assert http(base, "GET", f"/books/{A}")[1] == {"ticker": A, "asks": [],
                                                    "bids": [{"price": "0.4", "qty": "10", "orders": 1}]}
    status, account = http(base, "GET", "/accounts/alice")
    assert status == 200 and account["balance"] == "1000" and account["available"] == "996"
    assert [o["cl_ord_id"] for o in http(base, "GET", "/orders?account=alice")[1]] == ["o1"]
    assert any(m["endpoint"] == "prediction/NR" for m in http(base, "GET", "/messages?limit=5")[1])
    assert len(http(base, "GET", "/endpoints")[1]) == 10
    assert A in [m["ticker"] for m in http(base, "GET", "/markets")[1]]


def test_http_control_plane_closes_and_settles_and_refuses_illegal_transitions(fx):
    base = fx.control_url
    run(rest(fx, "alice", "o1", "buy", 40, 10))
    run(rest(fx, "bob", "b1", "sell", 40, 10))  # alice long 10 YES at 40c
    assert http(base, "POST", f"/markets/{A}/close", {})[0] == 200
    assert http(base, "POST", f"/markets/{A}/close", {})[0] == 409
    status, result = http(base, "POST", f"/markets/{A}/settle", {"result": "yes"})
    assert status == 200 and result["parties"] == 2
    assert http(base, "GET", "/accounts/alice")[1]["balance"] == "1006"  # paid 4.00, received 10.00
    assert http(base, "POST", f"/markets/{A}/settle", {"result": "no"})[0] == 409


@pytest.mark.parametrize("method,path,body,raw,status,error", [
    ("POST", "/markets/KXNOPE/close", {}, None, 404, "unknown market"),
    ("GET", "/accounts/nobody", None, None, 404, "unknown account"),
    ("POST", f"/markets/{A}/settle", {"result": "maybe"}, None, 400, "result must be"),
    ("POST", "/accounts/alice/balance", None, b"{not json", 400, "malformed JSON"),
    ("POST", "/accounts/alice/balance", None, b"[1, 2]", 400, "must be an object"),
    ("POST", "/accounts/alice/balance", {"balance": "lots"}, None, 400, "dollar amount"),
    ("GET", "/no/such/thing", None, None, 404, "no such endpoint"),
    ("GET", "/reset", None, None, 405, "not allowed"),
    ("POST", "/pause", {"kind": "trading", "bogus": 1}, None, 400, "bad arguments for pause"),
])
def test_bad_control_requests_get_a_4xx_saying_what_is_wrong_and_change_nothing(fx, method, path, body, raw,
                                                                                   status, error):
    before = fx.control.account("alice")
    got, payload = http(fx.control_url, method, path, body, raw)
    assert got == status and error in payload["error"]
    assert fx.control.account("alice") == before


def test_balance_can_be_set_at_run_time(fx):
    assert fx.control.set_balance("alice", "2500.50")["balance"] == "2500.5"
    status, payload = http(fx.control_url, "POST", "/accounts/alice/balance", {"balance": "10"})
    assert status == 200 and payload["available"] == "10"


def test_reset_restores_the_start_state_fast_and_reproduces_the_same_ids(fx):
    first = run(rest(fx, "alice", "o1", "buy", 40, 10))
    order_id = first[-1].order_id

    async def connected_then_reset():
        fix = fx.client("bob", options=OPTS)
        await fix.connect()
        result = fx.control.reset()
        assert result["milliseconds"] < 10
        closed = await fix.wait_closed(timeout=5)
        assert closed.reason == "connection_lost"
    run(connected_then_reset())
    assert fx.control.book(A) == {"ticker": A, "bids": [], "asks": []}
    assert fx.control.account("alice")["available"] == "1000"
    again = run(rest(fx, "alice", "o1", "buy", 40, 10))  # same seed: same order id again
    assert again[-1].order_id == order_id


def test_a_pause_is_rehearsed_over_http_while_a_client_is_connected(fx):
    base = fx.control_url

    async def scenario():
        async with fx.client("alice", options=OPTS) as fix:
            fix.send("D", new_order("r1", A, "buy", 40, 1))
            await fix.collect()
            assert http(base, "POST", "/pause", {"kind": "trading"})[0] == 200
            assert http(base, "GET", "/status")[1]["products"]["prediction"]["state"] == "trading_paused"
            fix.send("D", new_order("p1", A, "buy", 41, 1))
            refused = [ExecutionReport(m) for m in await fix.collect()]
            assert [(r.kinds, r.text) for r in refused] == [(("8", "8"), "TRADING_PAUSED")]
            assert http(base, "POST", "/resume", {})[0] == 200
            fix.send("D", new_order("p2", A, "buy", 41, 1))
            assert [ExecutionReport(m).kinds for m in await fix.collect()] == [("0", "0")]
            assert http(base, "POST", "/resume", {})[0] == 409  # nothing is paused
    run(scenario())


def test_halt_and_tier_changes_over_http_and_their_illegal_forms(fx):
    base = fx.control_url
    assert http(base, "POST", f"/markets/{A}/resume", {})[0] == 409  # not halted
    assert http(base, "POST", f"/markets/{A}/halt", {})[1] == {"ticker": A, "status": "halted"}
    assert http(base, "POST", f"/markets/{A}/halt", {})[0] == 409
    assert http(base, "POST", f"/markets/{A}/resume", {})[0] == 200
    status, limits = http(base, "POST", "/accounts/alice/tier", {"tier": "premier", "product": "prediction"})
    assert status == 200 and limits["products"]["prediction"]["usage_tier"] == "premier"
    assert http(base, "POST", "/accounts/alice/tier", {"tier": "mythic"})[0] == 400
    assert http(base, "POST", "/pause", {"kind": "forever"})[0] == 400
