"""Issue 11 §1-§3 on two real Sessions in memory: message structure, in-session reset, the RT
queue that never stalls, 7/16/36 validated before use, bounded numbers. Where a FIX Session
Layer Test Case (FIX Trading Community) applies, its id is named in the docstring."""
from __future__ import annotations

import pytest

from kalshi_fixsim.fixproto.codec import Framer, GarbledFrame, encode, format_utc, parse
from kalshi_fixsim.fixproto.numbers import decimal_problem, int_problem, parse_decimal, parse_int
from kalshi_fixsim.fixproto.session import Disconnect, Garbled
from kalshi_fixsim.fixproto.validate import validate
from tests.unit.test_session import KEY, Wire, bmr, dummy_signer


def to_server(w: Wire, msg_type: str, body=(), *, seq: int | None = None, header=None, raw: bytes | None = None):
    """Send one frame from the 'client' straight into the server; returns what the server wrote."""
    if raw is None:
        seq = w.server.store.next_target_seq if seq is None else seq
        head = header if header is not None else [(49, KEY), (56, w.name), (34, seq), (52, format_utc(w.now))]
        raw = encode([(35, msg_type)] + list(head) + list(body))
    w.server.receive_frame(raw, w.now)
    return [parse(f) for f in w.server.data_to_send()]


def frame(body: bytes) -> bytes:
    """A frame around hand-written body bytes, with a correct BodyLength and CheckSum."""
    head = b"8=FIXT.1.1\x019=%d\x01" % len(body)
    return head + body + b"10=%03d\x01" % (sum(head + body) % 256)


def shape(msgs, *tags):
    return [(m.get(35),) + tuple(m.get(t) for t in tags) for m in msgs]


# --- the number parser ------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["²", "٥", "+5", " 5", "5_0", "", "-", "0x10", "1e3", "5 "])
def test_number_parser_accepts_ascii_digits_only(text):
    assert int_problem(text) == 6 and parse_int(text) is None


@pytest.mark.parametrize("text", ["9" * 400, "9" * 5000, "99999999999", str(2**31)])
def test_number_parser_bounds_length_and_range_without_raising(text):
    assert int_problem(text) == 5 and parse_int(text) is None


def test_number_parser_reads_leading_zeros_and_signs_within_range():
    assert parse_int("00000000000000000042") == 42 and parse_int("-7") == -7
    assert parse_int("7", 1, 5) is None and int_problem("7", 1, 5) == 5


@pytest.mark.parametrize("text,code", [("1e5", 6), ("1.2.3", 6), ("²", 6), (".", 6), ("9" * 13, 5),
                                       ("0." + "1" * 11, 5), ("9" * 5000, 5)])
def test_decimal_parser_refuses_exponents_and_bounds_digits(text, code):
    assert decimal_problem(text) == code and parse_decimal(text) is None


def test_decimal_parser_keeps_plain_decimals_within_bounds():
    assert str(parse_decimal("-0012.3400")) == "-12.3400" and parse_decimal("999999999999.9999") is not None


# --- §1 message structure ---------------------------------------------------------------------

def test_frame_whose_third_field_is_not_msgtype_is_garbled_and_does_not_consume_a_seq():
    """FIX session test case 2d (garbled: MsgType not the third field): ignored."""
    w = Wire()
    w.logon()
    expected = w.server.store.next_target_seq
    raw = encode([(34, expected), (35, "0"), (49, KEY), (56, w.name), (52, format_utc(w.now))])
    framed = Framer().feed(raw)
    assert isinstance(framed[0], GarbledFrame) and "MsgType(35)" in framed[0].reason
    for item in framed:
        w.server.receive_frame(item, w.now)
    assert w.server.data_to_send() == [] and w.server.store.next_target_seq == expected
    assert any(isinstance(e, Garbled) for e in w.server.drain_events())


