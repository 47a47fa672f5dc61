"""Tests for fixproto.codec: framing, parsing, encoding and UTCTimestamps.

House rule: every decoder is fed three ways: whole, byte by byte, and with trailing bytes
(and, for a few streams, split in two at every possible offset). `_check_all_ways` does it.
"""
from __future__ import annotations

import base64
import calendar
import random
import time
from decimal import Decimal

import pytest
import simplefix

from kalshi_fixsim.fixproto.codec import (
    MAX_BODY_LENGTH,
    SOH,
    FixMessage,
    Framer,
    GarbledFrame,
    _parse_slow,
    checksum,
    encode,
    format_utc,
    parse,
    parse_utc,
)

# --- realistic vectors -------------------------------------------------------------------

T0 = calendar.timegm((2026, 11, 21, 13, 34, 56, 0, 0, 0)) + 0.789
SENDING_TIME = "20261121-13:34:56.789"
SIGNATURE = base64.b64encode(bytes(range(256))).decode("ascii")  # 344 chars, like RSA-2048 PSS

LOGON = [
    (35, "A"), (49, "KX-CLIENT-01"), (56, "KalshiNR"), (34, 1), (52, SENDING_TIME),
    (98, 0), (108, 30), (141, True), (1137, "9"), (95, len(SIGNATURE)), (96, SIGNATURE),
]
EXECUTION_REPORT = [
    (35, "8"), (49, "KalshiNR"), (56, "KX-CLIENT-01"), (34, 42), (52, SENDING_TIME),
    (37, "c0a8f1e2-5b6d-4e7f-9a0b-1c2d3e4f5a6b"), (11, "cl-20261121-000042"),
    (17, "ex-000000917"), (150, "F"), (39, "1"), (55, "KXHIGHNY-26NOV21-T52"), (54, "1"),
    (40, "2"), (59, "1"), (38, 10), (44, Decimal("0.45")), (32, 4), (31, Decimal("0.45")),
    (151, 6), (14, 4), (6, Decimal("0.45")), (60, SENDING_TIME),
    (453, 2), (448, "member-7f3a"), (447, "D"), (452, 24), (448, "KX-CLIENT-01"), (447, "D"),
    (452, 3), (58, "partial fill — café"),  # not latin-1: encoded as UTF-8, kept byte for byte
]
NEW_ORDER_SINGLE = [
    (35, "D"), (49, "KX-CLIENT-01"), (56, "KalshiNR"), (34, 43), (52, SENDING_TIME),
    (11, "cl-20261121-000043"), (55, "KXHIGHNY-26NOV21-T52"), (54, "2"), (38, 25), (40, "2"),
    (44, Decimal("0.37")), (59, "0"), (60, SENDING_TIME), (18, "6"),
    (453, 1), (448, "member-7f3a"), (447, "D"), (452, 24),
]
HEARTBEAT = [(35, "0"), (49, "KalshiNR"), (56, "KX-CLIENT-01"), (34, 44), (52, SENDING_TIME)]
TEST_REQUEST = [(35, "1"), (49, "KalshiNR"), (56, "KX-CLIENT-01"), (34, 45), (52, SENDING_TIME),
                (112, "TEST-1795786496")]
RAW_DATA_WITH_SOH = "x\x0110=000\x01y=z\x01"  # a SOH, a fake trailer and an "=" inside the data
RAW_DATA_MESSAGE = [
    (35, "B"), (49, "KalshiNR"), (56, "KX-CLIENT-01"), (34, 46), (52, SENDING_TIME),
    (148, "news"), (95, len(RAW_DATA_WITH_SOH)), (96, RAW_DATA_WITH_SOH),
    (93, 3), (89, "\x01s\x01"),  # SignatureLength/Signature, also read by length
]
VECTORS = {
    "logon": LOGON,
    "execution_report": EXECUTION_REPORT,
    "new_order_single": NEW_ORDER_SINGLE,
    "heartbeat": HEARTBEAT,
    "test_request": TEST_REQUEST,
    "raw_data_with_soh": RAW_DATA_MESSAGE,
}

# --- helpers -----------------------------------------------------------------------------

TRAILINGS = (
    b"8=FIXT.1.1\x019=12",  # the start of a next message that has not fully arrived
    b"\r\n\x00tail",  # junk after the last message
)


def _feed(chunks) -> tuple[list, Framer]:
    framer = Framer()
    events: list = []
    for chunk in chunks:
        events.extend(framer.feed(chunk))
    return events, framer


