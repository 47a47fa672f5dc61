"""Message routing by session type (spec 00 §4, spec 01 §11)."""
from __future__ import annotations

from kalshi_fixsim.fixproto.codec import encode, parse
from kalshi_fixsim.simulator import gateway


class FakeConnection:
    product, session_code, comp_id = "prediction", "RT", "KalshiRT"

    def __init__(self):
        self.sent = []

    def send(self, msg_type, body):
        self.sent.append((msg_type, dict(body)))
        return 1


def message(msg_type, *body):
    return parse(encode([(35, msg_type), (49, "k"), (56, "KalshiRT"), (34, 7), (52, "20260105-14:30:00.000")]
                        + list(body)))


def test_known_message_type_not_offered_on_the_session_gets_bmr_380_3():
    conn = FakeConnection()
    gateway.route(conn, message("U1", (21001, "1;1")))
    (msg_type, body), = conn.sent
    assert (msg_type, body[380], body[372], body[45]) == ("j", 3, "U1", "7")


def test_offered_message_without_a_handler_gets_bmr_380_4_naming_its_id(monkeypatch):
    monkeypatch.delitem(gateway.HANDLERS, ("RT", "R"), raising=False)
    conn = FakeConnection()
    gateway.route(conn, message("R", (131, "q-9"), (146, 1), (55, "T")))
    (msg_type, body), = conn.sent
    assert (msg_type, body[380], body[379]) == ("j", 4, "q-9")
