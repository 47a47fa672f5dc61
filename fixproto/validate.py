"""Session-level validation of an inbound, already framed message (spec 09 §1, spec 12).

`validate(msg)` returns the first `Problem` found, or None. Rules are checked in a fixed
order of precedence (a problem of an earlier rule wins wherever it stands in the message):

  a. non-numeric tag -> 0        f. wrong data format -> 6
  b. unknown MsgType -> 11       g. value outside a closed enum or a range -> 5
  b2. header/body/trailer order -> 14
  c. undefined tag -> 3          h. tag repeated outside groups -> 13
  d. tag not in message -> 2     i. required tag missing -> 1
  e. empty value -> 4            j. group count -> 16, entry order -> 15 (or a required
                                    group member missing -> 1)

A message that passes costs one pass over its fields with no call per field (`_fine`); one
that does not goes through the exact passes below, in the order of precedence above.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter

from .codec import _UTC_SEEN, FixMessage, parse_utc
from .fields import (ENUM_VALUES, HEADER_TAGS, INT_RANGES, MESSAGES, MSG_ENUM_VALUES, MSG_TAG_TYPES, TAG_TYPES,
                     TRAILER_TAGS, GroupDef, MessageDef, SessionRejectReason as R, tag_label)
from .numbers import (FORMAT, INT32_MAX, INT32_MIN, MAX_DECIMAL_DIGITS, MAX_FRACTION_DIGITS, decimal_problem,
                      int_problem)

__all__ = ["Problem", "validate"]


@dataclass(frozen=True)
class Problem:
    reason: int  # SessionRejectReason (373)
    ref_tag: int | str | None  # RefTagID (371); an invalid tag number as it was sent
    text: str  # Text (58)


# Header and trailer fields are allowed in every message (spec 01 §1.1-§1.2).
_ALLOWED = {mt: m.allowed | HEADER_TAGS | TRAILER_TAGS for mt, m in MESSAGES.items()}
# Always required: standard header and CheckSum (spec 01 §1.1-§1.2).
_STD_REQUIRED = (8, 9, 35, 49, 56, 34, 52, 10)
_REQUIRED = {mt: _STD_REQUIRED + tuple(t for t in m.fields if t in m.required)
             for mt, m in MESSAGES.items()}


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


# --- data formats (spec 01 §1.3) and ranges (issue 11 §3) -----------------------------------
# A check returns None (fine), FORMAT (6: not of the field's type) or RANGE (5: of the type but
# out of range). Numbers go through fixproto.numbers: ASCII digits, bounded length, a range.

def _digits(v: str) -> bool:
    return v.isascii() and v.isdigit()  # isdigit alone accepts "²" (latin-1 superscripts)


def _ok(test):
    return lambda v: None if test(v) else FORMAT


def _int_check(lo: int, hi: int):
    return lambda v: int_problem(v, lo, hi)


_MDAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@lru_cache(maxsize=1024)
def _date(v: str) -> bool:  # YYYYMMDD, a real calendar date
    if len(v) != 8 or not _digits(v):
        return False
    y, m, d = int(v[:4]), int(v[4:6]), int(v[6:])
    if y < 1 or not 1 <= m <= 12 or not 1 <= d <= _MDAYS[m - 1]:
        return False
    return m != 2 or d < 29 or (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0))


def _time(v: str) -> bool:  # HH:MM:SS with an optional fraction of 1-9 digits
    if len(v) < 8 or v[2] != ":" or v[5] != ":" or not _digits(v[:2] + v[3:5] + v[6:8]):
        return False
    if int(v[:2]) > 23 or int(v[3:5]) > 59 or int(v[6:8]) > 60:
        return False
    frac = v[8:]
    return not frac or (frac[0] == "." and 2 <= len(frac) <= 10 and _digits(frac[1:]))


def _timestamp(v: str) -> bool:  # YYYYMMDD-HH:MM:SS[.f{1,9}]
    # _date first: it rules out what parse_utc cannot take (year 0, non-ASCII digits)
    return v.isascii() and _date(v[:8]) and parse_utc(v) is not None


_FORMAT_CHECKS = {
    "INT": _int_check(INT32_MIN, INT32_MAX),
    "BOOLEAN": _ok(lambda v: v == "Y" or v == "N"), "CHAR": _ok(lambda v: len(v) == 1),
    "PRICE": decimal_problem, "QTY": decimal_problem, "AMT": decimal_problem, "DECIMAL": decimal_problem,
    "UTCTIMESTAMP": _ok(_timestamp), "LOCALMKTDATE": _ok(_date), "UTCDATEONLY": _ok(_date),
    "UTCTIMEONLY": _ok(_time),
}


def _uint_check(lo: int, hi: int):  # SeqNum, Length, NumInGroup: no sign (spec 01 §1.3)
    return lambda v: FORMAT if v[:1] == "-" else int_problem(v, lo, hi)


_UNSIGNED = frozenset({"SEQNUM", "LENGTH", "NUMINGROUP"})


def _check_for(tag: int, typ: str):
    if tag in INT_RANGES:  # SEQNUM, LENGTH, NUMINGROUP and listed INT fields
        return (_uint_check if typ in _UNSIGNED else _int_check)(*INT_RANGES[tag])
    return _FORMAT_CHECKS.get(typ)


_TAG_CHECKS = {t: c for t, typ in TAG_TYPES.items() if (c := _check_for(t, typ)) is not None}
# Per-MsgType overrides (fields.MSG_TAG_TYPES): the message's own table of checks.
_MSG_TAG_CHECKS = {mt: {**_TAG_CHECKS, **{t: _check_for(t, typ) for (m, t), typ in MSG_TAG_TYPES.items()
                                           if m == mt}}
                   for mt in {m for m, _ in MSG_TAG_TYPES}}
_MSG_ENUMS = {mt: {**ENUM_VALUES, **{t: e for (m, t), e in MSG_ENUM_VALUES.items() if m == mt}}
              for mt in {m for m, _ in MSG_ENUM_VALUES}}


# --- the fast path's tables, one per MsgType (issue 16) ----------------------------------------
# For each tag allowed in the message, what proves its value fine without a call where that is
# possible: None (free text), a frozenset (a closed enum: its values all pass the format check,
# asserted below), (lo, hi) (an unsigned int text of at most 10 digits within lo..hi), _DECIMAL
# (a plain decimal within the digit caps, by one C regex), _CHAR (one character), _UTC (a timestamp parse_utc already
# took), or the field's own check (a callable returning True when fine). A value the table
# cannot vouch for sends the message down the exact, ranked pass: the table only ever says
# "fine" where the ranked pass would too, so answers never change.

_DECIMAL = object()
_UTC = object()
_CHAR = object()
_NOT_ALLOWED = object()
_decimal_ok = re.compile(r"[0-9]{1,%d}(?:\.[0-9]{1,%d})?" % (MAX_DECIMAL_DIGITS, MAX_FRACTION_DIGITS)).fullmatch


def _fast_entry(tag: int, msg_type: str):
    typ = MSG_TAG_TYPES.get((msg_type, tag), TAG_TYPES.get(tag))
    checks = _MSG_TAG_CHECKS.get(msg_type, _TAG_CHECKS)
    enum = _MSG_ENUMS.get(msg_type, ENUM_VALUES).get(tag)
    fmt = checks.get(tag)
    if enum is not None:
        assert fmt is None or all(fmt(v) is None for v in enum), (msg_type, tag)  # enum alone suffices
        return frozenset(enum)
    if fmt is None:
        return None
    if tag in INT_RANGES or typ == "INT":
        lo, hi = INT_RANGES.get(tag, (INT32_MIN, INT32_MAX))
        return (max(lo, 0), hi)  # negative texts take the ranked pass
    if fmt is decimal_problem:
        return _DECIMAL
    if typ == "UTCTIMESTAMP":
        return _UTC
    if typ == "CHAR":
        return _CHAR
    if typ == "BOOLEAN":
        return frozenset({"Y", "N"})
    return lambda v: fmt(v) is None


_FAST = {mt: {t: _fast_entry(t, mt) for t in _ALLOWED[mt]} for mt in MESSAGES}
# Header 0, body 1, trailer 2: a message in order never goes down in this (spec 01 §1.1-§1.2).
_PART = {**{t: 0 for t in HEADER_TAGS}, **{t: 2 for t in TRAILER_TAGS}}
_REQUIRED_SET = {mt: frozenset(tags) for mt, tags in _REQUIRED.items()}
_GROUP_TAGS = {mt: frozenset(m.groups) for mt, m in MESSAGES.items()}


def _plan(msg_type: str, tags: tuple[int, ...]):
    """The checks a message of this MsgType with these tags, in this order, needs on its values
    (grouped by kind), or False when the layout itself is not certainly fine: a tag not allowed
    (c, d), header/body/trailer out of order (b2), a required tag missing (i) or a repeating
    group (j: walked by the exact pass). Repeated tags and empty values are checked by _fine."""
    fast = _FAST[msg_type]
    part = 0
    enums, ints, decimals, chars, stamps, others = [], [], [], [], [], []
    for i, tag in enumerate(tags):
        kind = fast.get(tag, _NOT_ALLOWED)
        if kind is _NOT_ALLOWED:
            return False
        p = _PART.get(tag, 1)
        if p < part:
            return False
        part = p
        if kind is None:
            continue
        if kind.__class__ is frozenset:
            enums.append((i, kind))
        elif kind.__class__ is tuple:
            ints.append((i, *kind))
        elif kind is _DECIMAL:
            decimals.append(i)
        elif kind is _CHAR:
            chars.append(i)
        elif kind is _UTC:
            stamps.append(i)
        else:
            others.append((i, kind))
    if not _REQUIRED_SET[msg_type] <= set(tags) or not _GROUP_TAGS[msg_type].isdisjoint(tags):
        return False
    return tuple(enums), tuple(ints), tuple(decimals), tuple(chars), tuple(stamps), tuple(others)


_PLANS: dict[tuple, object] = {}  # (MsgType, tags...) -> _plan(): a client sends few layouts
_TAG = itemgetter(0)
_VALUE = itemgetter(1)


def _fine(msg: FixMessage, pairs: list[tuple[int, str]], msg_type: str) -> bool:
    """True when `msg` certainly has no problem (the usual case); False sends it to the exact
    passes (they find the first problem in their order of precedence, or none). The layout's
    checks are worked out once per layout (_plan); a message then costs its value checks only."""
    if len(msg) != len(pairs) or not all(map(_VALUE, pairs)):
        return False  # a tag repeated (h, or a group) or an empty value (e)
    key = (msg_type, *map(_TAG, pairs))
    plan = _PLANS.get(key)
    if plan is None:
        if len(_PLANS) >= 1024:  # bounded: a peer may send any number of layouts
            _PLANS.clear()
        plan = _PLANS[key] = _plan(msg_type, key[1:])
    if plan is False:
        return False
    enums, ints, decimals, chars, stamps, others = plan
    for i, values in enums:
        if pairs[i][1] not in values:
            return False
    for i, lo, hi in ints:
        value = pairs[i][1]
        if not (len(value) <= 10 and value.isdigit() and value.isascii() and lo <= int(value) <= hi):
            return False
    for i in decimals:
        if _decimal_ok(pairs[i][1]) is None:
            return False
    for i in chars:
        if len(pairs[i][1]) != 1:
            return False
    for i in stamps:
        value = pairs[i][1]
        if value not in _UTC_SEEN and not _timestamp(value):
            return False
    for i, check in others:
        if not check(pairs[i][1]):
            return False
    return True


# --- validation ------------------------------------------------------------------------------

def validate(msg: FixMessage) -> Problem | None:
    """The first session-level problem of `msg` (spec 09 §1), or None if it is acceptable."""
    if 0 in msg:  # a. spec 09 §1 code 0; RefTagID is the tag as it was sent (issue 11 §1)
        return _invalid_tag(msg)
    msg_type = msg.get(35)
    if msg_type is None:
        return Problem(R.REQUIRED_TAG_MISSING, 35, "Required tag missing: MsgType(35)")
    if msg_type == "":
        return Problem(R.TAG_SPECIFIED_WITHOUT_A_VALUE, 35,
                       "Tag specified without a value: MsgType(35)")
    mdef = MESSAGES.get(msg_type)
    if mdef is None:  # b. spec 09 §1 code 11, spec 12 §2
        return Problem(R.INVALID_MSGTYPE, 35, f"Invalid MsgType: {_show(msg_type)}")
    pairs = msg.pairs
    if _fine(msg, pairs, msg_type):
        return None
    problem = _order_problem(pairs)  # b2. code 14
    if problem is not None:
        return problem
    problem = _check_fields(pairs, _ALLOWED[msg_type], msg_type)  # c-g
    if problem is not None:
        return problem
    return _check_structure(pairs, mdef)


def _invalid_tag(msg: FixMessage) -> Problem:
    text = msg.invalid_tags[0] if msg.invalid_tags else ""
    # 371 is an int field: the tag text goes there when it is written as a number ("0", "-1",
    # "035", a tag beyond 2^31), always into the Text.
    number = text[1:] if text[:1] == "-" else text
    ref = text if number.isascii() and number.isdigit() and len(text) <= 20 else None
    return Problem(R.INVALID_TAG_NUMBER, ref, f"Invalid tag number: {_show(text)}")


def _order_problem(pairs: list[tuple[int, str]]) -> Problem | None:
    """Header, then body, then trailer (spec 01 §1.1-§1.2): a header field after the first body
    field, or a body field after the trailer's first field, is code 14 naming that tag."""
    body = trailer = False
    for tag, _ in pairs:
        if tag in HEADER_TAGS:
            if body or trailer:
                return Problem(R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, tag,
                               f"Tag specified out of required order: header field {tag_label(tag)} "
                               f"after the message body")
        elif tag in TRAILER_TAGS:
            trailer = True
        elif trailer:
            return Problem(R.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER, tag,
                           f"Tag specified out of required order: body field {tag_label(tag)} "
                           f"after the trailer")
        else:
            body = True
    return None


