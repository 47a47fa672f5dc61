"""Session-level validation (fixproto.validate) and the tables behind it (fixproto.fields)."""
from __future__ import annotations

import pytest

from kalshi_fixsim.fixproto.codec import checksum, encode, parse
from kalshi_fixsim.fixproto.fields import (ADMIN_MSG_TYPES, CUSTOM_TAGS, ENUM_VALUES, HEADER_TAGS, MESSAGES,
                             MSG_TYPE_NAMES, TAG_NAMES, TAG_TYPES, TRAILER_TAGS, MsgType,
                             SessionRejectReason, Tag)
from kalshi_fixsim.fixproto.validate import Problem, validate

HEADER = [(49, "8c1f5a8e-api-key"), (56, "KalshiNR"), (34, 17), (52, "20260302-14:05:09.310")]
PARTIES = [(453, 1), (448, "sub-1"), (452, 24)]
NEW_ORDER = [(11, "ord-1"), (38, 10), (40, "2"), (44, "0.42"), (54, "1"),
             (55, "KXRAIN-26MAR02-T1"), (59, "1")]


def msg(msg_type: str, body: list[tuple[int, object]], header=HEADER):
    """Encode then parse, as an inbound frame would be."""
    return parse(encode([(35, msg_type), *header, *body]))


def raw(body: str):
    """A frame built from literal text (fields after 9, '|' for SOH), e.g. non-numeric tags."""
    data = body.replace("|", "\x01").encode("latin-1")
    frame = b"8=FIXT.1.1\x019=%d\x01" % len(data) + data
    return parse(frame + b"10=%03d\x01" % checksum(frame))


def problem(m) -> tuple[int, int | None]:
    p = validate(m)
    assert p is not None, "expected a problem"
    return p.reason, p.ref_tag


# --- messages that pass ----------------------------------------------------------------------

SIG = "c2lnbmF0dXJl\x01with-soh"  # RawData is read by length, so it may hold SOH
VALID = {
    "0": [],
    "0 with TestReqID": [(112, "tr-1")],
    "1": [(112, "tr-1")],
    "2": [(7, 5), (16, 0)],
    "3": [(45, 17), (371, 424242), (372, "F"), (373, 3), (58, "Undefined tag received")],
    "4": [(123, "Y"), (36, 42)],
    "5": [(58, "bye")],
    "A": [(98, 0), (108, 30), (95, len(SIG)), (96, SIG), (141, "Y"), (1137, "9"), (8013, "Y"),
          (21005, "N"), (20126, "N"), (20200, 24), (21027, "Y")],
    "D": NEW_ORDER + [(126, "20260302-15:00:00"), (2964, 1), *PARTIES, (526, "grp"),
                      (21009, "12.50"), (79, 0), (100, -1)],
    "8": [(37, "o-1"), (11, "ord-1"), (17, "10;3"), (150, "F"), (39, "1"), (54, "1"),
          (55, "KXRAIN-26MAR02-T1"), (151, "6.00"), (14, "4.00"), (6, "0.42"), (38, "10.00"),
          (31, "0.42"), (32, "4.00"), (60, "20260302-14:05:09.310123456"),
          (136, 1), (137, "0.07"), (138, "USD"), (139, "4"), (891, 0), *PARTIES,
          (1703, 2), (1704, "-1.68"), (1705, "BALANCE"), (1704, "4.00"), (1705, "PAYOUT"),
          (880, "t-1"), (1057, "Y"), (30, "0"), (21030, "1.00")],
    "UMS": [(20105, "msr-1"), (55, "KXRAIN-26MAR02-T1"), (715, "20260302"), (20106, 1),
            (20107, "yes"), (730, "100"), (20108, 2),
            (20109, "acct-a"), (20110, 24), (704, "10.00"), (705, "0.00"),
            (1703, 1), (1704, "10.00"), (1705, "PAYOUT"),
            (136, 1), (137, "0.00"), (138, "USD"), (139, "4"), (891, 0),
            (20109, "acct-b"), (20110, 24), (136, 0),
            (893, "Y")],
    "R flat (Dict/SDK)": [(131, "rq-1"), (146, 1), (55, "KXRAIN-26MAR02-T1"), (38, 40),
                          *PARTIES, (21015, "Y"), (21016, "N"), (79, 3)],
    "R MVE by count": [(131, "rq-3"), (146, 1), (38, "12.50"), (20180, "KXCOMBO-COLL"),
                       (20181, 2), (20182, "EVT-A"), (20183, "MKT-A1"), (20184, "yes"),
                       (20182, "EVT-B"), (20183, "MKT-B4"), (20184, "no")],
    "V two symbols": [(263, "0"), (146, 2), (55, "KXGDP-26Q1-T2.0"), (55, "KXGDP-26Q1-T2.5")],
    "V stop all": [(263, "2")],
    "W": [(55, "KXGDP-26Q1-T2.0"), (268, 2),
          (269, "0"), (270, "0.4200"), (271, "150.00"), (272, "20260302"), (273, "14:05:09.310"),
          (269, "1"), (270, "0.4500"), (271, "60.00"), (272, "20260302"), (273, "14:05:09")],
    "W empty book": [(55, "KXGDP-26Q1-T2.0"), (268, 0)],
    "X": [(268, 2), (279, "0"), (55, "KXGDP-26Q1-T2.0"), (269, "2"), (270, "0.4500"),
          (271, "35.00"), (272, "20260302"), (273, "14:05:11.870"), (2446, "1"),
          (279, "2"), (55, "KXGDP-26Q1-T2.0"), (269, "1"), (270, "0.4500"), (271, "0.00")],
}


