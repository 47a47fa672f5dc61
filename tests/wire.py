"""Raw FIX over TLS for tests that must send what no well-behaved client would."""
from __future__ import annotations

import asyncio
import functools
import ssl
import time

from kalshi_fixsim.fixproto.codec import FixMessage, Framer, encode, format_utc, parse
from kalshi_fixsim.fixproto.kalshi import load_private_key, logon_payload, sign_logon


# Loading an RSA private key checks it (about 0.1 s here): once per key file, not per Logon.
_private_key = functools.lru_cache(maxsize=64)(load_private_key)


def run(coro, timeout: float = 30.0):
    """Run a coroutine to completion with an absolute timeout."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


def logon(account, target: str, *, seq: int = 1, now: float | None = None, hb: object = 30, reset: bool = True,
          extra=(), key_path=None, signed_time: str | None = None, drop=()) -> bytes:
    """A signed Logon; `signed_time` signs another SendingTime than the one sent (re-stamping)."""
    sending_time = format_utc(time.time() if now is None else now)
    key = _private_key(key_path or account.private_key_path)
    signature = sign_logon(key, logon_payload(signed_time or sending_time, seq, account.api_key, target))
    fields = [(35, "A"), (49, account.api_key), (56, target), (34, seq), (52, sending_time), (98, 0)]
    if hb is not None:
        fields.append((108, hb))
    fields += [(95, len(signature)), (96, signature)]
    if reset:
        fields.append((141, "Y"))
    fields.append((1137, "9"))
    fields += list(extra)
    return encode([f for f in fields if f[0] not in drop])


def message(account, target: str, msg_type: str, seq: int, body=(), *, now: float | None = None) -> bytes:
    return encode([(35, msg_type), (49, account.api_key), (56, target), (34, seq),
                   (52, format_utc(time.time() if now is None else now))] + list(body))


class RawConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.framer = Framer()
        self.pending: list[FixMessage] = []

    @classmethod
    async def open(cls, fx, product: str, session: str) -> "RawConnection":
        ep = fx.endpoint(product, session)
        ctx = ssl.create_default_context(cafile=str(fx.ca_file))
        reader, writer = await asyncio.open_connection(ep.host, ep.port, ssl=ctx, server_hostname="localhost")
        return cls(reader, writer)

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read(self, timeout: float = 5.0) -> FixMessage | None:
        """The next message, or None at EOF."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), max(0.01, deadline - loop.time()))
            if not data:
                return None
            self.pending += [parse(f) for f in self.framer.feed(data) if isinstance(f, bytes)]
        return self.pending.pop(0)

    async def read_until_closed(self, timeout: float = 5.0) -> list[FixMessage]:
        out = []
        while (msg := await self.read(timeout)) is not None:
            out.append(msg)
        return out

    async def expect(self, msg_type: str, timeout: float = 5.0) -> FixMessage:
        while True:
            msg = await self.read(timeout)
            assert msg is not None, f"connection closed while waiting for 35={msg_type}"
            if msg.get(35) == msg_type:
                return msg

    def close(self) -> None:
        self.writer.close()


class DropFirst:
    """Client-side interceptor that loses the first inbound frame of a MsgType (a gap)."""

    def __init__(self, msg_type: str) -> None:
        self.marker = b"\x0135=%s\x01" % msg_type.encode()
        self.dropped = False

    def inbound(self, frame: bytes):
        if self.marker in frame and not self.dropped:
            self.dropped = True
            return []
        return [frame]

    def outbound(self, frame: bytes):
        return [frame]
