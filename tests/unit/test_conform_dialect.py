"""The dialect checker (simulator/conform/dialect.py): one test per rule, each with the line a
user reads (field, what was sent, what the rule requires, spec §)."""
from __future__ import annotations

import pytest

from kalshi_fixsim.fixproto.codec import FixMessage
from kalshi_fixsim.simulator.conform.dialect import Dialect, MarketRules
from kalshi_fixsim.simulator.conform.dialect_fields import exec_id_key

SYM = "KXTEST-26JAN01-A"
MARKETS = [MarketRules(SYM), MarketRules("KXFRAC-26JAN01-T1", "deci_cent", fractional=True),
           MarketRules("KXSHARD-26JAN01-A", exchange_index=1), MarketRules("ETH-PERP", "margin_tick")]


class Wire:
    """A client session as the journal shows it: client frames in, venue frames out."""

    def __init__(self, product="prediction", session="NR", dollars=False):
        self.d = Dialect(product, session, MARKETS)
        self.seq = 1
        self.venue_seq = 1
        self.findings = []
        self.time = 0.0
        self.client("A", (98, "0"), (108, "30"), *([(21005, "Y")] if dollars else []))

    def _msg(self, mt, seq, fields):
        return FixMessage([(8, "FIXT.1.1"), (9, "10"), (35, mt), (49, "key"), (56, "KalshiNR"), (34, str(seq)),
                           (52, "20260105-15:02:11.004")] + list(fields) + [(10, "000")])

    def client(self, mt, *fields, seq=None):
        msg = self._msg(mt, seq or self.seq, fields)
        self.seq += 1
        got = self.d.observe("in", msg, self.time)
        self.findings += got
        return [f.line() for f in got]

    def venue(self, mt, *fields):
        msg = self._msg(mt, self.venue_seq, fields)
        self.venue_seq += 1
        got = self.d.observe("out", msg, self.time)
        self.findings += got
        return [f.line() for f in got]

    def order(self, cl="c1", price="40", qty="10", symbol=SYM, side="1", *extra):
        return self.client("D", (11, cl), (38, qty), (40, "2"), (44, price), (54, side), (55, symbol), (59, "1"),
                           *extra)

    def report(self, cl, status, exec_type=None, text=None, orig=None, cum="0"):
        fields = [(37, "o-" + cl), (11, cl), (17, "1;1"), (150, exec_type or status), (39, status), (54, "1"),
                  (55, SYM), (151, "0"), (14, cum), (6, "0"), (38, "10")]
        if orig:
            fields.append((41, orig))
        if text:
            fields.append((58, text))
        return self.venue("8", *fields)

    def cancel(self, cl, orig, symbol=SYM, side="1"):
        return self.client("F", (11, cl), (41, orig), (54, side), (55, symbol))

    def replace(self, cl, orig, qty="10", price="41"):
        return self.client("G", (11, cl), (38, qty), (40, "2"), (41, orig), (44, price), (54, "1"), (55, SYM))


def one(lines):
    assert len(lines) == 1, lines
    return lines[0]


def test_a_well_formed_order_flow_has_no_findings():
    w = Wire()
    assert w.order("c1") == []
    w.report("c1", "0")
    assert w.replace("c2", "c1") == []
    w.report("c2", "0", "5", orig="c1")
    assert w.cancel("c3", "c2") == []
    w.report("c3", "4", orig="c2")
    assert w.findings == [] and w.d.checked == 3


def test_dollar_price_on_a_cents_session_names_the_units_rule():
    line = one(Wire().order("c1", price="0.40"))
    assert "Price(44)='0.40'" in line and "integer cents 1-99 on a cents session" in line
    assert "looks like dollars" in line and "spec 02 §2.1" in line


def test_cents_price_on_a_dollars_session_names_the_units_rule():
    line = one(Wire(dollars=True).order("c1", price="40"))
    assert "Price(44)='40'" in line and "dollars between 0 and 1" in line and "looks like cents" in line