def _frames(events) -> list[bytes]:
    return [e for e in events if isinstance(e, bytes)]


def _garbled(events) -> list[GarbledFrame]:
    return [e for e in events if isinstance(e, GarbledFrame)]


def _byte_by_byte(data: bytes) -> list[bytes]:
    return [data[i:i + 1] for i in range(len(data))]


def _ways(data: bytes):
    """(name, chunks, stream): whole, byte by byte, and with trailing bytes."""
    yield "whole", [data], data
    yield "byte by byte", _byte_by_byte(data), data
    for tail in TRAILINGS:
        yield f"with trailing {tail!r}", [data + tail], data + tail
        yield f"with trailing {tail!r}, byte by byte", _byte_by_byte(data + tail), data + tail


def _assert_conserved(events, framer: Framer, stream: bytes, how: str) -> None:
    """Every input byte comes out exactly once, in order, or is still buffered."""
    emitted = b"".join(e if isinstance(e, bytes) else e.data for e in events)
    assert stream.startswith(emitted), how
    assert len(emitted) + framer.buffered == len(stream), how


def _check_all_ways(data: bytes, expected_frames: list[bytes]) -> list:
    """Feed `data` three ways; each must deliver exactly `expected_frames`. Returns whole's events."""
    whole = None
    for how, chunks, stream in _ways(data):
        events, framer = _feed(chunks)
        assert _frames(events) == expected_frames, how
        _assert_conserved(events, framer, stream, how)
        if whole is None:
            whole = events
    return whole


def _check_every_split(data: bytes, expected_frames: list[bytes]) -> None:
    for k in range(len(data) + 1):
        events, framer = _feed([data[:k], data[k:]])
        assert _frames(events) == expected_frames, f"split at {k}"
        _assert_conserved(events, framer, data, f"split at {k}")


def _simplefix_messages(chunks) -> list[simplefix.FixMessage]:
    parser = simplefix.FixParser()
    out = []
    for chunk in chunks:
        parser.append_buffer(chunk)
        while (msg := parser.get_message()) is not None:
            out.append(msg)
    return out


def _simplefix_pairs(msg: simplefix.FixMessage) -> list[tuple[int, str]]:
    return [(int(t), v.decode("latin-1")) for t, v in msg.pairs]


def _without(pairs, tags=(8, 9, 10)):
    return [(t, v) for t, v in pairs if t not in tags]


def _frame_by_hand(begin: bytes, body: bytes) -> bytes:
    """A frame built from the spec's rules, without `encode`."""
    head = b"8=" + begin + b"\x019=" + str(len(body)).encode() + b"\x01"
    total = 0
    for byte in head + body:
        total += byte
    return head + body + b"10=" + str(total % 256).zfill(3).encode() + b"\x01"


# --- vectors in both directions ----------------------------------------------------------

@pytest.mark.parametrize("name", list(VECTORS))
def test_frames_encoded_by_us_are_parsed_identically_by_simplefix(name):
    frame = encode(VECTORS[name])
    ours = _check_all_ways(frame, [frame])
    expected = parse(_frames(ours)[0]).pairs
    for how, chunks, _ in _ways(frame):
        if "byte by byte" in how and any(t in (95, 93) for t, _ in VECTORS[name]):
            # simplefix 1.0.17 takes a data field as complete one byte before its SOH
            # arrives, then reads that SOH as part of the next tag (TagNotNumberError).
            continue
        theirs = _simplefix_messages(chunks)
        assert len(theirs) == 1, how
        assert _simplefix_pairs(theirs[0]) == expected, how


def _simplefix_logon() -> simplefix.FixMessage:
    m = simplefix.FixMessage()
    m.append_pair(8, "FIXT.1.1", header=True)
    m.append_pair(35, "A", header=True)
    m.append_pair(49, "KX-CLIENT-01", header=True)
    m.append_pair(56, "KalshiNR", header=True)
    m.append_pair(34, 1, header=True)
    m.append_utc_timestamp(52, T0, precision=3, header=True)
    m.append_pair(98, 0)
    m.append_pair(108, 30)
    m.append_pair(141, "Y")
    m.append_pair(1137, "9")
    m.append_data(95, 96, b"sig\x01with\x01soh=")
    return m


