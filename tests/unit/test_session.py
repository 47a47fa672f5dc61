"""Two real Sessions wired together in memory on a fake clock (DESIGN.md house rule 7)."""
from __future__ import annotations


from kalshi_fixsim.fixproto.codec import encode, format_utc, parse
from kalshi_fixsim.fixproto.session import (ACCEPTOR, INITIATOR, AppMessage, Disconnect, Garbled, LoggedOn, LogonRequest, Session,
                              SessionConfig, SessionReject)
from kalshi_fixsim.fixproto.state import State
from kalshi_fixsim.fixproto.store import MemoryStore

T0 = 1_767_623_400.0  # 2026-01-05 14:30:00 UTC
KEY = "0f6a1c2e-1111-4222-8333-944455556666"


def dummy_signer(sending_time, seq, sender, target):
    return [(95, 3), (96, "sig")]


class Wire:
    """A client and a server Session joined by a lossless in-memory pipe."""

    def __init__(self, *, retransmission=True, hb=30, name="KalshiRT", client_store=None, server_store=None):
        self.now = T0
        self.retransmission = retransmission
        self.name = name
        self.hb = hb
        self.client_store = client_store or MemoryStore()
        self.server_store = server_store or MemoryStore()
        self.new_sessions()

    def new_sessions(self):
        self.client = Session(SessionConfig(role=INITIATOR, sender_comp_id=KEY, target_comp_id=self.name,
                                            heartbeat_interval=self.hb, retransmission=self.retransmission,
                                            session_name=self.name), store=self.client_store, now=self.now)
        self.server = Session(SessionConfig(role=ACCEPTOR, sender_comp_id=self.name,
                                            retransmission=self.retransmission, session_name=self.name),
                              now=self.now)
        self.c_events: list = []
        self.s_events: list = []
        self.c_frames: list[bytes] = []  # what the client received
        self.s_frames: list[bytes] = []

    def pump(self, drop_to_client=lambda f: False, drop_to_server=lambda f: False):
        for _ in range(100):
            moved = False
            for frame in self.client.data_to_send():
                moved = True
                if not drop_to_server(frame):
                    self.s_frames.append(frame)
                    self.server.receive_frame(frame, self.now)
            for frame in self.server.data_to_send():
                moved = True
                if not drop_to_client(frame):
                    self.c_frames.append(frame)
                    self.client.receive_frame(frame, self.now)
            for ev in self.server.drain_events():
                self.s_events.append(ev)
                if isinstance(ev, LogonRequest):
                    self.server.accept_logon(self.now, store=self.server_store)
                    moved = True
            self.c_events.extend(self.client.drain_events())
            if not moved:
                return
        raise AssertionError("sessions did not settle")

    def logon(self, reset=True):
        self.client.start_logon(self.now, reset=reset, signer=dummy_signer)
        self.pump()
        assert self.client.is_active and self.server.is_active

    def advance(self, seconds, **pump_kwargs):
        """Move the fake clock, firing due timers on both sides in order."""
        end = self.now + seconds
        while True:
            due = [t for t in (self.client.get_timer(), self.server.get_timer()) if t is not None and t <= end]
            if not due:
                break
            self.now = max(self.now, min(due))
            self.client.handle_timer(self.now)
            self.server.handle_timer(self.now)
            self.pump(**pump_kwargs)
        self.now = end

    def app(self, events):
        return [e.message for e in events if isinstance(e, AppMessage)]


def bmr(ref):
    """A small application message (BusinessMessageReject) identified by 379."""
    return [(45, 1), (372, "D"), (379, ref), (380, 0)]


def msg_types(frames):
    return [parse(f).get(35) for f in frames]


def test_logon_handshake_activates_both_sides_and_starts_sequence_numbers_at_one():
    w = Wire()
    w.logon()
    assert isinstance(w.c_events[0], LoggedOn) and any(isinstance(e, LoggedOn) for e in w.s_events)
    logon = parse(w.c_frames[0])
    assert logon.get(34) == "1" and logon.get(141) == "Y" and logon.get(1137) == "9" and logon.get(108) == "30"
    assert w.client.store.next_sender_seq == 2 and w.client.store.next_target_seq == 2


