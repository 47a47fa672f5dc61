"""Venue.dispatch: delivery to one sink never stops delivery to the others (issue 11 §4)."""
from __future__ import annotations

import logging
import random

from kalshi_fixsim.simulator.engine.exchange import Exchange
from kalshi_fixsim.simulator.engine.types import MONEY_SCALE, Market, Side
from kalshi_fixsim.simulator.gateway.reports import ReportFlags
from kalshi_fixsim.simulator.gateway.venue import Venue
from tests.unit.engine_helpers import TICKER, req

T0 = 1_000_000.0


class Sink:
    def __init__(self, name: str, fail_after: int | None = None) -> None:
        self.session_id, self.flags, self.fail_after, self.got = name, ReportFlags(), fail_after, []

    def deliver(self, msg_type: str, body) -> None:
        if self.fail_after is not None and len(self.got) >= self.fail_after:
            raise AttributeError("'NoneType' object has no attribute '_get_write_buffer_size'")
        self.got.append(body)


def test_a_sink_that_raises_mid_batch_never_stops_the_counterparty_listener_history_or_observers(caplog):
    ex = Exchange(rng=random.Random(1))
    ex.add_market(Market(TICKER))
    for name in ("alice", "bob"):
        ex.add_account(name, 1_000 * MONEY_SCALE)
    venue = Venue("prediction", ex)
    broken, bob, listener = Sink("alice-NR", fail_after=1), Sink("bob-NR"), Sink("alice-listener")
    recorded, observed = [], []
    venue.history = type("H", (), {"record": lambda self, account, body, data=None: recorded.append(account)})()
    venue.observers.append(lambda events: observed.append(len(events)))
    venue.attach("alice-NR", "alice", broken, listener=False)
    venue.attach("bob-NR", "bob", bob, listener=False)
    venue.attach("alice-listener", "alice", listener, listener=True)
    for i in range(3):
        ex.new_order(req("alice", f"a{i}", Side.BUY, 50, 1, session="alice-NR"), T0)
    with caplog.at_level(logging.ERROR):
        venue.dispatch(ex.new_order(req("bob", "b", Side.SELL, 50, 3, session="bob-NR"), T0))
    assert len(broken.got) == 1                      # it failed on its second report
    assert len(listener.got) == 3                    # alice's three fills still reach her listener
    assert bob.got and recorded.count("alice") == 3  # the counterparty and drop copy's history too
    assert len(observed) == 1 and observed[0] >= 4   # market data saw the batch
    assert sum("delivery to alice-NR failed" in r.getMessage() for r in caplog.records) == 1