@pytest.mark.parametrize("late", [34, 49, 52, 56])
def test_header_field_after_a_body_field_is_rejected_14_naming_it_and_not_processed(late):
    """FIX session test case 14h: header and body fields ordered incorrectly -> Reject 373=14."""
    w = Wire()
    w.logon()
    seq = w.server.store.next_target_seq
    header = {49: KEY, 56: w.name, 34: seq, 52: format_utc(w.now)}
    fields = [(35, "1")] + [(t, v) for t, v in header.items() if t != late] + [(112, "x"), (late, header[late])]
    out = to_server(w, "", raw=encode(fields))
    assert shape(out, 45, 371, 373) == [("3", str(seq), str(late), "14")]
    assert w.server.store.next_target_seq == seq + 1 and w.server.is_active  # consumed, not answered


def test_body_field_after_the_trailer_is_rejected_14():
    w = Wire()
    w.logon()
    seq = w.server.store.next_target_seq
    out = to_server(w, "", raw=encode([(35, "1"), (49, KEY), (56, w.name), (34, seq), (52, format_utc(w.now)),
                                       (93, 3), (89, "abc"), (112, "x")]))
    assert shape(out, 371, 373) == [("3", "112", "14")]


@pytest.mark.parametrize("body,reason", [([(49, KEY), (34, None), (52, None)], "1"),
                                         ([(49, KEY), (56, ""), (34, None), (52, None)], "4")])
def test_missing_or_empty_target_comp_id_is_a_field_reject_and_the_session_goes_on(body, reason):
    """Missing TargetCompID -> 373=1, empty -> 373=4, RefTagID 56; only a wrong one ends the session."""
    w = Wire()
    w.logon()
    seq = w.server.store.next_target_seq
    header = [(t, seq if t == 34 else format_utc(w.now) if t == 52 else v) for t, v in body]
    out = to_server(w, "1", [(112, "x")], header=header)
    assert shape(out, 371, 373) == [("3", "56", reason)] and w.server.is_active
    out = to_server(w, "1", [(112, "after")])
    assert shape(out, 112) == [("0", "after")]


def test_wrong_target_comp_id_is_reject_9_and_logout():
    """FIX session test case 2i: CompID problem -> Reject 373=9, Logout, disconnect."""
    w = Wire()
    w.logon()
    out = to_server(w, "1", [(112, "x")], header=[(49, KEY), (56, "KalshiXX"), (34, 2), (52, format_utc(w.now))])
    assert shape(out, 373) == [("3", "9"), ("5", None)] and w.server.closed


@pytest.mark.parametrize("tag_text", ["0", "-1", "035", "99999999999"])
def test_invalid_tag_number_is_rejected_0_naming_the_tag_as_sent(tag_text):
    """FIX session test case 14a: invalid tag number -> Reject 373=0, RefTagID as sent."""
    w = Wire()
    w.logon()
    seq = w.server.store.next_target_seq
    body = b"35=1\x0149=%s\x0156=%s\x0134=%d\x0152=%s\x01%s=x\x01" % (
        KEY.encode(), w.name.encode(), seq, format_utc(w.now).encode(), tag_text.encode())
    out = to_server(w, "", raw=frame(body))
    assert shape(out, 371, 373) == [("3", tag_text, "0")]


def test_legacy_21003_on_logon_is_a_flag_and_on_event_resend_complete_a_count():
    """Field types may depend on the MsgType: 21003 is Y/N on A, an integer on U2 (spec 01 §2.2)."""
    now = format_utc(1_767_623_400.0)
    head = [(49, KEY), (56, "KalshiNR"), (34, 1), (52, now)]
    logon = parse(encode([(35, "A")] + head + [(98, 0), (108, 30), (95, 3), (96, "sig"), (1137, "9"), (21003, "Y")]))
    assert validate(logon) is None
    bad = parse(encode([(35, "A")] + head + [(98, 0), (108, 30), (95, 3), (96, "sig"), (1137, "9"), (21003, "5")]))
    assert (validate(bad).reason, validate(bad).ref_tag) == (6, 21003)  # a Boolean on a Logon
    u2 = parse(encode([(35, "U2")] + head + [(45, 1), (21003, "5")]))
    assert validate(u2) is None
    assert validate(parse(encode([(35, "U2")] + head + [(45, 1), (21003, "Y")]))).reason == 6


