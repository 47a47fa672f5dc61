"""The background market maker (issue 3 §6) and trading from the shell against it."""
from __future__ import annotations


import pytest

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.orders import ExecutionReport, new_order
from kalshi_fixsim.simulator.cli import main
from kalshi_fixsim.simulator.config import MarketMakerConfig
from kalshi_fixsim.simulator.engine.types import Side
from tests.wire import run

A = "KXTEST-26JAN01-A"


@pytest.fixture
def mm_exchange(fix_exchange_factory):
    return fix_exchange_factory(market_maker=MarketMakerConfig(enabled=True, spread_cents=4, size=10, levels=3,
                                                               refresh_seconds=60.0))


def test_market_maker_quotes_both_sides_of_every_open_market(mm_exchange):
    def books(ex):
        return {m.ticker: (len(ex.book(m.ticker).levels(Side.BUY, 10)), len(ex.book(m.ticker).levels(Side.SELL, 10)))
                for m in ex.markets() if m.status.value == "open"}
    depth = mm_exchange.call(lambda: books(mm_exchange.sim.venues["prediction"].exchange))
    assert depth and all(bids == 3 and asks == 3 for bids, asks in depth.values()), depth


def test_a_client_alone_gets_filled_against_the_market_maker(mm_exchange):
    async def scenario():
        async with mm_exchange.client("alice", options=LogonOptions(skip_pending_exec_reports=True)) as fix:
            fix.send("D", new_order("o1", A, "buy", 99, 5, tif="ioc"))
            fills = [ExecutionReport(m) for m in await fix.collect()]
            assert [r.kinds for r in fills] == [("F", "2")] and fills[0].aggressor
    run(scenario())


def test_shell_client_places_amends_cancels_and_gets_filled(mm_exchange, tmp_path, capsys):
    alice = mm_exchange.accounts["alice"]
    ep = mm_exchange.endpoint("prediction", "NR")
    common = ["--config", str(tmp_path / "absent.yaml"), "--port", str(ep.port), "--api-key", alice.api_key,
              "--key", str(alice.private_key_path), "--ca", str(mm_exchange.ca_file), "--symbol", A, "--side", "buy"]

    def shell(*args) -> str:
        assert main(["client", *args[:1], *common, *args[1:]]) == 0
        return capsys.readouterr().out

    assert "ExecutionReport 0/0 ClOrdID=r1" in shell("order", "--cl-ord-id", "r1", "--price", "2", "--qty", "3")
    assert "ExecutionReport 5/0 ClOrdID=r2" in shell("amend", "--cl-ord-id", "r2", "--orig", "r1", "--qty", "4",
                                                     "--price", "3")
    assert "ExecutionReport 4/4 ClOrdID=c1" in shell("cancel", "--cl-ord-id", "c1", "--orig", "r2")
    out = shell("order", "--cl-ord-id", "f1", "--price", "99", "--qty", "2")
    assert "ExecutionReport F/2 ClOrdID=f1" in out and "fill 2.00@" in out


class _Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def test_a_long_run_forgets_ended_orders_so_memory_stays_flat(mm_exchange):
    """The market maker re-quotes every refresh; the clock work drops orders that ended more
    than ORDER_MEMORY ago (Simulator.tick -> Exchange.forget_final_orders)."""
    sim = mm_exchange.sim
    clock = _Clock(sim.clock.now())

    def hours(n: int) -> dict[str, int]:
        for _ in range(n * 12):  # a tick every 5 minutes: a refresh each time
            clock.t += 300.0
            sim.tick()
        return {product: len(venue.exchange._orders) for product, venue in sim.venues.items()}

    def setup():
        sim.clock = clock
        sim.ORDER_MEMORY = 3600.0  # an hour instead of a day, to keep the test short

    mm_exchange.call(setup)
    after_3h = mm_exchange.call(lambda: hours(3))
    after_9h = mm_exchange.call(lambda: hours(6))
    assert after_9h == after_3h and all(after_9h.values()), (after_3h, after_9h)
    mm_exchange.call(lambda: [venue.exchange.check_invariants() for venue in sim.venues.values()])
