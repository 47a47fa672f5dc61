"""FIX framing, parsing and encoding (sans-IO).

The framer finds frames by BodyLength and checks CheckSum (spec 01 §1.1-§1.2); any byte
stream is accepted: whole, byte by byte, split anywhere, with garbage or trailing bytes.
Bad input becomes a `GarbledFrame` event, never an exception.

Values are kept as `str` decoded with latin-1, which maps byte for byte, so a parsed
message re-encodes to the exact bytes it came from (drop copy replays rely on it).
"""
from __future__ import annotations

import calendar
import re
import zlib
from datetime import datetime, timezone
from decimal import Decimal
from itertools import repeat
from typing import Iterable, Iterator

__all__ = [
    "SOH", "BEGIN_STRING", "FixMessage", "GarbledFrame", "Framer", "parse", "encode", "RawBody",
    "format_utc", "utc_bytes", "parse_utc", "checksum", "MAX_BODY_LENGTH", "body_pairs", "encode_fields", "frame_body",
]

SOH = b"\x01"
BEGIN_STRING = "FIXT.1.1"
MAX_BODY_LENGTH = 1_000_000  # same cap as kalshi-sdk's decoder (spec 13 §2)
_DATA_LENGTH_TAGS = {95: 96, 93: 89}  # Length field -> Data field read by byte count (spec 01 §1.3)


class GarbledFrame:
    """Bytes that are not a valid frame: skipped, reported, never raised."""

    __slots__ = ("data", "reason")

    def __init__(self, data: bytes, reason: str) -> None:
        self.data = data
        self.reason = reason

    def __repr__(self) -> str:
        return f"GarbledFrame({self.reason!r}, {self.data[:40]!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GarbledFrame) and (self.data, self.reason) == (other.data, other.reason)


class FixMessage(dict):
    """An ordered list of (tag, value) pairs with first-occurrence lookup.

    `pairs` holds every field in wire order; parsed messages include 8, 9 and 10.
    Tag 0 marks a field whose tag was not a valid tag number (kept so validation can reject
    it); `invalid_tags` holds those tags' texts as sent, in order (a Reject names them).

    The message is itself the dict tag -> first value, built once when it is made (in C):
    `msg.get(tag)`, `msg[tag]` and `tag in msg` are dict operations with no Python call, the
    hot path's most frequent ones (issue 16: 35 gets and 39 index look-ups per order before).
    Code that changes `pairs` afterwards updates the dict too (subaccounts._set_field).
    """

    __slots__ = ("pairs", "invalid_tags")

    def __init__(self, pairs: list[tuple[int, str]], invalid_tags: list[str] | None = None) -> None:
        # reversed: the first occurrence of a repeated tag is assigned last, so it wins
        dict.__init__(self, reversed(pairs))
        self.pairs = pairs
        self.invalid_tags = invalid_tags or []

    def get_all(self, tag: int) -> list[str]:
        return [v for t, v in self.pairs if t == tag]

    @property
    def msg_type(self) -> str | None:
        return self.get(35)

    def body(self) -> list[tuple[int, str]]:
        """Fields after the standard header, without the trailer."""
        return [(t, v) for t, v in self.pairs if t not in _HEADER_OR_TRAILER]

    def __bool__(self) -> bool:
        return True  # a message, even an empty one, is something (as before it was a dict)

    def __repr__(self) -> str:
        return "FixMessage(" + "|".join(f"{t}={v}" for t, v in self.pairs) + ")"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FixMessage) and self.pairs == other.pairs

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by content (as before)


_HEADER_OR_TRAILER = frozenset(
    {8, 9, 35, 49, 56, 34, 52, 43, 97, 122, 50, 57, 142, 143, 115, 128, 1128, 1129, 10, 93, 89}
)