def _simplefix_new_order_fix44() -> simplefix.FixMessage:
    m = simplefix.FixMessage()
    m.append_pair(8, "FIX.4.4", header=True)
    m.append_pair(35, "D", header=True)
    m.append_pair(49, "CLIENT", header=True)
    m.append_pair(56, "BROKER", header=True)
    m.append_pair(34, 7, header=True)
    m.append_utc_timestamp(52, T0, precision=3, header=True)
    for tag, value in [(11, "cl-7"), (55, "KXHIGHNY-26NOV21-T52"), (54, 1), (38, 3), (40, 2),
                       (44, "0.45"), (59, 1)]:
        m.append_pair(tag, value)
    m.append_utc_timestamp(60, T0 + 0.25, precision=6)
    return m


def _simplefix_execution_report() -> simplefix.FixMessage:
    m = simplefix.FixMessage()
    for tag, value in EXECUTION_REPORT:
        m.append_pair(tag, str(value))
    m.append_pair(8, "FIXT.1.1", header=True)  # inserted before 35 by header=True
    return m


@pytest.mark.parametrize(
    "build", [_simplefix_logon, _simplefix_new_order_fix44, _simplefix_execution_report]
)
def test_frames_encoded_by_simplefix_are_framed_and_parsed_by_us_with_the_same_fields(build):
    sf = build()
    data = sf.encode()
    _check_all_ways(data, [data])
    msg = parse(data)
    assert _without(msg.pairs, (9, 10)) == _simplefix_pairs(sf)
    trailer = data.rindex(b"\x0110=") + 1
    assert msg[9] == str(trailer - data.index(b"\x01", data.index(b"\x019=") + 1) - 1)
    assert msg[10] == "%03d" % (sum(data[:trailer]) % 256)
    # and our encoder writes the very same bytes from those fields
    assert encode(_without(msg.pairs), begin_string=msg[8]) == data


def test_format_utc_agrees_with_simplefix_utc_timestamp():
    rng = random.Random(20261121)
    for _ in range(2000):
        ts = rng.randrange(0, 4_102_444_800 * 1_000_000) / 1_000_000  # µs-aligned, to 2100
        sf = simplefix.FixMessage()
        sf.append_utc_timestamp(52, ts, precision=3)
        assert format_utc(ts) == sf.get(52).decode(), ts


# --- BodyLength and CheckSum (FIX spec) --------------------------------------------------

@pytest.mark.parametrize("name", list(VECTORS))
def test_body_length_counts_bytes_after_its_own_soh_up_to_and_including_the_soh_before_checksum(name):
    frame = encode(VECTORS[name])
    first, second = frame.index(SOH), frame.index(SOH, frame.index(SOH) + 1)
    assert frame[first + 1:first + 3] == b"9="
    declared = int(frame[first + 3:second])
    trailer = frame.rindex(b"\x0110=") + 1
    assert frame[trailer - 1:trailer] == SOH and frame[trailer:].count(SOH) == 1
    assert declared == trailer - (second + 1)


@pytest.mark.parametrize("name", list(VECTORS))
def test_checksum_is_sum_of_bytes_before_tag_10_mod_256_written_as_three_digits(name):
    frame = encode(VECTORS[name])
    trailer = frame.rindex(b"\x0110=") + 1
    assert frame[trailer:].endswith(SOH) and len(frame) - trailer == 7
    digits = frame[trailer + 3:-1]
    assert len(digits) == 3 and digits.isdigit()
    assert int(digits) == sum(frame[:trailer]) % 256 == checksum(frame[:trailer])


def test_checksum_below_100_is_zero_padded_to_three_digits():
    written = {}
    for i in range(100_000):
        frame = encode([(35, "0"), (58, "x" * (i % 7)), (34, i)])
        value = frame[-4:-1]
        assert len(value) == 3 and value.isdigit() and int(value) == sum(frame[:-7]) % 256
        written.setdefault(len(str(int(value))), value)
        if len(written) == 3:
            break
    assert written[1].startswith(b"00") and written[2].startswith(b"0")


def test_frame_built_by_hand_from_the_spec_equals_encode_and_is_delivered():
    body = b"35=0\x0149=KalshiNR\x0156=KX-CLIENT-01\x0134=44\x0152=" + SENDING_TIME.encode() + b"\x01"
    frame = _frame_by_hand(b"FIXT.1.1", body)
    assert frame == encode(HEARTBEAT)
    _check_all_ways(frame, [frame])
    older = _frame_by_hand(b"FIX.4.2", body)
    _check_all_ways(older, [older])


