"""API keys, Logon verification, the replay cache and the one-connection-per-key rule.

`Authenticator.check` runs the Logon checks in the order of spec 01 §2.3; every failure is a
`LogonDecision` carrying a clear Text for the Logout (spec 01 §11, 09 §6). Only a SendingTime
accuracy problem is also answered by a Reject 373=10 first (`reject_first`, behaviour.md).
A signature already used is refused (a replay, issue 11 §5). A passing check claims the key's
connection slot (scope `session.one_connection_scope`) until `release`.
"""
from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Hashable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_fixsim.fixproto.codec import FixMessage, parse_utc
from kalshi_fixsim.fixproto.fields import SessionRejectReason as SRR
from kalshi_fixsim.fixproto.numbers import parse_int
from kalshi_fixsim.fixproto.kalshi import MAX_HEARTBEAT, MAX_RETENTION_HOURS, LogonOptions, SessionType, logon_payload, min_heartbeat, verify_logon

from .config import AccountConfig, SessionSettings

__all__ = ["Authenticator", "LogonDecision", "ReplayCache", "connection_slot", "ALREADY_EXISTS"]

ALREADY_EXISTS = "already exists"  # the one logon failure text the docs give verbatim (spec 09 §6)
_RESTRICTED_SESSIONS = frozenset({"NR", "MD", "RFQ"})  # spec 00 §3.2


@dataclass
class LogonDecision:
    ok: bool
    text: str = ""
    reject_reason: int | None = None
    ref_tag: int | None = None
    account: AccountConfig | None = None
    options: LogonOptions = field(default_factory=LogonOptions)
    heartbeat: int = 30
    slot: Hashable | None = None
    reject_first: bool = False  # a session Reject precedes the Logout (SendingTime, spec 01 §11)


def _fail(text: str, reason: int | None = None, ref_tag: int | None = None) -> LogonDecision:
    return LogonDecision(False, text, reason, ref_tag)


class ReplayCache:
    """Signatures of verified Logons, kept while their SendingTime is still within tolerance:
    after that the SendingTime check refuses the same bytes anyway (issue 11 §5). RSA-PSS
    signatures are salted, so a client never signs the same value twice by accident."""

    def __init__(self) -> None:
        self._seen: dict[bytes, float] = {}          # digest -> time it stops mattering
        self._order: deque[tuple[float, bytes]] = deque()

    def seen(self, signature: str, now: float) -> bool:
        self._expire(now)
        return _digest(signature) in self._seen

    def add(self, signature: str, until: float, now: float) -> None:
        self._expire(now)
        digest = _digest(signature)
        self._seen[digest] = until
        self._order.append((until, digest))

    def __len__(self) -> int:
        return len(self._seen)

    def clear(self) -> None:
        self._seen.clear()
        self._order.clear()

    def _expire(self, now: float) -> None:
        order, seen = self._order, self._seen
        while order and order[0][0] < now:
            until, digest = order.popleft()
            if seen.get(digest) == until:
                del seen[digest]


def _digest(signature: str) -> bytes:
    return hashlib.sha256(signature.encode("latin-1", "replace")).digest()


def connection_slot(scope: str, api_key: str, product: str, code: str) -> Hashable:
    """The one-connection-per-key slot a Logon claims (spec 00 §3.1, issue 11 §5)."""
    if scope == "key":
        return api_key
    if scope == "key_and_session":
        return (api_key, product, code)
    return (api_key, product)  # "key_and_product", the default: margin is a separate venue


