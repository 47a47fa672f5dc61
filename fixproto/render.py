"""FIX messages readable by people: tag names, enum names and groups (issue 10 §7).

    >>> render_line(frame)
    '35=D(NewOrderSingle) 49(SenderCompID)=key ... 11(ClOrdID)=x1 54(Side)=1(BuyYes) ...'
    >>> print(render_block(frame))
    8    BeginString      FIXT.1.1
    35   MsgType          D (NewOrderSingle)
    ...
    453  NoPartyIDs       1
      - 448  PartyID      acct-1
        452  PartyRole    24 (CustomerAccount)

Everything comes from the dictionary in `fields.py` (spec 12, Kalshi's custom tags included):
tag names from `TAG_NAMES`, MsgType names from `MSG_TYPE_NAMES`, enum names from the
enumeration class named like the tag (`Side`, `OrdStatus`, ...), repeating groups from the
message layouts in `MESSAGES` (each entry of a group is one bracketed item on a line, one
"- " item in the block). A tag the dictionary does not know is shown as its number only; a
field whose tag is not a number (lenient parse, tag 0) is shown as `?=<text>`.
The one-line form leaves out BeginString, BodyLength and CheckSum (framing, not content) and
puts MsgType first; the block shows every field in wire order. Never raises on bad input.
"""
from __future__ import annotations

from . import fields as _fields
from .codec import FixMessage, parse
from .fields import MESSAGES, MSG_TYPE_NAMES, TAG_NAMES, TAG_TYPES, GroupDef

__all__ = ["render", "render_line", "render_block", "enum_name", "as_message", "items"]

_FRAMING = frozenset({8, 9, 10})
_MSG_TYPE_TAGS = frozenset({35, 372})  # MsgType, RefMsgType


def _camel(name: str) -> str:
    """BUY_YES -> BuyYes, PARTIALLY_FILLED -> PartiallyFilled."""
    return "".join(part[:1] + part[1:].lower() for part in name.split("_") if part)


def _enum_tables() -> dict[int, dict[str, str]]:
    """tag -> {wire value: name}, from the enumeration classes named like their tag."""
    by_name = {name: tag for tag, name in TAG_NAMES.items()}
    by_name["ApplVerID"] = 1128
    tables: dict[int, dict[str, str]] = {}
    for class_name in _fields.__all__:
        cls = getattr(_fields, class_name)
        tag = by_name.get(class_name)
        if not isinstance(cls, type) or tag is None or class_name in ("Tag", "MsgType"):
            continue
        table: dict[str, str] = {}
        for attr, value in vars(cls).items():
            if not attr.startswith("_") and isinstance(value, (int, str)):
                table.setdefault(str(value), _camel(attr))
        tables[tag] = table
    tables[1137] = tables.get(1128, {})  # DefaultApplVerID: same values as ApplVerID
    return tables


_ENUMS = _enum_tables()


def enum_name(tag: int, value: str) -> str | None:
    """The name of a coded value ("BuyYes" for 54=1, "NewOrderSingle" for 35=D), or None."""
    if tag in _MSG_TYPE_TAGS:
        return MSG_TYPE_NAMES.get(value)
    table = _ENUMS.get(tag)
    if table is None:
        return None
    if TAG_TYPES.get(tag) == "MULTIPLEVALUESTRING":
        names = [table.get(v) for v in value.split()]
        return " ".join(n or "?" for n in names) if any(names) else None
    return table.get(value)


def as_message(frame: bytes | str | FixMessage) -> FixMessage:
    """A FixMessage from a frame (bytes), a FixMessage, or text with "|" as the separator."""
    if isinstance(frame, FixMessage):
        return frame
    if isinstance(frame, str):
        frame = frame.encode("latin-1", "replace")
        if b"\x01" not in frame:
            frame = frame.replace(b"|", b"\x01")
    if frame and not frame.endswith(b"\x01"):
        frame += b"\x01"  # a truncated journal copy: keep its last (partial) field
    return parse(bytes(frame))


