"""The Kalshi dialect as QuickFIX data dictionaries (QuickFIX C++, QuickFIX/J, QuickFIX/n, quickfixgo).

Generated from `fields.py`, the tables the simulator validates with, so a client that turns
validation on (`UseDataDictionary=Y`) accepts exactly what the venue speaks:

* `FIXT11-Kalshi.xml`, the transport dictionary: header, trailer, the seven admin messages
  (spec 12 §3; Logon with every Kalshi flag of spec 01 §2.2) and the fields they use.
* `FIX50SP2-Kalshi.xml`, the application dictionary: every application message of spec 12 §2
  with its repeating groups, and every field of spec 12 §1 (standard and Kalshi custom tags).

Layout of both files is QuickFIX's (`<fix type major minor servicepack>` with `header`,
`messages`, `trailer`, `components`, `fields`). Choices a QuickFIX dictionary forces
(docs/behaviour.md):

* Type DECIMAL (21009, 21030, 21031) is written FLOAT: QuickFIX's name for a plain decimal
  (quickfixgo has no DECIMAL type and fails on unknown types).
* Spec 12's "C" (conditionally required) is written required='N'; "Y" is required='Y', except
  RawData(96) on Logon: the venue's Logon reply carries none (spec 01 §2.4).
* A message's top-level field that is also a member of one of its groups (QuoteRequest's
  55/38/152/21015/21016/453 next to the 146 entry) is listed only in the group: QuickFIX
  reads those tags into the group entry anyway.
* A group shared by several messages (Parties, MiscFeesGrp, ...) is a component.

Pure data transformation: stdlib `xml.etree` only, no I/O but `write_dictionaries`.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from . import fields as F

__all__ = [
    "TRANSPORT_FILE", "APPLICATION_FILE", "QF_TYPES", "field_enums", "qf_type",
    "transport_dictionary", "application_dictionary", "write_dictionaries",
]

TRANSPORT_FILE = "FIXT11-Kalshi.xml"
APPLICATION_FILE = "FIX50SP2-Kalshi.xml"

# spec 12 type -> QuickFIX type name (identity except DECIMAL, see the module doc).
QF_TYPES: dict[str, str] = {t: t for t in sorted(set(F.TAG_TYPES.values()))} | {"DECIMAL": "FLOAT"}

# Standard FIX 5.0 SP2 component names of the groups Kalshi uses; others get "<Name>Grp".
_COMPONENT_NAMES = {453: "Parties", 136: "MiscFeesGrp", 1703: "CollateralAmountChangeGrp",
                    20181: "MultivariateSelectedLegsGrp"}
# Header field order: QuickFIX writes 8, 9, 35 first; the rest as the FIXT11 dictionary lists them.
_HEADER_ORDER = (8, 9, 35, 1128, 1129, 49, 56, 115, 128, 34, 50, 142, 57, 143, 43, 97, 52, 122)
_HEADER_REQUIRED = frozenset({8, 9, 35, 49, 56, 34, 52})  # spec 01 §1.1
_TRAILER_ORDER = (93, 89, 10)  # spec 01 §1.2
_BOOLEAN_NAMES = {"N": "NO", "Y": "YES"}
_CLOSED_NAMES = {8: {"FIXT.1.1": "FIXT11"}, 1137: {"9": "FIX50SP2"}}
# A client validates what it receives: the venue's Logon reply has no RawData (spec 01 §2.4),
# so 96, required on the Logon the venue receives, is optional in the client's dictionary.
_NOT_REQUIRED_INBOUND = {"A": frozenset({96})}


def qf_type(tag: int) -> str:
    return QF_TYPES[F.TAG_TYPES[tag]]


def field_enums(tag: int) -> dict[str, str]:
    """value -> description of a coded field: its enumeration class in fields.py (named after
    the tag), else its closed set of ENUM_VALUES, else {} (free value)."""
    name = F.TAG_NAMES[tag]
    cls = getattr(F, name, None) if name in F.__all__ and name != "Tag" else None
    out: dict[str, str] = {}
    if isinstance(cls, type):
        for attr, value in vars(cls).items():
            if not attr.startswith("_"):
                out.setdefault(str(value), attr)
    for value in sorted(F.ENUM_VALUES.get(tag, ())):
        out.setdefault(value, _BOOLEAN_NAMES.get(value) or _CLOSED_NAMES.get(tag, {}).get(value, value))
    return out


def _sorted_enums(tag: int) -> list[tuple[str, str]]:
    def key(item: tuple[str, str]):
        value = item[0]
        return (0, int(value), "") if value.isdigit() else (1, 0, value)
    return sorted(field_enums(tag).items(), key=key)


# --- building blocks ----------------------------------------------------------------------------

def _yn(required: bool) -> str:
    return "Y" if required else "N"


def _group_key(g: F.GroupDef) -> tuple:
    return (g.count_tag, g.members, tuple(sorted(g.required_members)),
            tuple(_group_key(s) for s in g.subgroups))


def _iter_groups(groups):
    for g in groups:
        yield g
        yield from _iter_groups(g.subgroups)


class _Builder:
    """Messages -> XML, with groups used in more than one place turned into components."""

    def __init__(self) -> None:
        uses = Counter(_group_key(g) for m in F.MESSAGES.values() for g in _iter_groups(m.groups.values()))
        self.shared = {k for k, n in uses.items() if n > 1}
        self.components: dict[str, F.GroupDef] = {}
        self.tags: set[int] = set()

    def add_field(self, parent: ET.Element, tag: int, required: bool) -> None:
        self.tags.add(tag)
        ET.SubElement(parent, "field", name=F.TAG_NAMES[tag], required=_yn(required))

    def add_group(self, parent: ET.Element, g: F.GroupDef, required: bool, *, inline: bool = False) -> None:
        self.tags.add(g.count_tag)
        name = _COMPONENT_NAMES.get(g.count_tag) or F.TAG_NAMES[g.count_tag].removeprefix("No") + "Grp"
        taken = self.components.get(name)
        if not inline and _group_key(g) in self.shared and (taken is None or _group_key(taken) == _group_key(g)):
            self.components[name] = g
            ET.SubElement(parent, "component", name=name, required=_yn(required))
            return
        el = ET.SubElement(parent, "group", name=F.TAG_NAMES[g.count_tag], required=_yn(required))
        subgroups = {s.count_tag: s for s in g.subgroups}
        for tag in g.members:  # the delimiter first: QuickFIX starts an entry on it
            if tag in subgroups:
                self.add_group(el, subgroups[tag], tag in g.required_members)
            else:
                self.add_field(el, tag, tag in g.required_members)

    def message(self, parent: ET.Element, m: F.MessageDef, category: str) -> None:
        el = ET.SubElement(parent, "message", name=m.name, msgtype=m.msg_type, msgcat=category)
        required = m.required - _NOT_REQUIRED_INBOUND.get(m.msg_type, frozenset())
        in_groups = set().union(*(g.all_tags for g in m.groups.values())) if m.groups else set()
        for tag in m.fields:
            if tag in in_groups:
                continue  # QuickFIX reads it into the group entry (module doc)
            if tag in m.groups:
                self.add_group(el, m.groups[tag], tag in required)
            else:
                self.add_field(el, tag, tag in required)

    def write_components(self, root: ET.Element) -> None:
        comps = ET.SubElement(root, "components")
        done: set[str] = set()
        while len(done) < len(self.components):  # a component may reference another
            for name, g in sorted(self.components.items()):
                if name not in done:
                    done.add(name)
                    self.add_group(ET.SubElement(comps, "component", name=name), g, False, inline=True)


def _fields_section(root: ET.Element, tags) -> None:
    el = ET.SubElement(root, "fields")
    for tag in sorted(tags):
        f = ET.SubElement(el, "field", number=str(tag), name=F.TAG_NAMES[tag], type=qf_type(tag))
        for value, description in _sorted_enums(tag):
            ET.SubElement(f, "value", enum=value, description=description)


def _finish(root: ET.Element) -> ET.ElementTree:
    ET.indent(root, space=" ")
    return ET.ElementTree(root)


def transport_dictionary() -> ET.ElementTree:
    """FIXT11-Kalshi.xml: header, admin messages (spec 12 §3), trailer, their fields."""
    root = ET.Element("fix", type="FIXT", major="1", minor="1", servicepack="0")
    header = ET.SubElement(root, "header")
    builder = _Builder()
    for tag in _HEADER_ORDER:
        builder.add_field(header, tag, tag in _HEADER_REQUIRED)
    messages = ET.SubElement(root, "messages")
    for m in F.MESSAGES.values():
        if m.msg_type in F.ADMIN_MSG_TYPES:
            builder.message(messages, m, "admin")
    trailer = ET.SubElement(root, "trailer")
    for tag in _TRAILER_ORDER:
        builder.add_field(trailer, tag, tag == 10)
    builder.write_components(root)
    _fields_section(root, builder.tags)
    return _finish(root)


def application_dictionary() -> ET.ElementTree:
    """FIX50SP2-Kalshi.xml: every application message, and every field of spec 12 §1."""
    root = ET.Element("fix", type="FIX", major="5", minor="0", servicepack="2")
    ET.SubElement(root, "header")  # FIXT: the header lives in the transport dictionary
    messages = ET.SubElement(root, "messages")
    builder = _Builder()
    for m in F.MESSAGES.values():
        if m.msg_type not in F.ADMIN_MSG_TYPES:
            builder.message(messages, m, "app")
    ET.SubElement(root, "trailer")
    builder.write_components(root)
    _fields_section(root, F.TAG_TYPES)  # all of them, as QuickFIX's own FIX50SP2.xml does
    return _finish(root)


def write_dictionaries(out_dir: Path | str) -> list[Path]:
    """Write both files into `out_dir` (created if missing); returns their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, tree in ((TRANSPORT_FILE, transport_dictionary()), (APPLICATION_FILE, application_dictionary())):
        path = out / name
        tree.write(path, encoding="UTF-8", xml_declaration=True)
        paths.append(path)
    return paths
