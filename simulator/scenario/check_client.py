"""Checks of the steps that judge a client the runner does not drive (issue 14; run by
scenario/judge.py): `from: client` on expect / expect_nothing, `by:` on expect_disconnect,
expect_logon, expect_connections, expect_heartbeats, expect_sending_time. Only on sessions
opened with `connect: {client: external}`. A mixin of check_steps.StepChecker."""
from __future__ import annotations

from typing import Any

from .model import Step

__all__ = ["ClientStepChecks", "CLIENT_KEYS"]

CLIENT_KEYS = {
    "expect_logon": ("session", "within", "not_before", "fields", "capture"),
    "expect_connections": ("session", "for", "at_most", "at_least"),
    "expect_heartbeats": ("session", "for", "interval", "slack"),
    "expect_sending_time": ("session", "for", "tolerance"),
    "expect_resend": ("session", "begin", "within"),
}
FROM = ("venue", "client")
BY = ("client", "venue", "any")


class ClientStepChecks:
    """Uses StepChecker's helpers (_map, _session, _duration, _fields, self.p, self.external)."""

    def _judged(self, a, at: str, what: str) -> str | None:
        """The session must be an external client's."""
        name = self._session(a, at)
        if name is not None and name in self.sessions and name not in self.external:
            self.p.add(a.line_of("session"), f"{at}.session", f"{what} judges a client under test: expected a "
                                                              f"session opened with client: external, not {name!r}")
        return name

    def _from(self, a, at: str) -> str:
        value = a.get("from", "venue")
        if value not in FROM:
            self.p.add(a.line_of("from"), f"{at}.from", "expected venue (what the venue sent) or client "
                                                        "(what the client sent)")
            return "venue"
        if value == "client":
            name = a.get("session")
            if name in self.sessions and name not in self.external:
                self.p.add(a.line_of("from"), f"{at}.from", f"from: client needs a session opened with client: "
                                                            f"external; {name!r} is the runner's own")
        return value

    def _by(self, a, at: str) -> str:
        value = a.get("by", "any")
        if value not in BY:
            self.p.add(a.line_of("by"), f"{at}.by", "expected client, venue or any")
            return "any"
        if value != "any":
            name = a.get("session")
            if name in self.sessions and name not in self.external:
                self.p.add(a.line_of("by"), f"{at}.by", f"by: needs a session opened with client: external; "
                                                        f"{name!r} is the runner's own")
        return value

    def _count(self, a, key: str, at: str) -> int | None:
        if key not in a:
            return None
        value = a[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.p.add(a.line_of(key), f"{at}.{key}", "expected a count (an integer, 0 or more)")
            return None
        return value

    def _client_map(self, args: Any, line: int, at: str, kind: str):
        keys = CLIENT_KEYS[kind]
        if not hasattr(args, "line_of") or not isinstance(args, dict):
            self.p.add(line, at, f"expected a mapping ({', '.join(keys)})")
            return None
        for key in args:
            if key not in keys:
                self.p.add(args.line_of(key), f"{at}.{key}", f"unknown key: expected one of {', '.join(keys)}")
        return args

    def _expect_logon(self, args: Any, line: int, at: str) -> Step | None:
        a = self._client_map(args, line, at, "expect_logon")
        if a is None:
            return None
        caps = self._captures(a, at)
        step = Step("expect_logon", {"session": self._judged(a, at, "expect_logon"),
                                     "within": self._duration(a, "within", at, 30.0),
                                     "not_before": self._duration(a, "not_before", at, 0.0) if "not_before" in a
                                     else None,
                                     "fields": self._fields(a.get("fields"), a.line_of("fields"), f"{at}.fields", True),
                                     "capture": caps}, line, at)
        self.captures.update(v for v, _ in caps)
        self.closed.discard(str(a.get("session")))
        return step

    def _expect_connections(self, args: Any, line: int, at: str) -> Step | None:
        a = self._client_map(args, line, at, "expect_connections")
        if a is None:
            return None
        at_most, at_least = self._count(a, "at_most", at), self._count(a, "at_least", at)
        if at_most is None and at_least is None:
            self.p.add(a.line, at, "expected at_most: N or at_least: N (connection attempts)")
        return Step("expect_connections", {"session": self._judged(a, at, "expect_connections"),
                                           "for": self._duration(a, "for", at, None), "at_most": at_most,
                                           "at_least": at_least}, line, at)

    def _expect_heartbeats(self, args: Any, line: int, at: str) -> Step | None:
        a = self._client_map(args, line, at, "expect_heartbeats")
        if a is None:
            return None
        return Step("expect_heartbeats", {"session": self._judged(a, at, "expect_heartbeats"),
                                          "for": self._duration(a, "for", at, None),
                                          "interval": self._duration(a, "interval", at, 0.0) or None,
                                          "slack": self._duration(a, "slack", at, 1.0)}, line, at)

    def _expect_sending_time(self, args: Any, line: int, at: str) -> Step | None:
        a = self._client_map(args, line, at, "expect_sending_time")
        if a is None:
            return None
        return Step("expect_sending_time", {"session": self._judged(a, at, "expect_sending_time"),
                                            "for": self._duration(a, "for", at, None),
                                            "tolerance": self._duration(a, "tolerance", at, 1.0)}, line, at)

    def _expect_resend(self, args: Any, line: int, at: str) -> Step | None:
        a = self._client_map(args, line, at, "expect_resend")
        if a is None:
            return None
        begin = a.get("begin", 1)
        if isinstance(begin, bool) or not isinstance(begin, int) or begin < 1:
            self.p.add(a.line_of("begin"), f"{at}.begin", "expected a MsgSeqNum (an integer, 1 or more)")
            begin = 1
        return Step("expect_resend", {"session": self._judged(a, at, "expect_resend"), "begin": begin,
                                      "within": self._duration(a, "within", at, 5.0)}, line, at)