# --- §2 sequencing and reset --------------------------------------------------------------------

def test_logon_with_reset_flag_on_an_established_session_resets_both_directions_to_1():
    """FIXT.1.1 in-session reset (spec 01 §2.2): answered by Logon 141=Y, both sides restart at 1."""
    w = Wire()
    w.logon()
    for ref in "abc":
        w.server.send("j", bmr(ref), w.now)
    w.pump()
    w.client.reset_sequence(w.now, signer=dummy_signer)
    w.pump()
    answer = parse(w.c_frames[-1])
    assert (answer.get(35), answer.get(34), answer.get(141)) == ("A", "1", "Y")
    assert (w.server.store.next_sender_seq, w.server.store.next_target_seq) == (2, 2)
    assert (w.client.store.next_sender_seq, w.client.store.next_target_seq) == (2, 2)
    w.server.send("j", bmr("after"), w.now)
    w.pump()
    assert [m.get(379) for m in w.app(w.c_events)][-1] == "after" and w.client.is_active


def test_reset_logon_with_msgseqnum_other_than_1_is_rejected_and_the_session_kept():
    w = Wire()
    w.logon()
    out = to_server(w, "A", [(98, 0), (108, 30), (95, 3), (96, "sig"), (141, "Y"), (1137, "9")], seq=7)
    assert shape(out, 371, 373) == [("3", "34", "5")] and w.server.is_active


def test_gap_fill_that_makes_a_queued_message_obsolete_does_not_stall_a_later_gap():
    """The RT stall (issue 11 §2): a bogus too-high message is queued; the peer gap-fills what it
    really sent; a later genuine gap still gets a ResendRequest, and TestRequests are answered."""
    w = Wire()
    w.logon()
    out = to_server(w, "0", seq=1000)  # bogus: the client really is at 2
    assert shape(out, 7, 16) == [("2", "2", "0")]
    out = to_server(w, "4", [(123, "Y"), (36, 3)], seq=2, header=[(49, KEY), (56, w.name), (34, 2), (43, "Y"),
                                                                   (52, format_utc(w.now)), (122, format_utc(w.now))])
    assert out == [] and w.server.store.next_target_seq == 3
    assert shape(to_server(w, "1", [(112, "in order")]), 112) == [("0", "in order")]
    # a genuine gap now: 5 arrives while 4 is expected
    out = to_server(w, "1", [(112, "above the gap")], seq=5)
    assert shape(out, 7, 16, 112) == [("0", None, None, "above the gap"), ("2", "4", "0", None)]
    assert 1000 not in w.server._queue


def test_test_request_above_a_gap_is_answered_at_once():
    """FIX session test case 4 while a gap is open: admin messages are always answered."""
    w = Wire()
    w.logon()
    to_server(w, "j", bmr("held"), seq=5)
    out = to_server(w, "1", [(112, "ping")], seq=6)
    assert shape(out, 112) == [("0", "ping")]


def test_a_heartbeat_above_a_gap_tells_its_test_response_only_after_the_gap_closes():
    """The Heartbeat answering a TestRequest reaches the application after the messages the
    gap held back: FixClient.sync() must not return before the resent report is processed."""
    from kalshi_fixsim.fixproto.events import AppMessage, TestResponse

    w = Wire()
    w.logon()
    w.server.drain_events()
    to_server(w, "1", [(112, "ping")], seq=3)  # 2 never came (dropped on the wire)
    out = to_server(w, "0", [(112, "barrier")], seq=4)
    assert [e for e in w.server.drain_events() if isinstance(e, TestResponse)] == []
    stamp = format_utc(w.now)
    to_server(w, "j", bmr("resent"), header=[(49, KEY), (56, w.name), (34, 2), (43, "Y"), (52, stamp), (122, stamp)])
    events = [e for e in w.server.drain_events() if isinstance(e, (AppMessage, TestResponse))]
    assert [type(e).__name__ for e in events] == ["AppMessage", "TestResponse"] and not out


