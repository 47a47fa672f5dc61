"""pytest plugin (entry point `pytest11`): a simulator on port 0, in-process, for tests.

    def test_my_client_logs_on(fix_exchange):
        ep = fix_exchange.endpoints.prediction.NR        # host, port, comp_id
        alice = fix_exchange.accounts["alice"]           # api_key, private_key_path
        ... connect with your client, trusting fix_exchange.ca_file ...

    def test_heartbeats(fix_virtual):                    # the virtual clock, no socket
        async def body(vx):
            async with vx.client("alice", heartbeat=30) as fix:
                await vx.advance(95)                      # 95 virtual seconds, no wall time
        fix_virtual.run(body, start="Thursday 02:59:50 America/New_York")

The simulator runs on its own event loop in a background thread, so tests may be plain
functions that drive any client (sync or async); `fix_virtual` runs the simulator and the
test's peers on one virtual-clock loop instead (simulator/virtual_clock.py).
`fix_exchange.client(...)` builds the reference client for an account and endpoint. Certificates and keys are made once per
test run. This module and the CLI are the only glue allowed to import both the simulator
and the client (DESIGN.md §2).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest

from .config import TlsConfig
from .fault_handles import FaultsProxy
from .server import Endpoint, Simulator, SimulatorThread
from .testvenue import TEST_ACCOUNTS, TEST_MARKETS, TestAccount, make_material, make_test_config  # noqa: F401
from .virtual_clock import DEFAULT_LIMIT, advance, run_virtual

__all__ = ["FixExchange", "VirtualExchange", "VirtualRunner", "TestAccount", "TEST_ACCOUNTS", "assert_conforms"]


def assert_conforms(**kwargs):
    """Grade a client inside a test (issue 14): `kalshi_fixsim.conform.run(**kwargs)` (profile,
    product, session, client_cmd= or client=, report, junit, ...) and fail the test with the
    summary table, failures' diffs and transcript excerpts if a mandatory case failed. Returns
    the ConformResult. Also a fixture: `def test_bot(assert_conforms): assert_conforms(...)`."""
    from .conform import run

    kwargs.setdefault("out", lambda _line: None)
    result = run(**kwargs)
    if not result.passed:
        pytest.fail("kalshi-fixsim conform: a mandatory case failed\n" + result.summary(), pytrace=False)
    return result


@pytest.fixture(name="assert_conforms")
def _assert_conforms_fixture():
    """The `assert_conforms` helper as a fixture (no import needed in the test module)."""
    return assert_conforms

class FixExchange:
    """A running simulator plus what a client needs to reach it."""

    def __init__(self, runner: SimulatorThread, accounts: dict[str, TestAccount], ca_file: Path) -> None:
        self.runner = runner
        self.sim: Simulator = runner.sim  # type: ignore[assignment]
        self.accounts = accounts
        self.ca_file = ca_file
        self.endpoints = SimpleNamespace(**{
            product: SimpleNamespace(**{code: ep for (p, code), ep in self.sim.endpoints.items() if p == product})
            for product in {p for p, _ in self.sim.endpoints}})

    def endpoint(self, product: str, session: str) -> Endpoint:
        return self.sim.endpoint(product, session)

    def run_scenario(self, path, **kwargs) -> list:
        """Play a scenario file or folder (docs/scenarios.md); raises ScenarioFailed with the diff."""
        from .scenario.pytest_glue import run_on_exchange
        return run_on_exchange(self, path, **kwargs)

    def client(self, account: str = "alice", product: str = "prediction", session: str = "NR", **kwargs):
        """The reference FixClient for an account and endpoint (not yet connected)."""
        from kalshi_fixsim.client import FixClient

        ep = self.endpoint(product, session)
        acct = self.accounts[account]
        kwargs.setdefault("tls", ep.tls)  # plaintext simulators (plaintext=True) get a plaintext client
        return FixClient(product=product, session=session, host=ep.host, port=ep.port, api_key=acct.api_key,
                         private_key=acct.private_key_path, ca_file=self.ca_file, **kwargs)

    def call(self, fn, *args):
        """Run fn(*args) on the simulator's event loop (thread-safe access to its state)."""
        return self.runner.call(fn, *args)

    @property
    def control(self) -> "ControlProxy":
        """The control plane, callable from the test thread: `fix_exchange.control.reset()`."""
        return ControlProxy(self)

    @property
    def faults(self) -> FaultsProxy:
        """Fault rules: `fix_exchange.faults.add(fault="drop", match={"35": "8"})` -> a handle."""
        return FaultsProxy(self.runner.call, lambda: self.sim.faults, self._run)

    def _run(self, coro, timeout: float):
        import asyncio
        return asyncio.run_coroutine_threadsafe(coro, self.runner.loop).result(timeout)

    @property
    def control_url(self) -> str | None:
        server = self.sim.control_server
        return f"http://127.0.0.1:{server.port}" if server is not None else None


class ControlProxy:
    """Runs each Control operation on the simulator's loop thread and returns its result."""

    def __init__(self, fx: FixExchange) -> None:
        self._fx = fx

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        operation = getattr(self._fx.sim.control, name)
        return lambda *args, **kwargs: self._fx.runner.call(lambda: operation(*args, **kwargs))


@pytest.fixture(scope="session")
def fix_material(tmp_path_factory) -> tuple[Path, dict[str, TestAccount], TlsConfig]:
    """Dev certificates and the test accounts' keys, made once per test run."""
    return make_material(tmp_path_factory.mktemp("kalshi-fixsim"))


