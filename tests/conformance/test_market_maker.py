"""The background market maker (issue 3 §6) and trading from the shell against it."""
from __future__ import annotations


import pytest

from client import LogonOptions
from client.orders import ExecutionReport, new_order
from simulator.cli import main
from simulator.config import MarketMakerConfig
from simulator.engine.types import Side
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
