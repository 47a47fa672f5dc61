"""A bounded record of recent frames in and out of every connection (control plane view).

It sits in front of a connection's own interceptor (faults, tests), so it sees exactly what
crossed the wire; old entries fall off the end, so memory stays bounded.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Iterable

__all__ = ["Transcript", "Recorder"]


class Transcript:
    def __init__(self, clock: Callable[[], float], maxlen: int = 2000) -> None:
        self.clock = clock
        # (time, "in"/"out", endpoint, session id, frame, fault mark or "")
        self.entries: deque[tuple[float, str, str, str, bytes, str]] = deque(maxlen=maxlen)

    def recorder(self, product: str, code: str, inner=None) -> "Recorder":
        return Recorder(self, f"{product}/{code}", inner)

    def recent(self, limit: int = 100, session: str | None = None) -> list[dict]:
        """Newest last: time, direction ("in"/"out"), endpoint, session id, the frame as text."""
        rows = [e for e in self.entries if session is None or e[3] == session]
        return [{"time": t, "direction": d, "endpoint": ep, "session": s,
                 "frame": f.decode("latin-1").replace("\x01", "|"), **({"fault": note} if note else {})}
                for t, d, ep, s, f, note in rows[-limit:]]

    def mark(self, endpoint: str, session: str, direction: str, frame: bytes, note: str) -> None:
        """A fault applied to a frame: recorded next to it ("dropped by rule f3")."""
        self.entries.append((self.clock(), direction, endpoint, session, frame, note))


class Recorder:
    """The interceptor of one connection: records, then hands over to the inner interceptor."""

    def __init__(self, transcript: Transcript, endpoint: str, inner=None) -> None:
        self.transcript = transcript
        self.endpoint = endpoint
        self.inner = inner
        self.session = ""  # set once the Logon is accepted

    def inbound(self, frame: bytes) -> Iterable[bytes]:
        self.transcript.entries.append((self.transcript.clock(), "in", self.endpoint, self.session, frame, ""))
        return self.inner.inbound(frame) if self.inner is not None else (frame,)

    def outbound(self, frame: bytes) -> Iterable[bytes]:
        inner = self.inner
        if inner is None:
            self.transcript.entries.append((self.transcript.clock(), "out", self.endpoint, self.session, frame, ""))
            return (frame,)
        frames = inner.outbound(frame)
        for out in frames:
            if isinstance(out, bytes):  # not the transport actions a fault may return
                self.transcript.entries.append((self.transcript.clock(), "out", self.endpoint, self.session, out, ""))
        return frames

    def mark(self, direction: str, frame: bytes, note: str) -> None:
        self.transcript.mark(self.endpoint, self.session, direction, frame, note)
