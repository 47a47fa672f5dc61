"""Connection events of a running Simulator, for tools that judge a client (the scenario
runner's `client: external` sessions, `kalshi-fixsim conform`): every TCP connection accepted,
every frame both ways tagged with its connection, and every close with who ended it.

Nothing is paid when nobody listens: `Simulator._new_driver` calls `accepted()` only while
`sim.conn_watchers` is not empty, and only those connections get the recording wrapper (an
instance attribute over `Recorder._record`); the others keep the plain path.

    remove = watch(sim, sink)      # on the simulator's loop; sink(ConnEvent) is called there too
    ...
    remove()

Who ended a connection (`ConnEvent.by`, spec 01 §7): the side whose Logout came first; without
a Logout, the side that closed the TCP connection (the venue: a session decision, a fault's
close or reset, an abort; else the client: FIN, RST or a vanished peer).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable

__all__ = ["ConnEvent", "watch", "accepted"]

_LOGOUT = b"\x0135=5\x01"
_ids = itertools.count(1)


@dataclass(slots=True)
class ConnEvent:
    kind: str               # "accept" | "frame" | "close"; "live": open before the watch began
    time: float             # the simulator's clock (epoch seconds on a real clock)
    conn: int               # the connection's number (this process), from 1
    endpoint: str           # "prediction/RT"
    session: str = ""       # the session id once the Logon was accepted ("prediction/RT/<api key>")
    direction: str = ""     # frame: "in" (client to venue) or "out"
    frame: bytes = b""
    note: str = ""          # frame: a fault's mark ("dropped by rule f1"); such frames did not cross as is
    by: str = ""            # close: "client" or "venue"
    reason: str = ""        # close: the venue session's reason (peer_logout, heartbeat_timeout, connection_lost...)
    text: str = ""          # close: its text
    peer: str = ""          # accept: "ip:port" of the client


def _text(frame: bytes) -> str:
    i = frame.find(b"\x0158=")
    if i < 0:
        return ""
    j = frame.find(b"\x01", i + 4)
    return frame[i + 4:j if j >= 0 else len(frame)].decode("latin-1")


def watch(sim, sink: Callable[[ConnEvent], None]) -> Callable[[], None]:
    """Send sim's connection events to sink() from now on; live connections are watched too
    (their frames and close from now on, without an accept event). Returns the remover."""
    sim.conn_watchers.append(sink)
    # every connection accepted and not yet closed, TLS handshakes under way included
    for conn in list(sim.faults.conns):
        driver = conn.driver
        if driver is None or driver.closed.done():
            continue
        if getattr(conn, "_watched", None) is None:
            _wrap(sim, conn, driver, announce=False)
        recorder = conn.recorder  # open before this watcher: its session id says whether it is logged on
        sink(ConnEvent("live", sim.clock.now(), conn._watched, f"{conn.product}/{conn.session_code}",
                       recorder.session if recorder is not None else ""))

    def remove() -> None:
        if sink in sim.conn_watchers:
            sim.conn_watchers.remove(sink)
    return remove


def _emit(sim, event: ConnEvent) -> None:
    for sink in list(sim.conn_watchers):
        try:
            sink(event)
        except Exception:  # noqa: BLE001 - a watcher's bug never touches the venue's connection
            pass


def accepted(sim, conn, driver, peer: str) -> None:
    """Simulator._new_driver, while someone watches: a TCP connection was accepted."""
    _wrap(sim, conn, driver, announce=True, peer=peer)


def _wrap(sim, conn, driver, *, announce: bool, peer: str = "") -> None:
    number = next(_ids)
    endpoint = f"{conn.product}/{conn.session_code}"
    recorder = conn.recorder
    first_logout: list[str] = []
    conn._watched = number
    if announce:
        _emit(sim, ConnEvent("accept", sim.clock.now(), number, endpoint, peer=peer))
    if recorder is not None:
        plain = recorder._record

        def record(direction: str, frame: bytes, note: str = "") -> None:
            plain(direction, frame, note)
            if not note and not first_logout and _LOGOUT in frame:
                first_logout.append((direction, _text(frame)))
            if sim.conn_watchers:
                _emit(sim, ConnEvent("frame", sim.clock.now(), number, endpoint, recorder.session, direction,
                                     frame, note))
        recorder._record = record

    def closed(future) -> None:
        if future.cancelled() or not sim.conn_watchers:
            return
        how = future.result()
        text = getattr(how, "text", "")
        if first_logout:
            by = "client" if first_logout[0][0] == "in" else "venue"
            text = first_logout[0][1] or text  # the Logout that ended it says why
        else:
            by = "venue" if driver.closed_here else "client"
        _emit(sim, ConnEvent("close", sim.clock.now(), number, endpoint,
                             recorder.session if recorder is not None else "", by=by,
                             reason=getattr(how, "reason", ""), text=text))
    driver.closed.add_done_callback(closed)
