"""Kalshi session types, endpoints and the Logon signature (shared by simulator and client).

This is the one module through which `cryptography` enters fixproto.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "PRODUCTS", "SessionType", "SESSION_TYPES", "session_type", "session_types", "by_comp_id",
    "DEFAULT_PORTS", "APP_MESSAGES_IN", "APP_MESSAGES_OUT", "min_heartbeat", "logon_payload", "sign_logon",
    "verify_logon", "FIX_APPL_VER_ID", "LogonOptions", "LOGON_FLAG_TAGS", "MAX_RETENTION_HOURS", "load_private_key",
]

PRODUCTS = ("prediction", "margin")
FIX_APPL_VER_ID = "9"  # FIX50SP2, spec 01 §2.1


@dataclass(frozen=True)
class SessionType:
    code: str             # "NR"
    comp_id: str          # TargetCompID the client sends, e.g. "KalshiNR"
    retransmission: bool  # ResendRequest/SequenceReset supported (spec 00 §5)
    reset_required: bool  # ResetSeqNumFlag=Y mandatory on every Logon (spec 01 §5.1)
    order_entry: bool     # carries orders: CancelOrdersOnDisconnect, listener mode (spec 01 §2.2)
    products: tuple[str, ...]


SESSION_TYPES: dict[str, SessionType] = {
    t.code: t for t in (
        SessionType("NR", "KalshiNR", False, True, True, ("prediction", "margin")),
        SessionType("DC", "KalshiDC", False, True, False, ("prediction", "margin")),
        SessionType("RT", "KalshiRT", True, False, True, ("prediction", "margin")),
        SessionType("PT", "KalshiPT", True, False, False, ("prediction",)),
        SessionType("RFQ", "KalshiRFQ", False, True, False, ("prediction",)),
        SessionType("MD", "KalshiMD", False, True, False, ("prediction", "margin")),
    )
}

# DESIGN.md §1: prediction keeps Kalshi's ports; margin is shifted by 100 so both run in one process.
DEFAULT_PORTS: dict[str, dict[str, int]] = {
    "prediction": {"NR": 8228, "DC": 8229, "RT": 8230, "PT": 8231, "RFQ": 8232, "MD": 8233},
    "margin": {"NR": 8328, "DC": 8329, "RT": 8330, "MD": 8333},
}

# Client-to-server application messages per (product, session), spec 00 §4.
_ORDER_ENTRY = frozenset({"D", "F", "G", "UOG"})
APP_MESSAGES_IN: dict[tuple[str, str], frozenset[str]] = {
    ("prediction", "NR"): _ORDER_ENTRY | {"q"},
    ("prediction", "RT"): _ORDER_ENTRY | {"R", "UA", "UE"},
    ("prediction", "DC"): frozenset({"U1"}),
    ("prediction", "PT"): frozenset(),
    ("prediction", "RFQ"): frozenset({"S", "Z", "U7"}),
    ("prediction", "MD"): frozenset({"V", "e"}),
    ("margin", "NR"): _ORDER_ENTRY | {"q"},
    ("margin", "RT"): _ORDER_ENTRY,
    ("margin", "DC"): frozenset({"U1"}),
    ("margin", "MD"): frozenset({"V"}),
}

# Server-to-client application messages per (product, session), spec 00 §4 (the S→C rows).
_ORDER_ENTRY_OUT = frozenset({"8", "9", "j", "UOH"})
APP_MESSAGES_OUT: dict[tuple[str, str], frozenset[str]] = {
    ("prediction", "NR"): _ORDER_ENTRY_OUT | {"r"},
    ("prediction", "RT"): _ORDER_ENTRY_OUT | {"UMS", "b", "S", "AG", "UC", "UB"},
    ("prediction", "DC"): frozenset({"8", "U2", "U3", "j"}),
    ("prediction", "PT"): frozenset({"UMS", "j"}),
    ("prediction", "RFQ"): frozenset({"R", "AI", "U9", "AG", "U8", "j"}),
    ("prediction", "MD"): frozenset({"W", "X", "Y", "f", "j"}),
    ("margin", "NR"): _ORDER_ENTRY_OUT | {"r"},
    ("margin", "RT"): _ORDER_ENTRY_OUT,
    ("margin", "DC"): frozenset({"8", "U2", "U3", "j"}),
    ("margin", "MD"): frozenset({"W", "X", "Y", "j"}),
}


def session_type(product: str, code: str) -> SessionType:
    st = SESSION_TYPES.get(code.upper())
    if st is None or product not in st.products:
        raise ValueError(f"no session {code!r} on the {product} product")
    return st


def session_types(product: str) -> list[SessionType]:
    return [st for st in SESSION_TYPES.values() if product in st.products]


def by_comp_id(comp_id: str) -> SessionType | None:
    for st in SESSION_TYPES.values():
        if st.comp_id == comp_id:
            return st
    return None


def min_heartbeat(product: str) -> int:
    """Smallest valid HeartBtInt: prediction must be > 3, margin >= 3 (spec 01 §2.1)."""
    return 4 if product == "prediction" else 3


def logon_payload(sending_time: str, msg_seq_num: int | str, sender: str, target: str) -> bytes:
    """The pre-hash string of spec 01 §3: SendingTime, "A", MsgSeqNum, SenderCompID, TargetCompID."""
    return "\x01".join((sending_time, "A", str(msg_seq_num), sender, target)).encode("utf-8")


def sign_logon(private_key: rsa.RSAPrivateKey, payload: bytes) -> str:
    """RSA-PSS, SHA-256, MGF1-SHA-256, salt = digest length (32), Base64 (spec 01 §3)."""
    sig = private_key.sign(
        payload,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )
    return base64.b64encode(sig).decode("ascii")


def verify_logon(public_key: rsa.RSAPublicKey, payload: bytes, signature_b64: str) -> bool:
    """Accept any PSS salt length (AUTO): the docs' signer and the SDK both use 32 (spec 01 §3)."""
    try:
        sig = base64.b64decode(signature_b64.encode("ascii"), validate=True)
        public_key.verify(
            sig, payload,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO),
            hashes.SHA256(),
        )
        return True
    except (InvalidSignature, ValueError, UnicodeEncodeError):
        return False