def items(msg: FixMessage) -> list[tuple[int, int, int, str]]:
    """The fields as (depth, entry start, tag, value): depth 0 for the message's own fields,
    1 for members of a group, 2 for a group inside a group; `entry start` is 1 on the first
    field of each group entry, else 0."""
    pairs = msg.pairs
    mdef = MESSAGES.get(msg.get(35) or "")
    groups = mdef.groups if mdef is not None else {}
    out: list[tuple[int, int, int, str]] = []
    i, n = 0, len(pairs)
    while i < n:
        tag, value = pairs[i]
        out.append((0, 0, tag, value))
        i += 1
        if tag in groups:
            i = _group(pairs, i, groups[tag], 1, out)
    return out


def _group(pairs: list[tuple[int, str]], i: int, g: GroupDef, depth: int,
           out: list[tuple[int, int, int, str]]) -> int:
    """Walk the entries of `g` from pairs[i] (as validate.py does: an entry starts again at its
    first tag or at a repeated tag; the first non-member ends the group)."""
    subgroups = {s.count_tag: s for s in g.subgroups}
    seen: set[int] = set()
    first = -1
    n = len(pairs)
    while i < n:
        tag, value = pairs[i]
        if tag not in g.members:
            break
        start = first == -1 or tag == first or tag in seen
        if start:
            if first == -1:
                first = tag
            seen = set()
        seen.add(tag)
        out.append((depth, 1 if start else 0, tag, value))
        i += 1
        if tag in subgroups:
            i = _group(pairs, i, subgroups[tag], depth + 1, out)
    return i


def _label(tag: int) -> str:
    if tag == 0:
        return "?"
    return str(tag)


def _value(tag: int, value: str, sep: str) -> str:
    if tag == 0:
        return value
    name = enum_name(tag, value)
    return f"{value}{sep}({name})" if name and name.lower() != value.lower() else value


def render_line(frame: bytes | str | FixMessage) -> str:
    """One line: `35=D(NewOrderSingle) 34(MsgSeqNum)=2 ... 453(NoPartyIDs)=1 [448(PartyID)=a 452(PartyRole)=24(CustomerAccount)]`."""
    msg = as_message(frame)
    parts: list[str] = []
    msg_type = msg.get(35)
    if msg_type is not None:
        parts.append(f"35={_value(35, msg_type, '')}")
    depth = 0  # group entries open (brackets to close)
    skip_type = msg_type is not None
    for d, start, tag, value in items(msg):
        if tag in _FRAMING and d == 0:
            continue
        if tag == 35 and d == 0 and skip_type:
            skip_type = False  # the first 35 went to the front
            continue
        while depth > d or (start and d > 0 and depth == d):
            parts[-1] += "]"
            depth -= 1
        opening = "[" if start and d > 0 else ""
        if opening:
            depth = d
        name = TAG_NAMES.get(tag)
        shown = _value(tag, value, "")
        parts.append(f"{opening}{_label(tag)}({name})={shown}" if name else f"{opening}{_label(tag)}={shown}")
    if parts:
        parts[-1] += "]" * depth
    return " ".join(parts)


def render_block(frame: bytes | str | FixMessage) -> str:
    """Several lines, one field each, names and values in aligned columns, group entries
    indented and opened by "- "."""
    msg = as_message(frame)
    rows: list[tuple[str, str]] = []
    for depth, start, tag, value in items(msg):
        indent = "  " * max(0, depth - 1) + ("- " if start else "  ") if depth else ""
        key = f"{indent}{_label(tag):<5} {TAG_NAMES.get(tag, '')}"
        rows.append((key, _value(tag, value, " ")))
    width = max((len(k) for k, _ in rows), default=0) + 2
    return "\n".join(f"{k:<{width}}{v}".rstrip() for k, v in rows)


def render(frame: bytes | str | FixMessage, *, multiline: bool = False) -> str:
    return render_block(frame) if multiline else render_line(frame)
