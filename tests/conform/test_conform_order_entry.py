"""The order-entry conform cases (scenarios/conform/order-entry/) against the reference bot
(every case passes) and against clients with one bug each (the case fails, saying what was
expected and what came)."""
from __future__ import annotations

import pytest

from kalshi_fixsim.simulator.scenario.pytest_glue import ScenarioFailed

from .profile_cases import CASES, bot, play

ORDER_ENTRY = sorted(p.name for p in (CASES / "order-entry").glob("*.yaml"))
MANDATORY = [c for c in ORDER_ENTRY if c != "cancel_order_on_pause.yaml"]


@pytest.mark.parametrize("case", MANDATORY)
def test_reference_bot_passes_order_entry_case(fix_exchange, tmp_path, case):
    with bot(fix_exchange, session="NR") as client:
        client.wait_line(r"logged on prediction NR")
        play(fix_exchange, tmp_path, f"order-entry/{case}", client, session="NR")
