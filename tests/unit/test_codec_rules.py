"""Codec rules of issue 11 §1/§3: 8, 9, 35 first (else garbled), tags parsed through one bounded
rule, invalid tags kept as sent. Fed whole, byte by byte and with trailing bytes (house rule 6)."""
from __future__ import annotations

import pytest

from kalshi_fixsim.fixproto.codec import Framer, GarbledFrame, encode, parse

GOOD = encode([(35, "0"), (49, "A"), (56, "B"), (34, 2), (52, "20260105-14:30:00.000")])
NOT_THIRD = encode([(49, "A"), (35, "0"), (56, "B"), (34, 3), (52, "20260105-14:30:00.000")])


def feed_three_ways(data: bytes):
    whole = Framer().feed(data)
    framer = Framer()
    bytewise = [item for i in range(len(data)) for item in framer.feed(data[i:i + 1])]
    trailing = Framer().feed(data + b"8=FI")
    return whole, bytewise, trailing


def test_msgtype_not_the_third_field_is_garbled_at_every_split_and_the_next_frame_delivered():
    for out in feed_three_ways(NOT_THIRD + GOOD):
        assert len(out) == 2 and isinstance(out[0], GarbledFrame) and out[1] == GOOD
        assert out[0].reason == "MsgType(35) is not the third field" and out[0].data == NOT_THIRD


@pytest.mark.parametrize("tag", [b"0", b"-1", b"035", b"+35", b"99999999999", b"9" * 5000, "²".encode("latin-1"),
                                 b""])
def test_invalid_tag_parses_as_tag_0_and_keeps_its_text_as_sent(tag):
    frame = GOOD[:-7] + tag + b"=x\x01" + GOOD[-7:]
    msg = parse(frame)
    assert (0, "x") in msg.pairs and msg.invalid_tags == [tag.decode("latin-1")]


def test_a_data_length_of_thousands_of_digits_does_not_reach_int():
    frame = encode([(35, "A"), (95, "9" * 5000), (96, "sig")])
    msg = parse(frame)
    assert msg.get(96) == "sig" and msg.get(95) == "9" * 5000


def test_valid_tags_beyond_the_preloaded_table_still_parse_as_numbers():
    msg = parse(encode([(35, "0"), (424242, "x"), (2147483647, "y")]))
    assert msg.get(424242) == "x" and msg.get(2147483647) == "y" and msg.invalid_tags == []
