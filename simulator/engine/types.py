"""Business types of the matching engine: FIX-free (DESIGN.md §3 rule 4).

Units are integers so that every balance is exact:
- price: pips, 1/10,000 of a dollar (55¢ = 5500, $0.0123 = 123); always the YES price.
- quantity: hundredths of a contract (10 contracts = 1000); spec 02 §2.2 granularity 0.01.
- money: micro-dollars (1e-6 $). price (1e-4 $) x quantity (1e-2) = 1e-6 $, so cost is exact.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

__all__ = [
    "PRICE_SCALE", "QTY_SCALE", "MONEY_SCALE", "ONE_DOLLAR", "Side", "TimeInForce", "STP", "OrderStatus",
    "MarketStatus", "Market", "OrderRequest", "Order", "Fill", "Reject", "CancelReason", "CxlReject",
    "Event", "Accepted", "Traded", "Canceled", "Replaced", "Rejected", "GroupState", "OrderGroup",
]

PRICE_SCALE = 10_000     # pips per dollar
QTY_SCALE = 100          # quantity units per contract
MONEY_SCALE = 1_000_000  # micro-dollars per dollar
ONE_DOLLAR = PRICE_SCALE  # a contract pays $1: price 1.0 in pips


class Side(enum.IntEnum):
    """spec 02 §1: 1 = buy YES (bid), 2 = sell YES (ask) = buy NO."""
    BUY = 1
    SELL = 2

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY


class TimeInForce(enum.Enum):
    DAY = "0"
    GTC = "1"
    IOC = "3"
    FOK = "4"
    GTD = "6"


class STP(enum.IntEnum):
    """Self-trade prevention, spec 02 §5.2."""
    TAKER_AT_CROSS = 1
    MAKER = 2


class OrderStatus(enum.Enum):
    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    CANCELED = "4"
    REJECTED = "8"
    EXPIRED = "C"

    def __init__(self, value: str) -> None:
        # Plain member attributes, not properties: read for every order and report, and an
        # enum property costs a Python call per read (issue 16).
        self.final: bool = value in ("2", "4", "8", "C")  # FILLED, CANCELED, REJECTED, EXPIRED


class MarketStatus(enum.Enum):
    INITIALIZED = "initialized"  # not yet open: MARKET_INACTIVE
    OPEN = "open"
    HALTED = "halted"            # single-market halt: MARKET_INACTIVE
    CLOSED = "closed"            # MARKET_ALREADY_CLOSED
    SETTLED = "settled"


@dataclass
class Market:
    ticker: str
    event_ticker: str = ""
    series_ticker: str = ""
    title: str = ""
    status: MarketStatus = MarketStatus.OPEN
    price_structure: str = "linear_cent"  # spec 02 §2.1
    fractional: bool = False              # quantities in 0.01 allowed
    exchange_index: int = 0
    close_time: float | None = None       # epoch seconds
    reference_price: int = 0              # perps: pips the market maker quotes around (0 = none)
    margin_rate: Decimal | None = None    # perps: initial-margin rate of this market (None = the exchange's)

    @property
    def perp(self) -> bool:
        """A margin perpetual (spec 08 §3): price on the 0.0001 grid, no upper bound."""
        return self.price_structure == "margin_tick"


@dataclass
class OrderRequest:
    """A new order as the gateway hands it to the engine."""
    account: str                 # account name (config)
    client_order_id: str         # ClOrdID(11)
    symbol: str
    side: Side
    price: int                   # pips
    qty: int                     # hundredths
    tif: TimeInForce = TimeInForce.GTC
    expire_time: float | None = None   # GTD (epoch seconds)
    post_only: bool = False
    stp: STP = STP.TAKER_AT_CROSS
    max_cost: int | None = None        # MaxExecutionCost in micro-dollars (spec 02 §5.3)
    cancel_on_pause: bool = False
    order_group: str | None = None     # OrderGroupID (526 or 20130)
    subaccount: int = 0                # AllocAccount(79)
    party_id: str | None = None        # FCM customer (448)
    session: str | None = None         # owning session id: mass cancel and cancel-on-disconnect scope


@dataclass
class Order:
    order_id: str
    account: str
    client_order_id: str         # the latest accepted ClOrdID (NOS, G or F)
    symbol: str
    side: Side
    price: int
    qty: int                     # current total (filled + leaves) after amends
    original_qty: int            # OrderQty of the NewOrderSingle (PreserveOriginalOrderQty)
    tif: TimeInForce
    leaves: int
    cum: int = 0
    notional: int = 0            # sum(price x qty) of fills, for AvgPx
    status: OrderStatus = OrderStatus.NEW
    expire_time: float | None = None
    post_only: bool = False
    stp: STP = STP.TAKER_AT_CROSS
    cancel_on_pause: bool = False
    order_group: str | None = None
    subaccount: int = 0
    party_id: str | None = None
    session: str | None = None
    priority: int = 0            # time priority: lower is earlier
    reserved: int = 0            # collateral held for `leaves`, micro-dollars
    created: float = 0.0
    updated: float = 0.0

    @property
    def avg_price(self) -> int:
        """Average fill price in pips (0 before any fill), rounded to the nearest pip."""
        return (self.notional + self.cum // 2) // self.cum if self.cum else 0


@dataclass(frozen=True)
class Fill:
    trade_id: str                # TrdMatchID(880): the same on both sides of one match
    price: int                   # pips (the resting order's price)
    qty: int
    aggressor: bool              # AggressorIndicator(1057)
    fee: int                     # micro-dollars charged for this fill
    balance_change: int          # micro-dollars, signed (collateral, payouts, fee): CollateralAmountChange
    long_qty: int                # net YES position after the fill (LongQty 704)
    short_qty: int               # net NO position after the fill (ShortQty 705)


class Reject(enum.Enum):
    """ExecutionReport rejects (spec 02 §8.5/§8.6): value = (OrdRejReason, Text)."""
    MARKET_NOT_FOUND = (1, "MARKET_NOT_FOUND")
    MARKET_INACTIVE = (2, "MARKET_INACTIVE")
    MARKET_ALREADY_CLOSED = (2, "MARKET_ALREADY_CLOSED")
    TRADING_PAUSED = (2, "TRADING_PAUSED")
    EXCHANGE_PAUSED = (2, "EXCHANGE_PAUSED")
    INSUFFICIENT_BALANCE = (3, "INSUFFICIENT_BALANCE")
    EXCEEDED_ORDER_GROUP_RISK_LIMIT = (3, "EXCEEDED_ORDER_GROUP_RISK_LIMIT")
    ORDER_ALREADY_EXISTS = (6, "ORDER_ALREADY_EXISTS")
    INVALID_ORDER = (11, "INVALID_ORDER")
    ORDER_GROUP_NOT_FOUND = (11, "ORDER_GROUP_NOT_FOUND")
    INVALID_PRICE = (11, "INVALID_PRICE")
    INCORRECT_QUANTITY = (13, "INVALID_ORDER")
    CUSTOMER_ACCOUNT_NOT_FOUND = (15, "CUSTOMER_ACCOUNT_NOT_FOUND")
    PERMISSION_DENIED = (15, "PERMISSION_DENIED_FOR_CUSTOMER_ACCOUNT")  # a restricted key, another sub-account
    TOO_MANY_OPEN_ORDERS = (3, "EXCEEDED_PER_MARKET_RISK_LIMIT")
    STALE_ORDER = (8, "STALE_ORDER")  # "expired timestamp on request"; margin's code is 5 (spec 08)

    def __init__(self, code: int, text: str) -> None:
        self.code, self.text = code, text  # attributes, not properties (OrderStatus.__init__)


class CancelReason(enum.Enum):
    """Why an order ended cancelled: value = (label, Text(58)); "" = no Text."""
    USER = ("user", "")                       # OrderCancelRequest
    MASS_CANCEL = ("mass_cancel", "")         # OrderMassCancelRequest
    DISCONNECT = ("disconnect", "")           # CancelOrdersOnDisconnect (spec 01 §7: no Text)
    REPLACED_TO_FILLED = ("amend_to_filled", "")  # G with OrderQty == CumQty (spec 02 §6)
    IOC = ("ioc", "IMMEDIATE_OR_CANCELLED")
    FOK = ("fok", "FOK_INSUFFICIENT_VOLUME")
    MAX_COST = ("max_cost", "FOK_INSUFFICIENT_VOLUME")  # MaxExecutionCost not met (spec 02 §5.3)
    POST_ONLY = ("post_only", "POST_ONLY_CROSS")
    STP_TAKER = ("stp_taker", "TAKER_CANCEL_FOR_SELF_TRADE_PREVENTION")
    STP_MAKER = ("stp_maker", "MAKER_CANCEL_FOR_SELF_TRADE_PREVENTION")
    ORDER_GROUP = ("order_group", "ORDER_GROUP_CANCEL")
    TRADING_PAUSE = ("trading_pause", "TRADING_PAUSED")
    EXCHANGE_PAUSE = ("exchange_pause", "EXCHANGE_PAUSED")
    EXPIRY = ("expiry", "")                   # Day/GTD: OrderExpiryCancel
    CLOSE = ("close", "")                     # market close: CloseCancel

    def __init__(self, label: str, text: str) -> None:
        self.text = text  # attributes, not properties (OrderStatus.__init__)
        # Reported as Expired (C/C) with UseExpiredOrdStatus=Y (spec 01 §2.2, 21012).
        self.expiry_style: bool = label in ("expiry", "close")


class CxlReject(enum.Enum):
    """OrderCancelReject reasons (spec 02 §10): value = (CxlRejReason, Text)."""
    UNKNOWN_ORDER = (1, "UNKNOWN_ORDER")
    TOO_LATE_TO_CANCEL = (0, "TOO_LATE_TO_CANCEL")
    INVALID_AMEND_QTY = (2, "INVALID_AMEND_QTY_FOR_ORDER")
    CANNOT_UPDATE_FILLED_ORDER = (2, "CANNOT_UPDATE_FILLED_ORDER")
    ORDER_ALREADY_EXISTS = (6, "ORDER_ALREADY_EXISTS")
    SELF_CROSS_ATTEMPT = (18, "SELF_CROSS_ATTEMPT")
    INVALID_PRICE = (99, "INVALID_PRICE")
    MARKET_NOT_FOUND = (99, "MARKET_NOT_FOUND")
    INSUFFICIENT_BALANCE = (99, "INSUFFICIENT_BALANCE")
    TRADING_PAUSED = (99, "TRADING_PAUSED")
    EXCHANGE_PAUSED = (99, "EXCHANGE_PAUSED")
    MARKET_CLOSED = (99, "MARKET_ALREADY_CLOSED")
    MARKET_INACTIVE = (99, "MARKET_INACTIVE")  # an amend in a halted market (the new-order Text, 103=2)
    PERMISSION_DENIED = (99, "PERMISSION_DENIED_FOR_CUSTOMER_ACCOUNT")  # a restricted key, another sub-account
    POST_ONLY_CROSS = (99, "POST_ONLY_CROSS")  # a replace would make a post-only order take (engine choice)

    def __init__(self, code: int, text: str) -> None:
        self.code, self.text = code, text  # attributes, not properties (OrderStatus.__init__)


# --- events: what an engine call produced, in order --------------------------------------

@dataclass
class Event:
    order: Order  # a snapshot copy taken when the event happened
    exec_id: str = ""  # ExecID(17) "clock;event[;index]" (spec 00 §6, 02 §8.2); "" for Rejected
    time: float = 0.0  # when it happened (TransactTime)


@dataclass
class Accepted(Event):
    """The order is live (New). Emitted before any Traded of the same call."""
    rests: bool = True  # False when the order trades fully/partially in the same call


@dataclass
class Traded(Event):
    fill: Fill = None  # type: ignore[assignment]
    rested: bool = False  # True when the order had been acknowledged (rested) before this fill


@dataclass
class Canceled(Event):
    reason: CancelReason = CancelReason.USER
    request_id: str | None = None       # ClOrdID of the F (or G) that caused it
    orig_client_order_id: str | None = None


@dataclass
class Replaced(Event):
    orig_client_order_id: str = ""


@dataclass
class Rejected(Event):
    """A NewOrderSingle the engine refused; `order` is a snapshot built from the request."""
    reason: Reject = Reject.INVALID_ORDER


class GroupState(enum.Enum):
    ACTIVE = "active"
    TRIGGERED = "triggered"


@dataclass
class OrderGroup:
    group_id: str
    account: str
    subaccount: int
    limit: int                     # contracts (whole), 1..1,000,000 (spec 03 §1)
    state: GroupState = GroupState.ACTIVE
    fills: list[tuple[float, int]] = field(default_factory=list)  # (time, qty hundredths) in the window