def checksum(data: bytes) -> int:
    """Sum of the bytes mod 256 (spec 01 §1.2).

    zlib.adler32's low half is 1 + the byte sum (mod 65521), exact for blocks of up to 256
    bytes (at most 255 x 256 < 65521): a C loop instead of sum() over a bytes object.
    """
    n = len(data)
    if n <= 256:
        return ((zlib.adler32(data) & 0xFFFF) - 1) & 0xFF
    if n <= 512:  # most ExecutionReports: two blocks without the loop
        return ((zlib.adler32(data[:256]) & 0xFFFF) + (zlib.adler32(data[256:]) & 0xFFFF) - 2) & 0xFF
    view = memoryview(data)
    total = 0
    for i in range(0, len(data), 256):
        total += (zlib.adler32(view[i:i + 256]) & 0xFFFF) - 1
    return total & 0xFF


class Framer:
    """Incremental frame finder. `feed(data)` returns complete frames (bytes) and GarbledFrames."""

    __slots__ = ("_rest", "max_body_length")

    def __init__(self, max_body_length: int = MAX_BODY_LENGTH) -> None:
        self._rest = b""
        self.max_body_length = max_body_length

    @property
    def buffered(self) -> int:
        return len(self._rest)

    def feed(self, data: bytes) -> list[bytes | GarbledFrame]:
        buf = self._rest + data if self._rest else bytes(data)
        out: list[bytes | GarbledFrame] = []
        pos = 0
        n = len(buf)
        while pos < n:
            if not buf.startswith(b"8=FIX", pos):
                start = _find_begin(buf, pos)
                if start != pos:
                    stop = start if start >= 0 else n
                    reason = "bytes before BeginString" if start >= 0 else "no BeginString"
                    out.append(GarbledFrame(buf[pos:stop], reason))
                    pos = stop
                if not buf.startswith(b"8=FIX", pos):
                    break  # nothing left, or a partial "8=FIX" that may complete on the next read
            # The caps hold whether or not the SOH has arrived yet, so that the outcome does
            # not depend on how the bytes were split.
            soh1 = buf.find(SOH, pos, pos + 33)
            if soh1 < 0:
                if n - pos > 32:
                    pos = _skip(buf, pos, out, "BeginString too long")
                    continue
                break
            if n < soh1 + 3:
                break
            if buf[soh1 + 1:soh1 + 3] != b"9=":
                pos = _skip(buf, pos, out, "BodyLength(9) is not the second field")
                continue
            soh2 = buf.find(SOH, soh1 + 3, soh1 + 13)
            if soh2 < 0:
                if n - soh1 > 12:
                    pos = _skip(buf, pos, out, "BodyLength(9) too long")
                    continue
                break
            length_text = buf[soh1 + 3:soh2]
            if not length_text.isdigit() or int(length_text) > self.max_body_length:
                pos = _skip(buf, pos, out, "BodyLength(9) invalid")
                continue
            trailer = soh2 + 1 + int(length_text)
            end = trailer + 7  # "10=NNN\x01"
            # A declared length running past the start of the next message is wrong: resync now
            # instead of swallowing the messages that follow.
            nxt = -1  # no "8=FIX" in the body at all (the usual case): nothing to look at closer
            if buf.find(b"8=FIX", soh2 + 1, trailer) >= 0:
                nxt = _find_next_message(buf, soh2 + 1, min(trailer, n))
            if nxt >= 0:
                out.append(GarbledFrame(buf[pos:nxt], "BodyLength(9) does not match the message"))
                pos = nxt
                continue
            if n < end:
                break
            if buf[trailer:trailer + 3] != b"10=":
                pos = _skip(buf, pos, out, "BodyLength(9) does not match the message")
                continue
            if buf[end - 1] != 1:
                pos = _skip(buf, pos, out, "CheckSum(10) is not three digits")
                continue
            declared = buf[trailer + 3:end - 1]
            if not declared.isdigit() or int(declared) != checksum(buf[pos:trailer]):
                # A message cut short in its BeginString ("8=FIX8=FIXT.1.1<SOH>9=...") ends
                # with the next message's trailer: resync on that next message.
                nxt = _find_next_message(buf, pos + 1, soh2)
                stop = nxt if nxt >= 0 else end
                out.append(GarbledFrame(buf[pos:stop], "CheckSum(10) mismatch"))
                pos = stop
                continue
            if not buf.startswith(b"35=", soh2 + 1):
                # spec 01 §1.1: 8, 9 and 35 are the first three fields, else the frame is garbled
                # (ignored: it is not processed and its MsgSeqNum does not count).
                out.append(GarbledFrame(buf[pos:end], "MsgType(35) is not the third field"))
                pos = end
                continue
            out.append(buf[pos:end])
            pos = end
        self._rest = buf[pos:]
        return out


