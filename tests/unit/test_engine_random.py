"""Seeded random flow: the engine against the naive reference (DESIGN.md §3 rule 5).

100,000 operations over 3 markets and 4 accounts: new orders of every TIF and feature mix
(post-only, STP both modes, MaxExecutionCost, order groups, sub-accounts, sessions, bad
input), cancels, replaces, mass and session cancels, expiry, group actions, deposits. Every
operation's events are compared (as summaries) with the reference's; every 1,000 operations
the books (levels per side), balances, reserved collateral, positions and fees are compared
and `check_invariants()` runs.
"""
from __future__ import annotations

import random
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from kalshi_fixsim.simulator.engine.accounts import FeeSchedule
from kalshi_fixsim.simulator.engine.exchange import Exchange
from kalshi_fixsim.simulator.engine.grid import valid_prices
from kalshi_fixsim.simulator.engine.types import (STP, Accepted, Canceled, CxlReject, Market, OrderRequest, Rejected, Replaced,
                                    Side, TimeInForce, Traded)
from tests.unit.engine_reference import NY, RefExchange

SEED = 20261121
N_OPS = 100_000
CHECK_EVERY = 1_000
MAX_OPEN = 40
TAKER, MAKER = "0.07", "0.0175"


def summarize(result) -> object:
    """Engine events (or a CxlReject / group error string) in the reference's summary form."""
    if isinstance(result, CxlReject):
        return ("CXL", result.name)
    if isinstance(result, str):
        return result
    out = []
    for e in result:
        o = e.order
        if isinstance(e, Accepted):
            out.append(("A", o.client_order_id, e.rests))
        elif isinstance(e, Traded):
            f = e.fill
            out.append(("T", o.client_order_id, f.price, f.qty, f.aggressor, f.fee, f.balance_change, f.long_qty,
                        f.short_qty, o.status.name, o.leaves))
        elif isinstance(e, Canceled):
            out.append(("C", o.client_order_id, e.reason.name, e.request_id, e.orig_client_order_id))
        elif isinstance(e, Replaced):
            out.append(("R", o.client_order_id, e.orig_client_order_id, o.price, o.qty, o.leaves, o.status.name))
        elif isinstance(e, Rejected):
            out.append(("X", o.client_order_id, e.reason.name))
    return out


MARKETS = [
    (Market("RND-A", price_structure="linear_cent"), [p for p in valid_prices("linear_cent") if 4400 <= p <= 5600]),
    (Market("RND-B", price_structure="tapered_deci_cent", exchange_index=1),
     [p for p in valid_prices("tapered_deci_cent") if 8800 <= p <= 9150]),
    (Market("RND-C", price_structure="center_deci_edge_centi_cent", fractional=True),
     [p for p in valid_prices("center_deci_edge_centi_cent") if 4940 <= p <= 5060]),
]
ACCOUNTS = {"acct0": 2_000_000_000, "acct1": 2_000_000_000, "acct2": 1_000_000_000, "acct3": 60_000_000}


