"""The kalshi-fixsim reference FIX client (async, every session type, both products)."""
from kalshi_fixsim.fixproto.kalshi import LogonOptions

from .session import ConnectionClosed, FixClient, LogonError

__all__ = ["FixClient", "LogonOptions", "LogonError", "ConnectionClosed"]