def _find_begin(buf: bytes, pos: int) -> int:
    """Next "8=FIX" at or after pos, else a partial "8=FIX" at the very end, else -1.

    Any "8=FIX" is a candidate, whatever byte precedes it: once earlier bytes are garbled,
    the framer cannot tell what preceded them, so a stricter rule would make the outcome
    depend on where reads were split. A false candidate ("58=FIX" in junk) fails the checks
    that follow and costs only an extra GarbledFrame.
    """
    i = buf.find(b"8=FIX", pos)
    if i < 0:
        for cut in (4, 3, 2, 1):  # "8=FI", "8=F", "8=", "8" may complete on the next read
            j = len(buf) - cut
            if j >= pos and b"8=FIX".startswith(buf[j:]):
                return j
    return i


_GLUED_BEGIN = re.compile(rb"8=FIX[^\x01=]{0,27}\x019=")


def _find_next_message(buf: bytes, lo: int, hi: int) -> int:
    """Start of a message inside buf[lo:hi], which a valid frame never holds outside data fields.

    "8=FIX" right after an SOH, or "8=FIX...<SOH>9=" after anything (a message cut short
    leaves no SOH before the next one); "58=FIX.4.4" in a Text field is neither.
    """
    i = buf.find(b"8=FIX", lo, hi)
    while i >= 0:
        if buf[i - 1] == 1 or _GLUED_BEGIN.match(buf, i, hi):
            return i
        i = buf.find(b"8=FIX", i + 1, hi)
    return -1


def _skip(buf: bytes, pos: int, out: list, reason: str) -> int:
    nxt = _find_begin(buf, pos + 1)
    stop = nxt if nxt >= 0 else len(buf)
    out.append(GarbledFrame(buf[pos:stop], reason))
    return stop


_MAX_TAG_DIGITS = 10  # tag numbers are positive 32-bit ints (numbers.INT32_MAX)


def _tag_number(text: str) -> int:
    """Tag text -> number, 0 when it is not a valid tag number: canonical text only ("35",
    never "0", "035", "+35", " 35", "3_5", "-1", "²", or more digits than a 32-bit int).
    int() takes most of these, and str.isdigit() takes "²"; neither is asked to."""
    if not text or len(text) > _MAX_TAG_DIGITS or text[0] == "0" or not (text.isascii() and text.isdigit()):
        return 0
    tag = int(text)
    return tag if tag <= 2**31 - 1 else 0


class _Tags(dict):
    """Tag text -> number for valid tags; KeyError (the lenient path) for anything else."""

    __slots__ = ()

    def __missing__(self, key: str) -> int:
        tag = _tag_number(key)
        if not tag:
            raise KeyError(key)
        if len(self) < 20_000:  # bounded: a peer may send any number of distinct tags
            self[key] = tag
        return tag


_TAGS = _Tags((str(i), i) for i in range(1, 10_000))


def parse(frame: bytes) -> FixMessage:
    """Parse one frame (as returned by Framer) into a FixMessage. Never raises."""
    s = frame.decode("latin-1")
    if "\x0195=" in s or "\x0193=" in s:
        return _parse_slow(s)
    fields = s.split("\x01")
    fields.pop()
    try:
        pairs = [(_TAGS[t], v) for t, sep, v in map(str.partition, fields, repeat("=")) if sep]
    except KeyError:  # a tag that is not plain digits: the lenient path makes it tag 0
        return _parse_slow(s)
    if len(pairs) != len(fields):  # a field without "="
        return _parse_slow(s)
    return FixMessage(pairs)