def test_checksum_that_is_not_three_digits_is_garbled_and_next_frame_delivered():
    good = encode(HEARTBEAT)
    bad = good[:-4] + b"7\x01"  # "10=7<SOH>"
    events = _check_all_ways(bad + good, [good])
    assert [g.data for g in _garbled(events)] == [bad]


# --- garbage, wrong BodyLength, wrong CheckSum -------------------------------------------

def test_garbage_before_between_and_after_frames_is_garbled_and_all_frames_delivered_in_order():
    frames = [encode(VECTORS[n]) for n in VECTORS]
    garbage = [
        b"\r\nGET / HTTP/1.1\r\n",  # no SOH at its end: frame glued to it
        b"\x00\xff\xfe junk \x01",
        b"58=FIXT.1.1 is text, not a start\x01",
        b"8=\x01",  # a lone BeginString tag
        b"\x01\x01\x01",
        b"9=12\x0135=0\x01",
    ]
    parts = []
    for i, frame in enumerate(frames):
        parts += [garbage[i % len(garbage)], frame]
    data = b"".join(parts) + b"trailing junk after the last frame"
    events = _check_all_ways(data, frames)
    assert isinstance(events[0], GarbledFrame)
    assert isinstance(events[-1], GarbledFrame)
    assert len(_garbled(events)) >= len(frames)


@pytest.mark.parametrize("delta", [+3, +40, +400, -1, -5, -30])
def test_wrong_body_length_is_garbled_and_next_frame_delivered(delta):
    good = encode(EXECUTION_REPORT)
    declared = good.split(SOH)[1]
    wrong = b"9=%d" % (int(declared[2:]) + delta)
    bad = good.replace(declared, wrong, 1)
    nxt = encode(HEARTBEAT)
    after = encode(TEST_REQUEST)
    events = _check_all_ways(bad + nxt + after, [nxt, after])
    garbled = _garbled(events)
    assert garbled and b"".join(g.data for g in garbled).startswith(bad)
    _check_every_split(bad + nxt, [nxt])


def test_wrong_checksum_is_garbled_and_next_frame_delivered():
    good = encode(EXECUTION_REPORT)
    bad = good[:-4] + b"%03d\x01" % ((int(good[-4:-1]) + 1) % 256)
    nxt = encode(HEARTBEAT)
    events = _check_all_ways(bad + nxt, [nxt])
    assert _garbled(events) == [GarbledFrame(bad, "CheckSum(10) mismatch")]
    # a flipped byte in the body is caught the same way
    flipped = good.replace(b"KXHIGHNY", b"KXHIGHNZ")
    events = _check_all_ways(flipped + nxt, [nxt])
    assert [g.data for g in _garbled(events)] == [flipped]


def test_body_length_above_max_is_garbled_at_once_without_buffering():
    absurd = b"8=FIXT.1.1\x019=%d\x0135=0\x0134=1\x01" % (MAX_BODY_LENGTH + 1)
    nxt = encode(HEARTBEAT)
    events = _check_all_ways(absurd + nxt, [nxt])
    assert _garbled(events)[0].data == absurd
    framer = Framer()
    events = framer.feed(absurd)
    assert _garbled(events) and framer.buffered == 0


def test_endless_body_length_digits_are_garbled_with_bounded_buffer():
    framer = Framer()
    events = framer.feed(b"8=FIXT.1.1\x019=")
    high = 0
    for _ in range(5000):
        events += framer.feed(b"9")
        high = max(high, framer.buffered)
    assert high <= 32 and _garbled(events)
    nxt = encode(HEARTBEAT)
    assert _frames(framer.feed(b"\x01" + nxt)) == [nxt]


# --- parse -------------------------------------------------------------------------------

def test_raw_data_with_soh_inside_is_read_by_its_length_field():
    frame = encode(RAW_DATA_MESSAGE)
    _check_all_ways(frame, [frame])
    _check_every_split(frame, [frame])
    msg = parse(frame)
    assert msg[96] == RAW_DATA_WITH_SOH and msg[95] == str(len(RAW_DATA_WITH_SOH))
    assert msg[89] == "\x01s\x01"
    assert msg[10] == frame[-4:-1].decode()
    assert [t for t, _ in msg.pairs] == [8, 9] + [t for t, _ in RAW_DATA_MESSAGE] + [10]
    assert _simplefix_pairs(_simplefix_messages([frame])[0]) == msg.pairs