class Flow:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.ex = Exchange(rng=random.Random(seed + 1), fees=FeeSchedule(Decimal(TAKER), Decimal(MAKER)),
                           max_open_orders=MAX_OPEN)
        self.ref = RefExchange(Fraction(TAKER), Fraction(MAKER), MAX_OPEN)
        for market, _ in MARKETS:
            self.ex.add_market(Market(**market.__dict__))
            self.ref.add_market(market)
        for name, balance in ACCOUNTS.items():
            self.ex.add_account(name, balance)
            self.ref.add_account(name, balance)
        self.now = datetime(2026, 3, 7, 12, 0, tzinfo=NY).timestamp()  # crosses the 2026-03-08 DST change
        self.n = 0
        self.clids: dict[str, list[str]] = {a: [] for a in ACCOUNTS}
        self.groups: list[tuple[str, str, int]] = []  # (group id, account, subaccount)
        self.counts: dict[str, int] = {}

    def new_id(self) -> str:
        self.n += 1
        return f"c{self.n}"

    def pick_order(self, account: str):
        orders = self.ex.open_orders(account=account)
        return self.rng.choice(orders) if orders else None

    # --- operations -------------------------------------------------------------------

    def op_new(self):
        r = self.rng
        account = r.choice(list(ACCOUNTS))
        market, prices = r.choice(MARKETS)
        symbol = market.ticker if r.random() > 0.005 else "NOPE"
        side = r.choice([Side.BUY, Side.SELL])
        # bids mostly in the lower 60% of the range, asks in the upper 60%: a book with depth
        cut = len(prices) * 3 // 5
        price = r.choice(prices[:cut] if side is Side.BUY else prices[-cut:]) if r.random() < 0.85 \
            else r.choice(prices)
        if r.random() < 0.02:
            price = r.choice([price + 1, price + 5, 0, 10_000])  # mostly off grid
        if market.fractional:
            qty = r.randint(1, 1500)
        else:
            qty = r.randint(1, 15) * 100
        if r.random() < 0.01:
            qty = r.choice([0, -100, 150])
        tif = r.choices(list(TimeInForce), weights=[10, 45, 20, 10, 15])[0]
        expire = None
        if tif is TimeInForce.GTD and r.random() < 0.95:
            expire = self.now + r.uniform(-30, 120)
        clid = self.new_id()
        if r.random() < 0.03:
            open_now = self.ex.open_orders(account=account)
            if open_now:
                clid = r.choice(open_now).client_order_id  # a duplicate of an open order's ClOrdID
            elif self.clids[account]:
                clid = r.choice(self.clids[account])  # reusing a dead order's ClOrdID is fine
        self.clids[account].append(clid)
        sub = r.choice([0, 0, 0, 1, 2]) if r.random() > 0.005 else 64
        group = None
        if self.groups and r.random() < 0.2:
            own = [g for g in self.groups if g[1] == account and g[2] == sub]
            gid = r.choice(own)[0] if own and r.random() < 0.9 else r.choice(self.groups)[0]
            group = gid
        if r.random() < 0.003:
            account = "ghost"
        req = OrderRequest(
            account=account, client_order_id=clid, symbol=symbol, side=side,
            price=price, qty=qty, tif=tif, expire_time=expire, post_only=r.random() < 0.1,
            stp=STP.MAKER if r.random() < 0.35 else STP.TAKER_AT_CROSS,
            max_cost=r.randint(1, 16) * 500_000 if r.random() < 0.05 else None, order_group=group, subaccount=sub,
            party_id=None, session=f"{account}-s{r.randint(0, 1)}")
        return "new", self.ex.new_order(req, self.now), self.ref.new_order(req, self.now)

    def op_cancel(self):
        r = self.rng
        account = r.choice(list(ACCOUNTS))
        order = self.pick_order(account)
        if order is not None and r.random() < 0.85:
            orig, side, symbol, sub = order.client_order_id, order.side, order.symbol, order.subaccount
        elif self.clids[account]:
            orig = r.choice(self.clids[account])
            side, symbol, sub = r.choice(list(Side)), r.choice(MARKETS)[0].ticker, 0
        else:
            return "cancel", [], []
        if r.random() < 0.05:
            side = side.opposite
        if r.random() < 0.03:
            sub = (sub + 1) % 3
        request_id = self.new_id() if r.random() > 0.03 or not self.clids[account] else r.choice(self.clids[account])
        self.clids[account].append(request_id)
        got = self.ex.cancel_order(account, orig, request_id, side=side, symbol=symbol, subaccount=sub, now=self.now)
        want = self.ref.cancel_order(account, orig, request_id, side, symbol, sub)
        return "cancel", got, want

    def op_replace(self):
        r = self.rng
        account = r.choice(list(ACCOUNTS))
        order = self.pick_order(account)
        if order is None:
            return "replace", [], []
        orig = order.client_order_id
        if r.random() < 0.04:
            orig = r.choice(self.clids[account])
        market, prices = next(m for m in MARKETS if m[0].ticker == order.symbol)
        roll = r.random()
        if roll < 0.35:
            price = None
        elif roll < 0.97:
            price = r.choice(prices)
        else:
            price = order.price + 1
        step = 1 if market.fractional else 100
        qty = order.cum + r.randint(-1, 12) * step
        if r.random() < 0.05:
            qty = order.cum
        new_id = self.new_id() if r.random() > 0.03 else r.choice(self.clids[account])
        self.clids[account].append(new_id)
        got = self.ex.replace_order(account, orig, new_id, qty=qty, price=price, side=order.side,
                                    symbol=order.symbol, subaccount=order.subaccount, now=self.now)
        want = self.ref.replace_order(account, orig, new_id, qty, price, order.side, order.symbol, self.now,
                                      order.subaccount)
        return "replace", got, want

    def op_mass(self):
        r = self.rng
        account = r.choice(list(ACCOUNTS))
        session = f"{account}-s{r.randint(0, 1)}"
        if r.random() < 0.3:
            return "session", self.ex.cancel_session_orders(session, self.now), self.ref.cancel_session_orders(session)
        return "mass", self.ex.mass_cancel(account, session, self.now), self.ref.mass_cancel(account, session)

    def op_expire(self):
        return "expire", self.ex.expire_orders(self.now), self.ref.expire_orders(self.now)

    def op_group(self):
        r = self.rng
        account = r.choice(list(ACCOUNTS))
        mine = [g for g in self.groups if g[1] == account]
        if len(mine) < 2 or r.random() < 0.1:
            sub = r.choice([0, 0, 1])
            group = self.ex.create_group(account, sub, r.randint(2, 40), self.now)
            self.ref.create_group(group.group_id, account, sub, group.limit)
            self.groups.append((group.group_id, account, sub))
            return "create", [], []
        gid, owner, sub = r.choice(mine)
        if r.random() < 0.05:
            sub = (sub + 1) % 3  # another sub-account's request: not found
        action = r.choices(["reset", "trigger", "update", "delete"], weights=[40, 15, 35, 10])[0]
        if action == "reset":
            return action, self.ex.reset_group(owner, sub, gid, self.now), self.ref.reset_group(owner, sub, gid)
        if action == "trigger":
            return action, self.ex.trigger_group(owner, sub, gid, self.now), self.ref.trigger_group(owner, sub, gid)
        if action == "update":
            limit = r.randint(1, 40)
            return (action, self.ex.update_group(owner, sub, gid, self.now, limit),
                    self.ref.update_group(owner, sub, gid, limit, self.now))
        got, want = self.ex.delete_group(owner, sub, gid, self.now), self.ref.delete_group(owner, sub, gid)
        if not isinstance(got, str):
            self.groups.remove((gid, owner, sub))
        return action, got, want

    def op_deposit(self):
        account = self.rng.choice(list(ACCOUNTS))
        if self.ex.available(account) > 100_000_000:
            return "deposit", [], []
        amount = self.rng.randint(1, 50) * 1_000_000
        self.ex.deposit(account, amount)
        self.ref.balance[account] += amount
        self.ref.deposits[account] += amount
        return "deposit", [], []

    # --- comparison -------------------------------------------------------------------

    def compare_state(self, i: int) -> None:
        ex, ref = self.ex, self.ref
        for market, _ in MARKETS:
            for side in Side:
                assert ex.book(market.ticker).levels(side) == ref.levels(market.ticker, side), (i, market.ticker, side)
        balances, reserved, positions, fees = ref.state()
        assert {a: ex.balance(a) for a in ACCOUNTS} == balances, i
        assert {a: ex.reserved(a) for a in ACCOUNTS} == reserved, i
        got_positions = {(a, sub, t): net for a in ACCOUNTS for (sub, t), net in ex.positions(a).items()}
        assert got_positions == positions, i
        assert ex.fees_collected == fees, i
        ex.check_invariants()

    def run(self, n_ops: int) -> dict[str, int]:
        ops = [self.op_new, self.op_cancel, self.op_replace, self.op_mass, self.op_expire, self.op_group,
               self.op_deposit]
        weights = [55, 14, 19, 0.4, 4, 3, 1]
        for i in range(1, n_ops + 1):
            self.now += self.rng.uniform(0, 3)
            op = self.rng.choices(ops, weights)[0]
            kind, got, want = op()
            assert summarize(got) == want, (i, kind, summarize(got), want)
            for item in (got if isinstance(got, list) else ()):
                name = type(item).__name__ + (f":{item.reason.name}" if hasattr(item, "reason") else "")
                self.counts[name] = self.counts.get(name, 0) + 1
            if i % CHECK_EVERY == 0:
                self.compare_state(i)
        self.compare_state(n_ops)
        return self.counts


