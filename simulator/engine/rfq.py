"""RFQs and quotes of one prediction exchange (spec 06): the whole state machine in one place.

FIX-free and clock-free like the rest of the engine: time comes in as `now`, ids come from
the injected `random.Random`. Refusals are returned as `Refusal` values (never raised) and
leave every state unchanged. What must be told to someone later is returned as notices
(`RfqClosed`, `QuoteClosed`, `QuoteExecuted`); the gateway turns them into FIX.

Quote states (spec 06 §4, maker view):

    submit ─► PENDING ─accept─► ACCEPTED ─confirm─► CONFIRMED ─execution timer─► EXECUTED
                 │                 │                    └─ a side can no longer pay ─► VOIDED
                 │                 ├─ no confirm within the window ─► VOIDED
                 │                 └─ maker's QuoteCancel ─► CANCELLED
                 ├─ QuoteCancel ─► CANCELLED
                 ├─ newer quote of the same maker on the RFQ ─► REPLACED
                 └─ its RFQ ends (cancel, expiry, another quote executed) ─► CLOSED

Execution (spec 06 §1, §2.9): the accepted side is inverted. Accepting Side 1 (buy YES)
hits the maker's NO price n: the creator buys YES and the maker sells YES at 1 - n. Side 2
hits the maker's YES price y: the creator sells YES (buys NO at 1 - y), the maker buys YES
at y. The trade is a direct cross between the two accounts at that price, applied to the
exchange's ledger with the arithmetic of matching.py (creator = taker, maker = maker), and
reported as an order per side that fills completely (Accepted, Traded).

Relies on these Exchange internals (no public API exists for them): `_ledger` (accounts,
fees, positions), `_eids` (ExecIDs), `_orders` (order lookup) and `market()`/`book()`.
"""
from __future__ import annotations

import enum
import hashlib
import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import grid
from .accounts import MAX_SUBACCOUNT, PAIR_PAYOUT, fee_for
from .ids import new_uuid
from .orders import make_fill, make_order, snapshot
from .types import (ONE_DOLLAR, Accepted, Canceled, CancelReason, Event, Market, MarketStatus, Order,
                    OrderRequest, OrderStatus, Side, TimeInForce, Traded)

if TYPE_CHECKING:  # pragma: no cover
    from .exchange import Exchange

__all__ = ["RfqDesk", "RfqSpec", "QuoteSpec", "AcceptSpec", "Leg", "Rfq", "Quote", "RfqStatus", "QuoteState",
           "Refuse", "Refusal", "RfqClosed", "QuoteClosed", "QuoteExecuted", "Notice", "COMBO_STRUCTURE"]

COMBO_STRUCTURE = "center_deci_edge_centi_cent"  # grid.py: the structure of combo markets


class RfqStatus(enum.Enum):
    OPEN = "open"
    CANCELED = "canceled"      # RFQCancel by the creator
    EXPIRED = "expired"        # lifetime over, or its market stopped trading
    REPLACED = "replaced"      # closed by a newer RFQ with ReplaceExisting(21016)=Y
    EXECUTED = "executed"


