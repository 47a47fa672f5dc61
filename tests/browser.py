"""Headless Chromium driven over the DevTools protocol (a WebSocket, aiohttp's client): no Selenium.

`find_chromium()` is None when no browser is installed (`apt-get install -y chromium`): the web
view's browser test skips then instead of failing.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import aiohttp

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--hide-scrollbars", "--window-size=1440,1800"]


def find_chromium() -> str | None:
    for name in (os.environ.get("KALSHI_FIXSIM_CHROMIUM") or "", "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


class Browser:
    """One headless Chromium with one page; `async with Browser(path, profile) as page: ...`."""

    def __init__(self, executable: str, profile: Path) -> None:
        self.argv = [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        self.proc: subprocess.Popen | None = None
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self.events: list[str] = []  # DevTools events seen and not yet waited for

    async def __aenter__(self) -> "Browser":
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        loop = asyncio.get_running_loop()
        url = await asyncio.wait_for(loop.run_in_executor(None, self._devtools_url), 30)
        port = re.search(r":(\d+)/", url).group(1)
        self.http = aiohttp.ClientSession()
        pages = await asyncio.wait_for(self._pages(port), 15)
        self.ws = await self.http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=64 * 1024 * 1024)
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        return self

    async def _pages(self, port: str) -> list[dict]:
        assert self.http is not None
        while True:  # the about:blank target is listed as soon as DevTools is up (a few ms at most)
            async with self.http.get(f"http://127.0.0.1:{port}/json/list") as answer:
                pages = [t for t in await answer.json() if t["type"] == "page"]
            if pages:
                return pages

    def _devtools_url(self) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace")
            if "DevTools listening on " in line:
                return line.split("DevTools listening on ", 1)[1].strip()
        raise RuntimeError(f"chromium exited ({self.proc.wait()}) before opening DevTools")

    async def __aexit__(self, *exc) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.http is not None:
            await self.http.close()
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own process group: the browser and its helpers
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    async def _next(self) -> dict:
        assert self.ws is not None
        msg = await self.ws.receive()
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise RuntimeError(f"DevTools connection ended: {msg.type}")
        return json.loads(msg.data)

    async def send(self, method: str, **params) -> dict:
        assert self.ws is not None
        n = next(self._ids)
        await self.ws.send_str(json.dumps({"id": n, "method": method, "params": params}))
        while True:
            data = await self._next()
            if data.get("id") == n:
                if "error" in data:
                    raise RuntimeError(f"{method}: {data['error']}")
                return data.get("result", {})
            if "method" in data:
                self.events.append(data["method"])

    async def event(self, method: str) -> None:
        """Until the browser reports `method` (e.g. Page.loadEventFired)."""
        while method not in self.events:
            data = await self._next()
            if "method" in data:
                self.events.append(data["method"])
        self.events.remove(method)

    async def evaluate(self, expression: str):
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, condition: str, what: str, timeout: float = 15.0):
        """Until the page's JS `condition` holds: checked on every change of the DOM (the page
        updates itself live, no reload), so nothing polls."""
        promise = ("new Promise((resolve) => { const check = () => { let v; try { v = (%s); } catch (e) { v = false; }"
                   " if (v) { observer.disconnect(); resolve(v); } };"
                   " const observer = new MutationObserver(check);"
                   " observer.observe(document, {subtree: true, childList: true, characterData: true, attributes: true});"
                   " check(); })" % condition)
        try:
            return await asyncio.wait_for(self.evaluate(promise), timeout)
        except asyncio.TimeoutError:
            text = await self.evaluate("document.body.innerText")
            raise AssertionError(f"the page never showed {what}; it shows:\n{text[:3000]}") from None

    async def navigate(self, url: str) -> None:
        self.events.clear()
        await self.send("Page.navigate", url=url)
        await asyncio.wait_for(self.event("Page.loadEventFired"), 15)

    async def screenshot(self, path: Path, width: int = 1440, height: int = 1700) -> None:
        await self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                        mobile=False)
        shot = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=False)
        path.write_bytes(base64.b64decode(shot["data"]))
