"""The QuickFIX data dictionaries (fixproto.qfdict), parsed back with the stdlib XML parser and
compared with the simulator's own tables (fixproto.fields, fixproto.kalshi)."""
from __future__ import annotations

import pytest

from kalshi_fixsim.fixproto import fields as F
from kalshi_fixsim.fixproto.codec import encode, parse
from kalshi_fixsim.fixproto.kalshi import LOGON_FLAG_TAGS
from kalshi_fixsim.fixproto.qfdict import APPLICATION_FILE, TRANSPORT_FILE, write_dictionaries
from tests.qfdict_check import Validator, load

ENUM_CLASSES = {name: getattr(F, name) for name in F.__all__[F.__all__.index("ExecInst"):]}


@pytest.fixture(scope="module")
def dicts(tmp_path_factory):
    out = tmp_path_factory.mktemp("dict")
    paths = write_dictionaries(out)
    assert [p.name for p in paths] == [TRANSPORT_FILE, APPLICATION_FILE]
    return load(paths[0]), load(paths[1]), paths


def _flat(items) -> set[int]:
    tags = set()
    for tag, _, group in items:
        tags.add(tag)
        if group is not None:
            tags |= _flat(group.items)
    return tags


def test_files_have_the_sections_quickfix_requires(dicts):
    transport, app, _ = dicts
    assert transport.root.attrib == {"type": "FIXT", "major": "1", "minor": "1", "servicepack": "0"}
    assert app.root.attrib == {"type": "FIX", "major": "5", "minor": "0", "servicepack": "2"}
    for d in (transport, app):  # QuickFIX C++ throws ConfigError without header/messages/trailer/fields
        assert [c.tag for c in d.root] == ["header", "messages", "trailer", "components", "fields"]


def test_every_tag_of_the_field_table_is_in_the_application_dictionary_with_its_name_and_type(dicts):
    _, app, _ = dicts
    assert sorted(app.fields) == sorted(F.TAG_TYPES)
    for tag, (name, typ, _) in app.fields.items():
        assert name == F.TAG_NAMES[tag]
        # DECIMAL is QuickFIX's FLOAT (quickfixgo has no DECIMAL); every other type is spec 12's own
        assert typ == ("FLOAT" if F.TAG_TYPES[tag] == "DECIMAL" else F.TAG_TYPES[tag]), tag


# The types quickfixgo's validateField knows (validation.go); an unknown one leaves it without a
# value parser, so every type we write must be among them (QuickFIX C++ and /J know them all too).
QUICKFIXGO_TYPES = {"MULTIPLESTRINGVALUE", "MULTIPLEVALUESTRING", "MULTIPLECHARVALUE", "CHAR", "CURRENCY", "DATA",
                    "MONTHYEAR", "LOCALMKTDATE", "DATE", "EXCHANGE", "LANGUAGE", "XMLDATA", "COUNTRY", "UTCTIMEONLY",
                    "UTCDATEONLY", "UTCDATE", "TZTIMEONLY", "TZTIMESTAMP", "STRING", "BOOLEAN", "LENGTH",
                    "DAYOFMONTH", "NUMINGROUP", "SEQNUM", "INT", "UTCTIMESTAMP", "TIME", "QTY", "QUANTITY", "AMT",
                    "PRICE", "PRICEOFFSET", "PERCENTAGE", "FLOAT"}


def test_every_type_written_is_one_quickfixgo_can_parse(dicts):
    transport, app, _ = dicts
    assert {typ for d in (transport, app) for _, typ, _ in d.fields.values()} <= QUICKFIXGO_TYPES


def test_kalshi_custom_tags_are_all_defined(dicts):
    _, app, _ = dicts
    assert len(F.CUSTOM_TAGS) == 44 and F.CUSTOM_TAGS <= set(app.fields)


def test_enum_values_are_the_simulators_closed_sets_and_enumerations(dicts):
    transport, app, _ = dicts
    for d in (transport, app):
        for tag, (name, _, enums) in d.fields.items():
            expected = set(map(str, F.ENUM_VALUES.get(tag, ())))
            cls = ENUM_CLASSES.get(name)
            if cls is not None:
                expected |= {str(v) for k, v in vars(cls).items() if not k.startswith("_")}
            if tag == 35:
                expected = set(F.MSG_TYPE_NAMES)
            assert set(enums) == expected, name
    assert app.fields[54][2] == {"1": "BUY_YES", "2": "SELL_NO"}
    assert app.fields[21005][2] == {"N": "NO", "Y": "YES"}  # BOOLEAN: Y/N only (spec 01 §1.3)
    assert app.fields[1137][2] == {"9": "FIX50SP2"}


def test_transport_dictionary_has_the_header_trailer_and_admin_messages(dicts):
    transport, app, _ = dicts
    assert set(transport.header.tags()) == F.HEADER_TAGS
    assert transport.header.required() == {8, 9, 35, 49, 56, 34, 52}  # spec 01 §1.1
    assert [t for t, _, _ in transport.trailer.items] == [93, 89, 10] and transport.trailer.required() == {10}
    assert set(transport.messages) == F.ADMIN_MSG_TYPES
    assert {cat for _, cat, _ in transport.messages.values()} == {"admin"}
    assert not app.header.items and not app.trailer.items  # FIXT: they live in the transport file
    used = _flat(transport.header.items) | _flat(transport.trailer.items)
    for _, _, layout in transport.messages.values():
        used |= _flat(layout.items)
    assert used == set(transport.fields)  # every field it uses is defined, and only those