def test_whole_cent_dollars_price_is_fine_and_off_grid_sub_cent_is_not():
    w = Wire(dollars=True)
    assert w.order("c1", price="0.4000") == []
    line = one(w.order("c2", price="0.4050"))
    assert "grid of KXTEST-26JAN01-A (linear_cent: step 0.0100" in line
    assert "deci_cent: step 0.0010" in one(w.order("c3", price="0.4055", qty="1", symbol="KXFRAC-26JAN01-T1"))
    assert w.order("c4", price="0.405", qty="1", symbol="KXFRAC-26JAN01-T1") == []


@pytest.mark.parametrize("price", ["0", "100", "-5"])
def test_cents_outside_1_to_99_is_a_finding(price):
    assert "cents 1-99" in one(Wire().order("c1", price=price))


def test_margin_prices_are_dollars_with_four_decimals():
    w = Wire(product="margin")
    assert w.order("c1", price="19.5000", qty="3", symbol="ETH-PERP") == []
    assert "at most 4 decimals" in one(w.order("c2", price="19.50001", qty="3", symbol="ETH-PERP"))
    assert "whole number of contracts on margin" in one(w.order("c3", price="19.5", qty="1.5", symbol="ETH-PERP"))


def test_fractional_quantity_only_where_the_market_trades_fractions():
    w = Wire()
    assert "no fractional trading" in one(w.order("c1", qty="1.5"))
    assert w.order("c2", qty="1.5", symbol="KXFRAC-26JAN01-T1") == []
    assert "at most 2 decimals" in one(w.order("c3", qty="1.505", symbol="KXFRAC-26JAN01-T1"))
    assert "above 0" in one(w.order("c4", qty="0"))


@pytest.mark.parametrize("cl, why", [("a" * 65, "at most 64 characters"), ("has space", "only letters")])
def test_clordid_form(cl, why):
    assert why in one(Wire().order(cl))


def test_reusing_the_clordid_of_a_live_order_is_a_finding():
    w = Wire()
    w.order("c1")
    w.report("c1", "0")
    line = one(w.order("c1"))
    assert "ClOrdID(11)='c1'" in line and "no open order carries (this one is live)" in line and "02 §3, §12" in line


def test_reusing_the_clordid_of_an_ended_order_is_a_finding():
    w = Wire()
    w.order("c1")
    w.report("c1", "2", "F", cum="10")
    assert "identified an order that has ended" in one(w.order("c1"))


def test_a_definitive_reject_frees_the_clordid():
    w = Wire()
    w.order("c1")
    w.report("c1", "8", text="INSUFFICIENT_BALANCE")
    assert w.order("c1") == []


def test_same_clordid_resend_after_exchange_unavailable_is_the_safe_retry():
    w = Wire()
    w.order("c1")
    w.report("c1", "8", text="EXCHANGE_UNAVAILABLE")
    assert w.order("c1") == []
    w.report("c1", "8", text="ORDER_ALREADY_EXISTS")
    assert w.d.orders["c1"].state == "live"


def test_resend_after_exchange_unavailable_must_be_the_same_order():
    w = Wire()
    w.order("c1")
    w.report("c1", "8", text="EXCHANGE_UNAVAILABLE")
    assert "repeats it unchanged" in one(w.order("c1", price="41"))


def test_resend_of_an_unanswered_order_with_the_same_clordid_is_allowed():
    w = Wire()
    w.order("c1")
    assert w.order("c1") == []


def test_cancel_must_name_an_order_of_this_client():
    line = one(Wire().cancel("x1", "nobody"))
    assert "OrigClOrdID(41)='nobody'" in line and "an order this client entered" in line


def test_after_a_replace_the_order_is_addressed_by_its_new_clordid():
    w = Wire()
    w.order("c1")
    w.report("c1", "0")
    w.replace("c2", "c1")
    w.report("c2", "0", "5", orig="c1")
    assert "current ClOrdID 'c2'" in one(w.cancel("c3", "c1"))


def test_a_pending_replace_clordid_may_be_addressed():
    w = Wire()
    w.order("c1")
    w.report("c1", "0")
    w.replace("c2", "c1")
    assert w.cancel("c3", "c2") == []


