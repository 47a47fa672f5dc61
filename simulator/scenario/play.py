"""Run a checked scenario on a fresh test venue (virtual clock: one loop, in-memory
connections; real clock: a SimulatorThread on TLS port 0) or against a --target."""
from __future__ import annotations

import asyncio
import dataclasses
from typing import Callable

from .model import Scenario
from .runner import Outcome, Runner
from .venues import LocalVenue, TargetVenue, ThreadVenue


def _config(scenario: Scenario, accounts: dict, tls):
    from ..testvenue import make_test_config

    config = make_test_config(accounts, tls, **scenario.setup.config)
    if scenario.setup.markets:
        markets = {p: list(ms) for p, ms in config.markets.items()}
        for product, market in scenario.setup.markets:
            markets.setdefault(product, []).append(market)
        config = dataclasses.replace(config, markets=markets)
    return config


def play(scenario: Scenario, accounts: dict, tls, ca_file, *, out: Callable[[str], None] = print,
         last: int = 20) -> Outcome:
    """On a fresh simulator built like the pytest plugin's."""
    from ..server import Simulator, SimulatorThread
    from ..virtual_clock import run_virtual

    config = _config(scenario, accounts, tls)
    if scenario.setup.clock == "virtual":
        async def main():
            sim = Simulator(config)
            await sim.start(listen=False)
            try:
                return await Runner(scenario, LocalVenue(sim, accounts), out=out, last=last).run()
            finally:
                await sim.stop()
        return run_virtual(main, start=scenario.setup.start)
    thread = SimulatorThread(config)
    thread.start()
    try:
        return asyncio.run(Runner(scenario, ThreadVenue(thread, accounts, ca_file), out=out, last=last).run())
    finally:
        thread.stop()


def play_on(scenario: Scenario, fx, *, out: Callable[[str], None] = print, last: int = 20) -> Outcome:
    """On a running fix_exchange (real clock); virtual-clock scenarios get a fresh virtual venue."""
    if scenario.setup.config or scenario.setup.markets:
        raise ValueError(f"{scenario.where}: setup.config/markets need a fresh simulator: "
                         "run it with fix_exchange_factory or @pytest.mark.fix_scenario")
    return asyncio.run(Runner(scenario, ThreadVenue(fx.runner, fx.accounts, fx.ca_file), out=out, last=last).run())


def play_target(scenario: Scenario, target, *, out: Callable[[str], None] = print, last: int = 20) -> Outcome:
    return asyncio.run(Runner(scenario, TargetVenue(target), out=out, last=last).run())