def test_idle_side_sends_heartbeat_after_one_interval():
    w = Wire()
    w.logon()
    w.advance(30)
    assert msg_types(w.s_frames[1:]) == ["0"] and msg_types(w.c_frames[1:]) == ["0"]
    assert w.client.is_active and w.server.is_active


def test_silent_peer_gets_test_request_answered_by_heartbeat_with_same_id():
    w = Wire()
    w.logon()
    # Everything the server sends is lost: the client hears nothing, asks, then hears the answer.
    w.advance(36, drop_to_client=lambda f: True)
    test_requests = [parse(f) for f in w.s_frames if parse(f).get(35) == "1"]
    assert test_requests, "client must send TestRequest after 1.2 x HeartBtInt of silence"
    w.pump()
    w.server.receive_frame(encode([(35, "1"), (49, KEY), (56, w.name), (34, w.client.store.next_sender_seq),
                                   (52, format_utc(w.now)), (112, "PING")]), w.now)
    answer = parse(w.server.data_to_send()[-1])
    assert answer.get(35) == "0" and answer.get(112) == "PING"


def test_peer_silent_for_two_intervals_is_disconnected():
    w = Wire()
    w.logon()
    w.advance(61, drop_to_client=lambda f: True)
    disconnects = [e for e in w.c_events if isinstance(e, Disconnect)]
    assert disconnects and disconnects[0].reason == "heartbeat_timeout"
    assert w.client.state is State.CLOSED


def test_gap_on_retransmission_session_is_resent_with_possdup_and_delivered_in_order():
    w = Wire()
    w.logon()
    w.server.send("j", bmr("a"), w.now)
    w.server.send("j", bmr("b"), w.now)
    w.server.send("j", bmr("c"), w.now)
    w.pump(drop_to_client=lambda f: b"\x01379=b\x01" in f and b"\x0143=Y" not in f)
    delivered = [m.get(379) for m in w.app(w.c_events)]
    assert delivered == ["a", "b", "c"]
    resend_requests = [parse(f) for f in w.s_frames if parse(f).get(35) == "2"]
    assert [(r.get(7), r.get(16)) for r in resend_requests] == [("3", "0")]
    replayed = [parse(f) for f in w.c_frames if b"\x0143=Y" in f and parse(f).get(35) == "j"]
    assert replayed and replayed[0].get(34) == "3" and replayed[0].get(122) is not None


def test_admin_messages_in_a_resent_range_are_gap_filled():
    w = Wire()
    w.logon()
    w.server.send("j", bmr("a"), w.now)
    w.advance(30)  # a Heartbeat (admin) takes a sequence number in between
    w.server.send("j", bmr("b"), w.now)
    w.pump()
    # Ask the server for everything: Logon and Heartbeat gap-filled, app messages replayed.
    w.server.receive_frame(encode([(35, "2"), (49, KEY), (56, w.name), (34, w.server.store.next_target_seq),
                                   (52, format_utc(w.now)), (7, 1), (16, 0)]), w.now)
    out = [parse(f) for f in w.server.data_to_send()]
    shape = [(m.get(35), m.get(34), m.get(123), m.get(36), m.get(43)) for m in out]
    assert shape == [("4", "1", "Y", "2", "Y"), ("j", "2", None, None, "Y"), ("4", "3", "Y", "4", "Y"),
                     ("j", "4", None, None, "Y")]


def test_gap_on_session_without_retransmission_logs_out_with_reset_advice():
    w = Wire(retransmission=False, name="KalshiNR")
    w.logon()
    w.server.send("j", bmr("a"), w.now)
    w.server.send("j", bmr("b"), w.now)
    w.pump(drop_to_client=lambda f: b"\x01379=a\x01" in f)
    logout = parse(w.s_frames[-1])
    assert logout.get(35) == "5" and "ResetSeqNumFlag=Y" in logout.get(58) and "KalshiNR" in logout.get(58)
    assert isinstance(w.c_events[-1], Disconnect) and w.c_events[-1].reason == "seq_gap"