def test_logon_carries_every_kalshi_flag_and_its_required_fields(dicts):
    transport, _, _ = dicts
    logon = transport.messages["A"][2]
    assert {tag for tag, _ in LOGON_FLAG_TAGS} | {21003, 141, 95, 96, 108} <= set(logon.tags())
    # spec 12 §3 / docs; 108 is checked per product; 96 is absent from the venue's reply (spec 01 §2.4)
    assert logon.required() == {98, 1137}


def test_every_message_allows_exactly_the_simulators_layout(dicts):
    transport, app, _ = dicts
    assert set(app.messages) | set(transport.messages) == set(F.MESSAGES)
    for msg_type, mdef in F.MESSAGES.items():
        d = transport if msg_type in F.ADMIN_MSG_TYPES else app
        name, category, layout = d.messages[msg_type]
        assert name == mdef.name and category == ("admin" if d is transport else "app")
        assert _flat(layout.items) == mdef.allowed, msg_type
        top = set(layout.tags())
        assert layout.required() == mdef.required & top - ({96} if msg_type == "A" else set()), msg_type
        # a top-level tag dropped from the XML is one QuickFIX reads into a group entry (qfdict doc)
        for tag in set(mdef.fields) - top:
            assert any(tag in g.all_tags for g in mdef.groups.values()), (msg_type, tag)


def test_groups_start_with_their_delimiter_and_keep_the_member_order(dicts):
    _, app, _ = dicts

    def check(group, gdef):
        assert group.delimiter == gdef.delimiter
        assert [t for t, _, _ in group.items] == list(gdef.members)
        assert {t for t, r, _ in group.items if r} == set(gdef.required_members)
        subs = {s.count_tag: s for s in gdef.subgroups}
        for tag, _, sub in group.items:
            assert (sub is not None) == (tag in subs)
            if sub is not None:
                check(sub, subs[tag])

    checked = 0
    for msg_type, mdef in F.MESSAGES.items():
        if msg_type in F.ADMIN_MSG_TYPES:
            continue
        for tag, group in app.messages[msg_type][2].tags().items():
            if group is not None:
                check(group, mdef.groups[tag])
                checked += 1
    assert checked == 16  # D G F S UA UE, 8 x3, R x2 (its top-level 453 is in the 146 entry), AG UMS V W X


def test_shared_groups_are_components(dicts):
    _, app, _ = dicts
    names = {c.get("name") for c in app.root.find("components")}
    assert {"Parties", "MiscFeesGrp", "CollateralAmountChangeGrp"} <= names


def test_the_files_are_byte_identical_on_every_run(dicts, tmp_path):
    again = write_dictionaries(tmp_path)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in dicts[2]]


def test_validator_flags_what_quickfix_would_reject(dicts):
    transport, app, _ = dicts
    v = Validator(transport, app)
    head = [(35, "8"), (49, "KalshiNR"), (56, "key"), (34, 2), (52, "20260105-14:30:00.123")]
    good = [(37, "o"), (11, "c"), (17, "e"), (150, "0"), (39, "0"), (54, "1"), (55, "M"), (151, "1.00"),
            (14, "0.00"), (6, "0"), (38, "1.00"), (453, 1), (448, "p"), (452, 24)]

    def problems(body):
        return v.validate(parse(encode(head + body)).pairs)

    assert problems(good) == []
    assert any("not defined" in p for p in problems(good + [(21023, "x")]))  # RfqId is not on an ER
    assert any("value '7'" in p for p in problems([(150, "7") if t == 150 else (t, x) for t, x in good]))
    assert any("required 17 missing" in p for p in problems([(t, x) for t, x in good if t != 17]))
    assert any("NumInGroup" in p for p in problems(good[:-3] + [(453, 2), (448, "p"), (452, 24)]))
    assert any("delimiter" in p for p in problems(good[:-3] + [(453, 1), (452, 24), (448, "p")]))


def test_quickfix_itself_loads_both_files_and_rejects_what_the_venue_rejects(dicts):
    """Opt-in: QuickFIX C++ through its Python bindings (`pip install quickfix-tls`)."""
    pytest.importorskip("quickfix", reason="QuickFIX bindings not installed (pip install quickfix-tls)")
    from tests.qfdict_check import QuickFixEngine

    _, _, paths = dicts
    engine = QuickFixEngine.load(*paths)
    assert all(engine.a.isMsgType(t) for t in F.MESSAGES if t not in F.ADMIN_MSG_TYPES)
    assert all(engine.t.isMsgType(t) for t in F.ADMIN_MSG_TYPES)
    assert all(engine.a.isField(t) for t in F.TAG_TYPES)
    head = [(35, "8"), (49, "KalshiNR"), (56, "key"), (34, 2), (52, "20260105-14:30:00.123")]
    good = [(37, "o"), (11, "c"), (17, "e"), (150, "0"), (39, "0"), (54, "1"), (55, "M"), (151, "1.00"),
            (14, "0.00"), (6, "0"), (38, "1.00"), (453, 1), (448, "p"), (452, 24)]
    assert engine.problem(encode(head + good)) is None
    assert "150" in engine.problem(encode(head + [(150, "7") if t == 150 else (t, v) for t, v in good]))
    assert "21023" in engine.problem(encode(head + good + [(21023, "x")]))
    reply = [(35, "A"), (49, "KalshiNR"), (56, "key"), (34, 1), (52, "20260105-14:30:00.123"), (98, 0), (108, 30),
             (141, "Y"), (1137, "9")]
    assert engine.problem(encode(reply)) is None  # the venue's Logon reply: no RawData (spec 01 §2.4)
