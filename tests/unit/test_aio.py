"""The asyncio driver: ordering of replies, the interceptor hook, closing."""
from __future__ import annotations

import asyncio

from kalshi_fixsim.fixproto.aio import SessionDriver
from kalshi_fixsim.fixproto.codec import encode, format_utc, iter_frames, parse
from kalshi_fixsim.fixproto.session import ACCEPTOR, AppMessage, LogonRequest, Session, SessionConfig

KEY = "0f6a1c2e-1111-4222-8333-944455556666"


class FakeTransport(asyncio.Transport):
    def __init__(self):
        super().__init__()
        self.written = b""
        self.closing = False

    def write(self, data):
        self.written += data

    def is_closing(self):
        return self.closing

    def close(self):
        self.closing = True

    def abort(self):
        self.closing = True


class Clock:
    def __init__(self, now):
        self.t = now

    def now(self):
        return self.t


def frame(msg_type, seq, body=(), now=1_767_623_400.0):
    return encode([(35, msg_type), (49, KEY), (56, "KalshiNR"), (34, seq), (52, format_utc(now))] + list(body))


def logged_on_driver(handler_extra, interceptor=None):
    clock = Clock(1_767_623_400.0)
    session = Session(SessionConfig(role=ACCEPTOR, sender_comp_id="KalshiNR", session_name="KalshiNR"), now=clock.t)

    def handler(driver, event):
        if isinstance(event, LogonRequest):
            driver.session.accept_logon(clock.now())
        handler_extra(driver, event)

    driver = SessionDriver(session, handler, clock=clock, interceptor=interceptor)
    transport = FakeTransport()
    driver.connection_made(transport)
    driver.feed(frame("A", 1, [(98, 0), (108, 30), (95, 3), (96, "sig"), (141, "Y"), (1137, "9")]))
    transport.written = b""
    return driver, transport


def test_replies_leave_in_request_order_when_one_read_holds_several_frames():
    async def scenario():
        def echo(driver, event):
            if isinstance(event, AppMessage):
                driver.send("j", [(45, event.message.get(34)), (372, "D"), (380, 4)])

        driver, transport = logged_on_driver(echo)
        order = frame("D", 2, [(11, "o1"), (38, 1), (40, 2), (44, 40), (54, 1), (55, "T")])
        driver.feed(order + frame("1", 3, [(112, "sync")]))
        assert [parse(f).get(35) for f in iter_frames(transport.written)] == ["j", "0"]
    asyncio.run(scenario())


def test_interceptor_sees_every_frame_and_can_drop_or_duplicate():
    class Interceptor:
        def __init__(self):
            self.seen_in, self.seen_out = [], []

        def inbound(self, f):
            self.seen_in.append(parse(f).get(35))
            return [] if parse(f).get(112) == "drop" else [f]

        def outbound(self, f):
            self.seen_out.append(parse(f).get(35))
            return [f, f]

    async def scenario():
        interceptor = Interceptor()
        driver, transport = logged_on_driver(lambda d, e: None, interceptor)
        driver.feed(frame("1", 2, [(112, "drop")]) + frame("1", 2, [(112, "keep")]))
        answers = [parse(f) for f in iter_frames(transport.written)]
        assert interceptor.seen_in == ["A", "1", "1"] and [a.get(112) for a in answers] == ["keep", "keep"]
    asyncio.run(scenario())


def test_exception_escaping_an_application_handler_is_logged_once_and_answered_with_bmr(caplog):
    """Last line of defence (issue 11 §3): a business-layer bug gets BMR 380=0, the session goes on."""
    async def scenario():
        def broken(driver, event):
            if isinstance(event, AppMessage):
                raise RuntimeError("handler bug")

        driver, transport = logged_on_driver(broken)
        with caplog.at_level("ERROR", logger="kalshi_fixsim"):
            driver.feed(frame("D", 2, [(11, "o1"), (38, 1), (40, 2), (44, 40), (54, 1), (55, "T")]))
            driver.feed(frame("1", 3, [(112, "still there")]))
        out = [parse(f) for f in iter_frames(transport.written)]
        assert [(m.get(35), m.get(45), m.get(372), m.get(380)) for m in out][0] == ("j", "2", "D", "0")
        assert out[1].get(35) == "0" and out[1].get(112) == "still there" and driver.session.is_active
        errors = [r for r in caplog.records if r.levelname == "ERROR"]
        assert len(errors) == 1 and "KalshiNR->" in errors[0].getMessage() and errors[0].exc_info
    asyncio.run(scenario())


def test_exception_escaping_a_session_layer_handler_is_answered_with_logout_text(caplog):
    """Last line of defence: a failure outside the business layer is a Logout with Text, never a
    silent close."""
    async def scenario():
        clock = Clock(1_767_623_400.0)
        session = Session(SessionConfig(role=ACCEPTOR, sender_comp_id="KalshiNR", session_name="KalshiNR"),
                          now=clock.t)

        def broken(driver, event):
            if isinstance(event, LogonRequest):
                raise KeyError("auth bug")

        driver = SessionDriver(session, broken, clock=clock)
        transport = FakeTransport()
        driver.connection_made(transport)
        with caplog.at_level("ERROR", logger="kalshi_fixsim"):
            driver.feed(frame("A", 1, [(98, 0), (108, 30), (95, 3), (96, "sig"), (141, "Y"), (1137, "9")]))
        out = [parse(f) for f in iter_frames(transport.written)]
        assert [m.get(35) for m in out] == ["5"] and out[0].get(58).startswith("Internal error")
        assert transport.closing and len([r for r in caplog.records if r.levelname == "ERROR"]) == 1
    asyncio.run(scenario())