# --- Logon flags (spec 01 §2.2) -----------------------------------------------------------

# (tag, attribute) in the order the SDK emits them (spec 13 §3), then the rest of the table.
LOGON_FLAG_TAGS: tuple[tuple[int, str], ...] = (
    (8013, "cancel_orders_on_disconnect"),
    (21011, "skip_pending_exec_reports"),
    (21005, "use_dollars"),
    (20126, "listener_session"),
    (20127, "receive_settlement_reports"),
    (20200, "message_retention_period"),
    (21006, "cancel_order_on_pause"),
    (21007, "enable_ioc_cancel_report"),
    (21008, "preserve_original_order_qty"),
    (21012, "use_expired_ord_status"),
    (21026, "always_emit_new_before_trade"),
    (21027, "split_collateral_return"),
)
LEGACY_SKIP_PENDING_TAG = 21003  # SkipPendingExecReports before v1.0.17 (spec 01 §2.2)
DEFAULT_RETENTION_HOURS = 24
MAX_RETENTION_HOURS = 72


@dataclass
class LogonOptions:
    """The Kalshi Logon flags. None = not sent (the gateway default applies)."""

    cancel_orders_on_disconnect: bool | None = None
    skip_pending_exec_reports: bool | None = None
    use_dollars: bool | None = None
    listener_session: bool | None = None
    receive_settlement_reports: bool | None = None
    message_retention_period: int | None = None  # hours
    cancel_order_on_pause: bool | None = None
    enable_ioc_cancel_report: bool | None = None
    preserve_original_order_qty: bool | None = None
    use_expired_ord_status: bool | None = None
    always_emit_new_before_trade: bool | None = None
    split_collateral_return: bool | None = None

    def to_fields(self, product: str) -> list[tuple[int, object]]:
        out: list[tuple[int, object]] = []
        for tag, name in LOGON_FLAG_TAGS:
            value = getattr(self, name)
            if tag == 21005 and product == "margin":
                value = True  # margin prices are always dollars (spec 08)
            if value is None:
                continue
            out.append((tag, value if isinstance(value, int) and not isinstance(value, bool) else
                        ("Y" if value else "N")))
        return out

    @classmethod
    def from_message(cls, msg, *, accept_legacy_21003: bool = True) -> "LogonOptions":
        """Read the flags of a Logon (values already validated as Y/N or digits)."""
        opts = cls()
        for tag, name in LOGON_FLAG_TAGS:
            value = msg.get(tag)
            if value is None:
                continue
            setattr(opts, name, int(value) if tag == 20200 else value == "Y")
        if opts.skip_pending_exec_reports is None and accept_legacy_21003:
            legacy = msg.get(LEGACY_SKIP_PENDING_TAG)
            if legacy in ("Y", "N"):
                opts.skip_pending_exec_reports = legacy == "Y"
        return opts

    def settlement_reports(self, session_code: str) -> bool:
        """20127 defaults: Y on PT, N on RT, never elsewhere (spec 01 §2.2)."""
        if session_code == "PT":
            return self.receive_settlement_reports is not False
        return session_code == "RT" and bool(self.receive_settlement_reports)

    def retention_hours(self) -> int:
        return self.message_retention_period or DEFAULT_RETENTION_HOURS


def load_private_key(pem_or_path) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM bytes/text or a file path (PKCS#8 or PKCS#1)."""
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization

    if isinstance(pem_or_path, rsa.RSAPrivateKey):
        return pem_or_path
    data = pem_or_path
    if isinstance(data, Path) or (isinstance(data, str) and "-----BEGIN" not in data):
        data = Path(data).read_bytes()
    if isinstance(data, str):
        data = data.encode("ascii")
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the FIX API key must be an RSA private key")
    return key
