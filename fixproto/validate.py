"""Session-level validation of an inbound, already framed message (spec 09 §1, spec 12).

`validate(msg)` returns the first `Problem` found, or None. Rules are checked in a fixed
order of precedence (a problem of an earlier rule wins wherever it stands in the message):

  a. non-numeric tag -> 0        f. wrong data format -> 6
  b. unknown MsgType -> 11       g. value outside a closed enum -> 5
  c. undefined tag -> 3          h. tag repeated outside groups -> 13
  d. tag not in message -> 2     i. required tag missing -> 1
  e. empty value -> 4            j. group count -> 16, entry order -> 15 (or a required
                                    group member missing -> 1)

A message that passes costs two linear passes with dict/set lookups only.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .codec import FixMessage, parse_utc
from .fields import (ENUM_VALUES, HEADER_TAGS, MESSAGES, TAG_TYPES, TRAILER_TAGS, GroupDef, MessageDef,
                     SessionRejectReason as R, tag_label)

__all__ = ["Problem", "validate"]


@dataclass(frozen=True)
class Problem:
    reason: int  # SessionRejectReason (373)
    ref_tag: int | None  # RefTagID (371)
    text: str  # Text (58)


# Header and trailer fields are allowed in every message (spec 01 §1.1-§1.2).
_ALLOWED = {mt: m.allowed | HEADER_TAGS | TRAILER_TAGS for mt, m in MESSAGES.items()}
# Always required: standard header and CheckSum (spec 01 §1.1-§1.2).
_STD_REQUIRED = (8, 9, 35, 49, 56, 34, 52, 10)
_REQUIRED = {mt: _STD_REQUIRED + tuple(t for t in m.fields if t in m.required)
             for mt, m in MESSAGES.items()}


def _show(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "...")


# --- data formats (spec 01 §1.3) -------------------------------------------------------------

def _digits(v: str) -> bool:
    return v.isascii() and v.isdigit()  # isdigit alone accepts "²" (latin-1 superscripts)


def _int(v: str) -> bool:
    return _digits(v[1:] if v[0] == "-" else v)


def _decimal(v: str) -> bool:  # plain decimal: optional '-', digits, at most one '.', no exponent
    whole, _, frac = (v[1:] if v[0] == "-" else v).partition(".")
    return bool(whole or frac) and (not whole or _digits(whole)) and (not frac or _digits(frac))


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
    "INT": _int, "SEQNUM": _digits, "LENGTH": _digits, "NUMINGROUP": _digits,
    "BOOLEAN": lambda v: v == "Y" or v == "N", "CHAR": lambda v: len(v) == 1,
    "PRICE": _decimal, "QTY": _decimal, "AMT": _decimal, "DECIMAL": _decimal,
    "UTCTIMESTAMP": _timestamp, "LOCALMKTDATE": _date, "UTCDATEONLY": _date,
    "UTCTIMEONLY": _time,
}
_TAG_CHECKS = {t: _FORMAT_CHECKS[typ] for t, typ in TAG_TYPES.items() if typ in _FORMAT_CHECKS}


def _fast_check(tag: int):
    """Format and closed-enum check of one tag in a single predicate (fast path only)."""
    fmt, enum = _TAG_CHECKS.get(tag), ENUM_VALUES.get(tag)
    if enum is not None:
        return enum.__contains__ if fmt is None else (lambda v: fmt(v) and v in enum)
    return fmt or (lambda v: True)


_FAST_CHECKS = {t: _fast_check(t) for t in TAG_TYPES}


# --- validation ------------------------------------------------------------------------------

def validate(msg: FixMessage) -> Problem | None:
    """The first session-level problem of `msg` (spec 09 §1), or None if it is acceptable."""
    if 0 in msg:  # a. spec 09 §1 code 0
        return Problem(R.INVALID_TAG_NUMBER, None, "Invalid tag number")
    msg_type = msg.msg_type
    if msg_type is None:
        return Problem(R.REQUIRED_TAG_MISSING, 35, "Required tag missing: MsgType(35)")
    if msg_type == "":
        return Problem(R.TAG_SPECIFIED_WITHOUT_A_VALUE, 35,
                       "Tag specified without a value: MsgType(35)")
    mdef = MESSAGES.get(msg_type)
    if mdef is None:  # b. spec 09 §1 code 11, spec 12 §2
        return Problem(R.INVALID_MSGTYPE, 35, f"Invalid MsgType: {_show(msg_type)}")
    pairs = msg.pairs
    allowed = _ALLOWED[msg_type]
    checks = _FAST_CHECKS
    for tag, value in pairs:  # fast path: every field fine -> skip the ranked pass
        if tag not in allowed or not value or not checks[tag](value):
            problem = _check_fields(pairs, allowed)
            if problem is not None:
                return problem
            break
    return _check_structure(pairs, mdef)


def _check_fields(pairs: list[tuple[int, str]], allowed: frozenset[int]) -> Problem | None:
    """Rules c-g, field by field; c returns at once, else keeps the earliest rule (d=1 .. g=4)."""
    best: Problem | None = None
    rank = 5  # rank of `best`; 5 = none yet
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
        elif tag in _TAG_CHECKS and not _TAG_CHECKS[tag](value):  # f. spec 01 §1.3, code 6
            best, rank = Problem(R.INCORRECT_DATA_FORMAT, tag,
                                 f"Incorrect data format for {tag_label(tag)}: {_show(value)}"), 3
        elif rank == 5 and tag in ENUM_VALUES and value not in ENUM_VALUES[tag]:  # g. code 5
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