def test_an_interceptor_that_raises_passes_frames_on_unchanged_and_is_logged(caplog):
    class Broken:
        def inbound(self, f):
            raise ValueError("fault rule bug")

        def outbound(self, f):
            raise ValueError("fault rule bug")

    async def scenario():
        with caplog.at_level("ERROR", logger="kalshi_fixsim"):
            driver, transport = logged_on_driver(lambda d, e: None, interceptor=Broken())
            driver.feed(frame("1", 2, [(112, "through")]))
        out = [parse(f) for f in iter_frames(transport.written)]
        assert [(m.get(35), m.get(112)) for m in out] == [("0", "through")] and driver.session.is_active
        assert caplog.records and all("interceptor" in r.getMessage() for r in caplog.records)


def read(driver, data: bytes) -> None:
    """What a transport does: fill the buffer the driver gives, then say how much it holds."""
    while data:
        buf = driver.get_buffer(-1)
        n = min(len(buf), len(data))
        buf[:n] = data[:n]
        driver.buffer_updated(n)
        data = data[n:]


def test_read_buffer_starts_empty_grows_with_a_big_frame_and_shrinks_back_after_small_reads():
    async def scenario():
        driver, transport = logged_on_driver(lambda d, e: None)
        assert len(driver._buffer) == 0  # a connection that never sent a byte holds no buffer
        big = frame("1", 2, [(112, "x" * 900_000)])
        read(driver, big)  # the framer joins the pieces: one frame
        beat, = [parse(f) for f in iter_frames(transport.written)]
        assert beat.get(112) == "x" * 900_000
        assert len(driver._buffer) == 256 * 1024
        transport.written = b""
        for seq in range(3, 3 + 64 * 5):  # small reads: it halves every 64 of them, to 16 KiB
            read(driver, frame("1", seq, [(112, str(seq))]))
        assert len(driver._buffer) == 16 * 1024
        assert len(list(iter_frames(transport.written))) == 64 * 5
    asyncio.run(scenario())


# --- group commit (issue 15 §2) ----------------------------------------------------------------

class CountingTransport(FakeTransport):
    def __init__(self, log, socket=None):
        super().__init__()
        self.log = log
        self.socket = socket

    def get_extra_info(self, name, default=None):
        return self.socket if name == "socket" and self.socket is not None else super().get_extra_info(name, default)

    def write(self, data):
        self.log.append(("write", data.count(b"\x0135=")))
        super().write(data)


def batched_driver(batch, log, name, socket=None):
    clock = Clock(1_767_623_400.0)
    session = Session(SessionConfig(role=ACCEPTOR, sender_comp_id="KalshiNR", session_name="KalshiNR"), now=clock.t)

    def handler(driver, event):
        if isinstance(event, LogonRequest):
            driver.session.accept_logon(clock.now())

    driver = SessionDriver(session, handler, clock=clock, batch=batch)
    transport = CountingTransport(log, socket)
    driver.connection_made(transport)
    driver.feed(frame("A", 1, [(98, 0), (108, 30), (95, 3), (96, "sig"), (141, "Y"), (1137, "9")]))
    log.clear()
    return driver, transport


def test_one_read_is_committed_once_then_written_in_one_write_per_connection():
    from kalshi_fixsim.fixproto.aio import WriteBatch

    async def scenario():
        log: list = []
        batch = WriteBatch(commit=lambda: log.append(("commit", 0)))
        a, _ = batched_driver(batch, log, "a")
        b, _ = batched_driver(batch, log, "b")

        def handler(driver, event):  # each order read on a makes a report for b (a counterparty)
            if isinstance(event, AppMessage):
                b.send("8", [(11, event.message.get(11))])
        a.handler = handler
        # one read: three orders and a TestRequest -> b's three reports and a's Heartbeat
        orders = [frame("D", 2 + i, [(11, f"c{i}"), (38, 1), (40, 2), (44, 40), (54, 1), (55, "T")]) for i in range(3)]
        a.feed(b"".join(orders) + frame("1", 5, [(112, "t1")]))
        assert log == [("commit", 0), ("write", 3), ("write", 1)]  # one commit, then one write each
        log.clear()
        a.feed(frame("1", 6, [(112, "t2")]))
        assert log == [("commit", 0), ("write", 1)]  # a batch of one is written at once, after its commit
    asyncio.run(scenario())


def test_socket_reads_of_one_loop_turn_share_one_commit_and_one_write_per_connection():
    """Issue 16: connections readable in the same poll are read in one loop turn; their batches
    join, so the turn costs one commit (and each connection one write), still before any write."""
    from kalshi_fixsim.fixproto.aio import WriteBatch

    async def scenario():
        log: list = []
        batch = WriteBatch(commit=lambda: log.append(("commit", 0)))
        a, _ = batched_driver(batch, log, "a", socket=object())
        b, _ = batched_driver(batch, log, "b", socket=object())
        await asyncio.sleep(0)
        log.clear()
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        loop.call_soon(a.feed, frame("1", 2, [(112, "a1")]))  # both readable in one poll
        loop.call_soon(b.feed, frame("1", 2, [(112, "b1")]))
        loop.call_soon(lambda: loop.call_soon(done.set_result, None))
        await done
        assert log == [("commit", 0), ("write", 1), ("write", 1)]
        log.clear()
        a.feed(frame("1", 3, [(112, "a2")]))  # alone in its turn: at once, as before
        assert log == [("commit", 0), ("write", 1)]
    asyncio.run(scenario())
