"""Control plane: orders for a sub-account and settlement in pages of N party entries
(`place_order(subaccount=)`, `settle_market(page_size=)`; the conform post-trade case uses them)."""
from __future__ import annotations

import pytest

from kalshi_fixsim.simulator.control import ControlError

B = "KXTEST-26JAN01-B"


def test_sub_account_positions_settle_in_pages_of_the_asked_size(fix_exchange):
    control = fix_exchange.control
    control.place_order("bob", B, "sell", "0.50", 5)
    control.place_order("alice", B, "buy", "0.50", 3)
    control.place_order("alice", B, "buy", "0.50", 2, subaccount=1)
    result = control.settle_market(B, "yes", page_size=1)
    assert result["parties"] == 3  # alice's primary, alice's sub-account 1, bob


@pytest.mark.parametrize("call, says", [
    (lambda c: c.place_order("alice", B, "buy", "0.50", 1, subaccount=64), "subaccount must be 0-63, not 64"),
    (lambda c: c.settle_market(B, "yes", page_size=0), "page_size must be a positive integer"),
])
def test_bad_sub_account_or_page_size_is_refused_saying_what_is_allowed(fix_exchange, call, says):
    with pytest.raises(ControlError, match=says):
        call(fix_exchange.control)
