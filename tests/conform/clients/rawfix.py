"""FIX wire format and the Kalshi Logon signature for rawclient.py, from scratch.

Deliberately shares no code with kalshi_fixsim: the standard library for framing and
`cryptography` for RSA-PSS only, so the conformance kit grades an independent client.
"""
from __future__ import annotations

import base64
import datetime as _dt

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

SOH = "\x01"
BEGIN = b"8=FIXT.1.1\x01"
ADMIN = {"0", "1", "2", "3", "4", "5", "A"}  # session-level MsgTypes: never replayed, gap-filled


def utc_now() -> str:
    """SendingTime format, millisecond precision: 20260105-14:30:00.123."""
    now = _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%d-%H:%M:%S.") + f"{now.microsecond // 1000:03d}"


def encode(fields: list[tuple[int, str]]) -> bytes:
    """A whole frame from the header-and-body fields (35 first): adds 8, 9 and 10."""
    body = "".join(f"{tag}={value}{SOH}" for tag, value in fields).encode("ascii")
    head = b"8=FIXT.1.1\x019=" + str(len(body)).encode() + b"\x01"
    checksum = sum(head + body) % 256
    return head + body + b"10=%03d\x01" % checksum


class Message:
    """A parsed frame: ordered (tag, value) pairs, `get(tag)` for the first occurrence."""

    def __init__(self, pairs: list[tuple[int, str]], raw: bytes) -> None:
        self.pairs = pairs
        self.raw = raw
        self._first: dict[int, str] = {}
        for tag, value in pairs:
            self._first.setdefault(tag, value)

    def get(self, tag: int, default: str | None = None) -> str | None:
        return self._first.get(tag, default)

    @property
    def type(self) -> str:
        return self._first.get(35, "")

    @property
    def seq(self) -> int:
        value = self._first.get(34, "")
        return int(value) if value.isdigit() and len(value) < 10 else 0

    def show(self) -> str:
        return self.raw.decode("latin-1").replace(SOH, "|")


class Framer:
    """Finds frames by BodyLength and checks CheckSum; garbage is skipped, never raised."""

    def __init__(self) -> None:
        self.buffer = b""
        self.garbled = 0

    def feed(self, data: bytes) -> list[Message]:
        self.buffer += data
        out = []
        while True:
            start = self.buffer.find(BEGIN)
            if start < 0:
                self.buffer = self.buffer[-len(BEGIN):]
                return out
            if start > 0:
                self.garbled += 1
                self.buffer = self.buffer[start:]
            head_end = self.buffer.find(b"\x01", len(BEGIN))
            if head_end < 0:
                return out
            length_field = self.buffer[len(BEGIN):head_end]
            if not length_field.startswith(b"9=") or not length_field[2:].isdigit() or len(length_field) > 9:
                self._skip()
                continue
            end = head_end + 1 + int(length_field[2:])
            if len(self.buffer) < end + 7:
                return out
            frame, trailer = self.buffer[:end], self.buffer[end:end + 7]
            if not trailer.startswith(b"10=") or trailer[6:7] != b"\x01" or \
                    trailer[3:6] != b"%03d" % (sum(frame) % 256):
                self._skip()
                continue
            self.buffer = self.buffer[end + 7:]
            message = parse(frame + trailer)
            if message is None:
                self.garbled += 1
            else:
                out.append(message)

    def _skip(self) -> None:
        self.garbled += 1
        self.buffer = self.buffer[1:]


def parse(frame: bytes) -> Message | None:
    pairs = []
    for part in frame.split(b"\x01")[:-1]:
        tag, sep, value = part.partition(b"=")
        if not sep or not tag.isdigit():
            return None
        pairs.append((int(tag), value.decode("latin-1")))
    return Message(pairs, frame)


def load_key(path: str):
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def sign_logon(key, sending_time: str, seq: int, sender: str, target: str) -> str:
    """Kalshi spec 01 §3: SendingTime, "A", MsgSeqNum, SenderCompID, TargetCompID joined by SOH,
    RSA-PSS over SHA-256 with MGF1-SHA-256 and a 32-byte salt, Base64."""
    payload = SOH.join((sending_time, "A", str(seq), sender, target)).encode("utf-8")
    signature = key.sign(payload, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                         hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")