@pytest.fixture
def fix_exchange_factory(fix_material, request):
    """Start simulators with config overrides: `fix_exchange_factory(fees=FeeConfig(...))`,
    `fix_exchange_factory(rate_limits=False)` (no rate limits, as `serve --no-rate-limits`)."""
    ca_file, accounts, tls = fix_material
    runners: list[SimulatorThread] = []

    def start(*, interceptor_factory=None, control_port: int | None = None, plaintext: bool = False,
              **overrides) -> FixExchange:
        kwargs: dict = {"interceptor_factory": interceptor_factory} if interceptor_factory else {}
        # plaintext: like `serve --plaintext`, no TLS, on 127.0.0.1 only (docs/behaviour.md "Plaintext")
        chosen = dataclasses.replace(tls, enabled=False) if plaintext else tls
        if control_port is not None:
            kwargs["control_port"] = control_port  # 0: the HTTP control plane on a free port
        runner = SimulatorThread(make_test_config(accounts, chosen, **overrides), **kwargs)
        runner.start()
        runners.append(runner)
        fx = FixExchange(runner, accounts, ca_file)
        request.node.__dict__.setdefault("_fix_exchanges", []).append(fx)  # for the failure transcript
        return fx

    try:
        yield start
    finally:
        for runner in runners:
            runner.stop()


def _reference_client():
    from kalshi_fixsim.client import FixClient, LogonOptions
    return FixClient, LogonOptions


def pytest_configure(config) -> None:
    from .scenario.client_peer import use_client
    use_client(_reference_client)  # `raw: false` scenario sessions are the reference client (this is glue)
    config.addinivalue_line("markers", "fix_exchange(**switches): start this test's fix_exchange with "
                                       "fix_exchange_factory(**switches), e.g. plaintext=True, rate_limits=False")
    config.addinivalue_line("markers", "fix_scenario(*paths): run these scenario files beside the test body "
                                       "against its fix_exchange; the test fails if a scenario does")


def pytest_collection_modifyitems(items) -> None:
    for item in items:  # a fix_scenario test runs against a fix_exchange even if it does not ask for one
        if item.get_closest_marker("fix_scenario") and "fix_exchange" not in getattr(item, "fixturenames", ["x"]):
            item.fixturenames.append("fix_exchange")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    marker = item.get_closest_marker("fix_scenario")
    if marker is None:
        return (yield)
    from .scenario.pytest_glue import MarkedRun
    run = MarkedRun(item.funcargs["fix_exchange"], marker.args, item.config.rootpath).start()
    try:
        result = yield
    finally:
        run_error = None
        try:
            run.finish()
        except BaseException as exc:  # noqa: BLE001 - the scenario's failure is the test's
            run_error = exc
    if run_error is not None:
        raise run_error
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    exchanges = item.__dict__.get("_fix_exchanges")
    if report.failed and exchanges and report.when == "call":
        from .scenario.pytest_glue import transcript_section
        text = transcript_section(exchanges)
        if text:
            report.sections.append(("kalshi-fixsim transcript (last messages per session)", text))
    return report


@pytest.fixture
def fix_exchange(request, fix_exchange_factory):
    """A fresh simulator serving every endpoint of both products on port 0; the test's
    `@pytest.mark.fix_exchange(plaintext=True, rate_limits=False, ...)` passes switches to
    fix_exchange_factory."""
    marker = request.node.get_closest_marker("fix_exchange")
    return fix_exchange_factory(**(marker.kwargs if marker is not None else {}))



class VirtualExchange:
    """A simulator on the virtual clock and in-memory connections, all on the test's one loop
    (simulator/virtual_clock.py): `await vx.advance(95)` lets 95 s pass in no wall time."""

    def __init__(self, sim: Simulator, accounts: dict[str, TestAccount]) -> None:
        self.sim = sim
        self.accounts = accounts
        self.control = sim.control  # same loop, same thread: called directly

    @property
    def now(self) -> float:
        return self.sim.clock.now()

    async def advance(self, seconds: float) -> None:
        await advance(seconds)

    def client(self, account: str = "alice", product: str = "prediction", session: str = "NR", **kwargs):
        """The reference FixClient over an in-memory connection, on the simulator's clock, with
        a deterministic Logon signature (byte-identical runs)."""
        from kalshi_fixsim.client import FixClient

        acct = self.accounts[account]
        kwargs.setdefault("deterministic_signature", True)
        return FixClient(product=product, session=session, api_key=acct.api_key, private_key=acct.private_key_path,
                         connector=self.sim.in_memory_connector(product, session), clock=self.sim.clock, **kwargs)

    async def open_raw(self, product: str = "prediction", session: str = "NR"):
        """(reader, writer) of raw bytes to an endpoint, as asyncio.open_connection."""
        return await self.sim.open_in_memory(product, session)


class VirtualRunner:
    """`fix_virtual.run(body, start="Thursday 02:59:50 America/New_York", **config_overrides)`:
    builds the test simulator on a fresh virtual-clock loop, awaits `body(vx)`, stops it.
    `limit`: seconds of virtual time after which the body is cancelled (VirtualTimeLimit)."""

    def __init__(self, accounts: dict[str, TestAccount], tls: TlsConfig) -> None:
        self.accounts, self.tls = accounts, tls

    def run(self, body, *, start=None, limit: float | None = DEFAULT_LIMIT, simulator_kwargs: dict | None = None,
            **overrides):
        async def main():
            sim = Simulator(make_test_config(self.accounts, self.tls, **overrides), **(simulator_kwargs or {}))
            await sim.start(listen=False)
            try:
                return await body(VirtualExchange(sim, self.accounts))
            finally:
                await sim.stop()
        return run_virtual(main, start=start, limit=limit)


@pytest.fixture
def fix_virtual(fix_material) -> VirtualRunner:
    """Runs a test body on the virtual clock with in-memory connections (see VirtualRunner)."""
    _, accounts, tls = fix_material
    return VirtualRunner(accounts, tls)
