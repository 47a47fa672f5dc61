"""A restricted (sub-account-locked) API key is pinned to its sub-account on every request
(spec 00 §3.2; issue 11 §5), over TLS with the reference client. The test key `restricted` is
locked to sub-account 3."""
from __future__ import annotations

from kalshi_fixsim.client import LogonOptions
from kalshi_fixsim.client.orders import cancel_order, new_order, order_group, replace_order
from tests.wire import run

A = "KXTEST-26JAN01-A"
QUIET = LogonOptions(skip_pending_exec_reports=True)


def booked(fx, cl: str):
    return fx.call(lambda: fx.sim.venues["prediction"].exchange.order_by_client_id("restricted", cl))


def test_a_restricted_keys_requests_without_79_go_to_its_sub_account(fix_exchange):
    async def scenario():
        async with fix_exchange.client("restricted", options=QUIET) as fix:
            fix.send("D", new_order("r1", A, "buy", 40, 2))
            report = await fix.expect("8")
            assert (report.get(150), report.get(79)) == ("0", "3")
            assert booked(fix_exchange, "r1").subaccount == 3
            fix.send("G", replace_order("r2", "r1", A, "buy", 3, price=41))  # matches: same sub-account
            assert (await fix.expect("8")).get(150) == "5"
            fix.send("F", cancel_order("r3", "r2", A, "buy"))
            assert (await fix.expect("8")).get(150) == "4"
            fix.send("UOG", order_group("create", limit=10))
            assert (await fix.expect("UOH")).get(79) == "3"  # the group belongs to sub-account 3
    run(scenario())


def test_a_restricted_keys_order_naming_another_sub_account_is_rejected_103_15(fix_exchange):
    async def scenario():
        async with fix_exchange.client("restricted", options=QUIET) as fix:
            for other in (5, 0):  # another sub-account, or the primary
                fix.send("D", new_order(f"x{other}", A, "buy", 40, 1, subaccount=other))
                report = await fix.expect("8")
                assert (report.get(150), report.get(39), report.get(103), report.get(58)) == \
                    ("8", "8", "15", "PERMISSION_DENIED_FOR_CUSTOMER_ACCOUNT")
                assert booked(fix_exchange, f"x{other}") is None
            fix.send("D", new_order("ok", A, "buy", 40, 1, subaccount=3))  # its own, named: fine
            assert (await fix.expect("8")).get(150) == "0"
    run(scenario())


def test_a_restricted_keys_cancel_or_amend_naming_another_sub_account_gets_cancel_reject(fix_exchange):
    async def scenario():
        async with fix_exchange.client("restricted", options=QUIET) as fix:
            fix.send("D", new_order("c1", A, "buy", 40, 2))
            assert (await fix.expect("8")).get(150) == "0"
            for msg_type, body, response_to in (
                    ("F", cancel_order("c2", "c1", A, "buy", subaccount=5), "1"),
                    ("G", replace_order("c3", "c1", A, "buy", 3, price=41, subaccount=0), "2")):
                fix.send(msg_type, body)
                reject = await fix.expect("9")
                assert (reject.get(41), reject.get(434), reject.get(102), reject.get(58)) == \
                    ("c1", response_to, "99", "PERMISSION_DENIED_FOR_CUSTOMER_ACCOUNT")
            assert booked(fix_exchange, "c1").leaves == booked(fix_exchange, "c1").qty  # untouched
    run(scenario())


def test_a_restricted_keys_order_group_request_naming_another_sub_account_gets_bmr_380_6(fix_exchange):
    async def scenario():
        async with fix_exchange.client("restricted", options=QUIET) as fix:
            fix.send("UOG", order_group("create", limit=10, subaccount=0))
            bmr = await fix.expect("j")
            assert (bmr.get(380), bmr.get(372)) == ("6", "UOG")
            assert bmr.get(58) == "Not authorized: this API key is restricted to sub-account 3, not AllocAccount(79)=0"
    run(scenario())


def test_an_ordinary_keys_order_without_79_stays_on_the_primary_account(fix_exchange):
    async def scenario():
        async with fix_exchange.client("alice", options=QUIET) as fix:
            fix.send("D", new_order("p1", A, "buy", 40, 1))
            report = await fix.expect("8")
            assert report.get(150) == "0" and report.get(79) is None
    run(scenario())