def test_random_flow_matches_the_naive_reference_and_keeps_every_invariant():
    counts = Flow(SEED).run(N_OPS)
    # the flow really exercised every path it is meant to
    for name in ("Accepted", "Traded", "Replaced", "Canceled:USER", "Canceled:IOC", "Canceled:FOK",
                 "Canceled:MAX_COST", "Canceled:POST_ONLY", "Canceled:STP_TAKER", "Canceled:STP_MAKER",
                 "Canceled:ORDER_GROUP", "Canceled:EXPIRY", "Canceled:MASS_CANCEL", "Canceled:DISCONNECT",
                 "Canceled:REPLACED_TO_FILLED", "Rejected:INSUFFICIENT_BALANCE", "Rejected:TOO_MANY_OPEN_ORDERS",
                 "Rejected:EXCEEDED_ORDER_GROUP_RISK_LIMIT", "Rejected:ORDER_GROUP_NOT_FOUND",
                 "Rejected:ORDER_ALREADY_EXISTS", "Rejected:INVALID_PRICE", "Rejected:INCORRECT_QUANTITY",
                 "Rejected:MARKET_NOT_FOUND", "Rejected:CUSTOMER_ACCOUNT_NOT_FOUND"):
        assert counts.get(name, 0) > 0, (name, counts)
