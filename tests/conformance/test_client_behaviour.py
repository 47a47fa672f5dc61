"""The reference client's session rules against the simulator over TLS (spec 01 §4-§7)."""
from __future__ import annotations

import asyncio

import pytest

from tests.wire import run


class Switch:
    """Server-side interceptor: passes everything until `mute` is set, then drops all output."""

    def __init__(self):
        self.mute = False
        self.inbound_frames: list[bytes] = []

    def inbound(self, frame):
        self.inbound_frames.append(frame)
        return [frame]

    def outbound(self, frame):
        return [] if self.mute else [frame]


@pytest.fixture
def muted_exchange(fix_exchange_factory):
    """A simulator whose margin NR output can be silenced, to play a dead gateway."""
    switch = Switch()
    fx = fix_exchange_factory(interceptor_factory=lambda product, code: switch if (product, code) == ("margin", "NR")
                              else None)
    return fx, switch


def test_client_detects_a_silent_gateway_with_test_request_and_drops_it(muted_exchange):
    fx, switch = muted_exchange

    async def scenario():
        fix = fx.client("alice", "margin", "NR", heartbeat=3)  # margin allows 3 s (spec 01 §2.1)
        await fix.connect()
        switch.mute = True
        closed = await fix.wait_closed(timeout=15)
        assert closed.reason == "heartbeat_timeout"
        sent = b"".join(switch.inbound_frames)
        assert b"\x0135=1\x01" in sent  # it asked with a TestRequest before giving up
    run(scenario(), timeout=30)


def test_client_resets_sequence_numbers_on_every_logon_of_a_reset_session(fix_exchange):
    async def scenario():
        fix = fix_exchange.client("alice", "prediction", "NR")
        await fix.connect()
        await fix.logout()
        reply = await fix.connect()
        assert reply.get(141) == "Y" and reply.get(34) == "1" and fix.store.next_sender_seq == 2
        await fix.logout()
    run(scenario())


def test_client_answers_the_gateways_resend_request_from_its_own_store(fix_exchange):
    async def scenario():
        fix = fix_exchange.client("alice", "prediction", "RT")
        await fix.connect()
        fix.send("D", [(11, "o-1"), (38, 1), (40, 2), (44, 50), (54, 1), (55, "T")])
        await fix.expect("8")
        # Make the gateway believe it missed everything after the Logon, then ask for it.
        fix_exchange.call(lambda: [setattr(c.driver.session.store, "next_target_seq", 2)
                                   for c in fix_exchange.sim.connections])
        fix.send("D", [(11, "o-2"), (38, 1), (40, 2), (44, 50), (54, 1), (55, "T")])
        # o-2 arrives as seq 3 while 2 is expected: the gateway asks, our client replays o-1 with
        # PossDup, and both orders get their (rejected: unknown market) report in order.
        first, second = await fix.expect("8"), await fix.expect("8")
        assert [first.get(11), second.get(11)] == ["o-1", "o-2"]
        await fix.logout()
    run(scenario())


def test_client_logon_refusal_surfaces_the_gateway_text(fix_exchange):
    from kalshi_fixsim.client import LogonError

    async def scenario():
        fix = fix_exchange.client("margin_only", "prediction", "NR")
        with pytest.raises(LogonError, match="not enabled for the prediction product"):
            await fix.connect()
    run(scenario())


def test_client_connect_to_a_closed_port_fails_cleanly(fix_exchange):
    from kalshi_fixsim.client import FixClient, LogonError

    async def scenario():
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()
        fix = FixClient(api_key=fix_exchange.accounts["alice"].api_key,
                        private_key=fix_exchange.accounts["alice"].private_key_path, port=port,
                        ca_file=fix_exchange.ca_file, connect_timeout=2)
        with pytest.raises(LogonError) as err:
            await fix.connect()
        assert err.value.reason == "connect_failed"
    run(scenario())


def test_client_surfaces_the_logout_text_when_a_reject_precedes_it(fix_exchange):
    """Clock skew: the gateway answers Reject 373=10 then Logout (spec 01 §11)."""
    from kalshi_fixsim.client import LogonError

    class Skewed:
        def now(self):
            import time
            return time.time() - 45

    async def scenario():
        fix = fix_exchange.client("alice", clock=Skewed())
        with pytest.raises(LogonError, match="SendingTime accuracy problem"):
            await fix.connect()
        assert [r.get(373) for r in fix.rejects] == ["10"]
    run(scenario())
