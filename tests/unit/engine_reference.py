"""A deliberately naive reference of the matching engine's rules, for seeded random comparison.

Everything is a list scan: the resting orders of a market are one list, the best counterparty
is found by sorting the crossing orders on every step, money uses Fractions. Only the rules
are shared with simulator/engine (spec 02 §1, §4-§7, §9, §12, §13; spec 03 §1); none of its
code, except the price grid table (tested on its own) and the enums of types.py.

Events are returned as summary tuples (see `summarize` in test_engine_random.py):
  ("A", clid, rests) ("T", clid, price, qty, aggressor, fee, change, long, short, status, leaves)
  ("C", clid, reason, request_id, orig) ("R", clid, orig, price, qty, leaves, status) ("X", clid, reason)
"""
from __future__ import annotations

import math
from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from kalshi_fixsim.simulator.engine.grid import valid_price
from kalshi_fixsim.simulator.engine.types import STP, MarketStatus, Side, TimeInForce

__all__ = ["RefExchange", "RefOrder"]

NY = ZoneInfo("America/New_York")
WINDOW = 15.0


def ref_day_end(now: float) -> float:
    day = datetime.fromtimestamp(now, NY).date()
    return round(datetime(day.year, day.month, day.day, 23, 59, 59, 999_000, tzinfo=NY).timestamp(), 3)


def ref_fee(rate: Fraction, qty: int, price: int) -> int:
    """µ$: rate x contracts x p x (1 - p) dollars, rounded up to $0.0001."""
    dollars = rate * Fraction(qty, 100) * Fraction(price, 10_000) * Fraction(10_000 - price, 10_000)
    return math.ceil(dollars * 10_000) * 100


class RefOrder:
    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


