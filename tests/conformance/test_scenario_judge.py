"""The steps that judge a client the runner does not drive (issue 14; docs/scenarios.md
"Judging a client"): expect/expect_nothing `from: client`, expect_disconnect `by:`,
expect_logon (`not_before`), expect_connections, expect_heartbeats, expect_sending_time.
The client under test is the reference FixClient with reconnect, in a thread of its own."""
from __future__ import annotations

import asyncio
import re
import textwrap
import threading
import time

import pytest

from kalshi_fixsim.simulator.scenario import load
from kalshi_fixsim.simulator.scenario.play import play_on


class BackgroundClient:
    """The reference client on its own loop, reconnecting forever with its backoff."""

    def __init__(self, fx, session: str = "NR", heartbeat: int = 4, backoff_base: float = 0.5) -> None:
        self.fx, self.session, self.heartbeat, self.backoff_base = fx, session, heartbeat, backoff_base
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.client = None

    def __enter__(self):
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(15)
        return self

    async def _start(self):
        self.client = self.fx.client("alice", session=self.session, heartbeat=self.heartbeat, reconnect=True,
                                     max_reconnects=1000, backoff_base=self.backoff_base, backoff_cap=2.0)
        await self.client.connect()

    def run(self, coro, timeout: float = 10):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __exit__(self, *exc):
        async def stop():
            await self.client.close()
        try:
            self.run(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


def judge(fx, text: str):
    (sc,) = load(textwrap.dedent(text), "judge.yaml")
    lines: list[str] = []
    outcome = play_on(sc, fx, out=lines.append)
    return outcome


HEAD = """
meta: {name: judge}
setup: {clock: {mode: real}}
steps:
  - connect: {as: alice, session: %s, client: external, name: c, within: 10s}
"""


def test_expect_from_client_sees_the_clients_answer_to_a_test_request(fix_exchange):
    with BackgroundClient(fix_exchange):
        outcome = judge(fix_exchange, HEAD % "NR" + """
  - fault: {add: {id: tr, fault: test_request, test_req_id: CONF1, session: NR, now: true}}
  - expect: {session: c, from: client, msg: Heartbeat, fields: {TestReqID: CONF1}, within: 3s}
  - expect_nothing: {session: c, from: client, for: 1s, msg: [TestRequest, Logout]}
""")
    assert outcome.passed, outcome.failure


def test_expect_from_client_failure_names_the_tags(fix_exchange):
    with BackgroundClient(fix_exchange):
        outcome = judge(fix_exchange, HEAD % "NR" + """
  - fault: {add: {id: tr, fault: test_request, test_req_id: CONF1, session: NR, now: true}}
  - expect: {session: c, from: client, msg: Heartbeat, fields: {TestReqID: OTHER}, within: 3s}
""")
    assert not outcome.passed
    assert "TestReqID(112): expected 'OTHER', got 'CONF1'" in outcome.failure


def test_from_client_and_judge_steps_need_an_external_session():
    from kalshi_fixsim.simulator.scenario import ScenarioErrors
    with pytest.raises(ScenarioErrors) as info:
        load(textwrap.dedent("""
            setup: {clock: {mode: real}}
            steps:
              - connect: {as: alice, name: a}
              - expect: {session: a, from: client, msg: Heartbeat}
              - expect_disconnect: {session: a, by: client}
              - expect_logon: {session: a, within: 5s}
              - expect_connections: {session: a, for: 1s}
              - expect_heartbeats: {session: a, for: 1s, slack: soon}
            """), "x.yaml")
    text = str(info.value)
    assert "steps[1].expect.from: from: client needs a session opened with client: external" in text
    assert "steps[2].expect_disconnect.by: by: needs a session opened with client: external" in text
    assert "steps[3].expect_logon.session: expect_logon judges a client under test" in text
    assert "steps[4].expect_connections: expected at_most: N or at_least: N" in text
    assert "steps[5].expect_heartbeats.slack: expected a duration" in text


def test_venue_logout_is_a_disconnect_by_the_venue_then_a_new_logon(fix_exchange):
    with BackgroundClient(fix_exchange, backoff_base=0.2):
        outcome = judge(fix_exchange, HEAD % "NR" + """
  - fault: {add: {id: lo, fault: logout, text: bye, session: NR, now: true}}
  - expect: {session: c, from: client, msg: Logout, within: 3s}
  - expect_disconnect: {session: c, by: venue, within: 3s}
  - expect_logon: {session: c, within: 10s, fields: {ResetSeqNumFlag: "Y"}}
  - expect_heartbeats: {session: c, for: 5s}
""")
        assert outcome.passed, outcome.failure
        wrong = judge(fix_exchange, HEAD % "NR" + """
  - fault: {add: {id: lo2, fault: logout, text: bye, session: NR, now: true}}
  - expect_disconnect: {session: c, by: client, within: 3s}
""")
    assert not wrong.passed
    assert "the connection was ended by the venue (logout: bye), expected by the client" in wrong.failure


def test_expect_logon_not_before_says_how_soon_it_came(fix_exchange):
    with BackgroundClient(fix_exchange, backoff_base=0.05):
        outcome = judge(fix_exchange, HEAD % "NR" + """
  - fault: {add: {id: rst, fault: reset, session: NR, now: true}}
  - expect_disconnect: {session: c, by: venue, within: 3s}
  - expect_logon: {session: c, within: 10s, not_before: 5s}
""")
    assert not outcome.passed
    assert "reconnected after 0." in outcome.failure and "expected ≥ 5 s" in outcome.failure


def test_expect_connections_counts_attempts_even_refused_ones(fix_exchange):
    with BackgroundClient(fix_exchange, backoff_base=0.05):
        outcome = judge(fix_exchange, HEAD % "NR" + """
  - fault: {add: {id: refuse, fault: refuse_connections, session: NR}}
  - fault: {add: {id: rst, fault: reset, session: NR, now: true}}
  - expect_connections: {session: c, at_most: 1, for: 4s}
""")
    assert not outcome.passed
    assert "connection attempts within 4s, expected at most 1" in outcome.failure


def test_a_quiet_client_makes_no_connection_and_keeps_its_sending_time(fix_exchange):
    with BackgroundClient(fix_exchange):
        ok = judge(fix_exchange, HEAD % "NR" + """
  - expect_connections: {session: c, at_most: 0, for: 1s}
  - expect_sending_time: {session: c, for: 5s, tolerance: 1s}
""")
    assert ok.passed, ok.failure


def test_a_refused_logon_fails_connect_with_the_venues_text(fix_exchange):
    fix_exchange.faults.add(fault="refuse_logon", text="not today", session="NR")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def log_on():
        deadline = time.monotonic() + 10
        while not fix_exchange.sim.conn_watchers:  # the scenario watches first: its connect sees the refusal
            assert time.monotonic() < deadline, "the scenario never started watching the venue"
            await asyncio.sleep(0.01)
        client = fix_exchange.client("alice", session="NR", heartbeat=4)
        with pytest.raises(Exception):
            await client.connect()
    try:
        attempt = asyncio.run_coroutine_threadsafe(log_on(), loop)
        outcome = judge(fix_exchange, HEAD % "NR")
        attempt.result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert not outcome.passed
    assert "the venue refused the client's Logon on prediction/NR: Text(58)='not today'" in outcome.failure


def test_heartbeats_too_rare_fail_with_the_silence(fix_exchange):
    with BackgroundClient(fix_exchange, heartbeat=8):
        outcome = judge(fix_exchange, HEAD % "NR" + """
  - expect_heartbeats: {session: c, for: 6s, interval: 2s, slack: 1s}
""")
    assert not outcome.passed
    assert "the client sent nothing for 3." in outcome.failure and "HeartBtInt(108)=2 s" in outcome.failure


def test_kit_variables_are_put_in_before_the_check():
    from kalshi_fixsim.simulator.scenario.kitvars import kit_values
    text = textwrap.dedent("""
        meta: {name: k, sessions: [RT], products: [margin], conform: {profile: session, id: X1}}
        setup: {clock: {mode: real}}
        steps:
          - connect: {client: external, as: alice, session: ${session}, product: ${product}, name: c}
          - expect: {session: c, from: client, msg: Heartbeat, within: ${2hb}}
        """)
    (sc,) = load(text, "k.yaml")  # alone: its meta's first session and product, the kit's heartbeat
    assert sc.steps[0].args["session"] == "RT" and sc.steps[0].args["product"] == "margin"
    assert sc.steps[1].args["within"] == 6.0 and sc.conform == {"profile": "session", "id": "X1"}
    (sc,) = load(text, "k.yaml", kit=kit_values("prediction", "NR", heartbeat=5))
    assert sc.steps[0].args["session"] == "NR" and sc.steps[1].args["within"] == 10.0


def test_clock_may_be_written_at_the_top_as_conformance_cases_do():
    (sc,) = load("clock: {mode: real}\nsteps:\n  - connect: {as: alice, client: external, name: c}\n", "t.yaml")
    assert sc.setup.clock == "real" and sc.needs_external_client
    from kalshi_fixsim.simulator.scenario import ScenarioErrors
    with pytest.raises(ScenarioErrors, match="expected clock either at the top or in setup, not both"):
        load("clock: {mode: real}\nsetup: {clock: {mode: real}}\nsteps: []\n", "t.yaml")


def test_expect_resend_passes_replays_and_fails_a_gap_fill_over_an_order(fix_exchange):
    from kalshi_fixsim.fixproto.store import MemoryStore

    class Forgetful(MemoryStore):
        def fetch(self, begin, end):  # a client that keeps nothing: it can only gap-fill
            return []

    rt = HEAD.replace("within: 10s", "within: 10s") % "RT"
    steps = """
  - fault: {add: {id: %s, fault: resend_request, begin: 1, end: 0, session: RT, now: true}}
  - expect_resend: {session: c, begin: 1, within: 5s}
"""
    for store, rule in ((None, "rr1"), (Forgetful, "rr2")):
        with BackgroundClient(fix_exchange, session="RT") as bg:
            if store is not None:
                bg.client.store.__class__ = store
            order = [(11, f"o-{rule}"), (55, "KXTEST-26JAN01-A"), (54, 1), (38, 1), (40, 2), (44, 1), (59, 1)]
            bg.run(_send(bg.client, order))
            outcome = judge(fix_exchange, rt + steps % rule)
        if store is None:
            assert outcome.passed, outcome.failure
        else:
            assert not outcome.passed
            assert "skips application message(s)" in outcome.failure and "NewOrderSingle(D)" in outcome.failure


async def _send(client, body):
    client.send("D", body)
    await client.expect("8")


def test_heartbeats_too_early_fail_with_the_interval(fix_exchange):
    with BackgroundClient(fix_exchange, heartbeat=4):
        outcome = judge(fix_exchange, HEAD % "NR" + """
  - expect_heartbeats: {session: c, for: 10s, interval: 8s, slack: 1s}
""")
    assert not outcome.passed
    assert "a Heartbeat 4." in outcome.failure and "after the previous one: expected ≥ HeartBtInt(108)=8 s" in \
        outcome.failure


def test_a_skewed_sending_time_fails_with_the_offset(fix_exchange):
    import time

    class Ahead:
        def now(self):
            return time.time() + 5.0  # within the venue's 30 s, not within the kit's 1 s

    bg = BackgroundClient(fix_exchange)
    bg.thread.start()

    async def start():
        bg.client = fix_exchange.client("alice", session="NR", heartbeat=4, clock=Ahead())
        await bg.client.connect()
    try:
        bg.run(start())
        outcome = judge(fix_exchange, HEAD % "NR" + """
  - fault: {add: {id: tr, fault: test_request, test_req_id: SKEW, session: NR, now: true}}
  - expect_sending_time: {session: c, for: 2s, tolerance: 1s}
""")
    finally:
        bg.__exit__(None, None, None)
    assert not outcome.passed
    assert re.search(r"SendingTime\(52\) is \+(4\.9|5\.0)\d* s from the venue.s clock, expected within ±1 s", outcome.failure)