@pytest.mark.parametrize("case", list(VALID))
def test_valid_message_passes(case):
    assert validate(msg(case.split()[0], VALID[case])) is None


def test_every_admin_type_has_a_passing_example():
    assert ADMIN_MSG_TYPES <= {case.split()[0] for case in VALID}


def test_header_optional_fields_are_allowed_in_any_message():
    m = msg("0", [], header=HEADER + [(43, "Y"), (122, "20260302-14:05:00"), (97, "N"),
                                      (50, "desk"), (1128, "9")])
    assert validate(m) is None


# --- a. non-numeric tag -> 0 ------------------------------------------------------------------

def test_non_numeric_tag_is_rejected_with_reason_0_and_no_ref_tag():
    m = raw("35=0|49=a|56=b|34=2|52=20260302-14:05:09.310|ab=1|")
    assert problem(m) == (SessionRejectReason.INVALID_TAG_NUMBER, None)


def test_invalid_tag_number_wins_over_unknown_msgtype():
    assert problem(raw("35=ZZ|49=a|56=b|34=2|52=20260302-14:05:09|x1=1|"))[0] == 0


# --- b. unknown MsgType -> 11 -----------------------------------------------------------------

@pytest.mark.parametrize("msg_type", ["ZZ", "AD", "AE", "U4", "a"])
def test_unknown_msgtype_is_rejected_with_reason_11_and_ref_tag_35(msg_type):
    assert problem(msg(msg_type, [])) == (SessionRejectReason.INVALID_MSGTYPE, 35)


def test_missing_msgtype_is_a_missing_required_tag():
    assert problem(raw("49=a|56=b|34=2|52=20260302-14:05:09|")) == (1, 35)


def test_empty_msgtype_is_a_tag_without_value():
    assert problem(raw("35=|49=a|56=b|34=2|52=20260302-14:05:09|")) == (4, 35)


# --- c. undefined tag -> 3 --------------------------------------------------------------------

def test_undefined_tag_is_rejected_with_reason_3_and_the_tag():
    # the docs' example: 35=3|45=17|371=424242|372=F|373=3|58=Undefined tag received
    m = msg("F", [(11, "c-2"), (41, "ord-1"), (54, "1"), (55, "KXRAIN"), (424242, "x")])
    p = validate(m)
    assert (p.reason, p.ref_tag) == (SessionRejectReason.UNDEFINED_TAG, 424242)
    assert p.text == "Undefined tag received: 424242"


def test_undefined_tag_wins_over_earlier_empty_value():
    m = msg("D", [(11, ""), *NEW_ORDER[1:], (999999, "x")])
    assert problem(m) == (3, 999999)


# --- d. tag not defined for this message type -> 2 --------------------------------------------

def test_tag_not_defined_for_message_type_is_rejected_with_reason_2():
    assert problem(msg("0", [(44, "0.42")])) == (SessionRejectReason.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE, 44)


def test_declared_but_unused_tag_is_not_defined_for_any_message():
    assert problem(msg("D", NEW_ORDER + [(48, "sec")])) == (2, 48)


