"""What a Session reports to its driver (drained with Session.drain_events())."""
from __future__ import annotations

from dataclasses import dataclass

from .codec import FixMessage

__all__ = ["Event", "LogonRequest", "LoggedOn", "AppMessage", "SessionReject", "Garbled", "Disconnect",
           "TestResponse"]


class Event:
    __slots__ = ()


@dataclass(slots=True)
class LogonRequest(Event):
    """Acceptor: a structurally valid Logon arrived; call accept_logon or refuse_logon."""
    message: FixMessage


@dataclass(slots=True)
class LoggedOn(Event):
    message: FixMessage  # the peer's Logon


@dataclass(slots=True)
class AppMessage(Event):
    message: FixMessage
    frame: bytes


@dataclass(slots=True)
class SessionReject(Event):
    """The peer sent Reject (35=3) for one of our messages."""
    message: FixMessage


@dataclass(slots=True)
class Garbled(Event):
    reason: str
    data: bytes


@dataclass(slots=True)
class Disconnect(Event):
    """The session is over: flush data_to_send() and close the transport."""
    reason: str
    text: str = ""


@dataclass(slots=True)
class TestResponse(Event):
    """A Heartbeat answering one of our TestRequests: everything the peer sent before it has
    arrived (a barrier for tests and for clients that want to know they are in sync)."""
    __test__ = False
    test_req_id: str
