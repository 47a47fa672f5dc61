"""Play a conform case (scenarios/conform/<profile>/*.yaml) on a fix_exchange against a client
process, with the kit's variables filled in. Until the conform runner (simulator/conform/, h1)
plays case files itself, this does what it will: ${session}, ${product}, ${symbol} and the
account `subject` (here: alice) are substituted, `meta.conform` is set aside and the top-level
`clock:` becomes `setup.clock`."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import yaml

from .procs import PYTHON, ClientProcess, contract_env

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "scenarios" / "conform"
BOT = [PYTHON, "-m", "kalshi_fixsim.client.bot"]
SYMBOL = {"prediction": "KXTEST-26JAN01-A", "margin": "ETH-PERP"}
PRICE = {"prediction": "10", "margin": "3000.0000"}  # ${price}: a resting buy on ${symbol} in the session's units


def case_meta(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["meta"]


def scenario_text(path: Path, session: str, product: str) -> str:
    text = path.read_text()
    text = re.sub(r"(?m)^  conform:\n(?:    .*\n)+", "", text)
    text = re.sub(r"(?m)^clock: (\{.*\})$", r"setup: {clock: \1}", text)
    text = text.replace("client: external, as: subject,",
                        f"client: external, as: alice, session: {session}, product: {product},")
    text = text.replace("account: subject", "account: alice").replace("as: subject", "as: alice")
    for name, value in (("session", session), ("product", product), ("symbol", SYMBOL[product]),
                        ("price", PRICE[product])):
        text = text.replace("${" + name + "}", value)
    return text


def play(fx, tmp_path: Path, case: str, start_client, *, session: str, product: str = "prediction") -> list[str]:
    """Play one case file (profile/name.yaml) on fx with a client that starts once the case has
    begun, as the kit (re)starts one (`start_client()` returns a ClientProcess); raises
    ScenarioFailed with the diff. Returns the client's log lines."""
    path = CASES / case
    out = tmp_path / path.name
    out.write_text(scenario_text(path, session, product))
    done: dict = {}

    def run() -> None:
        try:
            done["outcomes"] = fx.run_scenario(out, out=lambda _line: None)
        except BaseException as exc:  # noqa: BLE001 - raised again on the test's thread
            done["error"] = exc

    thread = threading.Thread(target=run, daemon=True, name="conform-case")
    thread.start()
    with start_client() as client:
        thread.join(240)
        lines = list(client.lines)
    if thread.is_alive():
        raise AssertionError(f"{case} did not finish within 240 s")
    if "error" in done:
        raise done["error"]
    return lines


FLAWED = [PYTHON, str(Path(__file__).parent / "flawed_bot.py")]
RAW = [PYTHON, str(Path(__file__).parent / "clients" / "rawclient.py")]


def bot(fx, *, session: str, product: str = "prediction", use_dollars: str = "N", flaw: str | None = None,
        extra=()) -> ClientProcess:
    """The reference bot (or, with `flaw`, tests/conform/flawed_bot.py) on one endpoint of fx."""
    argv = (FLAWED + ["--flaw", flaw] if flaw else BOT) + ["--interval", "1", *extra]
    return ClientProcess(argv, contract_env(fx, session=session, product=product, use_dollars=use_dollars,
                                            heartbeat=5))


def raw(fx, *, session: str, bug: str | None = None, product: str = "prediction") -> ClientProcess:
    """h2's raw-socket client (no kalshi_fixsim code), correct or with one --bug."""
    return ClientProcess(RAW + (["--bug", bug] if bug else []), contract_env(fx, session=session, product=product,
                                                                             heartbeat=5))


def failure(fx, tmp_path: Path, case: str, start_client, *, session: str, product: str = "prediction") -> str:
    """Play a case that must fail; the failure report."""
    from kalshi_fixsim.simulator.scenario.pytest_glue import ScenarioFailed
    try:
        lines = play(fx, tmp_path, case, start_client, session=session, product=product)
    except ScenarioFailed as exc:
        return str(exc)
    raise AssertionError(f"{case} passed for a client that should fail it; client log:\n" + "\n".join(lines[-15:]))