def test_docs_addition_is_allowed_but_group_member_of_other_message_is_not():
    assert validate(msg("D", NEW_ORDER + [(21023, "rfq-1"), (117, "q-1")])) is None
    assert problem(msg("F", [(11, "c"), (41, "o"), (54, "1"), (55, "K"), (269, "0")])) == (2, 269)


# --- e. empty value -> 4 ----------------------------------------------------------------------

def test_empty_value_is_rejected_with_reason_4():
    m = msg("D", [*NEW_ORDER, (526, "")])
    assert problem(m) == (SessionRejectReason.TAG_SPECIFIED_WITHOUT_A_VALUE, 526)


def test_tag_not_defined_wins_over_earlier_empty_value():
    assert problem(msg("D", [(11, ""), *NEW_ORDER[1:], (112, "t")])) == (2, 112)


# --- f. data format -> 6 ----------------------------------------------------------------------

BAD_FORMATS = [
    ("A", 108, "abc"),                    # INT
    ("A", 108, "3.5"),                    # INT
    ("A", 108, "-"),                      # INT
    ("2", 7, "-1"),                       # SEQNUM: no sign
    ("2", 7, "\u00b2"),                   # SEQNUM: latin-1 superscript two is not a digit
    ("A", 95, "+4"),                      # LENGTH
    ("D", 453, "one"),                    # NUMINGROUP
    ("A", 141, "y"),                      # BOOLEAN
    ("A", 141, "Yes"),                    # BOOLEAN
    ("D", 44, "1e-2"),                    # PRICE: no exponent
    ("D", 44, "."),                       # PRICE
    ("D", 44, "0.4.2"),                   # PRICE
    ("D", 38, "+10"),                     # QTY: only '-' as sign
    ("D", 38, "1,000"),                   # QTY
    ("D", 21009, "NaN"),                  # DECIMAL
    ("D", 126, "2026-03-02 14:05:09"),    # UTCTIMESTAMP
    ("D", 126, "20260230-14:05:09"),      # UTCTIMESTAMP: no 30 February
    ("D", 126, "20260302-24:00:00"),      # UTCTIMESTAMP
    ("D", 126, "20260302-14:05:09."),     # UTCTIMESTAMP
    ("D", 126, "20260302-14:05:09.1234567890"),  # UTCTIMESTAMP: at most 9 fraction digits
    ("D", 126, "00000101-00:00:00"),      # UTCTIMESTAMP: year 0
    ("D", 54, "12"),                      # CHAR
    ("UMS", 715, "2026-03-02"),           # LOCALMKTDATE
    ("UMS", 715, "20250229"),             # LOCALMKTDATE: not a leap year
    ("W", 272, "202603"),                 # UTCDATEONLY
    ("W", 273, "14:05"),                  # UTCTIMEONLY
    ("W", 273, "14:61:00"),               # UTCTIMEONLY
]

_BASE = {"A": [(98, 0), (108, 30), (96, "sig"), (1137, "9")], "2": [(7, 1), (16, 0)],
         "D": NEW_ORDER, "UMS": VALID["UMS"], "W": VALID["W"]}


def _with(msg_type: str, tag: int, value: str):
    """The base message of msg_type with `tag` set to `value` (replaced, or appended)."""
    body = [(t, value if t == tag else v) for t, v in _BASE[msg_type]]
    if tag not in {t for t, _ in body}:
        body.append((tag, value))
    return msg(msg_type, body)


@pytest.mark.parametrize("msg_type,tag,value", BAD_FORMATS)
def test_wrong_data_format_is_rejected_with_reason_6(msg_type, tag, value):
    assert problem(_with(msg_type, tag, value)) == (SessionRejectReason.INCORRECT_DATA_FORMAT, tag)


def test_data_format_text_names_the_field_and_value():
    assert validate(_with("A", 108, "abc")).text == "Incorrect data format for HeartBtInt(108): 'abc'"


@pytest.mark.parametrize("msg_type,tag,value", [
    ("D", 79, "-1"), ("D", 100, "-1"), ("D", 44, ".5"), ("D", 44, "5."), ("D", 44, "-0.25"),
    ("D", 38, "0010.00"), ("D", 126, "20240229-23:59:60"), ("D", 126, "20260302-14:05:09.1"),
    ("D", 126, "20260302-14:05:09.123456789"), ("UMS", 715, "20240229"),
    ("W", 273, "14:05:09.310"), ("D", 18, "6 x"), ("D", 55, "any \u00e9 text"),
])
def test_well_formed_values_pass(msg_type, tag, value):
    assert validate(_with(msg_type, tag, value)) is None


