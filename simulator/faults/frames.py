"""Pure functions on one FIX frame: what the frame faults do to its bytes (issue 12 §1)."""
from __future__ import annotations

import random

from kalshi_fixsim.fixproto.codec import checksum

__all__ = ["msg_type_of", "corrupt_checksum", "corrupt_body_length", "garble", "truncate", "chunks"]


def msg_type_of(frame: bytes) -> str:
    """MsgType(35) of a well-formed frame (the third field, spec 01 §1.1), "" if not found."""
    start = frame.find(b"\x0135=")
    if start < 0:
        return ""
    end = frame.find(b"\x01", start + 4)
    return frame[start + 4:end].decode("latin-1") if end > 0 else ""


def _split_trailer(frame: bytes) -> tuple[bytes, bytes] | None:
    pos = frame.rfind(b"\x0110=")
    return (frame[:pos + 1], frame[pos + 1:]) if pos >= 0 else None


def corrupt_checksum(frame: bytes) -> bytes:
    """The same frame with CheckSum(10) off by one (spec 01 §1.2)."""
    parts = _split_trailer(frame)
    if parts is None:
        return frame + b"10=000\x01"
    body, _ = parts
    return body + b"10=%03d\x01" % ((checksum(body) + 1) % 256)


def corrupt_body_length(frame: bytes, delta: int) -> bytes:
    """BodyLength(9) off by `delta`, CheckSum recomputed: the length is the only error."""
    start = frame.find(b"\x019=")
    end = frame.find(b"\x01", start + 3) if start >= 0 else -1
    if start < 0 or end < 0 or not frame[start + 3:end].isdigit():
        return frame
    value = max(0, int(frame[start + 3:end]) + delta)
    head = frame[:start + 3] + str(value).encode() + frame[end:]
    parts = _split_trailer(head)
    if parts is None:
        return head
    body, _ = parts
    return body + b"10=%03d\x01" % checksum(body)


def garble(frame: bytes, count: int, rng: random.Random) -> bytes:
    """`count` bytes of the body (after BodyLength, before CheckSum) overwritten with printable
    ASCII drawn from `rng`; the CheckSum is left as it was (so it no longer matches)."""
    start = frame.find(b"\x0135=")
    parts = _split_trailer(frame)
    end = len(parts[0]) - 1 if parts is not None else len(frame)
    if start < 0 or end <= start + 1:
        return frame
    data = bytearray(frame)
    for _ in range(count):
        pos = rng.randrange(start + 1, end)
        old = data[pos]
        new = rng.randrange(0x21, 0x7F)
        data[pos] = new if new != old else (new % 0x5E) + 0x21
    return bytes(data)


def truncate(frame: bytes, keep: int) -> bytes:
    """The first `keep` bytes (0: half the frame)."""
    n = keep if keep > 0 else len(frame) // 2
    return frame[:min(n, len(frame))]


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)] or [b""]
