"""The inbound fast paths of issue 16 give the answers of the exact code they stand in for."""
from __future__ import annotations

import random
from decimal import Decimal

from kalshi_fixsim.fixproto import codec, validate as v
from kalshi_fixsim.fixproto.codec import FixMessage, parse_utc
from kalshi_fixsim.fixproto.fields import ENUM_VALUES, MESSAGES, TAG_TYPES
from kalshi_fixsim.simulator.gateway.reports import parse_price, parse_qty

_VALUES = ["", "0", "1", "2", "-1", "00", "007", "12345678901", "2147483647", "2147483648", "1.5", ".5", "5.",
           "-0.5", "1e5", "\u00b2", "\u0665", "Y", "N", "x", "abc", "20261130-00:53:20.002", "20261130-00:53:20",
           "20260230-00:00:00", "00001130-00:00:00", "20261130-24:00:00", "20261130-00:53:20.0000000001",
           "20261130-00:53:20.", "3", "4", "6", "9", "FIXT.1.1", "D", "KalshiNR", "0.01", "999999999999",
           "9999999999999", "1.12345678901", "+5", " 5", "50"]


def _exact(msg: FixMessage):
    """validate() with the fast path taken out: the ranked passes alone."""
    if 0 in msg or not msg.get(35) or msg.get(35) not in MESSAGES:
        return v.validate(msg)
    mt = msg.get(35)
    return (v._order_problem(msg.pairs) or v._check_fields(msg.pairs, v._ALLOWED[mt], mt)
            or v._check_structure(msg.pairs, MESSAGES[mt]))


def _sample(rng: random.Random, mt: str) -> list[tuple[int, str]]:
    m = MESSAGES[mt]
    pairs = [(8, "FIXT.1.1"), (9, "100"), (35, mt), (49, "a"), (56, "KalshiNR"), (34, "2"),
             (52, "20261130-00:53:20.002")]
    for tag in m.fields:
        if tag in m.required or rng.random() < 0.3:
            pairs.append((tag, rng.choice(sorted(ENUM_VALUES[tag])) if tag in ENUM_VALUES else rng.choice(_VALUES)))
    pairs.append((10, "123"))
    for _ in range(rng.randint(0, 3)):
        j, r = rng.randrange(len(pairs)), rng.random()
        if r < 0.5:
            pairs[j] = (pairs[j][0], rng.choice(_VALUES))
        elif r < 0.65:
            pairs.insert(rng.randrange(len(pairs)), pairs[j])
        elif r < 0.8:
            pairs.insert(rng.randrange(len(pairs)), (rng.choice(list(TAG_TYPES)), rng.choice(_VALUES)))
        elif r < 0.9:
            k = rng.randrange(len(pairs))
            pairs[j], pairs[k] = pairs[k], pairs[j]
        elif len(pairs) > 3:
            del pairs[j]
    return pairs


def test_validation_fast_path_answers_as_the_ranked_passes_do():
    rng = random.Random(16)
    accepted = 0
    for _ in range(6000):
        pairs = _sample(rng, rng.choice(sorted(MESSAGES)))
        got, want = v.validate(FixMessage(list(pairs))), _exact(FixMessage(list(pairs)))
        assert got == want, pairs
        accepted += got is None
    assert accepted > 300  # the fast path was taken, not only the problems found


def test_validation_fast_path_with_one_layout_and_changing_values():
    """The per-layout plan is reused: each message's own values are still checked."""
    rng = random.Random(3)
    base = [(8, "FIXT.1.1"), (9, "100"), (35, "D"), (49, "a"), (56, "KalshiNR"), (34, "2"),
            (52, "20261130-00:53:20.002"), (11, "o1"), (38, "1"), (40, "2"), (44, "50"), (54, "1"), (55, "KX"),
            (59, "3"), (60, "20261130-00:53:20.002"), (10, "123")]
    for _ in range(3000):
        pairs = list(base)
        j = rng.randrange(len(pairs))
        pairs[j] = (pairs[j][0], rng.choice(_VALUES))
        assert v.validate(FixMessage(list(pairs))) == _exact(FixMessage(list(pairs))), pairs


def test_a_message_looks_up_the_first_occurrence_of_a_repeated_tag():
    msg = FixMessage([(35, "D"), (11, "first"), (11, "second")])
    assert msg.get(11) == "first" and msg[11] == "first" and 11 in msg and 12 not in msg
    assert msg.get(12, "none") == "none" and msg.get_all(11) == ["first", "second"]
    assert FixMessage([]) and FixMessage([(1, "a")]) == FixMessage([(1, "a")])


def test_parse_utc_memo_answers_as_the_parser():
    for text in ["20261130-00:53:20.002", "20261130-00:53:20", "20260229-00:00:00", "20240229-23:59:60.5",
                 "20261130-00:53:20.123456789", "2026113000:53:20", "", "20261130-00:53:20.x"]:
        first = parse_utc(text)
        assert first == codec._parse_utc(text) and parse_utc(text) == first
        assert (text in codec._UTC_SEEN) == (first is not None)  # refusals are never remembered


def test_whole_number_prices_and_quantities_parse_as_decimals_do():
    for text in ["0", "1", "050", "99", "100", "0000", "123456789012345678"]:
        for dollars in (False, True):
            assert parse_price(text, dollars) == int(Decimal(text) * (10_000 if dollars else 100))
        assert parse_qty(text) == int(Decimal(text) * 100)
    assert parse_price("\u0665", False) == 500  # not ASCII: the Decimal path, as before
