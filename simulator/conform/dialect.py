"""The Kalshi dialect checker for what a client sends (issue 14 §2 order-entry; sans-IO).

Feed it every frame of one client's sessions in wire order, both directions:

    d = Dialect("prediction", "NR", markets=[MarketRules("KXTEST-26JAN01-A")])
    for direction, msg in frames:                 # "in": client to venue, "out": venue to client
        for finding in d.observe(direction, msg, now):
            print(finding.line())

The client's messages are checked against the dictionary (fixproto.validate: required and
undefined fields, formats, enums), the MsgTypes of its session type (spec 00 §4) and the rules
the dictionary cannot say: ClOrdID form and reuse, OrigClOrdID naming an order of this client,
prices in the session's units on the market's grid, quantities, TimeInForce/ExpireTime, order
groups, market-data and drop-copy requests. What the venue sends back only tells the checker what
the client knows (orders live or ended, replaced ClOrdIDs, order groups) and adds the venue's own
verdicts (a session Reject, an unsupported-message BusinessMessageReject). Replays with
PossDupFlag(43)=Y are the session layer's and are not judged again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from kalshi_fixsim.fixproto.codec import FixMessage
from kalshi_fixsim.fixproto.fields import MSG_TYPE_NAMES, tag_label
from kalshi_fixsim.fixproto.kalshi import APP_MESSAGES_IN
from kalshi_fixsim.fixproto.validate import validate

from ..gateway.reports import parse_price, parse_qty
from .dialect_fields import (GROUP_LIMIT, MAX_ALLOC_ACCOUNT, TIF_VALUES, UUID_RE, MarketRules, clordid_problem,
                             exec_id_key, price_problem, qty_problem, small_int)

__all__ = ["Dialect", "Finding", "MarketRules"]

_ADMIN = frozenset({"0", "1", "2", "3", "4", "5", "A"})
MASS_CANCEL_INTERVAL = 1.0  # spec 02 §11


@dataclass(frozen=True)
class Finding:
    """One rule a client message broke: the field, what was sent, what the rule requires, where."""
    msg_type: str
    seq: str            # the message's MsgSeqNum(34) as sent
    tag: int | None     # the offending field; None: the message as a whole
    sent: str           # what was sent (the value, or a description)
    rule: str           # what the rule requires
    spec: str           # "02 §2.1"
    time: float = 0.0

    def line(self) -> str:
        what = f"{MSG_TYPE_NAMES.get(self.msg_type, self.msg_type)}({self.msg_type}) MsgSeqNum(34)={self.seq}"
        field_ = f"{tag_label(self.tag)}={self.sent!r}" if self.tag is not None else self.sent
        return f"{what}: {field_}: expected {self.rule} (spec {self.spec})"


@dataclass
class _Order:
    symbol: str
    side: str
    price: str | None
    qty: str | None
    current: str                        # the ClOrdID the order is addressed by now
    state: str = "sent"                 # sent | unknown | live | done | rejected (as the client knows it)
    cum: int = 0                        # hundredths filled
    pending: set = field(default_factory=set)   # ClOrdIDs of replaces not answered yet


@dataclass
class _Request:
    """An F or G the client sent (its ClOrdID is not an order's)."""
    msg_type: str
    orig: str
    answered: bool = False


class Dialect:
    def __init__(self, product: str, session: str, markets: Iterable[MarketRules | dict] = (), *,
                 use_dollars: bool | None = None) -> None:
        self.product, self.session = product, session
        self.markets = {m.ticker: m for m in (x if isinstance(x, MarketRules) else MarketRules.from_dict(x)
                                              for x in markets)}
        self.dollars = product == "margin" or bool(use_dollars)  # until the client's Logon says
        self.allowed = APP_MESSAGES_IN.get((product, session), frozenset())
        self.orders: dict[str, _Order] = {}       # every ClOrdID of an order (old ones too) -> the order
        self.requests: dict[str, _Request] = {}   # ClOrdID of an F/G -> the request
        self.groups: set[str] = set()             # OrderGroupIDs the venue gave (UOH)
        self.by_seq: dict[str, FixMessage] = {}   # the client's latest message per MsgSeqNum (for 45)
        self.last_mass_cancel: float | None = None
        self.checked = 0                          # client application messages judged
        self._pending: dict[str, _Order] = {}     # ClOrdID of a replace sent -> its order
        self.last_exec: dict[int, tuple[int, int]] = {}  # drop copy: exchange index -> latest ExecID seen
        self._resend_asked = True
        self._invalid: set[str] = set()           # MsgSeqNums validate() already found wrong

    # --- the stream ------------------------------------------------------------------------

    def begin_window(self) -> None:
        """The judged part of the stream begins (a case may start with a restarted client): what
        the client saw before no longer sets where its drop-copy requests must resume."""
        self.last_exec.clear()

    def observe(self, direction: str, msg: FixMessage, time: float = 0.0) -> list[Finding]:
        """One frame in wire order: "in" = sent by the client, "out" = sent by the venue."""
        if direction == "in":
            return self.client(msg, time)
        return self.venue(msg, time)

    def client(self, msg: FixMessage, time: float = 0.0) -> list[Finding]:
        mt = msg.msg_type or ""
        seq = msg.get(34) or "?"
        if mt == "A":
            self._resend_asked = False  # spec 04 §6: the first U1 of each connection resumes
            if self.product == "prediction":
                self.dollars = msg.get(21005) == "Y"  # spec 01 §2.2: units follow the Logon
            return []
        if mt in _ADMIN or msg.get(43) == "Y":  # session layer; a replay was judged as sent first
            return []
        self.by_seq[seq] = msg
        self.checked += 1
        out = _Out(mt, seq, time)
        if mt not in self.allowed:  # spec 00 §4
            offered = ", ".join(sorted(self.allowed)) or "none"
            out.add(35, mt, f"a MsgType Kalshi{self.session} takes from clients on {self.product} ({offered})",
                    "00 §4")
            return out.findings
        problem = validate(msg)
        if problem is not None:
            self._invalid.add(seq)
        else:
            self._invalid.discard(seq)
        if problem is not None:  # the dictionary: required, undefined, formats, enums (spec 12 §3)
            tag = problem.ref_tag if isinstance(problem.ref_tag, int) else None
            out.add(tag, msg.get(tag) or "" if tag else "", f"a valid message: {problem.text}", "12 §3, 09 §1")
        check = getattr(self, f"_check_{mt}", None)
        if check is not None:
            check(msg, out)
        return out.findings

    def venue(self, msg: FixMessage, time: float = 0.0) -> list[Finding]:
        mt = msg.msg_type or ""
        if mt == "8":
            key = exec_id_key(msg.get(17) or "")
            if key is not None and self.session == "DC":
                index, point = key[0], key[1:]
                if point > self.last_exec.get(index, (-1, -1)):
                    self.last_exec[index] = point
            self._on_report(msg)
        elif mt == "9":
            request = self.requests.get(msg.get(11) or "")
            if request is not None:
                request.answered = True
            order = self.orders.get(msg.get(41) or "")
            if order is not None:
                order.pending.discard(msg.get(11) or "")
        elif mt == "UOH" and msg.get(20130):
            self.groups.add(msg.get(20130))
        elif mt == "j":
            return self._on_business_reject(msg, time)
        elif mt == "3":
            ref = self.by_seq.get(msg.get(45) or "")
            if ref is not None and (msg.get(372) or ref.msg_type) == ref.msg_type and msg.get(45) not in self._invalid:
                tag = small_int(msg.get(371), 1, 2**31 - 1)
                out = _Out(ref.msg_type or "", msg.get(45) or "?", time)
                out.add(tag, ref.get(tag) or "" if tag else "the message",
                        f"a message the venue accepts; it answered Reject(3) 373={msg.get(373)} "
                        f"Text(58)={msg.get(58)!r}", "09 §1")
                return out.findings
        return []

    # --- venue messages: what the client knows -----------------------------------------------

    def _on_report(self, msg: FixMessage) -> None:
        cl, orig = msg.get(11) or "", msg.get(41) or ""
        exec_type, status, text = msg.get(150), msg.get(39), msg.get(58) or ""
        request = self.requests.get(cl)
        if request is not None:
            request.answered = True
        order = self.orders.get(cl) or self.orders.get(orig)
        if order is None:
            return
        if exec_type == "8":
            if order.current != cl or order.state not in ("sent", "unknown"):
                return  # a duplicate resend refused (ORDER_ALREADY_EXISTS) says nothing new of the order
            if text == "EXCHANGE_UNAVAILABLE":
                order.state = "unknown"  # spec 02 §8.5: outcome unknown; resend with the same ClOrdID
            elif text == "ORDER_ALREADY_EXISTS" and order.state == "unknown":
                order.state = "live"     # spec 02 §12: the first copy was applied
            else:
                order.state = "rejected"
            return
        if exec_type == "5" and cl:
            order.pending.discard(cl)
            self.orders[cl] = order
            order.current = cl
            order.price = msg.get(44) or order.price
            order.qty = msg.get(38) or order.qty
        if msg.get(14):
            order.cum = parse_qty(msg.get(14)) or order.cum
        order.state = "done" if status in ("2", "4", "8", "C") else "live"

    def _on_business_reject(self, msg: FixMessage, time: float) -> list[Finding]:
        ref = self.by_seq.get(msg.get(45) or "")
        if ref is None:
            return []
        cl = ref.get(11) or ""
        if ref.msg_type == "D" and self.orders.get(cl) is not None and self.orders[cl].current == cl:
            self.orders[cl].state = "rejected"  # never reached the exchange: the ClOrdID is free
        if ref.msg_type in ("F", "G") and cl in self.requests:
            self.requests.pop(cl)
        reason = msg.get(380)
        if reason not in ("3", "5", "6"):  # 8 rate limit, 4 unavailable, 1/2/0 business: not the dialect's
            return []
        out = _Out(ref.msg_type or "", msg.get(45) or "?", time)
        out.add(None, "the message", f"a message this session may send; the venue answered BusinessMessageReject(j) "
                                     f"380={reason} Text(58)={msg.get(58)!r}", "09 §2")
        return out.findings

    # --- client messages ---------------------------------------------------------------------

    def _market(self, msg: FixMessage, out: "_Out") -> MarketRules | None:
        symbol = msg.get(55)
        if symbol is None:
            return None
        market = self.markets.get(symbol)
        if market is None and self.markets:
            out.add(55, symbol, "a market of this venue (" + ", ".join(sorted(self.markets)[:6]) + ")", "02 §3")
        return market

    def _order_fields(self, msg: FixMessage, out: "_Out", market: MarketRules | None) -> None:
        """Fields D and G share: OrdType, Price, OrderQty, routing, sub-account, parties (a missing
        required one is the dictionary's finding, fixproto.validate)."""
        if msg.get(40) is not None and msg.get(40) != "2":
            out.add(40, msg.get(40), "OrdType(40)=2: Kalshi has only limit orders", "02 §1")
        price = msg.get(44)
        if price is not None:
            rule = price_problem(price, market, self.dollars, self.product)
            if rule:
                out.add(44, price, rule, "08 §3" if self.product == "margin" else "02 §2.1")
        qty = msg.get(38)
        if qty is not None:
            rule = qty_problem(qty, market, self.product)
            if rule:
                out.add(38, qty, rule, "08 §3" if self.product == "margin" else "02 §2.2")
        self._routing(msg, out, market)
        alloc = msg.get(79)
        if alloc is not None and small_int(alloc, 0, MAX_ALLOC_ACCOUNT) is None:
            out.add(79, alloc, f"a sub-account number 0-{MAX_ALLOC_ACCOUNT}", "02 §5.6")
        if msg.get(448) is not None and msg.get(452) != "24":
            out.add(452, msg.get(452) or "(absent)", "PartyRole(452)=24 with PartyID(448)", "02 §5.6")
        if msg.get(453) is not None and msg.get(453) != "1":
            out.add(453, msg.get(453), "exactly one party entry (NoPartyIDs(453)=1)", "02 §3")

    def _routing(self, msg: FixMessage, out: "_Out", market: MarketRules | None) -> None:
        dest = msg.get(100)
        if dest is None or dest == "-1":
            return
        if self.product == "margin":
            if dest != "0":
                out.add(100, dest, "no ExDestination on margin (always index 0)", "08 §3")
            return
        index = small_int(dest, 0, 1000)
        if index is None:
            out.add(100, dest, "-1 (route by Symbol) or an exchange index >= 0", "02 §3")
        elif market is not None and index != market.exchange_index:
            out.add(100, dest, f"-1 or {market.ticker}'s exchange index {market.exchange_index}", "00 §6, 02 §5.5")

    def _check_D(self, msg: FixMessage, out: "_Out") -> None:
        market = self._market(msg, out)
        self._order_fields(msg, out, market)
        tif = msg.get(59)
        if tif is not None and tif not in TIF_VALUES:
            out.add(59, tif, "TimeInForce(59) 0 Day, 1 GTC, 3 IOC, 4 FOK or 6 GTD", "02 §4")
        if tif == "6" and msg.get(126) is None:
            out.add(126, "(absent)", "ExpireTime(126) with TimeInForce(59)=6 (GTD)", "02 §3, §4")
        if msg.get(18) is not None and set(msg.get(18).split()) - {"6"}:
            out.add(18, msg.get(18), "ExecInst(18)=6 (Post Only), the only documented value", "02 §3, §5.1")
        if msg.get(2964) is not None and msg.get(2964) not in ("1", "2"):
            out.add(2964, msg.get(2964), "SelfTradePreventionType(2964) 1 or 2", "02 §5.2")
        if self.product == "margin":
            for tag in (21009, 117, 21023):
                if msg.get(tag) is not None:
                    out.add(tag, msg.get(tag), "no such field on margin (no MaxExecutionCost, no RFQ)", "08 §3")
        elif msg.get(21009) is not None:
            cost = parse_price(msg.get(21009), True)
            if cost is None or cost <= 0:
                out.add(21009, msg.get(21009), "MaxExecutionCost(21009) in dollars, above 0 (always dollars)",
                        "02 §2.1, §5.3")
        group = msg.get(526) or msg.get(20130)
        if group is not None and group not in self.groups:
            out.add(526 if msg.get(526) else 20130, group,
                    "an OrderGroupID the venue returned in OrderGroupResponse(UOH)", "03 §1")
        self._new_order_id(msg, out)

    def _new_order_id(self, msg: FixMessage, out: "_Out") -> None:
        cl = msg.get(11)
        if cl is None:
            return
        rule = clordid_problem(cl)
        if rule:
            out.add(11, cl, rule, "02 §3")
        if cl in self.requests:
            out.add(11, cl, "a new ClOrdID: this one named an earlier cancel/replace request; "
                            "ClOrdIDs are unique across message types", "02 §12")
            return
        old = self.orders.get(cl)
        fields = (msg.get(55) or "", msg.get(54) or "", msg.get(44), msg.get(38))
        if old is not None:
            same = (old.symbol, old.side, old.price, old.qty) == fields and old.current == cl
            if old.state in ("sent", "unknown") and same:
                return  # the documented safe retry of an order whose outcome is unknown (spec 02 §8.5, §12)
            if old.state in ("sent", "unknown"):
                out.add(11, cl, "a resend of an order whose outcome is unknown repeats it unchanged "
                                "(same Symbol, Side, Price, OrderQty), or a new ClOrdID for a new order", "02 §8.5, §12")
            elif old.state == "live":
                out.add(11, cl, "a ClOrdID that no open order carries (this one is live)", "02 §3, §12")
            elif old.state == "done":
                out.add(11, cl, "a fresh ClOrdID: this one identified an order that has ended; ClOrdIDs are "
                                "idempotency keys, unique across all messages", "02 §12")
            else:  # rejected: it never was an order, the key is free
                pass
        order = _Order(*fields[:2], fields[2], fields[3], current=cl)
        self.orders[cl] = order

    def _target(self, msg: FixMessage, out: "_Out") -> _Order | None:
        """OrigClOrdID(41) of an F/G: an order this client entered, by its current ClOrdID."""
        orig = msg.get(41)
        if orig is None:
            return None
        order = self.orders.get(orig) or self._pending.get(orig)
        if order is None:
            out.add(41, orig, "the ClOrdID of an order this client entered", "02 §6, §7")
            return None
        if orig != order.current and orig not in order.pending:
            out.add(41, orig, f"the order's current ClOrdID {order.current!r} (after a replace the order is "
                              "addressed by its new ClOrdID)", "02 §6, §12")
        if msg.get(55) is not None and msg.get(55) != order.symbol:
            out.add(55, msg.get(55), f"the order's Symbol {order.symbol!r}", "02 §6, §7")
        if msg.get(54) is not None and msg.get(54) != order.side:
            out.add(54, msg.get(54), f"the order's Side {order.side!r}", "02 §6, §7")
        return order

    def _request_id(self, msg: FixMessage, out: "_Out") -> None:
        cl = msg.get(11)
        if cl is None:
            return
        rule = clordid_problem(cl)
        if rule:
            out.add(11, cl, rule, "02 §6, §7")
        earlier = self.requests.get(cl)
        if earlier is not None:
            if earlier.answered or earlier.msg_type != msg.msg_type or earlier.orig != (msg.get(41) or ""):
                out.add(11, cl, "a new ClOrdID for each cancel/replace request", "02 §6, §7, §12")
        elif cl in self.orders:
            out.add(11, cl, "a new ClOrdID: this one already identified an order", "02 §6, §7, §12")
        if earlier is None:
            self.requests[cl] = _Request(msg.msg_type or "", msg.get(41) or "")

    def _check_F(self, msg: FixMessage, out: "_Out") -> None:
        self._market(msg, out)
        self._routing(msg, out, self.markets.get(msg.get(55) or ""))
        self._request_id(msg, out)
        self._target(msg, out)

    def _check_G(self, msg: FixMessage, out: "_Out") -> None:
        market = self._market(msg, out)
        self._order_fields(msg, out, market)
        cl = msg.get(11)
        fresh = cl not in self.requests and cl not in self.orders
        self._request_id(msg, out)
        order = self._target(msg, out)
        if order is None:
            return
        qty = parse_qty(msg.get(38) or "")
        if qty is not None and qty < order.cum:
            out.add(38, msg.get(38), f"the new total quantity, not below the filled {order.cum / 100:.2f}", "02 §6")
        if cl and fresh:
            order.pending.add(cl)
            self._pending[cl] = order

    def _check_q(self, msg: FixMessage, out: "_Out") -> None:
        if msg.get(530) is not None and msg.get(530) != "6":
            out.add(530, msg.get(530), "MassCancelRequestType(530)=6, the only value", "02 §11")
        rule = clordid_problem(msg.get(11) or "")
        if rule and msg.get(11) is not None:
            out.add(11, msg.get(11), rule, "02 §11")
        if self.last_mass_cancel is not None and out.time - self.last_mass_cancel < MASS_CANCEL_INTERVAL:
            out.add(None, f"a second mass cancel {out.time - self.last_mass_cancel:.3f} s after the last",
                    "at most one OrderMassCancelRequest per second", "02 §11")
        self.last_mass_cancel = out.time

    def _check_UOG(self, msg: FixMessage, out: "_Out") -> None:
        action, group, limit = msg.get(20131), msg.get(20130), msg.get(20132)
        if action == "1" and group is not None:
            out.add(20130, group, "no OrderGroupID(20130) on Create: the venue assigns it", "03 §2")
        if action in ("2", "3", "4", "5"):
            if group is None:
                out.add(20130, "(absent)", "OrderGroupID(20130) for Reset, Delete, Trigger and Update", "03 §2")
            elif not UUID_RE.fullmatch(group):
                out.add(20130, group, "a UUID the venue returned in OrderGroupResponse(UOH)", "03 §1")
        if action in ("1", "5"):
            if limit is None:
                out.add(20132, "(absent)", "OrderGroupContractsLimit(20132) for Create and Update", "03 §2")
            elif small_int(limit, *GROUP_LIMIT) is None:
                out.add(20132, limit, "an integer 1-1,000,000", "03 §1")
        if self.product == "margin" and msg.get(79) is not None:
            out.add(79, msg.get(79), "no AllocAccount(79) on margin order groups", "03 §6, 08 §4")

    def _check_V(self, msg: FixMessage, out: "_Out") -> None:
        kind = msg.get(263)
        symbols = msg.get_all(55)
        if kind in ("0", "1") and not symbols:
            out.add(146, msg.get(146) or "(absent)", "NoRelatedSym(146) >= 1 with Symbol(55) entries for a "
                                                     "snapshot or a subscription", "07 §2")
        if msg.get(262) is not None:
            out.add(262, msg.get(262), "no MDReqID: Kalshi keys subscriptions by Symbol", "07 §1")
        for symbol in symbols:
            if self.markets and symbol not in self.markets:
                out.add(55, symbol, "a market of this venue (unknown tickers get an empty snapshot)", "07 §2")

    def _check_e(self, msg: FixMessage, out: "_Out") -> None:
        if msg.get(263) == "0":
            out.add(263, "0", "SubscriptionRequestType(263) 1 or 2 (no snapshot on SecurityStatusRequest)", "07 §6.1")
        if len(msg.get_all(55)) > 1:
            out.add(55, ",".join(msg.get_all(55)), "exactly one Symbol per SecurityStatusRequest", "07 §6.1")

    def _check_U1(self, msg: FixMessage, out: "_Out") -> None:
        begin, end = msg.get(21001), msg.get(21002)
        b = exec_id_key(begin or "") if begin is not None else None
        if begin is not None and b is None:
            out.add(21001, begin, "an ExecID clock;event or clock;event;exchange_index", "04 §3, 02 §8.2")
        first, self._resend_asked = not self._resend_asked, True
        seen = self.last_exec.get(b[0]) if b is not None else None
        if first and seen is not None and b[1:] < seen:
            out.add(21001, begin, f"a request from the last ExecID the client has seen ({seen[0]};{seen[1]}"
                                  f"{';%d' % b[0] if b[0] else ''}) after a reconnect, not an older one", "04 §3, §6")
        if end is None:
            return
        e = exec_id_key(end)
        if e is None:
            out.add(21002, end, "an ExecID clock;event or clock;event;exchange_index", "04 §3, 02 §8.2")
        elif b is not None and e[0] != b[0]:
            out.add(21002, end, f"the exchange index of BeginExecID(21001) ({b[0]}): one index per range", "04 §3")
        elif b is not None and e[1:] < b[1:]:
            out.add(21002, end, "an EndExecID not before BeginExecID(21001)", "04 §3, §5")


class _Out:
    def __init__(self, msg_type: str, seq: str, time: float) -> None:
        self.msg_type, self.seq, self.time = msg_type, seq, time
        self.findings: list[Finding] = []

    def add(self, tag: int | None, sent: str, rule: str, spec: str) -> None:
        self.findings.append(Finding(self.msg_type, self.seq, tag, sent, rule, spec, self.time))