def test_a_gap_fill_covering_a_heartbeat_above_the_gap_still_tells_its_test_response():
    """The peer gap-fills over its own Heartbeat (an admin message is never resent): the barrier
    must not be lost with it, or FixClient.sync() would wait forever."""
    from kalshi_fixsim.fixproto.events import TestResponse

    w = Wire()
    w.logon()
    w.c_events.clear()
    w.server.skip_outbound(5)
    w.client.test_request(w.now, "SYNC1")
    w.pump()  # Heartbeat above the gap -> ResendRequest -> GapFill over the Heartbeat's number
    assert [e.test_req_id for e in w.c_events if isinstance(e, TestResponse)] == ["SYNC1"]
    assert not w.client._queue and w.client.is_active


def test_unanswered_resend_request_is_sent_again_after_the_resend_timeout():
    w = Wire()
    w.logon()
    to_server(w, "j", bmr("held"), seq=5)
    timeout = w.server.config.resend_timeout
    assert w.server.get_timer() <= w.now + timeout
    w.now += timeout
    w.server.handle_timer(w.now)
    out = [parse(f) for f in w.server.data_to_send()]
    assert ("2", "2", "0") in shape(out, 7, 16)


def test_sequence_reset_reset_clears_everything_held_before_it():
    """FIX session test case 11a: SequenceReset-Reset sets the expected number; held messages
    were numbered under the numbering it ends."""
    w = Wire()
    w.logon()
    to_server(w, "j", bmr("stale"), seq=20)
    to_server(w, "4", [(36, 10)], seq=3)
    assert w.server.store.next_target_seq == 10 and not w.server._queue
    assert shape(to_server(w, "1", [(112, "x")], seq=10), 112) == [("0", "x")]


@pytest.mark.parametrize("body,tag,reason", [
    ([(7, "²"), (16, 0)], 7, 6), ([(7, "9" * 400), (16, 0)], 7, 5), ([(7, 0), (16, 0)], 7, 5),
    ([(7, 1), (16, "-1")], 16, 6), ([(7, 1), (16, "99999999999")], 16, 5)])
def test_resend_request_begin_and_end_are_validated_before_use(body, tag, reason):
    w = Wire()
    w.logon()
    out = to_server(w, "2", body)
    assert shape(out, 371, 373) == [("3", str(tag), str(reason))] and w.server.is_active


@pytest.mark.parametrize("new,reason", [("²", 6), ("9" * 5000, 5), ("0", 5), ("", 4)])
def test_sequence_reset_new_seq_no_is_validated_before_use(new, reason):
    w = Wire()
    w.logon()
    out = to_server(w, "4", [(123, "Y"), (36, new)])
    assert shape(out, 371, 373) == [("3", "36", str(reason))] and w.server.is_active


def test_possdup_with_orig_sending_time_after_sending_time_is_rejected_10():
    """FIX session test case 2f: OrigSendingTime later than SendingTime -> Reject 373=10."""
    w = Wire()
    w.logon()
    header = [(49, KEY), (56, w.name), (34, 2), (43, "Y"), (52, format_utc(w.now)), (122, format_utc(w.now + 5))]
    out = to_server(w, "1", [(112, "x")], header=header)
    assert shape(out, 371, 373) == [("3", "122", "10")]


def test_possdup_without_orig_sending_time_is_rejected_1():
    """FIX session test case 2g: PossDupFlag=Y without OrigSendingTime -> Reject 373=1."""
    w = Wire()
    w.logon()
    out = to_server(w, "1", [(112, "x")], header=[(49, KEY), (56, w.name), (34, 2), (43, "Y"), (52, format_utc(w.now))])
    assert shape(out, 371, 373) == [("3", "122", "1")]


# --- §3 no input crashes a connection -----------------------------------------------------------