def test_raw_data_length_that_does_not_fit_falls_back_to_soh():
    frame = encode([(35, "B"), (95, 50), (96, "short"), (58, "after")])
    msg = parse(frame)
    assert msg[96] == "short" and msg[58] == "after"


def _frame_with_field(field: bytes) -> bytes:
    """A valid frame (right BodyLength and CheckSum) whose fourth field is `field` as is."""
    return _frame_by_hand(b"FIXT.1.1", b"35=0\x01" + field + b"\x0134=1\x01")


@pytest.mark.parametrize("field", [b"abc=1", b"=1", b"12a=1", b"1.5=1", b"0x1F=1"])
def test_non_numeric_tag_parses_as_tag_0_without_raising(field):
    frame = _frame_with_field(field)
    _check_all_ways(frame, [frame])
    msg = parse(frame)
    assert msg.pairs[3] == (0, field.split(b"=", 1)[1].decode("latin-1"))
    assert msg[35] == "0" and msg[34] == "1" and 0 in msg and msg.msg_type == "0"


@pytest.mark.parametrize("field", [b"\xb2=1", b"1\xb9=1", b"\xb3\xb2=1"])
def test_tag_with_latin1_superscript_digits_parses_as_tag_0_without_raising(field):
    # BUG: "\xb2" decodes (latin-1) to "²"; str.isdigit() is True for it but int() raises,
    # so ValueError escapes from _parse_slow and parse() ("never raises") raises.
    frame = _frame_with_field(field)
    _check_all_ways(frame, [frame])
    msg = parse(frame)
    assert msg.pairs[3] == (0, "1")


@pytest.mark.parametrize("field", [b"-7=a", b"+34=1", b" 34=1", b"3_4=1", b"34 =1", b"\xa034=1"])
def test_tag_with_sign_space_or_underscore_is_not_a_number_and_parses_as_tag_0(field):
    # BUG: the fast path uses int(), which accepts "-7", "+34", " 34", "3_4", "34 ", "\xa034".
    frame = _frame_with_field(field)
    msg = parse(frame)
    assert msg.pairs == _parse_slow(frame.decode("latin-1")).pairs
    assert msg.pairs[3][0] == 0


def test_field_without_equals_sign_parses_as_tag_0_with_its_text():
    # BUG: the fast path turns "123" (no "=") into tag 123 with an empty value.
    frame = _frame_with_field(b"123")
    msg = parse(frame)
    assert msg.pairs == _parse_slow(frame.decode("latin-1")).pairs
    assert msg.pairs[3] == (0, "123") and 123 not in msg


@pytest.mark.parametrize("name", list(VECTORS))
def test_fast_and_lenient_parse_paths_agree_on_realistic_messages(name):
    frame = encode(VECTORS[name])
    assert parse(frame) == _parse_slow(frame.decode("latin-1"))


@pytest.mark.parametrize("fields", [LOGON, EXECUTION_REPORT], ids=["logon", "execution_report"])
def test_parse_then_encode_reproduces_the_frame_byte_for_byte(fields):
    frame = encode(fields)
    _check_all_ways(frame, [frame])
    msg = parse(frame)
    assert encode(_without(msg.pairs), begin_string=msg[8]) == frame
    assert msg.msg_type == fields[0][1]


def test_begin_string_text_inside_a_field_does_not_split_a_valid_frame():
    frame = encode(HEARTBEAT + [(58, "resend 8=FIXT.1.1 please"), (58, "8=FIX.4.4"), (958, "x")])
    nxt = encode(TEST_REQUEST)
    _check_all_ways(frame + nxt, [frame, nxt])
    _check_every_split(frame + nxt, [frame, nxt])


def test_logon_and_execution_report_stream_is_delivered_at_every_split():
    logon, report = encode(LOGON), encode(EXECUTION_REPORT)
    _check_every_split(logon + report, [logon, report])


def test_fix_message_lookup_is_first_occurrence_and_get_all_keeps_repeats():
    msg = parse(encode(EXECUTION_REPORT))
    assert msg[448] == "member-7f3a"
    assert msg.get_all(448) == ["member-7f3a", "KX-CLIENT-01"]
    assert msg.get(9999) is None and msg.get(9999, "x") == "x" and 9999 not in msg
    assert [t for t, _ in msg.body()][:3] == [37, 11, 17]
    assert isinstance(msg, FixMessage)


