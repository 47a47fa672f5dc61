"""Control operations the web view needs besides the original JSON API (issue 17 §1), all additive:
recently disconnected sessions with the reason, one journal message as a full field table, last
trades (from the journal), the last scenario/conform runs (`record_run`, the scenario runner's
hook), and the per-session details (heartbeat, last message times) `GET /sessions` adds.

Mixed into `control.Control`, so they are callable in-process and over HTTP like every other
operation (routes in control.py `_ROUTES`).
"""
from __future__ import annotations

from collections import deque
from decimal import Decimal, InvalidOperation
from typing import Any

from kalshi_fixsim.fixproto.fields import MSG_TYPE_NAMES, TAG_NAMES
from kalshi_fixsim.fixproto.render import as_message, enum_name, items, render_line

__all__ = ["ViewOps", "RECENT_SESSIONS", "RUNS"]

RECENT_SESSIONS = 50  # disconnected sessions remembered (behaviour.md "Web view")
RUNS = 20             # scenario/conform runs remembered


def _error(status: int, message: str) -> Exception:
    from .control import ControlError
    return ControlError(status, message)


def _field(frame: bytes, tag: bytes) -> str | None:
    i = frame.find(b"\x01" + tag + b"=")
    if i < 0:
        return None
    j = frame.find(b"\x01", i + 1)
    return frame[i + len(tag) + 2:j if j >= 0 else len(frame)].decode("latin-1")


def _dollars(cents: str) -> str | None:
    try:
        return str(Decimal(cents) / 100)
    except InvalidOperation:
        return None


class ViewOps:
    """The web view's reads; `self.sim` is the Simulator (set by Control)."""

    sim: Any

    def _view_state(self) -> tuple[deque, deque]:
        state = self.__dict__.get("_view")
        if state is None:
            state = self.__dict__["_view"] = (deque(maxlen=RECENT_SESSIONS), deque(maxlen=RUNS))
        return state

    # --- sessions ----------------------------------------------------------------------------

    def _session_extra(self, conn: Any) -> dict:
        """What GET /sessions adds per row: the heartbeat and the last message times (the
        simulator's clock, epoch seconds), and the session id the journal files it under."""
        session = conn.driver.session if conn.driver is not None else None
        return {"session_id": conn.session_id, "comp_id": conn.comp_id,
                "heartbeat": getattr(session, "heartbeat_interval", None),
                "last_in": getattr(session, "_last_received", None),
                "last_out": getattr(session, "_last_sent", None)}

    def disconnected(self, conn: Any, reason: str, text: str = "") -> None:
        """Called by the server when a logged-on session's connection ends."""
        if not conn.session_id:
            return
        store = conn.driver.session.store if conn.driver is not None else None
        self._view_state()[0].appendleft({
            "product": conn.product, "session": conn.session_code, "session_id": conn.session_id,
            "account": conn.user, "api_key": conn.api_key_id, "listener": conn.listener,
            "time": self.sim.clock.now(), "reason": str(reason or ""), "text": str(text or ""),
            "next_seq_out": store.next_sender_seq if store is not None else None,
            "next_seq_in": store.next_target_seq if store is not None else None})

    def recent_sessions(self, limit: int = RECENT_SESSIONS) -> list[dict]:
        """The sessions that ended most recently, newest first, with why (GET /sessions/recent)."""
        return list(self._view_state()[0])[:max(0, int(limit))]

    # --- runs ----------------------------------------------------------------------------------

    def record_run(self, kind: str, name: str, verdict: str, passed: int = 0, failed: int = 0,
                   detail: str = "") -> dict:
        """The scenario runner / conform's hook: `sim.control.record_run("conform", "NR basics",
        "pass", passed=12)`; the web view's overview shows the last ones."""
        if verdict not in ("pass", "fail", "error"):
            raise _error(400, f"verdict must be pass, fail or error, not {verdict!r}")
        row = {"kind": str(kind), "name": str(name), "verdict": verdict, "passed": int(passed),
               "failed": int(failed), "detail": str(detail), "time": self.sim.clock.now()}
        self._view_state()[1].appendleft(row)
        return row

    def runs(self) -> list[dict]:
        """The recorded scenario/conform runs, newest first (GET /runs); [] if none yet."""
        return list(self._view_state()[1])

    # --- messages ------------------------------------------------------------------------------

    def message(self, id: Any) -> dict:  # noqa: A002 - the path argument's name
        """One journal entry by its id (the `id` of the live feed's rows): every field with its
        tag name, value and enum name, group depth (GET /messages/{id})."""
        transcript = self.sim.transcript
        try:
            n = int(id)
        except (TypeError, ValueError):
            raise _error(400, f"message id must be a whole number, not {id!r}") from None
        first = transcript.added - len(transcript.entries) + 1
        if not first <= n <= transcript.added:
            raise _error(404, f"no message {n} in the journal (it keeps ids {first}..{transcript.added})")
        entry = transcript.entries[n - first]
        return {**self._row(n, entry), "fields": [
            {"depth": depth, "tag": tag, "name": TAG_NAMES.get(tag, ""), "value": value,
             "enum": enum_name(tag, value) or ""}
            for depth, _start, tag, value in items(as_message(entry.frame))]}

    def _row(self, n: int, entry: Any) -> dict:
        msg_type = entry.msg_type
        return {"id": n, "time": entry.time, "direction": entry.direction, "endpoint": entry.endpoint,
                "session": entry.session, "msg_type": msg_type, "name": MSG_TYPE_NAMES.get(msg_type, ""),
                "cl_ord_id": _field(entry.frame, b"11") or "", "order_id": _field(entry.frame, b"37") or "",
                "line": render_line(entry.frame) + entry.truncation(), "fault": entry.note}

    def trades(self, product: str = "prediction", ticker: str | None = None, limit: int = 20) -> list[dict]:
        """The last fills the journal holds (ExecutionReports with ExecType F), one per trade
        id, newest first: ticker, LastPx(31) as sent, the price in dollars like GET /books
        (prediction: LastPx is in cents), LastQty(32), time (GET /trades)."""
        seen: set[str] = set()
        out: list[dict] = []
        for entry in reversed(self.sim.transcript.entries):
            frame = entry.frame
            if entry.direction != "out" or not entry.endpoint.startswith(product + "/") \
                    or b"\x0135=8\x01" not in frame or b"\x01150=F\x01" not in frame:
                continue
            symbol = _field(frame, b"55") or ""
            trade_id = _field(frame, b"880") or _field(frame, b"17") or ""
            if trade_id in seen or (ticker and symbol != ticker):
                continue
            seen.add(trade_id)
            last_px = _field(frame, b"31") or ""
            out.append({"ticker": symbol, "last_px": last_px, "price": _dollars(last_px) if product == "prediction"
                        else None, "qty": _field(frame, b"32"), "trade_id": trade_id, "time": entry.time})
            if len(out) >= int(limit):
                break
        return out