class Authenticator:
    def __init__(self, accounts: list[AccountConfig], settings: SessionSettings) -> None:
        self.settings = settings
        self._accounts: dict[str, tuple[AccountConfig, rsa.RSAPublicKey]] = {}
        self._live: dict[Hashable, object] = {}
        self.replays = ReplayCache()
        # admit(account, product, owner): called once a Logon is authenticated; a Text refuses it
        self.admit: Callable[[AccountConfig, str, object], str | None] | None = None
        for account in accounts:
            self.add_account(account)

    def add_account(self, account: AccountConfig) -> None:
        key = serialization.load_pem_public_key(account.public_key_pem)
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError(f"account {account.name}: public key is not RSA")
        self._accounts[account.api_key] = (account, key)

    def account(self, api_key: str) -> AccountConfig | None:
        entry = self._accounts.get(api_key)
        return entry[0] if entry else None

    def check(self, product: str, st: SessionType, logon: FixMessage, now: float, owner: object) -> LogonDecision:
        """Every check of spec 01 §2.3. `self.admit(account, product, owner)`, called as soon as
        the signature verified (and is no replay), may refuse it with a Text: the Logon rate
        limit, which only authenticated Logons are charged to."""
        # 2. TargetCompID must name this port's session (spec 00 §3).
        target = logon.get(56) or ""
        if target != st.comp_id:
            return _fail(f"CompID problem: TargetCompID(56)={target} does not match this port, "
                         f"which serves {st.comp_id}", SRR.COMPID_PROBLEM, 56)
        # 3. Known API key, enabled for this product and session type.
        api_key = logon.get(49) or ""
        entry = self._accounts.get(api_key)
        if entry is None:
            return _fail(f"Unknown API key: SenderCompID(49)={api_key} is not a registered FIX API key",
                         SRR.COMPID_PROBLEM, 49)
        account, public_key = entry
        if product not in account.products:
            return _fail(f"API key is not enabled for the {product} product")
        if st.code not in account.sessions:
            return _fail(f"API key is not enabled for {st.comp_id}")
        options = LogonOptions.from_message(logon, accept_legacy_21003=self.settings.accept_legacy_21003)
        if account.subaccount is not None:
            if st.code not in _RESTRICTED_SESSIONS or options.listener_session:
                what = "listener sessions" if options.listener_session else st.comp_id
                return _fail(f"Sub-account-restricted API key may not open {what}")
        # 4. SendingTime within tolerance (spec 01 §1.1: 373=10).
        sent = parse_utc(logon.get(52) or "")
        tolerance = self.settings.sending_time_tolerance
        if sent is None or abs(now - sent) > tolerance:
            refusal = _fail(f"SendingTime accuracy problem: SendingTime(52) must be within {tolerance:g} s "
                            f"of server time", SRR.SENDINGTIME_ACCURACY_PROBLEM, 52)
            refusal.reject_first = True  # the docs' "rejected with SessionRejectReason 10" (behaviour.md)
            return refusal
        # 5. RSA-PSS signature over SendingTime|A|MsgSeqNum|SenderCompID|TargetCompID (spec 01 §3).
        payload = logon_payload(logon.get(52) or "", logon.get(34) or "", api_key, target)
        if not verify_logon(public_key, payload, logon.get(96) or ""):
            return _fail("Invalid signature: RawData(96) must be the Base64 RSA-PSS (SHA-256) signature of "
                         "SendingTime|A|MsgSeqNum|SenderCompID|TargetCompID with the registered key, "
                         "signed with the exact SendingTime(52) sent", SRR.SIGNATURE_PROBLEM, 96)
        signature = logon.get(96) or ""
        if self.replays.seen(signature, now):  # issue 11 §5: the same Logon bytes sent again
            return _fail("Logon replay: this RawData(96) signature was already used; sign every Logon afresh "
                         "with the current SendingTime(52)", SRR.SIGNATURE_PROBLEM, 96)
        self.replays.add(signature, (sent or now) + tolerance, now)
        # Authenticated from here on: the Logon is charged to its key (issue 11 §5), whatever
        # the later checks say; nothing before this point can touch the key's budget.
        if self.admit is not None:
            refusal = self.admit(account, product, owner)
            if refusal:
                return _fail(refusal)
        # 6. HeartBtInt bounds per product (spec 01 §2.1); margin defaults to 30 when absent.
        hb_text = logon.get(108)
        heartbeat = (parse_int(hb_text) or 0) if hb_text is not None else (30 if product == "margin" else 0)
        low = min_heartbeat(product)
        if hb_text is None and product == "prediction":
            return _fail("Required tag missing: HeartBtInt(108)", SRR.REQUIRED_TAG_MISSING, 108)
        if not low <= heartbeat <= MAX_HEARTBEAT:
            bound = "greater than 3" if product == "prediction" else "at least 3"
            return _fail(f"HeartBtInt(108)={hb_text[:20]} is invalid: must be {bound} and at most "
                         f"{MAX_HEARTBEAT} seconds on {product}",
                         SRR.VALUE_IS_INCORRECT, 108)
        # 7. ResetSeqNumFlag=Y where the session type requires it (spec 01 §5.1).
        if st.reset_required and logon.get(141) != "Y":
            return _fail(f"ResetSeqNumFlag(141)=Y is required on {st.comp_id}", SRR.VALUE_IS_INCORRECT, 141)
        retention = options.message_retention_period
        if retention is not None and not 1 <= retention <= min(MAX_RETENTION_HOURS, self.settings.max_retention_hours):
            return _fail(f"MessageRetentionPeriod(20200)={retention} must be 1..{MAX_RETENTION_HOURS} hours",
                         SRR.VALUE_IS_INCORRECT, 20200)
        # 8. Listener sessions (spec 01 §9).
        if options.listener_session:
            if not st.order_entry:
                return _fail(f"ListenerSession(20126)=Y is only allowed on KalshiNR and KalshiRT, not {st.comp_id}")
            if not options.skip_pending_exec_reports:
                return _fail("ListenerSession(20126)=Y requires SkipPendingExecReports(21011)=Y")
            if options.cancel_orders_on_disconnect:
                return _fail("ListenerSession(20126)=Y is incompatible with CancelOrdersOnDisconnect(8013)=Y")
        elif account.read_only and st.order_entry:
            return _fail("Read-only API key may only open listener sessions (ListenerSession(20126)=Y)")
        # 9. One live connection per key (scope configurable, spec 00 §3.1).
        slot = connection_slot(self.settings.one_connection_scope, api_key, product, st.code)
        if slot in self._live:
            return _fail(ALREADY_EXISTS)
        self._live[slot] = owner
        return LogonDecision(True, account=account, options=options, heartbeat=heartbeat, slot=slot)

    def release(self, slot: Hashable | None, owner: object) -> None:
        if slot is not None and self._live.get(slot) is owner:
            del self._live[slot]

    def release_all(self) -> None:
        """Forget every live connection (a reset drops them all)."""
        self._live.clear()  # the replay cache stays: a Logon replayed after a reset is still a replay

    def live_count(self) -> int:
        return len(self._live)