def test_encode_writes_bool_int_decimal_bytes_and_rejects_float():
    frame = encode([(35, "0"), (141, True), (142, False), (34, 7), (44, Decimal("0.450")),
                    (96, b"\x00\xff")])
    assert b"\x01141=Y\x01142=N\x0134=7\x0144=0.450\x0196=\x00\xff\x01" in frame
    with pytest.raises(TypeError):
        encode([(35, "0"), (44, 0.45)])


# --- framing edge cases that depend on how the bytes arrive ------------------------------

def test_frame_glued_to_garbage_is_delivered_at_every_split():
    # BUG: a FIXT.1.1 frame right after garbage (no SOH between) is found only when
    # "8=FIXT.1.1<SOH>9=" is whole in one buffer; Framer keeps a 4-byte tail, so a read
    # boundary inside those 14 bytes turns the start of the frame into garbage.
    frame = encode(HEARTBEAT)
    data = b"junk" + frame
    _check_all_ways(data, [frame])
    _check_every_split(data, [frame])


@pytest.mark.parametrize("cut", [5, 10, 80, 200])
def test_truncated_frame_does_not_swallow_the_next_frame(cut):
    # BUG: a sender that restarts mid-message leaves a frame cut short, glued to the next
    # one (no SOH between). Cut in the body (80, 200): its BodyLength runs over the next
    # frames and the resync only looks for "<SOH>8=FIX", so the next frame is garbled with
    # it. Cut in the BeginString (5: "8=FIX", 10: "8=FIXT.1.1"): "8=FIX8=FIXT.1.1" is taken
    # as a BeginString and the next frame is garbled as a CheckSum mismatch.
    cut_short = encode(EXECUTION_REPORT)[:cut]
    nxt, after = encode(HEARTBEAT), encode(TEST_REQUEST)
    _check_all_ways(cut_short + nxt + after, [nxt, after])


def test_fix44_frame_after_garbage_is_framed_the_same_whole_and_byte_by_byte():
    # BUG: whole, "junk8=FIX.4.4..." is garbage (a glued start is only accepted for
    # FIXT.1.1); byte by byte, the 4-byte tail makes "8=FI" a start and the frame comes out.
    frame = encode(HEARTBEAT, begin_string="FIX.4.4")
    data = b"junk" + frame + frame
    whole, _ = _feed([data])
    one_by_one, _ = _feed(_byte_by_byte(data))
    assert _frames(whole) == _frames(one_by_one) == [frame, frame]


def _with_checksum(head_and_body: bytes) -> bytes:
    return head_and_body + b"10=%03d\x01" % (sum(head_and_body) % 256)


@pytest.mark.parametrize(
    "begin, length",
    [(b"FIXT.1.1", b"0" * 12 + b"%d"), (b"FIXT.1.1" + b"x" * 30, b"%d")],
    ids=["body_length_field_of_14_digits", "begin_string_over_32_bytes"],
)
def test_overlong_header_field_is_framed_the_same_whole_and_byte_by_byte(begin, length):
    # BUG: the length caps (BeginString 32 bytes, BodyLength 12) apply only while the SOH
    # has not arrived, so the same bytes are a frame whole and garbage byte by byte.
    body = b"35=0\x0134=1\x01"
    data = _with_checksum(b"8=" + begin + b"\x019=" + length % len(body) + b"\x01" + body)
    whole, _ = _feed([data])
    one_by_one, _ = _feed(_byte_by_byte(data))
    assert _frames(whole) == _frames(one_by_one)


# --- UTCTimestamp ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "base",
    [0, calendar.timegm((2026, 11, 21, 13, 34, 56, 0, 0, 0)), 2_147_483_647,
     calendar.timegm((2099, 12, 31, 23, 59, 59, 0, 0, 0))],
)
def test_format_utc_and_parse_utc_round_trip_at_millisecond_precision(base):
    head = time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(base))
    for ms in range(1000):
        text = format_utc(base + ms / 1000)
        assert text == "%s.%03d" % (head, ms)
        back = parse_utc(text)
        assert back == pytest.approx(base + ms / 1000, abs=1e-6)
        assert format_utc(back) == text


def test_format_utc_truncates_below_the_millisecond():
    base = calendar.timegm((2026, 11, 21, 13, 34, 56, 0, 0, 0))
    assert format_utc(base + 0.1239) == "20261121-13:34:56.123"
    assert format_utc(base + 0.9999) == "20261121-13:34:56.999"


