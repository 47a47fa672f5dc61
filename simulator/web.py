"""The web view's live feed (issue 17 §1): what the page at `/` shows, pushed over `/ws`.

The page only uses the JSON API: the feed sends the documents of JSON routes, each under its
route (`{"docs": {"/sessions": [...], "/books/T?product=prediction": {...}}}`), when it changed
since the last push, and the journal's new frames as the rows of `/messages/{id}` without the
field table (`{"messages": [...]}`); the page asks `GET /messages/{id}` for that on a click.
Every INTERVAL seconds while a browser is connected the feed compares the documents with what it
last sent (behaviour.md "Web view"); with no browser open it costs nothing.
"""
from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .control import Control

__all__ = ["LiveFeed"]

INTERVAL = 0.25      # seconds between looks for changes (real time: the control plane is never virtual)
BACKLOG = 300        # journal frames a new page gets at first
MAX_PUSH = 1000      # journal frames in one push at most (the rest follow in the next)
BOOK_DEPTH = 10      # levels per side on the ladders
MAX_BOOKS = 40       # markets per product shown as ladders


class LiveFeed:
    def __init__(self, control: "Control") -> None:
        self.control = control
        self.sent: dict[str, str] = {}
        transcript = control.sim.transcript
        self.last_id = max(transcript.added - BACKLOG, transcript.added - len(transcript.entries))

    def documents(self) -> dict[str, Any]:
        """Route -> the JSON API's document for it, everything the page shows."""
        c = self.control
        docs: dict[str, Any] = {"/status": c.status(), "/endpoints": c.endpoints(), "/sessions": c.sessions(),
                                "/sessions/recent": c.recent_sessions(), "/faults": c.faults(), "/runs": c.runs()}
        for product in c.sim.venues:
            q = f"?product={product}"
            markets = c.markets(product)
            docs["/markets" + q] = markets
            docs["/accounts" + q] = c.accounts(product)
            docs["/trades" + q] = c.trades(product)
            for market in markets[:MAX_BOOKS]:
                docs[f"/books/{market['ticker']}{q}&depth={BOOK_DEPTH}"] = c.book(market["ticker"], product,
                                                                                   BOOK_DEPTH)
        return docs

    def changes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        docs = self.documents()
        for path, doc in docs.items():
            text = json.dumps(doc, sort_keys=True)
            if self.sent.get(path) != text:
                self.sent[path] = text
                out[path] = doc
        for path in [p for p in self.sent if p not in docs]:  # a market gone after a reset
            del self.sent[path]
            out[path] = None
        return out

    def new_messages(self) -> list[dict]:
        transcript = self.control.sim.transcript
        first = transcript.added - len(transcript.entries) + 1  # the id of the oldest kept frame
        start = max(self.last_id + 1, first)
        end = min(transcript.added, start + MAX_PUSH - 1)
        entries = transcript.entries
        rows = [self.control._row(n, entries[n - first]) for n in range(start, end + 1)]
        self.last_id = max(self.last_id, end)
        return rows

    def push(self) -> dict | None:
        docs, messages = self.changes(), self.new_messages()
        if not docs and not messages:
            return None
        return {"docs": docs, "messages": messages}

    async def run(self, ws: Any) -> None:
        """Push changes to `ws` until the page goes away."""
        async def reader() -> None:
            async for _msg in ws:  # the page sends nothing; this ends when the socket closes
                pass

        gone = asyncio.ensure_future(reader())
        try:
            while not gone.done() and not ws.closed:
                update = self.push()
                if update is not None:
                    await ws.send_str(json.dumps(update))
                await asyncio.wait({gone}, timeout=INTERVAL)
        except ConnectionError:
            pass
        finally:
            gone.cancel()
