"""In-memory transports (issue 12 §4): delivery order, buffered protocols, close as TCP's FIN,
abort as its RST, paused readers and half-close."""
from __future__ import annotations

import asyncio

from kalshi_fixsim.simulator.memory_transport import MemoryTransport, connect, memory_pipe
from kalshi_fixsim.simulator.virtual_clock import run_virtual


class Recorder(asyncio.Protocol):
    def __init__(self, keep_open: bool = False) -> None:
        self.events: list = []
        self.keep_open = keep_open
        self.transport: MemoryTransport | None = None
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.events.append("made")

    def data_received(self, data):
        self.events.append(data)

    def eof_received(self):
        self.events.append("eof")
        return self.keep_open

    def connection_lost(self, exc):
        self.events.append(("lost", type(exc).__name__ if exc else None))
        self.lost.set_result(None)


class SmallBuffer(asyncio.BufferedProtocol):
    def __init__(self) -> None:
        self.buffer = bytearray(4)
        self.received = b""
        self.reads = 0

    def connection_made(self, transport):
        pass

    def get_buffer(self, sizehint):
        return memoryview(self.buffer)

    def buffer_updated(self, nbytes):
        self.received += bytes(self.buffer[:nbytes])
        self.reads += 1

    def connection_lost(self, exc):
        pass


def test_bytes_arrive_on_a_later_loop_turn_in_write_order_never_inside_write():
    async def main():
        server = Recorder()
        transport, client = connect(asyncio.get_running_loop(), server, Recorder)
        transport.write(b"one")
        transport.write(b"two")
        assert server.events == ["made"]  # nothing delivered inside write()
        assert transport.get_write_buffer_size() == 6
        await asyncio.sleep(0)
        assert server.events == ["made", b"onetwo"] and transport.get_write_buffer_size() == 0
        server.transport.write(b"back")
        await asyncio.sleep(0)
        return client.events, transport.get_extra_info("peername")[0]
    assert run_virtual(main) == (["made", b"back"], "memory")


def test_a_buffered_protocol_gets_everything_through_its_own_small_buffer():
    async def main():
        proto = SmallBuffer()
        transport, _ = connect(asyncio.get_running_loop(), proto, Recorder)
        transport.write(b"8=FIXT.1.1|9=5|")
        await asyncio.sleep(0)
        return proto.received, proto.reads
    assert run_virtual(main) == (b"8=FIXT.1.1|9=5|", 4)


def test_close_delivers_what_was_written_then_eof_then_both_ends_are_lost():
    async def main():
        server = Recorder()
        transport, client = connect(asyncio.get_running_loop(), server, Recorder)
        transport.write(b"Logout")
        transport.close()
        transport.write(b"too late")
        assert transport.is_closing()
        await asyncio.wait_for(asyncio.gather(server.lost, client.lost), 1.0)
        return server.events, client.events
    server, client = run_virtual(main)
    assert server == ["made", b"Logout", "eof", ("lost", None)]
    assert client == ["made", ("lost", None)]


def test_a_peer_keeping_the_connection_half_open_can_still_answer_after_eof():
    async def main():
        loop = asyncio.get_running_loop()
        client, server = memory_pipe(loop)
        a, b = Recorder(), Recorder(keep_open=True)
        client.set_protocol(a), server.set_protocol(b)
        a.connection_made(client), b.connection_made(server)
        client.write_eof()
        await asyncio.sleep(0)
        server.write(b"still here")
        await asyncio.sleep(0)
        server.close()
        await asyncio.wait_for(asyncio.gather(a.lost, b.lost), 1.0)
        return a.events, b.events
    a, b = run_virtual(main)
    assert b == ["made", "eof", ("lost", None)]
    assert a == ["made", b"still here", "eof", ("lost", None)]


def test_abort_drops_unsent_bytes_and_the_peer_sees_a_reset():
    async def main():
        server = Recorder()
        transport, client = connect(asyncio.get_running_loop(), server, Recorder)
        transport.write(b"never delivered")
        transport.abort()
        await asyncio.wait_for(asyncio.gather(server.lost, client.lost), 1.0)
        return server.events, client.events
    server, client = run_virtual(main)
    assert server == ["made", ("lost", "ConnectionResetError")]
    assert client == ["made", ("lost", None)]


def test_a_paused_reader_holds_what_arrives_and_the_sender_sees_it_as_unread():
    async def main():
        server = Recorder()
        transport, _ = connect(asyncio.get_running_loop(), server, Recorder)
        server.transport.pause_reading()
        transport.write(b"x" * 1000)
        await asyncio.sleep(0)
        held = (server.events[1:], transport.get_write_buffer_size(), server.transport.is_reading())
        server.transport.resume_reading()
        await asyncio.sleep(0)
        return held, server.events[1:], transport.get_write_buffer_size()
    held, after, size = run_virtual(main)
    assert held == ([], 1000, False)
    assert after == [b"x" * 1000] and size == 0


def test_streams_over_an_in_memory_pipe_behave_as_open_connection():
    async def main():
        loop = asyncio.get_running_loop()
        echo = Recorder()
        reader = asyncio.StreamReader()
        transport, protocol = connect(loop, echo, lambda: asyncio.StreamReaderProtocol(reader))
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)
        writer.write(b"ping")
        await writer.drain()
        await asyncio.sleep(0)
        echo.transport.write(b"pong")
        echo.transport.close()
        data = await reader.read()  # to EOF
        writer.close()
        await writer.wait_closed()
        return echo.events, data
    events, data = run_virtual(main)
    assert events[:2] == ["made", b"ping"] and data == b"pong"