class RefExchange:
    def __init__(self, taker_rate=Fraction(0), maker_rate=Fraction(0), max_open_orders=200_000):
        self.taker_rate, self.maker_rate = Fraction(taker_rate), Fraction(maker_rate)
        self.max_open = max_open_orders
        self.markets = {}
        self.resting = {}          # ticker -> [RefOrder] (any order)
        self.balance, self.reserved, self.deposits = {}, {}, {}
        self.positions = {}        # (account, sub, ticker) -> net YES
        self.fees = 0
        self.clids = {}            # account -> {clid: order}
        self.groups = {}           # gid -> dict
        self.seq = 0               # time priority
        self.reg = 0               # registration order (indexes of the engine keep it)
        self._units = {}

    # --- setup ------------------------------------------------------------------------

    def add_market(self, market):
        self.markets[market.ticker] = market
        self.resting[market.ticker] = []

    def add_account(self, name, balance):
        self.balance[name], self.reserved[name], self.deposits[name] = balance, 0, balance
        self.clids[name] = {}

    def create_group(self, group_id, account, sub, limit):
        self.groups[group_id] = dict(account=account, sub=sub, limit=limit, triggered=False, fills=[])

    # --- money ------------------------------------------------------------------------

    def unit(self, side, price):
        """µ$ reserved per hundredth working: cost + worst fee of a hundredth (cached: Fractions are slow)."""
        key = (side, price)
        unit = self._units.get(key)
        if unit is None:
            worst = max(self.taker_rate, self.maker_rate)
            if side == Side.BUY:
                unit = price + ref_fee(worst, 1, min(price, 5_000))
            else:
                unit = 10_000 - price + ref_fee(worst, 1, max(price, 5_000))
            self._units[key] = unit
        return unit

    def settle(self, o, price, q, fee):
        key = (o.account, o.sub, o.symbol)
        net = self.positions.get(key, 0)
        if o.side == Side.BUY:
            change = -price * q - fee + min(q, max(-net, 0)) * 10_000
            net += q
        else:
            change = -(10_000 - price) * q - fee + min(q, max(net, 0)) * 10_000
            net -= q
        self.positions[key] = net
        self.balance[o.account] += change
        self.fees += fee
        return change, net

    # --- helpers ----------------------------------------------------------------------

    def open_orders(self):
        return sorted((o for book in self.resting.values() for o in book), key=lambda o: o.reg)

    def _rest(self, o):
        self.reg += 1
        o.reg = self.reg          # moves to the back of every index on (re-)registration
        if o.reg0 is None:        # first rest: the expiry queue's order
            o.reg0 = self.reg
        self.resting[o.symbol].append(o)

    def _unrest(self, o):
        self.resting[o.symbol].remove(o)

    def _end(self, o, reason, out, request_id=None, orig=None):
        self.reserved[o.account] -= o.reserved
        o.reserved, o.leaves, o.status = 0, 0, "CANCELED"
        out.append(("C", o.clid, reason, request_id, orig))

    def _cancel_resting(self, o, reason, out, request_id=None, orig=None):
        self._unrest(o)
        self._end(o, reason, out, request_id, orig)

    def _rolling(self, g, now):
        g["fills"] = [(t, q) for t, q in g["fills"] if t > now - WINDOW]
        return sum(q for _, q in g["fills"])

    def _trigger(self, gid, out):
        self.groups[gid]["triggered"] = True
        for o in self.open_orders():
            if o.group == gid:
                self._cancel_resting(o, "ORDER_GROUP", out)

    def _crossing(self, o):
        book = self.resting[o.symbol]
        if o.side == Side.BUY:
            return sorted((c for c in book if c.side == Side.SELL and c.price <= o.price), key=lambda c: (c.price, c.seq))
        return sorted((c for c in book if c.side == Side.BUY and c.price >= o.price), key=lambda c: (-c.price, c.seq))

    # --- new order --------------------------------------------------------------------

    def _reject(self, req):
        if req.account not in self.balance or not 0 <= req.subaccount <= 63:
            return "CUSTOMER_ACCOUNT_NOT_FOUND"
        m = self.markets.get(req.symbol)
        if m is None:
            return "MARKET_NOT_FOUND"
        if m.status in (MarketStatus.INITIALIZED, MarketStatus.HALTED):
            return "MARKET_INACTIVE"
        if m.status != MarketStatus.OPEN:
            return "MARKET_ALREADY_CLOSED"
        if req.qty <= 0 or (not m.fractional and req.qty % 100):
            return "INCORRECT_QUANTITY"
        if not valid_price(m.price_structure, req.price):
            return "INVALID_PRICE"
        if req.tif == TimeInForce.GTD and req.expire_time is None:
            return "INVALID_ORDER"
        resting = [o for book in self.resting.values() for o in book if o.account == req.account]
        if any(o.clid == req.client_order_id for o in resting):
            return "ORDER_ALREADY_EXISTS"
        if req.order_group is not None:
            g = self.groups.get(req.order_group)
            if g is None or g["account"] != req.account or g["sub"] != req.subaccount:
                return "ORDER_GROUP_NOT_FOUND"
            if g["triggered"]:
                return "EXCEEDED_ORDER_GROUP_RISK_LIMIT"
        if len(resting) >= self.max_open:
            return "TOO_MANY_OPEN_ORDERS"
        if self.unit(req.side, req.price) * req.qty > self.balance[req.account] - self.reserved[req.account]:
            return "INSUFFICIENT_BALANCE"
        return None

    def new_order(self, req, now):
        reason = self._reject(req)
        if reason is not None:
            return [("X", req.client_order_id, reason)]
        self.seq += 1
        expire = ref_day_end(now) if req.tif == TimeInForce.DAY else (
            req.expire_time if req.tif == TimeInForce.GTD else None)
        o = RefOrder(account=req.account, clid=req.client_order_id, symbol=req.symbol, side=req.side,
                     price=req.price, qty=req.qty, cum=0, leaves=req.qty, status="NEW", tif=req.tif, expire=expire,
                     post_only=req.post_only, stp=req.stp, group=req.order_group, sub=req.subaccount,
                     party=req.party_id, session=req.session, seq=self.seq, reserved=0, reg0=None, reg=None)
        self.clids[o.account][o.clid] = o
        out = []
        crossing = self._crossing(o)
        if crossing and o.post_only:
            self._end(o, "POST_ONLY", out)
            return out
        if req.tif == TimeInForce.FOK or req.max_cost is not None:
            filled, cost = self._walk(o, now)
            if filled < o.qty:
                self._end(o, "FOK" if req.tif == TimeInForce.FOK else "MAX_COST", out)
                return out
            if req.max_cost is not None and cost > req.max_cost:
                self._end(o, "MAX_COST", out)
                return out
        o.reserved = o.qty * self.unit(o.side, o.price)
        self.reserved[o.account] += o.reserved
        out.append(["A", o.clid, None])
        accepted = out[-1]
        self._match(o, now, out, rested=False)
        if o.is_open:
            if req.tif in (TimeInForce.IOC, TimeInForce.FOK) or (req.tif == TimeInForce.GTD and expire <= now):
                self._end(o, "IOC", out)
            else:
                self._rest(o)
        accepted[2] = o.cum == 0 and o.status == "NEW"
        out[out.index(accepted)] = tuple(accepted)
        return out

    def _walk(self, o, now):
        """Dry run of _match on copies: what would fill, and what it would cost the taker."""
        need, filled, cost = o.qty, 0, 0
        skipped = set()
        vols, dead = {}, set()
        tg = self.groups.get(o.group) if o.group else None
        tvol = self._rolling(tg, now) if tg else 0
        taken = {}
        while filled < need:
            cands = [c for c in self._crossing(o) if id(c) not in skipped and c.group not in dead
                     and c.leaves - taken.get(id(c), 0) > 0]
            if not cands:
                break
            c = cands[0]
            if c.account == o.account:
                if o.stp == STP.MAKER:
                    skipped.add(id(c))
                    continue
                break
            q = min(need - filled, c.leaves - taken.get(id(c), 0))
            taken[id(c)] = taken.get(id(c), 0) + q
            filled += q
            cost += (c.price if o.side == Side.BUY else 10_000 - c.price) * q
            if c.group:
                g = self.groups[c.group]
                vols[c.group] = vols.get(c.group, self._rolling(g, now)) + q
                if not g["triggered"] and vols[c.group] > g["limit"] * 100:
                    dead.add(c.group)
            if filled < need and tg:
                tvol += q
                if tvol > tg["limit"] * 100:
                    break
        return filled, cost

    def _fill(self, o, price, q, fee, aggressor, out):
        unit = self.unit(o.side, o.price)
        o.reserved -= q * unit
        self.reserved[o.account] -= q * unit
        o.leaves -= q
        o.cum += q
        o.status = "FILLED" if o.leaves == 0 else "PARTIALLY_FILLED"
        change, net = self.settle(o, price, q, fee)
        out.append(("T", o.clid, price, q, aggressor, fee, change, max(net, 0), max(-net, 0), o.status, o.leaves))

    def _add_fill(self, gid, q, now):
        g = self.groups.get(gid)
        if g is None:
            return False
        vol = self._rolling(g, now) + q
        g["fills"].append((now, q))
        return not g["triggered"] and vol > g["limit"] * 100

    def _match(self, o, now, out, rested):
        while o.leaves > 0:
            cands = self._crossing(o)
            if not cands:
                return
            m = cands[0]
            if m.account == o.account:
                if o.stp == STP.MAKER:
                    self._cancel_resting(m, "STP_MAKER", out)
                    continue
                self._end(o, "STP_TAKER", out)
                return
            q = min(o.leaves, m.leaves)
            price = m.price
            self._fill(o, price, q, ref_fee(self.taker_rate, q, price), True, out)
            self._fill(m, price, q, ref_fee(self.maker_rate, q, price), False, out)
            if m.leaves == 0:
                self._unrest(m)
            if m.group and self._add_fill(m.group, q, now):
                self._trigger(m.group, out)
            if o.group and self._add_fill(o.group, q, now):
                if o.leaves:
                    self._end(o, "ORDER_GROUP", out)
                self._trigger(o.group, out)
                return

    # --- cancel / replace -------------------------------------------------------------

    def _find(self, account, orig, side, symbol, sub, party):
        o = self.clids.get(account, {}).get(orig)
        if o is None or o.clid != orig or o.side != side or o.symbol != symbol or o.sub != sub or o.party != party:
            return None
        return o

    def cancel_order(self, account, orig, request_id, side, symbol, sub=0, party=None):
        o = self._find(account, orig, side, symbol, sub, party)
        if o is None:
            return ("CXL", "UNKNOWN_ORDER")
        if not o.is_open:
            return ("CXL", "TOO_LATE_TO_CANCEL")
        if request_id in self.clids[account]:
            return ("CXL", "ORDER_ALREADY_EXISTS")
        o.clid = request_id
        self.clids[account][request_id] = o
        out = []
        self._cancel_resting(o, "USER", out, request_id, orig)
        return out

    def replace_order(self, account, orig, new_id, qty, price, side, symbol, now, sub=0, party=None):
        o = self._find(account, orig, side, symbol, sub, party)
        if o is None:
            return ("CXL", "UNKNOWN_ORDER")
        if o.status == "FILLED":
            return ("CXL", "CANNOT_UPDATE_FILLED_ORDER")
        if not o.is_open:
            return ("CXL", "TOO_LATE_TO_CANCEL")
        if new_id in self.clids[account]:
            return ("CXL", "ORDER_ALREADY_EXISTS")
        m = self.markets[symbol]
        new_price = o.price if price is None else price
        if not valid_price(m.price_structure, new_price):
            return ("CXL", "INVALID_PRICE")
        if qty < o.cum or (not m.fractional and qty % 100):
            return ("CXL", "INVALID_AMEND_QTY")
        if qty == o.cum:
            o.clid = new_id
            self.clids[account][new_id] = o
            out = []
            self._cancel_resting(o, "REPLACED_TO_FILLED", out, new_id, orig)
            return out
        probe = RefOrder(side=side, price=new_price, symbol=symbol)
        crossing = self._crossing(probe)
        if any(c.account == account for c in crossing):
            return ("CXL", "SELF_CROSS_ATTEMPT")
        if crossing and o.post_only:
            return ("CXL", "POST_ONLY_CROSS")
        new_reserved = (qty - o.cum) * self.unit(side, new_price)
        if new_reserved - o.reserved > max(0, self.balance[account] - self.reserved[account]):
            return ("CXL", "INSUFFICIENT_BALANCE")
        keep = new_price == o.price and qty <= o.qty
        self.reserved[account] += new_reserved - o.reserved
        o.reserved = new_reserved
        o.clid, o.price, o.qty, o.leaves = new_id, new_price, qty, qty - o.cum
        self.clids[account][new_id] = o
        out = [("R", new_id, orig, new_price, qty, o.leaves, o.status)]
        if not keep:
            self._unrest(o)
            self.seq += 1
            o.seq = self.seq
            self._match(o, now, out, rested=True)
            if o.is_open:
                self._rest(o)
        return out

    def mass_cancel(self, account, session):
        out = []
        for o in self.open_orders():
            if o.account == account and o.session == session:
                self._cancel_resting(o, "MASS_CANCEL", out)
        return out

    def cancel_session_orders(self, session):
        out = []
        for o in self.open_orders():
            if o.session == session:
                self._cancel_resting(o, "DISCONNECT", out)
        return out

    def expire_orders(self, now):
        out = []
        due = sorted((o for o in self.open_orders() if o.expire is not None and o.expire <= now),
                     key=lambda o: (o.expire, o.reg0))
        for o in due:
            self._cancel_resting(o, "EXPIRY", out)
        return out

    # --- groups -----------------------------------------------------------------------

    def _owned(self, account, sub, gid):
        g = self.groups.get(gid)
        return g if g is not None and g["account"] == account and g["sub"] == sub else None

    def reset_group(self, account, sub, gid):
        g = self._owned(account, sub, gid)
        if g is None:
            return "ORDER_GROUP_NOT_FOUND"
        g["triggered"], g["fills"] = False, []
        return []

    def trigger_group(self, account, sub, gid):
        if self._owned(account, sub, gid) is None:
            return "ORDER_GROUP_NOT_FOUND"
        out = []
        self._trigger(gid, out)
        return out

    def delete_group(self, account, sub, gid):
        if self._owned(account, sub, gid) is None:
            return "ORDER_GROUP_NOT_FOUND"
        out = []
        for o in self.open_orders():
            if o.group == gid:
                self._cancel_resting(o, "ORDER_GROUP", out)
        del self.groups[gid]
        return out

    def update_group(self, account, sub, gid, limit, now):
        g = self._owned(account, sub, gid)
        if g is None:
            return "ORDER_GROUP_NOT_FOUND"
        g["limit"] = limit
        out = []
        if not g["triggered"] and self._rolling(g, now) > limit * 100:
            self._trigger(gid, out)
        return out

    # --- state for comparison ---------------------------------------------------------

    def levels(self, ticker, side):
        by_price = {}
        for o in self.resting[ticker]:
            if o.side == side:
                qty, count = by_price.get(o.price, (0, 0))
                by_price[o.price] = (qty + o.leaves, count + 1)
        prices = sorted(by_price, reverse=side == Side.BUY)
        return [(p, *by_price[p]) for p in prices]

    def state(self):
        positions = {k: v for k, v in self.positions.items() if v}
        return dict(self.balance), dict(self.reserved), positions, self.fees