@pytest.mark.parametrize("seq", ["²", "9" * 5000, "0", "-3"])
def test_unusable_msgseqnum_on_the_first_message_is_a_logout_with_text(seq):
    w = Wire()
    raw = encode([(35, "A"), (49, KEY), (56, w.name), (34, seq), (52, format_utc(w.now)), (98, 0), (108, 30),
                  (95, 3), (96, "sig"), (141, "Y"), (1137, "9")])
    out = to_server(w, "", raw=raw)
    assert shape(out, 58)[0][0] == "5" and "MsgSeqNum(34)" in out[0].get(58) and w.server.closed


@pytest.mark.parametrize("tag,value", [(108, "9" * 400), (108, "99999999999999999999"), (108, "²")])
def test_huge_or_unicode_heartbeat_on_logon_is_refused_with_logout_text(tag, value):
    w = Wire()
    raw = encode([(35, "A"), (49, KEY), (56, w.name), (34, 1), (52, format_utc(w.now)), (98, 0), (tag, value),
                  (95, 3), (96, "sig"), (141, "Y"), (1137, "9")])
    out = to_server(w, "", raw=raw)
    assert [m.get(35) for m in out] == ["5"] and "HeartBtInt(108)" in out[0].get(58)


@pytest.mark.parametrize("count", ["9" * 400, "²", "100001"])
def test_huge_or_unicode_numingroup_count_is_a_reject_not_an_exception(count):
    w = Wire()
    w.logon()
    out = to_server(w, "D", [(11, "c1"), (38, 1), (40, 2), (44, 50), (54, 1), (55, "X"), (453, count),
                             (448, "p"), (452, 24)])
    assert shape(out, 371)[0] == ("3", "453") and out[0].get(373) in ("5", "6")


@pytest.mark.parametrize("tag,value", [(44, "9" * 5000), (38, "1" + "0" * 40), (44, "1e400"), (38, "²")])
def test_huge_or_exponent_prices_and_quantities_are_rejected_5_or_6(tag, value):
    w = Wire()
    w.logon()
    body = {11: "c1", 38: "1", 40: "2", 44: "50", 54: "1", 55: "X"}
    body[tag] = value
    out = to_server(w, "D", list(body.items()))
    assert shape(out, 371)[0] == ("3", str(tag)) and out[0].get(373) in ("5", "6")


def test_a_peer_silence_after_a_huge_heartbeat_reply_never_reaches_the_timer():
    """The initiator reads the acceptor's HeartBtInt through the parser too."""
    w = Wire()
    w.client.start_logon(w.now, reset=True, signer=dummy_signer)
    w.client.data_to_send()
    reply = encode([(35, "A"), (49, w.name), (56, KEY), (34, 1), (52, format_utc(w.now)), (98, 0),
                    (108, "9" * 400), (141, "Y"), (1137, "9")])
    w.client.receive_frame(reply, w.now)
    assert w.client.heartbeat_interval == 30 and w.client.get_timer() is not None
    w.client.handle_timer(w.now + 31)
    assert not any(isinstance(e, Disconnect) and e.reason == "internal_error" for e in w.client.drain_events())


def test_in_session_reset_drops_messages_held_for_a_resend():
    w = Wire()
    w.logon()
    to_server(w, "j", bmr("held"), seq=9)
    assert w.server._queue
    out = to_server(w, "A", [(98, 0), (108, 30), (95, 3), (96, "sig"), (141, "Y"), (1137, "9")], seq=1)
    assert shape(out, 34, 141) == [("A", "1", "Y")] and not w.server._queue
    assert w.server.get_timer() > w.now + w.server.config.resend_timeout  # no resend timeout left


def test_in_session_reset_logon_with_a_skewed_sending_time_is_rejected_10_and_nothing_reset():
    w = Wire()
    w.logon()
    header = [(49, KEY), (56, w.name), (34, 1), (52, format_utc(w.now - 60))]
    out = to_server(w, "A", [(98, 0), (108, 30), (95, 3), (96, "sig"), (141, "Y"), (1137, "9")], header=header)
    assert shape(out, 371, 373) == [("3", "52", "10")] and w.server.store.next_target_seq == 2
