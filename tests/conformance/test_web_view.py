"""The web view at / (issue 17 §1) in a real browser: headless Chromium over the DevTools protocol.

Skipped, not failed, where no Chromium is installed (`apt-get install -y chromium`). The test
takes a screenshot each run; it replaces docs/web-view.png, the one the README shows, when that
is missing or with KALSHI_FIXSIM_UPDATE_SCREENSHOT=1 (ports and times differ on every run, so
the file is not rewritten by each `make test`).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.orders import new_order
from kalshi_fixsim.simulator import ops
from tests.browser import Browser, find_chromium
from tests.conformance.test_control import http
from tests.wire import run

A = "KXTEST-26JAN01-A"
OPTS = LogonOptions(skip_pending_exec_reports=True)
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "web-view.png"
CHROMIUM = find_chromium()

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="no chromium: apt-get install -y chromium chromium-driver")]


def js(value) -> str:
    return json.dumps(value)


def test_the_page_shows_live_a_logon_its_message_a_book_change_and_a_fault_hit(fix_exchange_factory, tmp_path):
    fx = fix_exchange_factory(control_port=0)
    base = fx.control_url
    update = os.environ.get("KALSHI_FIXSIM_UPDATE_SCREENSHOT") == "1" or not SCREENSHOT.exists()
    shot = SCREENSHOT if update else tmp_path / "web-view.png"
    status, rule = http(base, "POST", "/faults", {"fault": "delay", "ms": 20, "direction": "outbound",
                                                  "session": "NR", "match": {"35": "8"}, "times": 1})
    assert status == 200
    fx.control.record_run("conform", "order entry basics", "pass", passed=12)
    fx.call(lambda: ops.install(fx.sim, schedule=ops.THURSDAY))  # as `serve` does

    async def scenario():
        async with Browser(CHROMIUM, tmp_path / "profile") as page:
            await page.navigate(base + "/")
            await page.wait_for("document.getElementById('live').textContent === 'live'", "the live badge")
            await page.wait_for("document.getElementById('connected').innerText.includes('no session logged on')",
                                "no session before the logon")
            await page.wait_for("document.getElementById('schedule').innerText.includes('Thu 03:00–05:00')",
                                "the Thursday schedule")
            await page.wait_for(f"document.getElementById('runs').innerText.includes('order entry basics')",
                                "the recorded conform run")
            async with fx.client("alice", options=OPTS) as fix:
                await page.wait_for("document.getElementById('connected').innerText.includes('alice')",
                                    "alice's session, logged on")
                fix.send("D", new_order("web-1", A, "buy", 41, 7))
                await fix.collect()
                await page.wait_for("[...document.querySelectorAll('#timeline td.line')]"
                                    ".some(td => td.textContent.includes('11(ClOrdID)=web-1'))", "the order it sent")
                await page.wait_for(f"[...document.querySelectorAll('.book[data-ticker={js(A)}] td.yes')]"
                                    ".some(td => td.textContent === '41¢')", "the order in the book")
                async with fx.client("bob", options=OPTS) as other:  # a trade: 3 of alice's 7 at 41
                    other.send("D", new_order("web-2", A, "sell", 41, 3))
                    await other.collect()
                await page.wait_for("document.getElementById('trades').innerText.includes('41¢')", "the trade")
                await page.wait_for(f"[...document.querySelectorAll('.book[data-ticker={js(A)}] td.qty.yes')]"
                                    ".some(td => td.textContent.startsWith('4'))", "the book after the trade")
                async with fx.client("carol", "margin", options=OPTS) as perp:  # a perps book: dollars
                    perp.send("D", new_order("web-3", "ETH-PERP", "buy", "3400", 2))
                    await perp.collect()
                await page.wait_for("[...document.querySelectorAll('.book[data-ticker=\"ETH-PERP\"] td.yes')]"
                                    ".some(td => td.textContent.startsWith('$3400'))", "the perps book")
                await page.wait_for(f"document.querySelector('td.hits[data-rule={js(rule['id'])}]')"
                                    "?.textContent === '1'", "the fault rule's hit")
                await page.wait_for("document.querySelector('.fault-mark') !== null", "the fault mark")
                # a message's full field table on click, from GET /messages/{id}
                await page.evaluate("[...document.querySelectorAll('#timeline tr[data-id]')].find(tr => "
                                    "tr.textContent.includes('11(ClOrdID)=web-1')).click()")
                await page.wait_for("document.querySelector('#fields')?.innerText.includes('ClOrdID')",
                                    "the field table")
                await page.screenshot(shot)
            await page.wait_for("document.getElementById('disconnected').innerText.includes('alice')",
                                "alice's session among the recently disconnected")
            await page.evaluate("1")  # DevTools events up to now are read
            assert "Runtime.exceptionThrown" not in page.events, "the page's script threw"

    run(scenario(), timeout=90)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and len(shot.read_bytes()) > 50_000