def test_empty_value_wins_over_later_format_problem():
    assert problem(msg("D", [(11, ""), *NEW_ORDER[1:3], (44, "x"), *NEW_ORDER[4:]])) == (4, 11)


# --- g. closed enumerations -> 5 --------------------------------------------------------------

@pytest.mark.parametrize("tag,value", [(98, "1"), (1137, "7"), (1128, "8")])
def test_value_outside_closed_enum_is_rejected_with_reason_5(tag, value):
    body = [(98, 0), (108, 30), (96, "sig"), (1137, "9")]
    header = HEADER + [(1128, value)] if tag == 1128 else HEADER
    body = [(t, value if t == tag else v) for t, v in body]
    assert problem(msg("A", body, header=header)) == (SessionRejectReason.VALUE_IS_INCORRECT, tag)


def test_wrong_begin_string_is_rejected_with_reason_5():
    m = parse(encode([(35, "0"), *HEADER], begin_string="FIX.4.4"))
    assert problem(m) == (5, 8)


def test_business_enums_are_left_to_the_application():
    assert validate(_with("D", 54, "7")) is None
    assert validate(_with("D", 59, "9")) is None
    assert not {39, 150, 54, 59, 103, 102, 40, 452} & set(ENUM_VALUES)


def test_format_problem_wins_over_later_enum_problem():
    assert problem(msg("A", [(98, 1), (108, "x"), (96, "sig"), (1137, "9")])) == (6, 108)


# --- h. tag repeated outside groups -> 13 -----------------------------------------------------

def test_repeated_tag_is_rejected_with_reason_13():
    m = msg("D", NEW_ORDER + [(55, "OTHER")])
    assert problem(m) == (SessionRejectReason.TAG_APPEARS_MORE_THAN_ONCE, 55)


def test_repeated_header_tag_is_rejected_with_reason_13():
    assert problem(msg("0", [], header=HEADER + [(49, "again")])) == (13, 49)


def test_group_members_may_repeat_inside_their_group():
    body = [(268, 2), (279, "0"), (55, "A"), (269, "0"), (279, "0"), (55, "B"), (269, "1")]
    assert validate(msg("X", body)) is None


def test_repeated_tag_wins_over_missing_required_tag():
    assert problem(msg("D", NEW_ORDER[1:] + [(55, "OTHER")])) == (13, 55)


# --- i. required tag missing -> 1 -------------------------------------------------------------

def test_missing_required_body_tag_is_rejected_with_reason_1():
    p = validate(msg("D", [f for f in NEW_ORDER if f[0] != 38]))
    assert (p.reason, p.ref_tag) == (SessionRejectReason.REQUIRED_TAG_MISSING, 38)
    assert p.text == "Required tag missing: OrderQty(38)"


@pytest.mark.parametrize("tag", [49, 56, 34, 52])
def test_missing_required_header_tag_is_rejected_with_reason_1(tag):
    assert problem(msg("0", [], header=[f for f in HEADER if f[0] != tag])) == (1, tag)


def test_docs_requirements_are_enforced():
    assert problem(msg("A", [(98, 0), (108, 30), (1137, "9")])) == (1, 96)  # Logon RawData
    assert problem(msg("j", [(45, 3), (380, 0)])) == (1, 372)  # j RefMsgType


def test_conditional_fields_are_not_required():
    assert validate(msg("S", [(117, "q"), (131, "r"), (55, "K")])) is None
    assert validate(msg("UE", [])) is None


def test_missing_required_tag_wins_over_group_count():
    body = [(11, "o"), (38, 1), (40, "2"), (44, "0.5"), (54, "1"), (453, 2), (448, "a")]
    assert problem(msg("D", body)) == (1, 55)


# --- j. repeating groups -> 16 / 15 ------------------------------------------------------------

def test_group_count_mismatch_is_rejected_with_reason_16():
    m = msg("D", NEW_ORDER + [(453, 2), (448, "sub-1"), (452, 24)])
    assert problem(m) == (SessionRejectReason.INCORRECT_NUMINGROUP_COUNT, 453)


def test_group_count_with_no_entries_is_rejected_with_reason_16():
    assert problem(msg("W", [(55, "K"), (268, 1)])) == (16, 268)