def test_cancel_request_clordid_must_be_new():
    w = Wire()
    w.order("c1")
    w.report("c1", "0")
    assert "already identified an order" in one(w.cancel("c1", "c1"))
    w.cancel("k1", "c1")
    w.venue("9", (37, "o"), (11, "k1"), (41, "c1"), (39, "0"), (434, "1"), (102, "0"))
    assert "a new ClOrdID for each cancel/replace request" in one(w.cancel("k1", "c1"))


def test_cancel_side_and_symbol_must_match_the_order():
    w = Wire()
    w.order("c1")
    w.report("c1", "0")
    lines = w.cancel("k1", "c1", side="2")
    assert "the order's Side '1'" in one(lines)


def test_replace_below_the_filled_quantity_is_a_finding():
    w = Wire()
    w.order("c1")
    w.report("c1", "1", "F", cum="6")
    assert "not below the filled 6.00" in one(w.replace("c2", "c1", qty="5"))


def test_only_limit_orders():
    w = Wire()
    lines = w.client("D", (11, "c1"), (38, "1"), (40, "1"), (44, "40"), (54, "1"), (55, SYM))
    assert any("OrdType(40)=2" in line for line in lines)


def test_gtd_needs_expire_time_and_tif_values():
    w = Wire()
    assert "ExpireTime(126) with TimeInForce(59)=6" in one(
        w.client("D", (11, "c1"), (38, "1"), (40, "2"), (44, "40"), (54, "1"), (55, SYM), (59, "6")))
    assert w.client("D", (11, "c2"), (38, "1"), (40, "2"), (44, "40"), (54, "1"), (55, SYM), (59, "6"),
                    (126, "20260105-16:00:00.000")) == []


def test_a_required_field_missing_comes_from_the_dictionary():
    w = Wire()
    lines = w.client("D", (11, "c1"), (38, "1"), (40, "2"), (54, "1"), (55, SYM))
    assert any("Required tag missing: Price(44)" in line and "spec 12 §3" in line for line in lines)


def test_a_msgtype_the_session_does_not_take():
    line = one(Wire(session="NR").client("V", (263, "1"), (146, "1"), (55, SYM)))
    assert "MsgType(35)='V'" in line and "KalshiNR takes" in line and "spec 00 §4" in line


def test_routing_to_the_wrong_exchange_index():
    w = Wire()
    line = one(w.order("c1", "40", "10", "KXSHARD-26JAN01-A", "1", (100, "0")))
    assert "ExDestination(100)='0'" in line and "exchange index 1" in line
    assert w.order("c2", "40", "10", "KXSHARD-26JAN01-A", "1", (100, "-1")) == []


def test_unknown_symbol():
    assert "a market of this venue" in one(Wire().order("c1", symbol="KXNOPE"))


def test_order_group_must_be_one_the_venue_returned():
    w = Wire()
    gid = "770e8400-e29b-41d4-a716-446655440002"
    assert "OrderGroupResponse(UOH)" in one(w.order("c1", "40", "10", SYM, "1", (526, gid)))
    w.venue("UOH", (20130, gid), (20132, "5"))
    assert w.order("c2", "40", "10", SYM, "1", (526, gid)) == []


def test_order_group_request_rules_per_action():
    w = Wire()
    assert w.client("UOG", (20131, "1"), (20132, "500")) == []
    assert "no OrderGroupID(20130) on Create" in one(w.client("UOG", (20131, "1"), (20132, "5"), (20130, "x")))
    assert "OrderGroupID(20130) for Reset" in one(w.client("UOG", (20131, "2")))
    assert "an integer 1-1,000,000" in one(w.client("UOG", (20131, "1"), (20132, "0")))


def test_mass_cancel_at_most_once_a_second():
    w = Wire()
    assert w.client("q", (11, "m1"), (530, "6")) == []
    w.time = 0.4
    assert "at most one OrderMassCancelRequest per second" in one(w.client("q", (11, "m2"), (530, "6")))


def test_market_data_request_needs_symbols_for_a_subscription():
    w = Wire(session="MD")
    assert w.client("V", (263, "1"), (146, "1"), (55, SYM)) == []
    assert any("NoRelatedSym(146) >= 1" in line for line in w.client("V", (263, "1")))
    assert w.client("V", (263, "2")) == []  # stop every subscription