def _parse_slow(s: str) -> FixMessage:
    """Lenient parse: data fields read by length, non-numeric tags kept as tag 0."""
    pairs: list[tuple[int, str]] = []
    invalid: list[str] = []
    i, n = 0, len(s)
    data_len: tuple[int, int] | None = None  # (data tag, length) announced by a Length field
    while i < n:
        eq = s.find("=", i)
        soh = s.find("\x01", i)
        if soh < 0:
            soh = n
        if eq < 0 or eq > soh:
            pairs.append((0, s[i:soh]))
            invalid.append(s[i:soh])
            i = soh + 1
            continue
        tag_text = s[i:eq]
        tag = _tag_number(tag_text)
        if not tag:
            invalid.append(tag_text)
        if data_len is not None and tag == data_len[0]:
            end = eq + 1 + data_len[1]
            if end <= n and s[end:end + 1] in ("\x01", ""):
                soh = end
        data_len = None
        value = s[eq + 1:soh]
        pairs.append((tag, value))
        if tag in _DATA_LENGTH_TAGS and value.isascii() and value.isdecimal() and len(value) <= 7:
            data_len = (_DATA_LENGTH_TAGS[tag], int(value))  # at most MAX_BODY_LENGTH: 7 digits
        i = soh + 1
    return FixMessage(pairs, invalid)


def _value_bytes(value: object) -> bytes:
    if isinstance(value, str):
        try:
            return value.encode("latin-1")
        except UnicodeEncodeError:
            return value.encode("utf-8")
    if isinstance(value, bool):
        return b"Y" if value else b"N"
    if isinstance(value, int):
        return b"%d" % value
    if isinstance(value, bytes):
        return value
    if isinstance(value, Decimal):
        return format(value, "f").encode("ascii")
    raise TypeError(f"cannot encode FIX value of type {type(value).__name__}: {value!r}")


class RawBody(bytes):
    """A message body already encoded as `tag=value<SOH>` pairs. Plain `bytes` given as a body
    mean the same (the gateway's ExecutionReports, gateway/reports.py, which the drop-copy
    history keeps as they are: plain bytes are not tracked by the garbage collector, a subclass
    is); `encode` appends either as is."""

    __slots__ = ()

    def pairs(self) -> list[tuple[int, str]]:
        return body_pairs(self)


def body_pairs(body: bytes) -> list[tuple[int, str]]:
    """The (tag, value) pairs of an encoded body again, for code that inspects a body (venue
    fault rules, sinks that want pairs); the hot path never calls it."""
    out = []
    for field in body.split(b"\x01")[:-1]:
        tag, _, value = field.partition(b"=")
        out.append((int(tag), value.decode("latin-1")))
    return out


def encode(fields: Iterable[tuple[int, object]], begin_string: str = BEGIN_STRING, raw: bytes = b"") -> bytes:
    """Encode fields (starting with 35, without 8/9/10) into a complete frame; `raw`, already
    encoded pairs (a RawBody), follows them."""
    body = b"".join([b"%d=%s\x01" % (tag, _value_bytes(value)) for tag, value in fields]) + raw
    head = b"8=%s\x019=%d\x01" % (begin_string.encode("ascii"), len(body))
    frame = head + body
    return frame + b"10=%03d\x01" % checksum(frame)


def encode_fields(fields: Iterable[tuple[int, object]]) -> bytes:
    """The `tag=value<SOH>` bytes of fields, as `encode` writes them (no framing)."""
    return b"".join([b"%d=%s\x01" % (tag, _value_bytes(value)) for tag, value in fields])