def _check_fields(pairs: list[tuple[int, str]], allowed: frozenset[int], msg_type: str) -> Problem | None:
    """Rules c-g, field by field; c returns at once, else keeps the earliest rule (d=1 .. g=4)."""
    best: Problem | None = None
    rank = 5  # rank of `best`; 5 = none yet
    checks = _MSG_TAG_CHECKS.get(msg_type, _TAG_CHECKS)
    enums = _MSG_ENUMS.get(msg_type, ENUM_VALUES)
    for tag, value in pairs:
        if tag not in TAG_TYPES:  # c. spec 09 §1 code 3 (docs' example: unknown 6-digit tag)
            return Problem(R.UNDEFINED_TAG, tag, f"Undefined tag received: {tag}")
        if rank <= 1:
            continue
        if tag not in allowed:  # d. spec 12 §3 layouts
            best, rank = Problem(R.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE, tag,
                                 f"Tag not defined for this message type: {tag_label(tag)}"), 1
        elif rank <= 2:
            continue
        elif not value:  # e. code 4
            best, rank = Problem(R.TAG_SPECIFIED_WITHOUT_A_VALUE, tag,
                                 f"Tag specified without a value: {tag_label(tag)}"), 2
        elif rank <= 3:
            continue
        elif (code := checks[tag](value) if tag in checks else None) == FORMAT:  # f. spec 01 §1.3
            best, rank = Problem(R.INCORRECT_DATA_FORMAT, tag,
                                 f"Incorrect data format for {tag_label(tag)}: {_show(value)}"), 3
        elif rank == 5 and (code is not None or (tag in enums and value not in enums[tag])):  # g. code 5
            best, rank = Problem(R.VALUE_IS_INCORRECT, tag,
                                 f"Value is incorrect (out of range) for {tag_label(tag)}: "
                                 f"{_show(value)}"), 4
    return best