def test_parse_utc_accepts_seconds_only_and_sub_millisecond_fractions():
    base = calendar.timegm((2026, 11, 21, 13, 34, 56, 0, 0, 0))
    assert parse_utc("20261121-13:34:56") == base
    assert parse_utc("20261121-13:34:56.123456") == pytest.approx(base + 0.123456, abs=1e-7)
    assert parse_utc("20261121-13:34:56.123456789") == pytest.approx(base + 0.123456789, abs=1e-7)
    assert parse_utc("20280229-12:00:00") == calendar.timegm((2028, 2, 29, 12, 0, 0, 0, 0, 0))


@pytest.mark.parametrize(
    "text",
    ["", "20261121", "20261121-13:34", "20261121 13:34:56", "2026-11-21T13:34:56",
     "20261121-13:34:56Z", "20261121-13:34:56.", "20261121-13:34:56.12a", "20261121-13:34:56,123",
     "20261121-13:34:56.1234567890", "20261321-13:34:56", "20261100-13:34:56",
     "20261121-24:00:00", "20261121-13:60:00", "20261121-13:34:61", "2026112a-13:34:56",
     "-2026112-13:34:56", "20261121-1 :34:56", "20261121-13:34:56.-12"],
)
def test_parse_utc_rejects_malformed_text(text):
    parse_utc("20261121-13:34:56.000")  # a cached head must not let a bad tail through
    assert parse_utc(text) is None


@pytest.mark.parametrize(
    "text",
    ["00000101-00:00:00", "2026112\xb2-13:34:56", "20261121-13:34:56.\xb2\xb3\xb9"],
    ids=["year_0", "superscript_digit_in_date", "superscript_digits_in_fraction"],
)
def test_parse_utc_returns_none_instead_of_raising(text):
    # BUG: calendar.timegm raises for year 0; str.isdigit() accepts "²³¹" (bytes 0xB2,
    # 0xB3, 0xB9 decoded as latin-1) but int() rejects them, so ValueError escapes.
    assert parse_utc(text) is None


@pytest.mark.parametrize("text", ["20260231-00:00:00", "20270229-00:00:00", "20261131-00:00:00"])
def test_parse_utc_rejects_impossible_calendar_dates(text):
    # BUG: only 1 <= day <= 31 is checked; timegm then rolls Feb 31 over to March 3.
    assert parse_utc(text) is None


# --- fuzz --------------------------------------------------------------------------------

def _fuzz_pool() -> list[bytes]:
    pool = []
    for seq in range(30):
        fields = [VECTORS[n] for n in VECTORS][seq % len(VECTORS)]
        pool.append(encode([(t, seq if t == 34 else v) for t, v in fields]))
    return pool


def test_fuzz_framer_never_raises_and_delivers_every_intact_frame():
    rng = random.Random(20261121)
    pool = _fuzz_pool()
    fixish = b"\x01\x018=9=10=FIXT.1.1 0123456789"
    for iteration in range(3000):
        parts, intact = [], []
        for _ in range(rng.randint(1, 6)):
            kind = rng.random()
            if kind < 0.45:
                frame = rng.choice(pool)
                parts.append(frame)
                intact.append(frame)
            elif kind < 0.65:
                parts.append(rng.randbytes(rng.randint(1, 40)))
            elif kind < 0.8:
                parts.append(bytes(rng.choice(fixish) for _ in range(rng.randint(1, 40))))
            elif kind < 0.9:  # a frame cut short
                frame = rng.choice(pool)
                parts.append(frame[:rng.randrange(1, len(frame))])
            else:  # a frame with one byte changed
                frame = bytearray(rng.choice(pool))
                i = rng.randrange(len(frame))
                frame[i] = (frame[i] + rng.randint(1, 255)) % 256
                parts.append(bytes(frame))
        data = b"".join(parts)
        chunks, i = [], 0
        while i < len(data):
            step = rng.choice((1, 2, 3, 7, 16, 64, 512))
            chunks.append(data[i:i + step])
            i += step
        for how, feed in (("whole", [data]), ("chunked", chunks)):
            events, framer = _feed(feed)
            _assert_conserved(events, framer, data, how)
            delivered = _frames(events)
            assert delivered == intact, f"iteration {iteration}, {how}: {data!r}"
            for frame in delivered:
                parse(frame)
        for part in parts:
            parse(part)  # never raises, whatever the bytes
