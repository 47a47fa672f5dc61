"""A raw FIX peer for scenarios: the runner speaks FIX itself through fixproto.Session
(initiator role) over any connection; every frame received is queued for `expect`, every
frame both ways is recorded with its time (the client-side transcript, used under --target).
"""
from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

from ...fixproto.aio import SessionDriver
from ...fixproto.codec import FixMessage, encode, format_utc, parse, parse_utc
from ...fixproto.events import Disconnect, Event, LoggedOn
from ...fixproto.kalshi import LogonOptions, load_private_key, logon_payload, session_type, sign_logon
from ...fixproto.session import INITIATOR, Session, SessionConfig

HEADER_OVERRIDES = (34, 52, 43, 97, 122, 49, 56)


@dataclass
class Received:
    time: float
    frame: bytes
    message: FixMessage

    @property
    def msg_type(self) -> str:
        return self.message.get(35) or ""


class RawPeer:
    """One scripted session: `await open(connector)`, `logon()`, `send()`, `next_message()`."""

    def __init__(self, name: str, product: str, code: str, api_key: str, private_key_path, clock, *,
                 heartbeat: int = 30, options: dict | None = None, logon_fields=(), deterministic: bool = False,
                 record=None, store=None) -> None:
        self.name, self.product, self.code = name, product, code
        self.st = session_type(product, code)
        self.api_key = api_key
        self.key = load_private_key(private_key_path)
        self.clock = clock
        self.deterministic = deterministic
        self.record = record  # callback(direction, time, frame) for the transcript
        flags = LogonOptions(**(options or {})).to_fields(product)
        # Logon header overrides: SendingTime(52) is what is signed and sent; MsgSeqNum(34) its number
        self.logon_header = {t: v for t, v in logon_fields if t in (34, 52)}
        self.session = Session(SessionConfig(
            role=INITIATOR, sender_comp_id=api_key, target_comp_id=self.st.comp_id, heartbeat_interval=heartbeat,
            retransmission=self.st.retransmission, session_name=self.st.comp_id, sending_time_tolerance=None,
            logon_fields=flags + [(t, v) for t, v in logon_fields if t not in (34, 52)], validate=False),
            store=store, now=clock.now())
        self.inbox: deque[Received] = deque()
        self._arrived: asyncio.Future | None = None
        self.logged_on: asyncio.Future = asyncio.get_running_loop().create_future()
        self.driver: SessionDriver | None = None
        self.bad_signature = False

    # --- connection ----------------------------------------------------------------------

    async def open(self, connector, timeout: float) -> None:
        self.driver = SessionDriver(self.session, self._on_event, clock=self.clock, interceptor=self)
        await asyncio.wait_for(connector(lambda: self.driver), timeout)

    @property
    def closed(self) -> asyncio.Future:
        return self.driver.closed

    @property
    def store(self):
        return self.session.store

    def logon(self, reset: bool | None) -> None:
        reset = self.st.reset_required if reset is None else reset
        now = self.clock.now()
        if 52 in self.logon_header:
            when = parse_utc(str(self.logon_header[52]))
            if when is None:
                raise ValueError(f"logon_fields SendingTime {self.logon_header[52]!r} is not a FIX UTC timestamp")
            now = when
        if 34 in self.logon_header:
            if reset:
                self.session.store.reset()
            self.session.store.next_sender_seq = int(self.logon_header[34])
            self.session.start_logon(now, reset=False, signer=self._sign)  # a forced number: no 141=Y added
        else:
            self.session.start_logon(now, reset=reset, signer=self._sign)
        self.driver.pump()

    def _sign(self, sending_time: str, seq: int, sender: str, target: str) -> list[tuple[int, object]]:
        # spec 01 §3: RSA-PSS over SendingTime, "A", MsgSeqNum, SenderCompID, TargetCompID
        payload = logon_payload(sending_time, seq, sender, target)
        if self.bad_signature:
            payload += b"-tampered"  # a valid PSS signature of other bytes: fails verification
        signature = sign_logon(self.key, payload, salt_length=0 if self.deterministic else None)
        return [(95, len(signature)), (96, signature)]

    def _on_event(self, driver: SessionDriver, event: Event) -> None:
        if isinstance(event, LoggedOn) and not self.logged_on.done():
            self.logged_on.set_result(event.message)
        elif isinstance(event, Disconnect) and not self.logged_on.done():
            self.logged_on.set_exception(ConnectionError(f"{event.reason}: {event.text}".rstrip(": ")))
            self.logged_on.exception()  # retrieved: no "never retrieved" warning when unused

    # --- interceptor: both directions pass through here ----------------------------------

    def inbound(self, frame: bytes):
        now = self.clock.now()
        if self.record is not None:
            self.record(self, "in", now, frame)
        try:
            message = parse(frame)
        except Exception:  # noqa: BLE001 - a garbled frame is queued as what it is
            message = FixMessage([])
        self.inbox.append(Received(now, frame, message))
        if self._arrived is not None and not self._arrived.done():
            self._arrived.set_result(None)
        return [frame]

    def outbound(self, frame: bytes):
        if self.record is not None:
            self.record(self, "out", self.clock.now(), frame)
        return [frame]

    async def wait_arrival(self, timeout: float) -> bool:
        """True when a new frame arrived (or the connection closed) within timeout."""
        loop = asyncio.get_running_loop()
        self._arrived = loop.create_future()
        waiters = [self._arrived, asyncio.ensure_future(asyncio.shield(self.closed))]
        try:
            done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiters[1].cancel()
        return bool(done)

    # --- sending -------------------------------------------------------------------------

    def send(self, msg_type: str, fields: list[tuple[int, str]]) -> None:
        """Through the Session when it is logged on and no header tag is overridden; otherwise
        the frame is built here (header overrides: MsgSeqNum, SendingTime, PossDupFlag, ...)."""
        header = {t: v for t, v in fields if t in HEADER_OVERRIDES}
        body = [(t, v) for t, v in fields if t not in HEADER_OVERRIDES]
        session, now = self.session, self.clock.now()
        if not header and session.is_active:
            self.driver.send(msg_type, body)
            return
        store = session.store
        if 34 in header:
            seq = header[34]
        else:
            seq = store.next_sender_seq
            store.next_sender_seq += 1
        frame = encode([(35, msg_type), (49, header.get(49, self.api_key)), (56, header.get(56, self.st.comp_id)),
                        (34, seq), (52, header.get(52, format_utc(now)))]
                       + [(t, header[t]) for t in (43, 97, 122) if t in header] + body)
        session._write(frame, now)  # the Session's own output path (recorded, in order)
        self.driver.pump()

    def logout(self, text: str) -> None:
        self.driver.logout(text)

    def abort(self) -> None:
        self.driver.abort()