class QuoteState(enum.Enum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    CONFIRMED = "confirmed"
    EXECUTED = "executed"
    CANCELLED = "cancelled"    # QuoteCancel by the maker
    REPLACED = "replaced"      # a newer quote of the same maker on the same RFQ
    VOIDED = "voided"          # accepted but not confirmed in time, or not executable at the timer
    CLOSED = "closed"          # its RFQ ended

    @property
    def live(self) -> bool:
        return self in (QuoteState.PENDING, QuoteState.ACCEPTED, QuoteState.CONFIRMED)


class Refuse(enum.Enum):
    """Why a request was refused; the gateway maps each to the reply's code (spec 09 §5)."""
    NOT_FOUND = "NOT_FOUND"                  # unknown, foreign or flushed
    EXPIRED = "EXPIRED"                      # cancelled, replaced, voided or its RFQ closed
    INVALID = "INVALID_PARAMETERS"
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    MARKET_CLOSED = "MARKET_CLOSED"
    INVALID_PRICE = "INVALID_PRICE"
    INVALID_QUANTITY = "INVALID_QUANTITY"
    INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
    RFQ_EXISTS = "RFQ already exists"        # FIX text of spec 06 §1
    TOO_MANY_RFQS = "QUOTE_REQUEST_EXCEEDS_LIMIT"
    INVALID_COMBO = "INVALID_COMBO"
    SELF_TRADE = "SELF_TRADE"
    ALREADY_ACCEPTED = "QUOTE_ALREADY_ACCEPTED"
    NOT_ACCEPTED = "QUOTE_NOT_ACCEPTED"
    CONFIRMED = "QUOTE_CONFIRMED"
    POST_ONLY_CROSS = "POST_ONLY_CROSS"
    QUOTE_ID_IN_USE = "QUOTE_ID_IN_USE"


@dataclass(frozen=True)
class Refusal:
    kind: Refuse
    text: str                                  # "KIND: detail" (or the exact documented text)
    mve_reason: str | None = None              # spec 06 §2.8 (20187)
    offending: tuple[str, ...] = ()            # offending leg market tickers (20186)


def _no(kind: Refuse, detail: str = "", **kw) -> Refusal:
    return Refusal(kind, f"{kind.value}: {detail}" if detail else kind.value, **kw)


@dataclass(frozen=True)
class Leg:
    event: str
    market: str
    side: str  # "yes" / "no"


@dataclass
class RfqSpec:
    """A QuoteRequest as the gateway hands it over (quantities in hundredths, cash in µ$)."""
    account: str
    client_id: str
    symbol: str | None = None
    qty: int | None = None
    cash: int | None = None
    subaccount: int = 0
    party_id: str | None = None
    session: str | None = None
    rest_remainder: bool = False
    replace_existing: bool = False
    collection: str | None = None
    legs: tuple[Leg, ...] = ()


@dataclass
class QuoteSpec:
    account: str
    quote_id: str
    rfq_id: str
    symbol: str
    yes_price: int          # pips; 0 = no YES quote
    no_price: int           # pips; 0 = no NO quote
    subaccount: int = 0
    session: str | None = None
    post_only: bool = False
    rest_remainder: bool = False


@dataclass
class AcceptSpec:
    account: str
    quote_id: str
    side: Side              # as sent: 1 hits the NO price, 2 hits the YES price (spec 06 §2.9)
    qty: int | None = None
    rfq_id: str | None = None
    client_id: str | None = None
    session: str | None = None
    party_id: str | None = None
    prefer_better: bool = False
    limit_price: int | None = None   # NewOrderSingle(117): its Price(44) as a limit (YES pips)
    symbol: str | None = None        # NewOrderSingle(117): its Symbol(55) must be the quote's market


@dataclass
class Rfq:
    rfq_id: str
    client_id: str
    account: str
    symbol: str
    qty: int | None
    cash: int | None
    subaccount: int
    party_id: str | None
    session: str | None
    created: float
    expires: float
    hvm: bool = False
    rest_remainder: bool = False
    collection: str | None = None
    legs: tuple[Leg, ...] = ()
    status: RfqStatus = RfqStatus.OPEN
    closed_at: float | None = None
    quotes: dict[tuple[str, int], "Quote"] = field(default_factory=dict)  # maker -> latest quote


@dataclass
class Quote:
    quote_id: str
    rfq_id: str
    symbol: str
    account: str
    subaccount: int
    session: str | None
    yes_price: int
    no_price: int
    yes_size: int           # contracts the creator can take by hitting the YES price (BidSize 134)
    no_size: int            # ... by hitting the NO price (OfferSize 135)
    created: float
    post_only: bool = False
    rest_remainder: bool = False
    state: QuoteState = QuoteState.PENDING
    side: Side | None = None          # the creator's Side on acceptance, as sent
    qty: int = 0                      # accepted quantity
    accept_client_id: str | None = None
    accept_session: str | None = None
    confirm_by: float | None = None
    execute_at: float | None = None
    via_order: bool = False           # accepted by NewOrderSingle(117)
    order: Order | None = None        # that NewOrderSingle's order

    def trade_price(self, side: Side) -> int:
        """YES price of the trade when the creator accepts `side` (0: no price on that side)."""
        if side is Side.BUY:
            return ONE_DOLLAR - self.no_price if self.no_price else 0
        return self.yes_price

    def size(self, side: Side) -> int:
        return self.no_size if side is Side.BUY else self.yes_size


@dataclass
class RfqClosed:
    rfq: Rfq
    text: str


@dataclass
class QuoteClosed:
    quote: Quote
    was_accepted: bool        # the creator had accepted it: tell the creator
    text: str
    events: list[Event] = field(default_factory=list)  # the creator's NewOrderSingle(117) order ends


@dataclass
class QuoteExecuted:
    quote: Quote
    events: list[Event]


Notice = RfqClosed | QuoteClosed | QuoteExecuted
_LIVE_RFQ = RfqStatus.OPEN


class RfqDesk:
    """The RFQs and quotes of one exchange. Defaults follow spec 06 §1 (windows) and the older
    docs' 24 h RFQ lifetime; HVM windows apply to combo markets."""

    def __init__(self, exchange: "Exchange", rng: random.Random, *, rfq_ttl: float = 86_400.0,
                 confirm_window: float = 30.0, execution_delay: float = 15.0, hvm_confirm_window: float = 3.0,
                 hvm_execution_delay: float = 1.0, max_open_rfqs: int = 100) -> None:
        self.exchange = exchange
        self._rng = rng
        self.rfq_ttl = rfq_ttl
        self.confirm_window, self.execution_delay = confirm_window, execution_delay
        self.hvm_confirm_window, self.hvm_execution_delay = hvm_confirm_window, hvm_execution_delay
        self.max_open_rfqs = max_open_rfqs
        self._rfqs: dict[str, Rfq] = {}
        self._quotes: dict[str, Quote] = {}          # quote id -> latest quote with that id
        self._open: dict[str, Rfq] = {}              # open RFQs by server id, creation order
        self._combos: dict[tuple, str] = {}          # canonical legs -> combo ticker
        self._public: dict[str, str] = {}            # account -> pseudonymous communications id

    # --- lookups ----------------------------------------------------------------------

    def rfq(self, rfq_id: str) -> Rfq | None:
        return self._rfqs.get(rfq_id)

    def quote(self, quote_id: str) -> Quote | None:
        return self._quotes.get(quote_id)

    def open_rfqs(self, account: str | None = None) -> list[Rfq]:
        return [r for r in self._open.values() if account is None or r.account == account]

    def public_id(self, account: str) -> str:
        """spec 06 §2.2/§2.4: a pseudonymous id per account, never the account name."""
        pid = self._public.get(account)
        if pid is None:
            pid = self._public[account] = "comm-" + new_uuid(self._rng)[:8]
        return pid

    # --- RFQ creation (spec 06 §2.1, §5 R) --------------------------------------------

    def create_rfq(self, spec: RfqSpec, now: float) -> tuple[Rfq, list[Notice]] | Refusal:
        ex = self.exchange
        acct = ex._ledger.accounts.get(spec.account)
        if acct is None or not 0 <= spec.subaccount <= MAX_SUBACCOUNT:
            return _no(Refuse.INVALID, f"AllocAccount(79)={spec.subaccount} must be a sub-account 0-{MAX_SUBACCOUNT}")
        if (spec.symbol is None) == (spec.collection is None):
            return _no(Refuse.INVALID, "send exactly one of Symbol(55) or MultivariateCollectionTicker(20180) "
                                       "with its legs")
        if (spec.qty is None) == (spec.cash is None):
            return _no(Refuse.INVALID, "send exactly one of OrderQty(38) or CashOrderQty(152)")
        if spec.qty is not None and spec.qty <= 0:
            return _no(Refuse.INVALID_QUANTITY, "OrderQty(38) must be greater than 0, in steps of 0.01")
        if spec.cash is not None and spec.cash <= 0:
            return _no(Refuse.INVALID_QUANTITY, "CashOrderQty(152) must be greater than 0")
        symbol = spec.symbol
        if spec.collection is not None:
            resolved = self._resolve_combo(spec.collection, spec.legs)
            if isinstance(resolved, Refusal):
                return resolved
            symbol = resolved
        market = ex.market(symbol or "")
        if market is None:
            return _no(Refuse.UNKNOWN_SYMBOL, f"no market {symbol}")
        if market.status is not MarketStatus.OPEN:
            return _no(Refuse.MARKET_CLOSED, f"market {symbol} is {market.status.value}")
        if spec.qty is not None and spec.qty % 100 and not market.fractional:
            return _no(Refuse.INVALID_QUANTITY, f"{symbol} trades whole contracts only")
        mine = [r for r in self._open.values() if r.account == spec.account]
        if any(r.client_id == spec.client_id for r in mine):
            return _no(Refuse.INVALID, f"QuoteReqID(131)={spec.client_id} already names an open RFQ")
        same = [r for r in mine if r.symbol == symbol and r.subaccount == spec.subaccount
                and r.party_id == spec.party_id]
        if same and not spec.replace_existing:  # spec 06 §1: one open RFQ per market per (sub)trader
            return Refusal(Refuse.RFQ_EXISTS, Refuse.RFQ_EXISTS.value)
        closing = same[:-1]  # ReplaceExisting keeps the newest existing RFQ (spec 06 §1)
        if len(mine) - len(closing) + 1 > self.max_open_rfqs:
            return _no(Refuse.TOO_MANY_RFQS, f"at most {self.max_open_rfqs} open RFQs per account")
        if spec.cash is not None:
            need = spec.cash
        else:
            need = spec.qty * grid.valid_prices(market.price_structure)[0]  # the least any fill costs
        if need > acct.balance - acct.reserved:
            return _no(Refuse.INSUFFICIENT_BALANCE, "available balance does not cover the request")
        notices: list[Notice] = []
        for old in closing:
            self._close_rfq(old, RfqStatus.REPLACED, now, notices, "RFQ_CLOSED: replaced by a newer RFQ "
                                                                   "(ReplaceExisting)")
        rfq = Rfq(new_uuid(self._rng), spec.client_id, spec.account, symbol, spec.qty, spec.cash,
                  spec.subaccount, spec.party_id, spec.session, now, now + self.rfq_ttl,
                  hvm=spec.collection is not None, rest_remainder=spec.rest_remainder,
                  collection=spec.collection, legs=tuple(spec.legs))
        self._rfqs[rfq.rfq_id] = rfq
        self._open[rfq.rfq_id] = rfq
        self.public_id(spec.account)
        return rfq, notices

    def _resolve_combo(self, collection: str, legs: tuple[Leg, ...]) -> str | Refusal:
        """spec 06 §2.1/§2.8: resolve (or create) the combo market of an MVE leg set."""
        def bad(reason: str, detail: str, offending=()) -> Refusal:
            return _no(Refuse.INVALID_COMBO, f"{reason}: {detail}", mve_reason=reason, offending=tuple(offending))
        if len(legs) < 2:
            return bad("invalid_market_combination", "a combo needs at least two legs")
        seen: dict[str, Leg] = {}
        for leg in legs:
            if leg.side not in ("yes", "no"):
                return bad("invalid_market_combination", f"leg side must be yes or no, not {leg.side!r}",
                           [leg.market])
            prev = seen.get(leg.market)
            if prev is not None:
                if prev.side == leg.side:
                    return bad("duplicated_legs", f"{leg.market} appears twice", [leg.market])
                return bad("conflicting_leg_outcomes", f"{leg.market} is both yes and no", [leg.market])
            seen[leg.market] = leg
            market = self.exchange.market(leg.market)
            if market is None or market.event_ticker != leg.event or market.status is not MarketStatus.OPEN:
                return bad("invalid_market_combination",
                           f"{leg.market} is not an open market of event {leg.event}", [leg.market])
        key = (collection,) + tuple(sorted((leg.market, leg.side) for leg in legs))
        ticker = self._combos.get(key)
        if ticker is None:
            digest = hashlib.sha256(repr(key).encode()).hexdigest()[:10].upper()
            ticker = f"{collection}-{digest}"
            if self.exchange.market(ticker) is None:
                self.exchange.add_market(Market(ticker, collection, collection, f"Combo of {len(legs)} legs",
                                                price_structure=COMBO_STRUCTURE, fractional=True))
            self._combos[key] = ticker
        return ticker

    # --- quotes (spec 06 §2.4, §5 S) --------------------------------------------------

    def submit_quote(self, spec: QuoteSpec, now: float) -> tuple[Quote, list[Notice]] | Refusal:
        rfq = self._rfqs.get(spec.rfq_id)
        if rfq is None:
            return _no(Refuse.NOT_FOUND, f"QuoteReqID(131)={spec.rfq_id} is not an RFQ of this exchange "
                                         "(quote the server RFQ id of the broadcast)")
        if rfq.status is not _LIVE_RFQ or now >= rfq.expires:
            return _no(Refuse.EXPIRED, f"RFQ {rfq.rfq_id} is closed ({rfq.status.value})")
        if spec.symbol != rfq.symbol:
            return _no(Refuse.INVALID, f"Symbol(55)={spec.symbol} is not the RFQ's market {rfq.symbol}")
        if not 0 <= spec.subaccount <= MAX_SUBACCOUNT or spec.account not in self.exchange._ledger.accounts:
            return _no(Refuse.INVALID, f"AllocAccount(79)={spec.subaccount} must be a sub-account 0-{MAX_SUBACCOUNT}")
        yes, no = spec.yes_price, spec.no_price
        if not yes and not no:
            return _no(Refuse.INVALID_PRICE, "quote a YES price (132), a NO price (133) or both")
        if not (0 <= yes < ONE_DOLLAR and 0 <= no < ONE_DOLLAR):
            return _no(Refuse.INVALID_PRICE, "prices must be between 0 and 99 cents")
        if yes + no > ONE_DOLLAR:
            return _no(Refuse.INVALID_PRICE, "YES price + NO price must not exceed $1.00")
        structure = self.exchange.market(rfq.symbol).price_structure
        for name, p in (("YES", yes), ("NO", no)):
            if p and not grid.valid_price(structure, p):
                return _no(Refuse.INVALID_PRICE, f"{name} price {p / 100:g}c is not on the {structure} price grid")
        other = self._quotes.get(spec.quote_id)
        if other is not None and other.state.live and (other.account != spec.account or other.rfq_id != rfq.rfq_id):
            return _no(Refuse.QUOTE_ID_IN_USE, f"QuoteID(117)={spec.quote_id} names another live quote")
        maker = (spec.account, spec.subaccount)
        prev = rfq.quotes.get(maker)
        if prev is not None and prev.state in (QuoteState.ACCEPTED, QuoteState.CONFIRMED):
            return _no(Refuse.ALREADY_ACCEPTED, f"quote {prev.quote_id} was accepted: confirm or cancel it first")
        if spec.post_only:  # spec 06 §1: a post-only quote must not cross the public book
            book = self.exchange.book(rfq.symbol)
            ask, bid = book.best_ask(), book.best_bid()
            if (yes and ask is not None and yes >= ask) or (no and bid is not None and ONE_DOLLAR - no <= bid):
                return _no(Refuse.POST_ONLY_CROSS, "the quote would cross the public book")
        notices: list[Notice] = []
        if prev is not None and prev.state is QuoteState.PENDING:  # spec 06 §1: the newer quote replaces it
            self._end_quote(prev, QuoteState.REPLACED, now, notices, "REPLACED")
        quote = Quote(spec.quote_id, rfq.rfq_id, rfq.symbol, spec.account, spec.subaccount, spec.session, yes, no,
                      self._size(rfq, yes), self._size(rfq, no), now, spec.post_only, spec.rest_remainder)
        rfq.quotes[maker] = quote
        self._quotes[quote.quote_id] = quote
        self.public_id(spec.account)
        return quote, notices

    def _size(self, rfq: Rfq, maker_price: int) -> int:
        """Contracts the creator gets by hitting `maker_price` (the creator pays 1 - it)."""
        if not maker_price:
            return 0
        if rfq.cash is None:
            return rfq.qty or 0
        qty = rfq.cash // (ONE_DOLLAR - maker_price)  # µ$ / pips = hundredths
        return qty if self.exchange.market(rfq.symbol).fractional else qty - qty % 100

    def cancel_quote(self, account: str, quote_id: str, now: float, *, rfq_id: str | None = None,
                     subaccount: int | None = None) -> tuple[Quote, list[Notice]] | Refusal:
        """QuoteCancel (spec 06 §2.6): pending or accepted (not yet confirmed) quotes."""
        quote = self._owned_quote(account, quote_id, rfq_id, subaccount)
        if isinstance(quote, Refusal):
            return quote
        if quote.state is QuoteState.CONFIRMED:
            return _no(Refuse.CONFIRMED, "a confirmed quote can no longer be withdrawn")
        if quote.state not in (QuoteState.PENDING, QuoteState.ACCEPTED):
            return _no(Refuse.EXPIRED, f"quote {quote_id} is {quote.state.value}")
        notices: list[Notice] = []
        self._end_quote(quote, QuoteState.CANCELLED, now, notices, "EXPIRED")
        return quote, notices

    def _owned_quote(self, account: str, quote_id: str, rfq_id: str | None, subaccount: int | None) -> Quote | Refusal:
        quote = self._quotes.get(quote_id)
        if quote is None or quote.account != account or (subaccount is not None and quote.subaccount != subaccount):
            return _no(Refuse.NOT_FOUND, f"no quote {quote_id} of yours")
        if rfq_id is not None and rfq_id != quote.rfq_id:
            return _no(Refuse.NOT_FOUND, f"quote {quote_id} does not belong to RfqId(21023)={rfq_id}")
        return quote

    # --- acceptance and confirmation (spec 06 §2.9, §2.7, §5 UA/U7) -------------------

    def accept_quote(self, spec: AcceptSpec, now: float) -> tuple[Quote, list[Event]] | Refusal:
        """On success the quote is ACCEPTED and awaits the maker's confirm; the events are the
        Accepted of the creator's order when the acceptance came as a NewOrderSingle."""
        quote = self._quotes.get(spec.quote_id)
        rfq = self._rfqs.get(quote.rfq_id) if quote is not None else None
        if quote is None or rfq is None or rfq.account != spec.account:
            return Refusal(Refuse.NOT_FOUND, "NOT_FOUND")
        if (spec.rfq_id is not None and spec.rfq_id != rfq.rfq_id) or \
                (spec.party_id is not None and spec.party_id != rfq.party_id):
            return Refusal(Refuse.NOT_FOUND, "NOT_FOUND")
        if spec.symbol is not None and spec.symbol != rfq.symbol:
            return _no(Refuse.INVALID, f"Symbol(55)={spec.symbol} is not the quote's market {rfq.symbol}")
        if rfq.status is not _LIVE_RFQ or now >= rfq.expires:
            return Refusal(Refuse.EXPIRED, "EXPIRED")
        if quote.state in (QuoteState.ACCEPTED, QuoteState.CONFIRMED):
            return _no(Refuse.ALREADY_ACCEPTED, f"quote {quote.quote_id} is already accepted")
        if quote.state is not QuoteState.PENDING:
            return Refusal(Refuse.EXPIRED, "EXPIRED")
        busy = [q for q in rfq.quotes.values() if q.state in (QuoteState.ACCEPTED, QuoteState.CONFIRMED)]
        if busy:
            return _no(Refuse.ALREADY_ACCEPTED, f"quote {busy[0].quote_id} of this RFQ is being executed")
        side = spec.side
        if spec.prefer_better:  # spec 06 §2.9 (21022): the best live quote at least as good
            quote = self._best(rfq, quote, side, spec.account)
        price = quote.trade_price(side)
        if not price:
            which = "NO" if side is Side.BUY else "YES"
            return _no(Refuse.INVALID_PRICE, f"the quote has no {which} price to accept with Side(54)={int(side)}")
        if spec.limit_price is not None and (price > spec.limit_price if side is Side.BUY
                                             else price < spec.limit_price):
            return _no(Refuse.INVALID_PRICE, f"the quote's price {price / 100:g}c is worse than Price(44)")
        size = quote.size(side)
        qty = size if spec.qty is None else spec.qty
        market = self.exchange.market(rfq.symbol)
        if qty <= 0 or qty > size or (qty % 100 and not market.fractional):
            return _no(Refuse.INVALID_QUANTITY, f"OrderQty(38) must be more than 0 and at most {size / 100:g}")
        if quote.account == spec.account:
            return _no(Refuse.SELF_TRADE, "you cannot accept a quote of your own account")
        if market.status is not MarketStatus.OPEN:
            return _no(Refuse.MARKET_CLOSED, f"market {rfq.symbol} is {market.status.value}")
        if not self._affordable(spec.account, rfq.symbol, side, price, qty):
            return _no(Refuse.INSUFFICIENT_BALANCE, "available balance does not cover the trade")
        quote.state = QuoteState.ACCEPTED
        quote.side, quote.qty = side, qty
        quote.accept_client_id = spec.client_id
        quote.accept_session = spec.session
        quote.confirm_by = now + (self.hvm_confirm_window if rfq.hvm else self.confirm_window)
        quote.via_order = spec.limit_price is not None
        events: list[Event] = []
        if quote.via_order:
            order = quote.order = self._new_order(rfq.account, spec.client_id or quote.quote_id, rfq.symbol, side,
                                                  price, qty, rfq.subaccount, rfq.party_id, spec.session, now)
            self.exchange._eids.begin()
            events.append(Accepted(snapshot(order), self._eid(rfq.symbol), now, rests=True))
        return quote, events

    def _best(self, rfq: Rfq, named: Quote, side: Side, account: str) -> Quote:
        """The best-priced pending quote for the creator (ties: the named one, then the earliest)."""
        best = named
        for q in rfq.quotes.values():
            if q.state is QuoteState.PENDING and q.account != account and q.trade_price(side):
                better = q.trade_price(side) < best.trade_price(side) if side is Side.BUY \
                    else q.trade_price(side) > best.trade_price(side)
                if better or not best.trade_price(side):
                    best = q
        return best

    def confirm_quote(self, account: str, quote_id: str, now: float, *, rfq_id: str | None = None,
                      subaccount: int | None = None) -> tuple[Quote, list[Notice]] | Refusal:
        """QuoteConfirm (spec 06 §2.7): within the window; executes at once when the
        execution delay is 0, else at `execute_at` through `expire`."""
        quote = self._owned_quote(account, quote_id, rfq_id, subaccount)
        if isinstance(quote, Refusal):
            return quote
        if quote.state is QuoteState.PENDING:
            return _no(Refuse.NOT_ACCEPTED, f"quote {quote_id} has not been accepted")
        if quote.state is QuoteState.CONFIRMED:
            return _no(Refuse.CONFIRMED, f"quote {quote_id} is already confirmed")
        if quote.state is not QuoteState.ACCEPTED or now > quote.confirm_by:
            return _no(Refuse.EXPIRED, f"quote {quote_id} is {quote.state.value}" if quote.state
                       is not QuoteState.ACCEPTED else "the confirmation window has passed")
        rfq = self._rfqs[quote.rfq_id]
        if self.exchange.market(rfq.symbol).status is not MarketStatus.OPEN:
            return _no(Refuse.MARKET_CLOSED, f"market {rfq.symbol} is not open")
        side = quote.side.opposite
        if not self._affordable(account, rfq.symbol, side, quote.trade_price(quote.side), quote.qty):
            return _no(Refuse.INSUFFICIENT_BALANCE, "available balance does not cover the trade")
        quote.state = QuoteState.CONFIRMED
        quote.execute_at = now + (self.hvm_execution_delay if rfq.hvm else self.execution_delay)
        notices: list[Notice] = []
        if quote.execute_at <= now:
            self._execute(quote, now, notices)
        return quote, notices

    def _affordable(self, account: str, symbol: str, side: Side, price: int, qty: int) -> bool:
        acct = self.exchange._ledger.accounts[account]
        return self.exchange.collateral_unit(symbol, side, price) * qty <= acct.balance - acct.reserved

    # --- RFQ cancel (spec 06 §2.10) ---------------------------------------------------

    def cancel_rfq(self, account: str, now: float, *, client_id: str | None = None, rfq_id: str | None = None,
                   party_id: str | None = None) -> tuple[Rfq, list[Notice]] | Refusal:
        if rfq_id is not None:
            rfq = self._rfqs.get(rfq_id)
            if rfq is not None and client_id is not None and rfq.client_id != client_id:
                rfq = None
        else:
            mine = [r for r in self._rfqs.values() if r.account == account and r.client_id == client_id]
            rfq = next((r for r in mine if r.status is _LIVE_RFQ), mine[-1] if mine else None)
        if rfq is None or rfq.account != account or (party_id is not None and party_id != rfq.party_id):
            return _no(Refuse.NOT_FOUND, "no such RFQ of yours")
        if rfq.status is not _LIVE_RFQ:
            return _no(Refuse.EXPIRED, f"RFQ {rfq.rfq_id} is already {rfq.status.value}")
        if any(q.state is QuoteState.CONFIRMED for q in rfq.quotes.values()):
            return _no(Refuse.CONFIRMED, "a confirmed quote of this RFQ is being executed")
        notices: list[Notice] = []
        self._close_rfq(rfq, RfqStatus.CANCELED, now, notices, "RFQ_CLOSED: cancelled by its creator")
        return rfq, notices

    # --- timers -----------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        times = [r.expires for r in self._open.values()]
        for rfq in self._open.values():
            for q in rfq.quotes.values():
                if q.state is QuoteState.ACCEPTED:
                    times.append(q.confirm_by)
                elif q.state is QuoteState.CONFIRMED and self.exchange.paused is None:
                    times.append(q.execute_at)  # in a pause it waits for the resume (expire)
        return min(times) if times else None

    def expire(self, now: float) -> list[Notice]:
        """Everything due at `now`: unconfirmed accepted quotes are voided, confirmed ones
        execute, RFQs past their lifetime or whose market stopped trading expire. Nothing
        trades in a pause (spec 10 §2): a confirmed quote due then executes at the first
        call after the resume (behaviour.md "RFQ in a pause")."""
        notices: list[Notice] = []
        trading = self.exchange.paused is None
        for rfq in list(self._open.values()):
            for quote in list(rfq.quotes.values()):
                if quote.state is QuoteState.ACCEPTED and now >= quote.confirm_by:
                    self._end_quote(quote, QuoteState.VOIDED, now, notices, "EXPIRED")
                elif quote.state is QuoteState.CONFIRMED and now >= quote.execute_at and trading:
                    self._execute(quote, now, notices)
        for rfq in list(self._open.values()):
            if any(q.state is QuoteState.CONFIRMED for q in rfq.quotes.values()):
                continue  # committed: it executes at its timer
            market = self.exchange.market(rfq.symbol)
            if now >= rfq.expires:
                self._close_rfq(rfq, RfqStatus.EXPIRED, now, notices, "RFQ_CLOSED: expired")
            elif market is None or market.status is not MarketStatus.OPEN:
                self._close_rfq(rfq, RfqStatus.EXPIRED, now, notices, "RFQ_CLOSED: its market stopped trading")
        return notices

    # --- internals --------------------------------------------------------------------

    def _close_rfq(self, rfq: Rfq, status: RfqStatus, now: float, notices: list[Notice], text: str) -> None:
        rfq.status = status
        rfq.closed_at = now
        self._open.pop(rfq.rfq_id, None)
        for quote in rfq.quotes.values():
            if quote.state.live:
                self._end_quote(quote, QuoteState.CLOSED, now, notices, "EXPIRED")
        notices.append(RfqClosed(rfq, text))

    def _end_quote(self, quote: Quote, state: QuoteState, now: float, notices: list[Notice], text: str) -> None:
        was_accepted = quote.state in (QuoteState.ACCEPTED, QuoteState.CONFIRMED)
        quote.state = state
        events: list[Event] = []
        order = quote.order
        if order is not None and order.status is OrderStatus.NEW:  # the NewOrderSingle(117) ends too
            order.leaves = 0
            order.status = OrderStatus.CANCELED
            order.updated = now
            self.exchange._eids.begin()
            events.append(Canceled(snapshot(order), self._eid(order.symbol), now, CancelReason.EXPIRY))
        notices.append(QuoteClosed(quote, was_accepted, text, events))

    def _eid(self, symbol: str) -> str:
        return self.exchange._eids.next(self.exchange.market(symbol).exchange_index)

    def _new_order(self, account: str, client_id: str, symbol: str, side: Side, price: int, qty: int,
                   subaccount: int, party_id: str | None, session: str | None, now: float) -> Order:
        req = OrderRequest(account=account, client_order_id=client_id, symbol=symbol, side=side, price=price,
                           qty=qty, tif=TimeInForce.IOC, subaccount=subaccount, party_id=party_id, session=session)
        order = make_order(req, self.exchange._ids(), 0, now, None)
        self.exchange._orders[order.order_id] = order
        return order

    def _execute(self, quote: Quote, now: float, notices: list[Notice]) -> None:
        """The confirmed quote trades: a direct cross of the two accounts (module docstring)."""
        rfq = self._rfqs[quote.rfq_id]
        side, qty = quote.side, quote.qty
        price = quote.trade_price(side)
        market = self.exchange.market(rfq.symbol)
        creator = quote.order
        if market.status is not MarketStatus.OPEN or \
                not self._affordable(rfq.account, rfq.symbol, side, price, qty) or \
                not self._affordable(quote.account, rfq.symbol, side.opposite, price, qty):
            self._end_quote(quote, QuoteState.VOIDED, now, notices, "EXPIRED")
            return
        eids = self.exchange._eids
        eids.begin()
        events: list[Event] = []
        if creator is None:
            creator = quote.order = self._new_order(rfq.account, quote.accept_client_id or quote.quote_id,
                                                    rfq.symbol, side, price, qty, rfq.subaccount, rfq.party_id,
                                                    quote.accept_session, now)
            events.append(Accepted(snapshot(creator), self._eid(rfq.symbol), now, rests=False))
        maker = self._new_order(quote.account, quote.quote_id, rfq.symbol, side.opposite, price, qty,
                                quote.subaccount, None, quote.session, now)
        trade_id = self.exchange._ids()
        events.append(self._fill(creator, price, qty, True, trade_id, now, rested=quote.via_order))
        events.append(Accepted(snapshot(maker), self._eid(rfq.symbol), now, rests=False))
        events.append(self._fill(maker, price, qty, False, trade_id, now, rested=False))
        for order in (creator, maker):
            self.exchange._ledger.accounts[order.account].clids[order.client_order_id] = order
        quote.state = QuoteState.EXECUTED
        notices.append(QuoteExecuted(quote, events))
        self._close_rfq(rfq, RfqStatus.EXECUTED, now, notices, "RFQ_CLOSED: executed")

    def _fill(self, order: Order, price: int, q: int, taker: bool, trade_id: str, now: float, rested: bool) -> Traded:
        """One side of the cross: cost, fee, pair netting, position (matching.py's fill arithmetic)."""
        ledger = self.exchange._ledger
        acct = ledger.accounts[order.account]
        yes_cost = price * q
        fee = fee_for(ledger.taker_rate if taker else ledger.maker_rate, q, price)
        key = (order.subaccount, order.symbol)
        net = acct.positions.get(key, 0)
        if order.side is Side.BUY:
            change = -yes_cost - fee
            if net < 0:
                change += min(q, -net) * PAIR_PAYOUT
            net += q
        else:
            change = -(ONE_DOLLAR * q - yes_cost) - fee
            if net > 0:
                change += min(q, net) * PAIR_PAYOUT
            net -= q
        if net:
            acct.positions[key] = net
        else:
            acct.positions.pop(key, None)
        acct.balance += change
        ledger.fees_collected += fee
        order.leaves -= q
        order.cum += q
        order.notional += yes_cost
        order.status = OrderStatus.FILLED if not order.leaves else OrderStatus.PARTIALLY_FILLED
        order.updated = now
        fill = make_fill(trade_id, price, q, taker, fee, change, max(net, 0), max(-net, 0))
        return Traded(snapshot(order), self._eid(order.symbol), now, fill, rested)
