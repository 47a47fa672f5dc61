"""Each --bug of the raw client shows on the wire against a plain simulator (so a grading test
that misses one blames the kit, not the client). test_grading.py grades the same flags through
the kit in the default suite; these run with the full matrix (-m conform_full)."""
from __future__ import annotations

import pytest

from .procs import CLIENTS, PYTHON, ClientProcess, contract_env

pytestmark = pytest.mark.conform_full  # diagnostics: the grading tests judge the same flags by default

RAW = [PYTHON, str(CLIENTS / "rawclient.py")]


def _raw(fx, bug: str, session: str, **kw) -> ClientProcess:
    return ClientProcess(RAW + ["--bug", bug], contract_env(fx, session=session, heartbeat=4, **kw))


def _inbound(fx, session: str) -> list[str]:
    return [m["frame"] for m in fx.control.messages(session=f"prediction/{session}", limit=500)
            if m["direction"] == "in"]


def test_bug_no_heartbeats_sends_only_answers(fix_exchange):
    with _raw(fix_exchange, "no-heartbeats", "DC") as raw:
        raw.wait_line(r"logged on")
        raw.wait_line(r"TestRequest \S+ from the venue")  # the venue heard nothing for 1.2 x HeartBtInt
        raw.terminate()
    heartbeats = [f for f in _inbound(fix_exchange, "DC") if "|35=0|" in f]
    assert heartbeats and all("|112=" in f for f in heartbeats)


def test_bug_ignore_test_request_leaves_it_unanswered(fix_exchange):
    with _raw(fix_exchange, "ignore-test-request", "DC") as raw:
        raw.wait_line(r"logged on")
        fix_exchange.faults.add(fault="test_request", test_req_id="BUG1", session="DC", now=True)
        raw.wait_line(r"TestRequest BUG1 from the venue")
        raw.terminate()
    assert not [f for f in _inbound(fix_exchange, "DC") if "|112=BUG1|" in f]


def test_bug_no_gap_detection_sends_no_resend_request(fix_exchange):
    with _raw(fix_exchange, "no-gap-detection", "RT") as raw:
        raw.wait_line(r"execution report")
        fix_exchange.faults.add(fault="skip_seq", count=2, session="RT", now=True)
        order = raw.wait_line(r"order (\S+) buy").group(1)
        raw.wait_line(rf"execution report {order}")  # above the gap, taken as if nothing was missed
        raw.terminate()
        assert not [line for line in raw.lines if "gap:" in line or "ResendRequest" in line]
    assert not [f for f in _inbound(fix_exchange, "RT") if "|35=2|" in f]


def test_bug_gapfill_over_app_messages_never_replays_orders(fix_exchange):
    with _raw(fix_exchange, "gapfill-over-app-messages", "RT") as raw:
        raw.wait_line(r"execution report")
        fix_exchange.faults.add(fault="resend_request", begin=1, end=0, session="RT", now=True)
        raw.wait_line(r"ResendRequest from the venue 1\.\.0")
        raw.wait_line(r"execution report")  # after the venue read the answer (TCP order)
        raw.terminate()
    answers = [f for f in _inbound(fix_exchange, "RT") if "|43=Y|" in f]
    assert len(answers) == 1 and "|35=4|" in answers[0] and "|123=Y|" in answers[0]


def test_bug_no_backoff_reconnects_at_once(fix_exchange):
    with _raw(fix_exchange, "no-backoff", "NR") as raw:
        raw.wait_line(r"logged on")
        fix_exchange.faults.add(fault="reset", session="NR", now=True)
        assert float(raw.wait_line(r"reconnecting in ([\d.]+) s").group(1)) < 0.1
        raw.wait_line(r"logged on")
        raw.terminate()


def test_bug_ignore_logout_leaves_the_venue_waiting(fix_exchange):
    with _raw(fix_exchange, "ignore-logout", "DC") as raw:
        raw.wait_line(r"logged on")
        fix_exchange.faults.add(fault="logout", text="bye", session="DC", now=True)
        raw.wait_line(r"venue logout: bye")
        raw.wait_line(r"disconnected: connection closed by the venue", timeout=15)
        raw.terminate()
    assert not [f for f in _inbound(fix_exchange, "DC") if "|35=5|" in f][:1]


def test_bug_wrong_reset_flag_on_relogon(fix_exchange):
    with _raw(fix_exchange, "wrong-reset-flag-on-relogon", "NR") as raw:
        raw.wait_line(r"logon sent seq=1 reset=Y")
        raw.wait_line(r"logged on")
        fix_exchange.faults.add(fault="close", session="NR", now=True)
        raw.wait_line(r"logon sent seq=\d+ reset=N")  # NR needs 141=Y on every Logon (spec 01 §5.1)
        raw.terminate()
    with _raw(fix_exchange, "wrong-reset-flag-on-relogon", "RT") as raw:
        raw.wait_line(r"logged on")
        fix_exchange.faults.add(fault="close", session="RT", now=True)
        raw.wait_line(r"logon sent seq=1 reset=Y")  # RT drops its continuity
        raw.terminate()


def test_bug_reuse_clordid_sends_one_clordid_twice(fix_exchange):
    with _raw(fix_exchange, "reuse-clordid", "NR") as raw:
        first = raw.wait_line(r"order (\S+) buy").group(1)
        assert raw.wait_line(r"order (\S+) buy").group(1) == first
        raw.terminate()


def test_bug_dollars_on_cents_is_refused_as_a_bad_price(fix_exchange):
    with _raw(fix_exchange, "dollars-on-cents", "NR") as raw:
        order = raw.wait_line(r"order (\S+) buy 1 @ 0.10$").group(1)
        raw.wait_line(rf"execution report {order} 8/8 INVALID_PRICE")
        raw.terminate()


def test_bug_stuck_resend_after_reconnect_never_asks_again(fix_exchange):
    with _raw(fix_exchange, "stuck-resend-after-reconnect", "RT") as raw:
        raw.wait_line(r"logged on")
        fix_exchange.faults.add(fault="drop", match={"35": "2"}, direction="inbound", session="RT")
        fix_exchange.faults.add(fault="skip_seq", count=2, how="hold", session="RT", now=True)
        raw.wait_line(r"ResendRequest \d+\.\.0")  # dropped: the gap stays open
        fix_exchange.faults.add(fault="close", session="RT", now=True)
        raw.wait_line(r"logged on")
        raw.wait_line(r"gap: expected")
        raw.wait_line(r"order")
        raw.terminate()
        assert len([line for line in raw.lines if "ResendRequest" in line]) == 1
