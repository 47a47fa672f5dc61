"""The control plane over HTTP: aiohttp, in the simulator's own event loop (issue 17 §1).

This is the one module aiohttp enters through (server, WebSocket and, in tests, the client).
The JSON routes are the table in control.py (`_ROUTES`, `add_route`), each mapped onto a
`Control` method exactly as the hand-written HTTP/1.1 server did before: query parameters and
a JSON object body become keyword arguments, `ControlError(status, message)` becomes that
status with `{"error": message}`, a body that is not JSON is 400 naming the problem, a bug is
500 `internal error: ...` (behaviour.md "Control plane"). Besides the JSON API it serves the web
view (`/` and `/static/...`, package data, no CDN), its live feed (`/ws`, simulator/web.py) and
`/metrics` (simulator/metrics.py).
"""
from __future__ import annotations

import json
import logging
from importlib import resources
from typing import Any

from aiohttp import web

from .control import Control, ControlError, PlainText, _match

__all__ = ["ControlServer", "STATIC"]

log = logging.getLogger("kalshi_fixsim.control")

STATIC = resources.files("kalshi_fixsim.simulator") / "static"  # the web view's files (package data)
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


def _json(status: int, payload: Any) -> web.Response:
    if isinstance(payload, PlainText):
        return web.Response(status=status, text=str(payload), content_type="text/plain", charset="utf-8")
    return web.Response(status=status, body=json.dumps(payload, indent=1).encode(),
                        content_type="application/json")


def _query_value(value: str) -> Any:
    return int(value) if value.isdigit() else value


@web.middleware
async def _one_request_per_connection(request: web.Request, handler):
    """Connection: close on every answer but the WebSocket, as the hand-written server did: a
    client reading to EOF (curl, a raw socket) gets its answer, and stop() leaves no idle
    keep-alive connection behind."""
    response = await handler(request)
    if not isinstance(response, web.WebSocketResponse):
        response.force_close()
    return response


class ControlServer:
    """The HTTP/JSON control plane, the web view and /metrics on loopback."""

    MAX_BODY = 1_000_000

    def __init__(self, control: Control, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the control plane listens on loopback only")
        self.control = control
        self.host, self.port = host, port
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        app = web.Application(client_max_size=self.MAX_BODY * 2, middlewares=[_one_request_per_connection])
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/ws", self._live)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_route("*", "/{path:.*}", self._api)
        app.on_shutdown.append(self._close_sockets)
        self.app = app

    async def start(self) -> int:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=False)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            self._runner = None
            raise
        self.port = self._runner.addresses[0][1]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- the JSON API -------------------------------------------------------------------------

    async def _api(self, request: web.Request) -> web.Response:
        try:
            status, payload = await self._call(request)
        except Exception as exc:  # our bug: answer it instead of dropping the request
            log.exception("control request failed")
            status, payload = 500, {"error": f"internal error: {type(exc).__name__}: {exc}"}
        return _json(status, payload)

    async def _call(self, request: web.Request) -> tuple[int, Any]:
        method, path = request.method, request.path
        found = _match(method, path)
        if found is None:
            known = any(_match(m, path) for m in ("GET", "POST", "DELETE"))
            return (405, {"error": f"{method} not allowed on {path}"}) if known else \
                (404, {"error": f"no such endpoint: {method} {path}"})
        if (request.content_length or 0) > self.MAX_BODY:
            return 413, {"error": "request body too large"}
        operation, args = found
        for key, value in request.query.items():
            args[key] = _query_value(value)
        try:
            raw = await request.read() if request.body_exists else b""
        except web.HTTPRequestEntityTooLarge:  # a chunked body past client_max_size
            return 413, {"error": "request body too large"}
        if len(raw) > self.MAX_BODY:
            return 413, {"error": "request body too large"}
        if raw:
            try:
                data = json.loads(raw)
            except ValueError as exc:
                return 400, {"error": f"malformed JSON: {exc}"}
            if not isinstance(data, dict):
                return 400, {"error": "the JSON body must be an object"}
            args.update(data)
        try:
            return 200, self.control.call(operation, **args)
        except ControlError as exc:
            return exc.status, {"error": exc.message}

    # --- web view, live feed, metrics ---------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        return self._file("index.html")

    async def _static(self, request: web.Request) -> web.Response:
        return self._file(request.match_info["name"])

    def _file(self, name: str) -> web.Response:
        suffix = name[name.rfind("."):] if "." in name else ""
        item = STATIC / name
        if "/" in name or "\\" in name or name.startswith(".") or suffix not in _TYPES or not item.is_file():
            return _json(404, {"error": f"no such file: /static/{name}"})
        return web.Response(body=item.read_bytes(), headers={"Content-Type": _TYPES[suffix],
                                                             "Cache-Control": "no-cache"})

    async def _metrics(self, request: web.Request) -> web.Response:
        from .metrics import CONTENT_TYPE, exposition
        return web.Response(body=exposition(self.control.sim), headers={"Content-Type": CONTENT_TYPE})

    async def _live(self, request: web.Request) -> web.WebSocketResponse:
        from .web import LiveFeed
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)
        self._sockets.add(ws)
        feed = LiveFeed(self.control)
        try:
            await feed.run(ws)
        finally:
            self._sockets.discard(ws)
        return ws

    async def _close_sockets(self, app: web.Application) -> None:
        for ws in list(self._sockets):
            await ws.close(code=1001, message=b"simulator shutting down")
