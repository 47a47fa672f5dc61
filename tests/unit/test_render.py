"""fixproto.render: FIX frames readable by people (issue 10 §7)."""
from __future__ import annotations

from kalshi_fixsim.fixproto.codec import encode, parse
from kalshi_fixsim.fixproto.fields import MESSAGES, MSG_TYPE_NAMES
from kalshi_fixsim.fixproto.render import enum_name, render, render_block, render_line

HEADER = [(49, "KalshiNR"), (56, "key-1"), (34, 7), (52, "20260101-12:00:00.000")]


def nos() -> bytes:
    return encode([(35, "D")] + HEADER + [(11, "x1"), (38, 10), (40, "2"), (44, 55), (54, "1"),
                                          (55, "KXTEST-A"), (59, "1"), (453, 1), (448, "acct"), (452, 24)])


def test_one_line_form_names_msgtype_tags_and_enums_in_wire_order():
    line = render_line(nos())
    assert line.startswith("35=D(NewOrderSingle) 49(SenderCompID)=KalshiNR 56(TargetCompID)=key-1 34(MsgSeqNum)=7")
    assert "11(ClOrdID)=x1 38(OrderQty)=10 40(OrdType)=2(Limit) 44(Price)=55 54(Side)=1(BuyYes)" in line
    assert "59(TimeInForce)=1(Gtc)" in line
    assert not any(word.startswith(("8(", "9(", "10(")) for word in line.split())  # framing left out
    assert "\n" not in line


def test_one_line_form_brackets_each_group_entry_including_nested_groups():
    er = encode([(35, "8")] + HEADER + [(37, "o1"), (11, "x1"), (150, "F"), (39, "1"), (136, 1), (137, "0.01"),
                                        (138, "USD"), (139, "4"), (891, 0), (453, 2), (448, "a"), (452, 24),
                                        (448, "b"), (452, 24), (58, "after")])
    line = render_line(er)
    assert ("136(NoMiscFees)=1 [137(MiscFeeAmt)=0.01 138(MiscFeeCurr)=USD 139(MiscFeeType)=4(ExchangeFees) "
            "891(MiscFeeBasis)=0(Absolute)]") in line
    assert ("453(NoPartyIDs)=2 [448(PartyID)=a 452(PartyRole)=24(CustomerAccount)] "
            "[448(PartyID)=b 452(PartyRole)=24(CustomerAccount)] 58(Text)=after") in line
    ums = encode([(35, "UMS"), (20105, "r1"), (55, "KX"), (715, "20260101"), (20107, "yes"), (730, "1"),
                  (20108, 2), (20109, "p1"), (20110, 1), (1703, 1), (1704, "5"), (1705, "PAYOUT"),
                  (20109, "p2"), (20110, 1)])
    line = render_line(ums)
    assert ("20108(NoMarketSettlementPartyIDs)=2 [20109(MarketSettlementPartyID)=p1 20110(MarketSettlementPartyRole)=1 "
            "1703(NoCollateralAmountChanges)=1 [1704(CollateralAmountChange)=5 1705(CollateralAmountType)=PAYOUT]] "
            "[20109(MarketSettlementPartyID)=p2 20110(MarketSettlementPartyRole)=1]") in line


def test_kalshi_custom_tags_have_their_names_and_enums():
    logon = encode([(35, "A")] + HEADER + [(98, 0), (108, 30), (141, "Y"), (1137, "9"), (8013, "Y"),
                                           (21005, "N"), (20126, "N")])
    line = render_line(logon)
    assert "8013(CancelOrdersOnDisconnect)=Y 21005(UseDollars)=N 20126(ListenerSession)=N" in line
    assert "1137(DefaultApplVerID)=9(Fix50sp2)" in line
    group = encode([(35, "UOH"), (20130, "g1"), (20132, 500)])
    assert render_line(group) == "35=UOH(OrderGroupResponse) 20130(OrderGroupID)=g1 20132(OrderGroupContractsLimit)=500"
    assert enum_name(20131, "4") == "TriggerCancel"
    assert enum_name(372, "D") == "NewOrderSingle" and enum_name(35, "UMS") == "MarketSettlementReport"


def test_unknown_tags_are_shown_as_numbers_and_bad_tags_as_question_marks():
    frame = encode([(35, "0")] + HEADER + [(424242, "zz"), (5999, "q")])
    assert render_line(frame).endswith("424242=zz 5999=q")
    bad = b"8=FIXT.1.1\x019=20\x0135=0\x01x1=oops\x0110=000\x01"
    assert render_line(bad) == "35=0(Heartbeat) ?=oops"
    block = render_block(frame)
    assert any(row.split()[:2] == ["424242", "zz"] for row in block.splitlines())


def test_unknown_msgtype_renders_its_fields_flat():
    frame = encode([(35, "ZZ")] + HEADER + [(453, 1), (448, "a")])
    assert render_line(frame).startswith("35=ZZ 49(SenderCompID)")
    assert "453(NoPartyIDs)=1 448(PartyID)=a" in render_line(frame)


def test_block_form_aligns_values_in_one_column_and_indents_group_entries():
    rows = render_block(nos()).splitlines()
    assert rows[0].split() == ["8", "BeginString", "FIXT.1.1"] and rows[-1].split()[:2] == ["10", "CheckSum"]
    assert rows[2].split() == ["35", "MsgType", "D", "(NewOrderSingle)"]
    pairs = parse(nos()).pairs
    assert len(rows) == len(pairs)
    column = {row.rindex(value if tag not in (35, 40, 54, 59, 452) else value + " (") for row, (tag, value) in
              zip(rows, pairs)}
    assert len(column) == 1, column  # every value starts in the same column
    party = [r for r in rows if "PartyID" in r or "PartyRole" in r]
    assert party[1].lstrip().startswith("- 448") and party[2].lstrip().startswith("452")
    assert party[1].index("- 448") < party[2].index("452")


def test_render_accepts_bytes_parsed_messages_and_pipe_text():
    frame = nos()
    assert render(frame) == render(parse(frame)) == render(frame.decode().replace("\x01", "|"))
    assert render(frame, multiline=True) == render_block(frame)


def test_truncated_frames_render_what_is_there_without_raising():
    frame = nos()
    for cut in range(1, len(frame)):
        render_line(frame[:cut])
        render_block(frame[:cut])
    assert render_line(b"") == "" and render_block(b"") == ""


def test_every_message_type_of_the_dictionary_renders_with_its_name():
    for msg_type, mdef in MESSAGES.items():
        body = [(t, "1") for t in mdef.fields]
        line = render_line(encode([(35, msg_type)] + HEADER + body))
        assert line.startswith(f"35={msg_type}({MSG_TYPE_NAMES[msg_type]})")
