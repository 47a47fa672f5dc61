"""Every fault of the catalogue against a live venue: whatever a rule does, the simulator logs
no error of its own and keeps serving (DESIGN §3 rule 12: our bugs never crash a connection)."""
from __future__ import annotations

import asyncio
import logging

from kalshi_fixsim.simulator.faults import CATALOGUE
from tests.conformance.test_faults_wire import Peer
from tests.wire import run

NEEDS = {"control": {"op": "halt"}}
# Faults that end, refuse or garble the connection (the Logon answer included: no match given).
BREAKS_THE_CONNECTION = {"reset", "close", "close_after_bytes", "refuse_connections", "drop", "reorder",
                         "corrupt_checksum", "corrupt_body_length", "garble", "truncate", "refuse_logon",
                         "logout", "half_close", "coalesce", "logon_seq"}


def test_every_fault_leaves_the_venue_serving_and_logs_no_error_of_ours(fix_exchange, caplog):
    caplog.set_level(logging.WARNING, logger="kalshi_fixsim")
    fix_exchange.call(lambda: fix_exchange.sim.ratelimits.__setattr__("logon_enabled", False))  # ~80 Logons

    async def exercise(name: str) -> None:
        kind = CATALOGUE[name]
        rule = {"fault": name, "session": "RT", **NEEDS.get(name, {})}
        if "message" in kind.triggers or "now" not in kind.triggers:
            rule["times"] = 2
        try:
            peer = await Peer.open(fix_exchange, session="RT")
        except (AssertionError, ConnectionError, OSError, asyncio.TimeoutError):
            peer = None  # the fault is in place before the Logon in the second round
        fix_exchange.faults.add({**rule, **({"now": True} if "now" in kind.triggers and "message" not in
                                            kind.triggers else {})})
        try:
            if peer is None:
                peer = await Peer.open(fix_exchange, session="RT")
            peer.order(f"{name}-1")
            peer.test_request("T1")
            await peer.silent_for(0.15)
            peer.conn.close()
        except (AssertionError, ConnectionError, OSError, asyncio.TimeoutError, EOFError) as exc:
            assert name in BREAKS_THE_CONNECTION, f"{name}: {exc!r}"  # ending it is that fault's job
        fix_exchange.faults.clear()
        await released()
        if name == "control":
            fix_exchange.control.resume_market("KXTEST-26JAN01-A")

    async def released() -> None:
        """Until the venue has let go of alice's connection (one connection per key)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while any(s["account"] == "alice" for s in fix_exchange.control.sessions()):
            assert loop.time() < deadline, "the venue kept the connection"
            await asyncio.sleep(0.01)

    async def go():
        for name in CATALOGUE:
            await exercise(name)
        peer = await Peer.open(fix_exchange, session="NR")  # and the venue still serves
        peer.test_request("after-all")
        assert (await peer.expect("0")).get(112) == "after-all"
    run(go(), timeout=120)
    ours = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert ours == [], [r.getMessage() for r in ours]