def test_security_status_request_has_no_snapshot_type():
    w = Wire(session="MD")
    assert any("SubscriptionRequestType(263) 1 or 2" in line for line in w.client("e", (263, "0"), (55, SYM)))


def test_event_resend_request_exec_ids():
    w = Wire(session="DC")
    assert w.client("U1", (21001, "812;3"), (21002, "815;1")) == []
    assert "an ExecID clock;event" in one(w.client("U1", (21001, "abc")))
    assert "one index per range" in one(w.client("U1", (21001, "1;1;1"), (21002, "5;1")))
    assert "not before BeginExecID" in one(w.client("U1", (21001, "9;1"), (21002, "5;1")))
    assert exec_id_key("4;7;1") == (1, 4, 7)


def test_the_venues_session_reject_is_a_finding_about_the_referenced_message():
    w = Wire()
    w.order("c1")
    line = one(w.venue("3", (45, "2"), (371, "44"), (372, "D"), (373, "5"), (58, "bad")))
    assert "NewOrderSingle(D) MsgSeqNum(34)=2" in line and "Reject(3) 373=5" in line


def test_unsupported_message_bmr_is_a_finding_but_a_rate_limit_is_not():
    w = Wire()
    w.order("c1")
    assert w.venue("j", (45, "2"), (372, "D"), (380, "8"), (58, "slow down")) == []
    assert w.order("c1") == []  # refused by the rate limit: the same ClOrdID is free
    assert "380=6" in one(w.venue("j", (45, "3"), (372, "D"), (380, "6"), (58, "listener")))


def test_possdup_replays_are_not_judged_again():
    w = Wire()
    w.order("c1")
    w.report("c1", "0")
    assert w.client("D", (43, "Y"), (122, "20260105-15:02:11.004"), (11, "c1"), (38, "10"), (40, "2"), (44, "40"),
                    (54, "1"), (55, SYM), (59, "1"), seq=2) == []


def test_units_follow_the_clients_logon():
    w = Wire()
    w.client("A", (98, "0"), (108, "30"), (21005, "Y"))
    assert w.order("c1", price="0.40") == []


def test_drop_copy_request_after_a_reconnect_resumes_from_the_last_exec_id_seen():
    w = Wire(session="DC")
    assert w.client("U1", (21001, "1;1")) == []
    w.report("c1", "0")  # ExecID 1;1
    w.venue("8", (37, "o"), (11, "c2"), (17, "7;3"), (150, "0"), (39, "0"), (54, "1"), (55, SYM), (151, "1"),
            (14, "0"), (6, "0"))
    w.client("A", (98, "0"), (108, "30"), (141, "Y"))
    line = one(w.client("U1", (21001, "1;1")))
    assert "BeginExecID(21001)='1;1'" in line and "last ExecID the client has seen (7;3)" in line
    w.client("A", (98, "0"), (108, "30"), (141, "Y"))
    assert w.client("U1", (21001, "7;3")) == []


def test_margin_orders_carry_no_max_execution_cost_rfq_tags_or_routing():
    w = Wire(product="margin")
    lines = w.order("c1", "19.5", "1", "ETH-PERP", "1", (21009, "5.00"), (100, "2"))
    assert any("MaxExecutionCost(21009)='5.00'" in line and "spec 08 §3" in line for line in lines)
    assert any("ExDestination(100)='2'" in line and "always index 0" in line for line in lines)


def test_sub_account_and_party_rules():
    w = Wire()
    assert "sub-account number 0-63" in one(w.order("c1", "40", "1", SYM, "1", (79, "64")))
    assert "PartyRole(452)=24 with PartyID(448)" in one(
        w.order("c2", "40", "1", SYM, "1", (453, "1"), (448, "7d3f0a52-2c1e-4f7e-9c55-1b2a3c4d5e6f")))


def test_max_execution_cost_is_dollars_above_zero():
    w = Wire()
    assert "MaxExecutionCost(21009) in dollars, above 0" in one(w.order("c1", "40", "1", SYM, "1", (21009, "0")))
    assert w.order("c2", "40", "1", SYM, "1", (21009, "4.0000")) == []