def test_nested_group_count_mismatch_is_rejected_with_reason_16():
    body = [(t, 2 if t == 1703 else v) for t, v in VALID["UMS"]]
    assert problem(msg("UMS", body)) == (16, 1703)


def test_group_entry_not_starting_with_delimiter_is_rejected_with_reason_15():
    m = msg("D", NEW_ORDER + [(453, 1), (452, 24), (448, "sub-1")])
    assert problem(m) == (SessionRejectReason.REPEATING_GROUP_FIELDS_OUT_OF_ORDER, 452)


def test_second_entry_without_delimiter_is_rejected_with_reason_15():
    body = [(55, "K"), (268, 2), (269, "0"), (270, "0.42"), (270, "0.41"), (269, "1")]
    assert problem(msg("W", body)) == (15, 270)


def test_quote_request_entry_may_start_with_quantity_for_mve():
    body = [(131, "rq"), (146, 1), (152, "250.00"), (20180, "COLL"), (20181, 1),
            (20182, "E"), (20183, "M"), (20184, "yes")]
    assert validate(msg("R", body)) is None
    assert problem(msg("R", [(131, "rq"), (146, 1), (21015, "Y"), (55, "K")])) == (15, 21015)


def test_missing_required_group_member_is_rejected_with_reason_1():
    body = [(131, "rq"), (146, 1), (38, 1), (20180, "C"), (20181, 1), (20182, "E"), (20184, "no")]
    assert problem(msg("R", body)) == (1, 20183)


def test_a_non_member_ends_the_group():
    # 79 is not a 453 member: it ends the group, so the second 448 is no second entry
    body = NEW_ORDER + [(453, 2), (448, "a"), (79, 0), (448, "b")]
    assert problem(msg("D", body)) == (16, 453)


# --- tables -----------------------------------------------------------------------------------

def test_tables_hold_all_40_message_types():
    expected = {"0", "1", "2", "3", "4", "5", "A", "8", "9", "D", "F", "G", "j", "q", "r", "R",
                "S", "Z", "b", "AI", "AG", "U1", "U2", "U3", "U7", "U8", "U9", "UA", "UB", "UC",
                "UE", "UOG", "UOH", "UMS", "V", "W", "X", "Y", "e", "f"}
    assert set(MESSAGES) == set(MSG_TYPE_NAMES) == expected
    assert len(expected) == 40
    assert MsgType.Logon == "A" and MESSAGES["UMS"].name == "MarketSettlementReport"


def test_tables_hold_the_44_kalshi_custom_tags_of_spec_12_section_4():
    expected = ({8013, 20126, 20127, 20200, 21015, 21016, 21030, 21031}
                | set(range(20105, 20111)) | set(range(20130, 20133))
                | set(range(20180, 20188)) | set(range(21001, 21014)) | set(range(21022, 21028)))
    assert len(expected) == 44
    assert CUSTOM_TAGS == expected
    assert {t for t in TAG_TYPES if t >= 5000} == expected


def test_every_tag_has_a_name_a_type_and_a_home():
    assert set(TAG_NAMES) == set(TAG_TYPES)
    assert len(TAG_TYPES) == 162
    assert Tag.CancelOrdersOnDisconnect == 8013 and TAG_NAMES[34] == "MsgSeqNum"
    used = set().union(*(m.allowed for m in MESSAGES.values())) | HEADER_TAGS | TRAILER_TAGS
    assert set(TAG_TYPES) - used == {48}  # SecurityID: declared, unused


def test_allowed_includes_nested_group_members():
    assert {20109, 1704, 137, 891} <= MESSAGES["UMS"].allowed
    assert {55, 38, 152, 21015, 21016, 453, 448, 452} <= MESSAGES["R"].allowed
    assert MESSAGES["R"].required == {131, 146}
    assert MESSAGES["X"].groups[268].delimiter == 279 and 55 in MESSAGES["X"].groups[268].members


def test_enum_values_hold_every_boolean_and_the_fixed_session_values():
    booleans = {t for t, typ in TAG_TYPES.items() if typ == "BOOLEAN"}
    assert set(ENUM_VALUES) == booleans | {8, 98, 1128, 1137}
    assert ENUM_VALUES[8] == {"FIXT.1.1"} and ENUM_VALUES[98] == {"0"}


def test_problem_is_a_frozen_value():
    p = Problem(1, 38, "x")
    assert p == Problem(1, 38, "x")
    with pytest.raises(AttributeError):
        p.reason = 2  # type: ignore[misc]