def frame_body(body: bytes) -> bytes:
    """A FIXT.1.1 frame around encoded fields that start with 35: `encode` for bytes already made
    (the session's cached header and an encoded body: one format, one checksum)."""
    frame = b"8=FIXT.1.1\x019=%d\x01%s" % (len(body), body)
    return frame + b"10=%03d\x01" % checksum(frame)


# --- UTCTimestamp (spec 01 §1.1: YYYYMMDD-HH:MM:SS.mmm) -----------------------------------

_fmt_cache: list = [None, ""]  # (whole second, "YYYYMMDD-HH:MM:SS") of the last call
# The millisecond of the last call (whole seconds x 1000 + ms) with its text and bytes: every
# frame of a busy moment carries the same SendingTime/TransactTime, formatted once (issue 16).
_ms_cache: list = [None, "", b"", None]  # ..., and the last `now` itself


def _utc(now: float) -> list:
    cache = _ms_cache
    if now == cache[3]:  # the same instant again (the events of one engine call share it)
        return cache
    sec = int(now)
    ms = int((now - sec) * 1000 + 0.0005)  # epoch floats carry ~1e-7 s of noise
    if ms > 999:
        ms = 999
    key = sec * 1000 + ms
    if cache[0] != key:
        if _fmt_cache[0] != sec:
            _fmt_cache[1] = datetime.fromtimestamp(sec, timezone.utc).strftime("%Y%m%d-%H:%M:%S")
            _fmt_cache[0] = sec
        text = "%s.%03d" % (_fmt_cache[1], ms)
        cache[0], cache[1], cache[2] = key, text, text.encode("ascii")
    cache[3] = now
    return cache


def format_utc(now: float) -> str:
    """Epoch seconds -> FIX UTCTimestamp with milliseconds (truncated, as the SDK does)."""
    return _utc(now)[1]


def utc_bytes(now: float) -> bytes:
    """format_utc as bytes, for encoders."""
    return _utc(now)[2]


_parse_cache: dict[str, int] = {}
# Whole texts parse_utc took, and their value: an order's SendingTime(52) and TransactTime(60)
# are looked at by validation, the session's SendingTime check and the order handler, and in
# a busy second every order of a millisecond carries the same text (issue 16). Bounded.
_UTC_SEEN: dict[str, float] = {}


def parse_utc(text: str) -> float | None:
    """FIX UTCTimestamp (with or without fraction) -> epoch seconds; None if malformed."""
    value = _UTC_SEEN.get(text)
    if value is None:
        value = _parse_utc(text)
        if value is not None:
            if len(_UTC_SEEN) >= 4096:
                _UTC_SEEN.clear()
            _UTC_SEEN[text] = value
    return value


def _parse_utc(text: str) -> float | None:
    if len(text) < 17 or text[8] != "-" or text[11] != ":" or text[14] != ":":
        return None
    head = text[:17]
    base = _parse_cache.get(head)
    if base is None:
        digits = head[0:8] + head[9:11] + head[12:14] + head[15:17]
        if not (digits.isascii() and digits.isdigit()):
            return None
        y, mo, d = int(head[0:4]), int(head[4:6]), int(head[6:8])
        h, mi, s = int(head[9:11]), int(head[12:14]), int(head[15:17])
        if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 61):
            return None
        if y < 1 or d > calendar.monthrange(y, mo)[1]:
            return None
        base = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
        if len(_parse_cache) > 4096:
            _parse_cache.clear()
        _parse_cache[head] = base
    frac = text[17:]
    if not frac:
        return float(base)
    if frac[0] != "." or not (frac[1:].isascii() and frac[1:].isdigit()) or len(frac) > 10:
        return None
    return base + int(frac[1:]) / (10 ** (len(frac) - 1))


def iter_frames(data: bytes) -> Iterator[bytes]:
    """Convenience for tests and tools: the valid frames in a complete byte string."""
    for item in Framer().feed(data):
        if isinstance(item, bytes):
            yield item