def test_seq_too_low_without_possdup_logs_out_with_expected_number():
    w = Wire()
    w.logon()
    w.server.receive_frame(encode([(35, "0"), (49, KEY), (56, w.name), (34, 1), (52, format_utc(w.now))]), w.now)
    logout = parse(w.server.data_to_send()[-1])
    assert logout.get(35) == "5" and logout.get(58) == "MsgSeqNum too low, expecting 2 but received 1"
    assert w.server.closed


def test_possdup_duplicate_with_low_seq_is_ignored():
    w = Wire()
    w.logon()
    w.server.receive_frame(encode([(35, "0"), (49, KEY), (56, w.name), (34, 1), (43, "Y"),
                                   (52, format_utc(w.now)), (122, format_utc(w.now))]), w.now)
    assert w.server.data_to_send() == [] and w.server.is_active


def test_sequence_reset_reset_mode_moves_expected_number_forward_only():
    w = Wire()
    w.logon()
    w.server.receive_frame(encode([(35, "4"), (49, KEY), (56, w.name), (34, 99), (52, format_utc(w.now)),
                                   (36, 10)]), w.now)
    assert w.server.store.next_target_seq == 10
    w.server.receive_frame(encode([(35, "4"), (49, KEY), (56, w.name), (34, 10), (52, format_utc(w.now)),
                                   (36, 5)]), w.now)
    reject = parse(w.server.data_to_send()[-1])
    assert (reject.get(35), reject.get(373), reject.get(371)) == ("3", "5", "36")
    assert w.server.store.next_target_seq == 10


def test_client_initiated_logout_handshake_closes_both_sides():
    w = Wire()
    w.logon()
    w.client.logout(w.now)
    w.pump()
    assert [e.reason for e in w.c_events if isinstance(e, Disconnect)] == ["logout"]
    assert [e.reason for e in w.s_events if isinstance(e, Disconnect)] == ["peer_logout"]


def test_server_initiated_logout_carries_text_to_client():
    w = Wire()
    w.logon()
    w.server.logout(w.now, "maintenance")
    w.pump()
    assert [(e.reason, e.text) for e in w.c_events if isinstance(e, Disconnect)] == [("peer_logout", "maintenance")]


def test_logout_without_answer_times_out():
    w = Wire()
    w.logon()
    w.client.logout(w.now)
    w.advance(6, drop_to_client=lambda f: True)
    assert [e.reason for e in w.c_events if isinstance(e, Disconnect)] == ["logout_timeout"]


def test_resend_request_older_than_retention_is_rejected_373_5_on_begin_seq_no():
    w = Wire()
    w.logon()
    w.server.config.retention_seconds = 3600
    w.server.send("j", bmr("old"), w.now)
    w.advance(7200)
    w.server.receive_frame(encode([(35, "2"), (49, KEY), (56, w.name), (34, w.server.store.next_target_seq),
                                   (52, format_utc(w.now)), (7, 2), (16, 0)]), w.now)
    reject = parse(w.server.data_to_send()[-1])
    assert (reject.get(35), reject.get(373), reject.get(371)) == ("3", "5", "7")
    assert "MessageRetentionPeriod" in reject.get(58)


def test_resend_request_on_session_without_retransmission_is_rejected_373_11():
    w = Wire(retransmission=False, name="KalshiNR")
    w.logon()
    w.server.receive_frame(encode([(35, "2"), (49, KEY), (56, w.name), (34, 2), (52, format_utc(w.now)),
                                   (7, 1), (16, 0)]), w.now)
    reject = parse(w.server.data_to_send()[-1])
    assert (reject.get(35), reject.get(373), reject.get(45)) == ("3", "11", "2")
    assert "no retransmission" in reject.get(58) and w.server.is_active


