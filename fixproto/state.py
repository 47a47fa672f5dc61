"""The one table that owns the session states (DESIGN.md house rule 2)."""
from __future__ import annotations

import enum

__all__ = ["State", "TRANSITIONS", "RECEIVES_APP", "can_transition"]


class State(enum.Enum):
    CONNECTED = "connected"          # transport up, no Logon exchanged yet
    LOGON_PENDING = "logon_pending"  # acceptor: Logon received, the application decides
    LOGON_SENT = "logon_sent"        # initiator: Logon sent, waiting for the reply
    ACTIVE = "active"                # logged on
    LOGOUT_SENT = "logout_sent"      # we sent Logout and wait for the peer's
    CLOSED = "closed"                # transport must be (or is) closed


TRANSITIONS: dict[State, frozenset[State]] = {
    State.CONNECTED: frozenset({State.LOGON_PENDING, State.LOGON_SENT, State.CLOSED}),
    State.LOGON_PENDING: frozenset({State.ACTIVE, State.CLOSED}),
    State.LOGON_SENT: frozenset({State.ACTIVE, State.CLOSED}),
    State.ACTIVE: frozenset({State.LOGOUT_SENT, State.CLOSED}),
    State.LOGOUT_SENT: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}

# States in which inbound application messages are delivered (FIX keeps processing
# until the peer's Logout arrives).
RECEIVES_APP = frozenset({State.ACTIVE, State.LOGOUT_SENT})


def can_transition(src: State, dst: State) -> bool:
    return dst in TRANSITIONS[src]
