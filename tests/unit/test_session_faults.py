"""The Session's fault API (issue 12 §1), two real Sessions wired in memory (DESIGN rule 7).

Each method makes the venue misbehave the way real venues do, through the session itself, and
the other (correct) session copes: a gap is resent or gap-filled, a duplicate is dropped, a
SequenceReset moves the expected number, a skewed SendingTime is rejected.
"""
from __future__ import annotations

from kalshi_fixsim.fixproto.codec import parse
from kalshi_fixsim.fixproto.session import AppMessage, Disconnect, SessionReject
from tests.unit.test_session import Wire, bmr


def types(frames) -> list[str]:
    return [parse(f).get(35) for f in frames]


def test_skip_outbound_makes_a_gap_the_rt_client_fills_by_resend_request():
    w = Wire()
    w.logon()
    w.server.skip_outbound(3)
    w.server.send("j", bmr("o1"), w.now)
    w.pump()
    sent = types(w.s_frames)
    assert "2" in sent                                  # the client asked for 2..
    fill = [parse(f) for f in w.c_frames if parse(f).get(35) == "4"][0]
    assert (fill.get(34), fill.get(36), fill.get(123)) == ("2", "5", "Y")  # ..and got a GapFill
    assert [e.message.get(379) for e in w.c_events if isinstance(e, AppMessage)] == ["o1"]
    assert w.client.store.next_target_seq == 6


def test_skip_outbound_on_nr_is_fatal_for_the_client():
    w = Wire(retransmission=False, name="KalshiNR")
    w.logon()
    w.server.skip_outbound(1)
    w.server.send("j", bmr("o1"), w.now)
    w.pump()
    assert [e.reason for e in w.c_events if isinstance(e, Disconnect)] == ["seq_gap"]


def test_resend_stored_sends_possdup_copies_the_client_drops():
    w = Wire()
    w.logon()
    w.server.send("j", bmr("o1"), w.now)
    w.pump()
    assert w.server.resend_stored(w.now, 2) == 1
    w.pump()
    copy = parse(w.c_frames[-1])
    assert (copy.get(43), copy.get(34), copy.get(379)) == ("Y", "2", "o1") and copy.get(122)
    assert [e.message.get(379) for e in w.c_events if isinstance(e, AppMessage)] == ["o1"]  # once


def test_send_resend_request_is_answered_by_the_client_from_its_store():
    w = Wire()
    w.logon()
    w.client.send("D", [(11, "o1")], w.now)
    w.pump()
    w.server.send_resend_request(w.now, 1, 0)
    w.pump()
    replay = [parse(f) for f in w.s_frames if parse(f).get(43) == "Y"]
    assert [m.get(35) for m in replay] == ["4", "D"] and replay[1].get(11) == "o1"


def test_send_sequence_reset_gap_fill_moves_both_sides_on():
    w = Wire()
    w.logon()
    w.server.send_sequence_reset(w.now, 20, gap_fill=True)
    w.server.send("j", bmr("o1"), w.now)
    w.pump()
    assert w.client.store.next_target_seq == 21 and w.server.store.next_sender_seq == 21
    assert [e.message.get(379) for e in w.c_events if isinstance(e, AppMessage)] == ["o1"]


def test_a_sequence_reset_lowering_the_number_is_rejected_by_the_client():
    w = Wire()
    w.logon()
    w.server.send("j", bmr("o1"), w.now)
    w.server.send("j", bmr("o2"), w.now)
    w.pump()
    w.server.send_sequence_reset(w.now, 2, gap_fill=False)
    w.pump()
    reject = [parse(f) for f in w.s_frames if parse(f).get(35) == "3"][-1]
    assert (reject.get(373), reject.get(371)) == ("5", "36")


def test_go_silent_leaves_a_test_request_unanswered_until_its_time():
    w = Wire(hb=10)
    w.logon()
    w.server.go_silent(w.now + 5)
    w.client.test_request(w.now, "PING")
    w.pump()
    assert types(w.c_frames[1:]) == []          # no answer while silent
    w.advance(6)
    w.client.test_request(w.now, "PONG")
    w.pump()
    assert [parse(f).get(112) for f in w.c_frames[1:]] == ["PONG"]


def test_a_venue_silent_beyond_twice_the_heartbeat_is_dropped_by_the_client():
    w = Wire(hb=10)
    w.logon()
    w.server.go_silent(w.now + 60)
    w.advance(25)
    assert "1" in types(w.s_frames[1:])        # the client asked with a TestRequest first (spec 01 §4)
    assert [e.reason for e in w.c_events if isinstance(e, Disconnect)] == ["heartbeat_timeout"]


def test_reject_next_inbound_answers_with_reject_and_consumes_the_number():
    w = Wire()
    w.logon()
    w.server.reject_next_inbound(11, "Invalid MsgType (fault)")
    w.client.send("D", [(11, "o1")], w.now)
    w.pump()
    assert [(e.message.get(373), e.message.get(45)) for e in w.c_events if isinstance(e, SessionReject)] == \
        [("11", "2")]
    assert w.server.store.next_target_seq == 3
    assert not [e for e in w.s_events if isinstance(e, AppMessage)]


def test_logon_seq_offset_answers_the_logon_with_a_higher_number_the_rt_client_resends_over():
    w = Wire()
    w.server.logon_seq_offset = 4
    w.logon()
    assert parse(w.c_frames[0]).get(34) == "5" and "2" in types(w.s_frames)
    assert w.client.store.next_target_seq == 6  # 1..4 gap-filled, the Logon itself was 5


def test_sending_time_skew_is_caught_by_the_clients_tolerance():
    w = Wire()
    w.logon()
    w.server.sending_time_skew = 120.0
    w.server.send("j", bmr("o1"), w.now)
    w.pump()
    reject = [parse(f) for f in w.s_frames if parse(f).get(35) == "3"][-1]
    assert reject.get(373) == "10"  # SendingTime accuracy problem (spec 01 §1.1)
