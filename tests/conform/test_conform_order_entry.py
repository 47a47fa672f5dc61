"""The order-entry conform cases (scenarios/conform/order-entry/) against the reference bot
(every case passes) and against clients with one bug each (the case fails, saying what was
expected and what came)."""
from __future__ import annotations

import pytest

from kalshi_fixsim.simulator.scenario.pytest_glue import ScenarioFailed

from .profile_cases import bot, play


def test_reference_bot_passes_the_dialect_case(fix_exchange, tmp_path):
    with bot(fix_exchange, session="NR") as client:
        client.wait_line(r"logged on prediction NR")
        play(fix_exchange, tmp_path, "order-entry/dialect.yaml", client, session="NR")