def _check_structure(pairs: list[tuple[int, str]], mdef: MessageDef) -> Problem | None:
    """Rules h (13), i (1) and j (16/15): walk the top level, descending into groups."""
    groups = mdef.groups
    seen: set[int] = set()
    group_problem: list[Problem] = []  # first group problem, reported after h and i
    i, n = 0, len(pairs)
    while i < n:
        tag, value = pairs[i]
        if tag in seen:  # h. code 13 (group members may repeat, inside their group)
            return Problem(R.TAG_APPEARS_MORE_THAN_ONCE, tag,
                           f"Tag appears more than once: {tag_label(tag)}")
        seen.add(tag)
        i += 1
        if tag in groups:
            i = _walk_group(pairs, i, groups[tag], int(value), group_problem)
    for tag in _REQUIRED[mdef.msg_type]:  # i. spec 12 §3 (Y), spec 01 §1.1 header
        if tag not in seen:
            return Problem(R.REQUIRED_TAG_MISSING, tag, f"Required tag missing: {tag_label(tag)}")
    return group_problem[0] if group_problem else None


def _walk_group(pairs: list[tuple[int, str]], i: int, g: GroupDef, count: int,
                problems: list[Problem]) -> int:
    """Consume the entries of group `g` starting at pairs[i]; return the index after them.

    spec 01 §1.3: each entry starts with the delimiter; members follow; the first tag that is
    not a member ends the group. Records the first problem found (j) in `problems`."""
    members = g.members
    subgroups = {s.count_tag: s for s in g.subgroups}
    entries = 0
    start = -1  # the tag that opens each entry (the delimiter, or an alternative for R)
    in_entry: set[int] = set()
    n = len(pairs)
    while i < n:
        tag, value = pairs[i]
        if tag not in members:
            break
        if tag == start or tag in in_entry or start == -1:  # a new entry begins
            if tag != start and not problems and (
                    start != -1 or (tag != g.delimiter and tag not in g.alt_delimiters)):
                problems.append(Problem(  # j. code 15
                    R.REPEATING_GROUP_FIELDS_OUT_OF_ORDER, tag,
                    f"Repeating group fields out of order: {tag_label(g.count_tag)} entry "
                    f"must start with {tag_label(g.delimiter)}, got {tag_label(tag)}"))
            if start == -1:
                start = tag
            else:
                _check_entry(g, in_entry, problems)
            entries += 1
            in_entry = {tag}
        else:
            in_entry.add(tag)
        i += 1
        if tag in subgroups:
            i = _walk_group(pairs, i, subgroups[tag], int(value), problems)
    if entries:
        _check_entry(g, in_entry, problems)
    if entries != count and not problems:  # j. code 16
        problems.append(Problem(
            R.INCORRECT_NUMINGROUP_COUNT, g.count_tag,
            f"Incorrect NumInGroup count for {tag_label(g.count_tag)}: {count}, "
            f"found {entries} entries"))
    return i


def _check_entry(g: GroupDef, in_entry: set[int], problems: list[Problem]) -> None:
    """A member marked Y in spec 12 §3 missing from a group entry -> code 1."""
    if problems or g.required_members <= in_entry:
        return
    tag = min(t for t in g.members if t in g.required_members and t not in in_entry)
    problems.append(Problem(R.REQUIRED_TAG_MISSING, tag,
                            f"Required tag missing: {tag_label(tag)} in {tag_label(g.count_tag)}"))