def test_rt_reconnect_without_reset_resumes_and_recovers_missed_messages():
    w = Wire()
    w.logon()
    w.server.send("j", bmr("a"), w.now)
    w.pump()
    w.client.connection_lost(w.now)
    w.server.connection_lost(w.now)
    # While the client is away the server's session produces a report nobody receives.
    w.server.state = State.ACTIVE
    w.server.send("j", bmr("missed"), w.now)
    w.server.data_to_send()
    w.new_sessions()
    w.logon(reset=False)
    w.pump()
    assert [m.get(379) for m in w.app(w.c_events)] == ["missed"]
    assert parse(w.s_frames[0]).get(141) is None  # resumed, not reset


def test_garbled_frame_is_ignored_and_does_not_consume_a_sequence_number():
    w = Wire()
    w.logon()
    good = encode([(35, "0"), (49, KEY), (56, w.name), (34, 2), (52, format_utc(w.now))])
    wrong = (int(good[-4:-1]) + 1) % 256
    bad = good[:-4] + b"%03d\x01" % wrong
    events = w.server.receive_data(b"junk" + bad + good, w.now)
    assert [e.reason for e in events if isinstance(e, Garbled)] == ["bytes before BeginString", "CheckSum(10) mismatch"]
    assert w.server.is_active and w.server.store.next_target_seq == 3


def test_sending_time_more_than_30s_off_is_rejected_373_10():
    w = Wire()
    w.logon()
    w.server.config.sending_time_tolerance = 30
    w.server.receive_frame(encode([(35, "0"), (49, KEY), (56, w.name), (34, 2), (52, format_utc(w.now - 31))]),
                           w.now)
    reject = parse(w.server.data_to_send()[-1])
    assert (reject.get(35), reject.get(373), reject.get(371)) == ("3", "10", "52")
    assert w.server.store.next_target_seq == 3  # the rejected message consumed its number (spec 01 §8)


def test_wrong_comp_id_is_rejected_373_9_and_logged_out():
    w = Wire()
    w.logon()
    w.server.receive_frame(encode([(35, "0"), (49, "someone-else"), (56, w.name), (34, 2),
                                   (52, format_utc(w.now))]), w.now)
    out = [parse(f) for f in w.server.data_to_send()]
    assert [(m.get(35), m.get(373)) for m in out] == [("3", "9"), ("5", None)]
    assert w.server.closed


def test_unknown_msg_type_is_rejected_373_11_and_session_continues():
    w = Wire()
    w.logon()
    w.server.receive_frame(encode([(35, "ZZ"), (49, KEY), (56, w.name), (34, 2), (52, format_utc(w.now))]), w.now)
    reject = parse(w.server.data_to_send()[-1])
    assert (reject.get(35), reject.get(373), reject.get(372)) == ("3", "11", "ZZ")
    assert w.server.is_active and w.server.store.next_target_seq == 3


def test_undefined_tag_is_rejected_373_3_naming_the_tag():
    w = Wire()
    w.logon()
    w.server.receive_frame(encode([(35, "F"), (49, KEY), (56, w.name), (34, 2), (52, format_utc(w.now)),
                                   (11, "x"), (41, "y"), (54, "1"), (55, "T"), (424242, "x")]), w.now)
    reject = parse(w.server.data_to_send()[-1])
    assert (reject.get(35), reject.get(45), reject.get(371), reject.get(372), reject.get(373)) == \
        ("3", "2", "424242", "F", "3")


def test_first_message_other_than_logon_gets_logout_with_text():
    w = Wire()
    w.server.receive_frame(encode([(35, "0"), (49, KEY), (56, w.name), (34, 1), (52, format_utc(w.now))]), w.now)
    logout = parse(w.server.data_to_send()[-1])
    assert logout.get(35) == "5" and "First message must be Logon" in logout.get(58)
    assert w.server.closed


def test_no_logon_within_timeout_disconnects():
    w = Wire()
    w.advance(11)
    assert [e.reason for e in w.s_events if isinstance(e, Disconnect)] == ["logon_timeout"]


def test_peer_reject_is_reported_as_an_event():
    w = Wire()
    w.logon()
    w.client.receive_frame(encode([(35, "3"), (49, w.name), (56, KEY), (34, 2), (52, format_utc(w.now)),
                                   (45, 1), (373, 5), (58, "x")]), w.now)
    assert any(isinstance(e, SessionReject) for e in w.client.drain_events())
