"""Read QuickFIX data dictionaries back with the stdlib XML parser and validate messages the way
a QuickFIX engine with UseDataDictionary=Y does (QuickFIX C++/J DataDictionary::validate,
quickfixgo validation.go): header/body/trailer order, MsgType defined, each field defined for its
message (or group), no repeats, required fields present, group entries starting with their
delimiter, members in dictionary order, NumInGroup counts, enum values, value formats.

Independent of fixproto.validate on purpose: this checks the XML, not the simulator's tables.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Group:
    count_tag: int
    items: list[tuple[int, bool, "Group | None"]]  # (tag, required, subgroup) in order

    @property
    def delimiter(self) -> int:
        return self.items[0][0]

    @property
    def member_tags(self) -> dict[int, "Group | None"]:
        return {t: g for t, _, g in self.items}


@dataclass
class Layout:
    """A message (or header/trailer): its fields in order, as (tag, required, group)."""
    items: list[tuple[int, bool, Group | None]] = field(default_factory=list)

    def tags(self) -> dict[int, Group | None]:
        return {t: g for t, _, g in self.items}

    def required(self) -> set[int]:
        return {t for t, r, _ in self.items if r}


@dataclass
class Dictionary:
    root: ET.Element
    fields: dict[int, tuple[str, str, dict[str, str]]]  # tag -> (name, type, enums)
    header: Layout
    trailer: Layout
    messages: dict[str, tuple[str, str, Layout]]  # msgtype -> (name, msgcat, layout)


def load(path: Path) -> Dictionary:
    root = ET.parse(path).getroot()
    fields: dict[int, tuple[str, str, dict[str, str]]] = {}
    for f in root.find("fields"):
        enums = {v.get("enum"): v.get("description") for v in f.findall("value")}
        fields[int(f.get("number"))] = (f.get("name"), f.get("type"), enums)
    by_name = {name: tag for tag, (name, _, _) in fields.items()}
    components = {c.get("name"): c for c in root.find("components") or ()}

    def items(el: ET.Element) -> list[tuple[int, bool, Group | None]]:
        out: list[tuple[int, bool, Group | None]] = []
        for child in el:
            required = child.get("required") == "Y"
            if child.tag == "field":
                out.append((by_name[child.get("name")], required, None))
            elif child.tag == "group":
                tag = by_name[child.get("name")]
                out.append((tag, required, Group(tag, items(child))))
            elif child.tag == "component":
                inner = items(components[child.get("name")])
                if required:  # a required component makes its first item required (QuickFIX)
                    inner = [(t, True, g) if i == 0 else (t, r, g) for i, (t, r, g) in enumerate(inner)]
                out += inner
        return out

    messages = {m.get("msgtype"): (m.get("name"), m.get("msgcat"), Layout(items(m)))
                for m in root.find("messages")}
    return Dictionary(root, fields, Layout(items(root.find("header"))), Layout(items(root.find("trailer"))),
                      messages)


# --- value formats (the types QuickFIX parses) ---------------------------------------------------

_DEC = re.compile(r"^-?(\d+\.?\d*|\.\d+)$")
_INT = re.compile(r"^-?\d+$")
_TS = re.compile(r"^\d{8}-\d{2}:\d{2}:\d{2}(\.\d{1,9})?$")
_FORMATS = {
    "INT": _INT.match, "SEQNUM": _INT.match, "LENGTH": _INT.match, "NUMINGROUP": _INT.match,
    "FLOAT": _DEC.match, "PRICE": _DEC.match, "QTY": _DEC.match, "AMT": _DEC.match,
    "BOOLEAN": lambda v: v in ("Y", "N"), "CHAR": lambda v: len(v) == 1,
    "UTCTIMESTAMP": _TS.match, "LOCALMKTDATE": re.compile(r"^\d{8}$").match,
    "UTCDATEONLY": re.compile(r"^\d{8}$").match,
    "UTCTIMEONLY": re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d{1,9})?$").match,
}


class Validator:
    """validate(pairs) -> list of problems (empty = a QuickFIX engine accepts the message)."""

    def __init__(self, transport: Dictionary, application: Dictionary) -> None:
        self.t, self.a = transport, application
        self.engine: QuickFixEngine | None = None  # the real QuickFIX (Python bindings), where installed
        self.cpp: QuickFixCpp | None = None  # the real QuickFIX C++ library, where installed

    def _field_problem(self, d: Dictionary, tag: int, value: str) -> str | None:
        if tag not in d.fields:
            return f"{tag}: not in the dictionary's fields"
        name, typ, enums = d.fields[tag]
        if value == "":
            return f"{name}({tag}): empty value"
        if enums and value not in enums:
            return f"{name}({tag}): value {value!r} not among {sorted(enums)}"
        check = _FORMATS.get(typ)
        if check is not None and not check(value):
            return f"{name}({tag}): {value!r} is not a {typ}"
        return None

    def validate(self, pairs: list[tuple[int, str]]) -> list[str]:
        problems: list[str] = []
        header_tags, trailer_tags = self.t.header.tags(), self.t.trailer.tags()
        msg_type = dict(pairs).get(35)
        if msg_type in self.t.messages:
            d = self.t
        elif msg_type in self.a.messages:
            d = self.a
        else:
            return [f"MsgType {msg_type!r} not defined"]
        layout = d.messages[msg_type][2]
        i, n = 0, len(pairs)
        seen: set[int] = set()
        while i < n and pairs[i][0] in header_tags:  # header first
            tag, value = pairs[i]
            problems += [p for p in [self._field_problem(self.t, tag, value)] if p]
            if tag in seen:
                problems.append(f"header {tag} repeated")
            seen.add(tag)
            i += 1
        problems += [f"header: required {t} missing" for t in self.t.header.required() if t not in seen]
        body_tags = layout.tags()
        body_seen: set[int] = set()
        while i < n and pairs[i][0] not in trailer_tags:
            tag, value = pairs[i]
            if tag in header_tags:
                problems.append(f"{tag}: header field out of order")
                i += 1
                continue
            if tag not in body_tags:
                problems.append(f"{tag}: not defined for {d.messages[msg_type][0]}")
                i += 1
                continue
            if tag in body_seen:
                problems.append(f"{tag}: appears more than once")
            body_seen.add(tag)
            problems += [p for p in [self._field_problem(d, tag, value)] if p]
            i += 1
            group = body_tags[tag]
            if group is not None:
                i = self._walk(d, group, pairs, i, int(value) if value.isdigit() else -1, problems)
        problems += [f"{d.messages[msg_type][0]}: required {t} missing" for t in layout.required()
                     if t not in body_seen]
        trailer_seen = set()
        while i < n:
            tag, value = pairs[i]
            if tag not in trailer_tags:
                problems.append(f"{tag}: after the trailer")
            else:
                trailer_seen.add(tag)
                problems += [p for p in [self._field_problem(self.t, tag, value)] if p]
            i += 1
        problems += [f"trailer: required {t} missing" for t in self.t.trailer.required() if t not in trailer_seen]
        return problems

    def _walk(self, d: Dictionary, g: Group, pairs, i: int, count: int, problems: list[str]) -> int:
        members = g.member_tags
        order = [t for t, _, _ in g.items]
        entries = 0
        entry: list[int] = []

        def close() -> None:
            missing = [t for t, r, _ in g.items if r and t not in entry]
            problems.extend(f"group {g.count_tag}: required {t} missing in an entry" for t in missing)
            positions = [order.index(t) for t in entry]
            if positions != sorted(positions):
                problems.append(f"group {g.count_tag}: members out of dictionary order {entry}")

        while i < len(pairs) and pairs[i][0] in members:
            tag, value = pairs[i]
            if tag == g.delimiter:
                if entries:
                    close()
                entries += 1
                entry = []
            elif entries == 0:
                problems.append(f"group {g.count_tag}: entry starts with {tag}, not the delimiter {g.delimiter}")
                entries = 1
            if tag in entry:
                problems.append(f"group {g.count_tag}: {tag} twice in one entry")
            entry.append(tag)
            problems += [p for p in [self._field_problem(d, tag, value)] if p]
            i += 1
            sub = members[tag]
            if sub is not None:
                i = self._walk(d, sub, pairs, i, int(value) if value.isdigit() else -1, problems)
        if entries:
            close()
        if entries != count:
            problems.append(f"group {g.count_tag}: NumInGroup {count} but {entries} entries")
        return i


class QuickFixEngine:
    """The real QuickFIX C++ DataDictionary (Python bindings `quickfix`, e.g. the quickfix-tls
    wheel), used the way its Session validates inbound messages: admin messages against the
    transport dictionary, application messages against both. `load()` is None without it."""

    ADMIN = frozenset({"0", "1", "2", "3", "4", "5", "A"})

    def __init__(self, fix, transport: Path, application: Path) -> None:
        self.fix = fix
        self.t = fix.DataDictionary(str(transport))
        self.a = fix.DataDictionary(str(application))

    @classmethod
    def load(cls, transport: Path, application: Path) -> "QuickFixEngine | None":
        try:
            import quickfix  # noqa: PLC0415 - optional: only where the bindings are installed
        except ImportError:
            return None
        return cls(quickfix, transport, application)

    def problem(self, frame: bytes) -> str | None:
        """None if QuickFIX parses and validates the frame, else its error."""
        text = frame.decode("latin-1")
        msg_type = dict(parse_pairs(text)).get(35)
        try:
            if msg_type in self.ADMIN:
                msg = self.fix.Message(text, self.t, self.t, True)
                self.t.validate(msg)
            else:
                msg = self.fix.Message(text, self.t, self.a, True)
                self.fix.DataDictionary.validate(msg, self.t, self.a)
        except Exception as exc:  # QuickFIX's FieldNotFound, IncorrectTagValue, ... (SWIG classes)
            return f"{type(exc).__name__}: {exc}"
        return None


def parse_pairs(text: str) -> list[tuple[int, str]]:
    out = []
    for item in text.split("\x01"):
        if item:
            tag, _, value = item.partition("=")
            out.append((int(tag), value))
    return out


class QuickFixCpp:
    """QuickFIX C++ itself (Debian's libquickfix-dev), through tests/conformance/quickfix_validate.cpp
    compiled once: validates frames as its Session does. `build()` is None where it is missing."""

    SOURCE = Path(__file__).resolve().parent / "conformance" / "quickfix_validate.cpp"

    def __init__(self, binary: Path, transport: Path, application: Path) -> None:
        self.binary, self.transport, self.application = binary, transport, application

    @classmethod
    def build(cls, out: Path, transport: Path, application: Path) -> "QuickFixCpp | None":
        if not shutil.which("g++") or not Path("/usr/include/quickfix/DataDictionary.h").exists():
            return None
        binary = out / "quickfix_validate"
        # QuickFIX 1.15 headers use dynamic exception specifications: C++14 at most
        done = subprocess.run(["g++", "-std=c++14", "-Wno-deprecated", str(cls.SOURCE), "-o", str(binary),
                               "-lquickfix"], capture_output=True, text=True, timeout=300)
        if done.returncode != 0 and "cannot find -lquickfix" in done.stderr:
            return None
        assert done.returncode == 0, done.stderr[-3000:]
        return cls(binary, transport, application)

    def problems(self, frames: list[bytes]) -> list[str | None]:
        """One answer per frame: None if QuickFIX accepts it, else its reason."""
        done = subprocess.run([str(self.binary), str(self.transport), str(self.application)],
                              input="".join(f.hex() + "\n" for f in frames), capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) == len(frames), done.stdout[-2000:]
        return [None if line == "OK" else line.removeprefix("ERR ") for line in lines]
