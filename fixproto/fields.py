"""Field and message tables, written by hand from spec 12 (Dict v1.03 merged with the docs).

* `Tag`, `TAG_NAMES`, `TAG_TYPES`: every tag of spec 12 §1 (Dict and docs tags).
* `MsgType`, `MSG_TYPE_NAMES`, `ADMIN_MSG_TYPES`: the 40 current message types (spec 12 §2).
* Enumeration classes for the coded fields of §1, and `ENUM_VALUES`, which holds only the
  closed value sets that are safe to enforce at the session layer (business enums are
  validated by the application).
* `MESSAGES`: one `MessageDef` per message type, layouts of spec 12 §3 in Dict order with
  the docs additions; group members are listed in `GroupDef`s, nested groups as subgroups.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .numbers import MAX_SEQ as _MAX_SEQ

__all__ = [
    "Tag", "TAG_NAMES", "TAG_TYPES", "CUSTOM_TAGS", "MsgType", "MSG_TYPE_NAMES",
    "ADMIN_MSG_TYPES", "ENUM_VALUES", "HEADER_TAGS", "TRAILER_TAGS", "GroupDef", "MessageDef",
    "MESSAGES", "tag_label", "MSG_TAG_TYPES", "MSG_ENUM_VALUES", "INT_RANGES", "MAX_GROUP_ENTRIES",
    # enumerations
    "ExecInst", "OrdStatus", "OrdType", "Side", "TimeInForce", "EncryptMethod", "CxlRejReason",
    "OrdRejReason", "MiscFeeType", "MiscFeeBasis", "ExecType", "SubscriptionRequestType",
    "MDEntryType", "MDUpdateAction", "MDReqRejReason", "QuoteStatus", "QuoteCancelStatus",
    "QuoteRequestType", "SecurityTradingStatus", "SessionRejectReason", "BusinessRejectReason",
    "CxlRejResponseTo", "PartyRole", "MassCancelRequestType", "MassCancelResponse",
    "QuoteRequestRejectReason", "ApplVerID", "CollateralAmountType", "AggressorSide",
    "SelfTradePreventionType", "MarketResult", "OrderGroupAction", "MultivariateSelectedSide",
    "MVEValidationReasonCode", "EventResendRejectReason", "QuoteConfirmStatus", "RFQCancelStatus",
    "AcceptQuoteStatus",
]


# --- Tags (spec 12 §1) -----------------------------------------------------------------------

class Tag:
    AvgPx = 6
    BeginSeqNo = 7
    BeginString = 8
    BodyLength = 9
    CheckSum = 10
    ClOrdID = 11
    CumQty = 14
    EndSeqNo = 16
    ExecID = 17
    ExecInst = 18
    LastMkt = 30
    LastPx = 31
    LastQty = 32
    MsgSeqNum = 34
    MsgType = 35
    NewSeqNo = 36
    OrderID = 37
    OrderQty = 38
    OrdStatus = 39
    OrdType = 40
    OrigClOrdID = 41
    PossDupFlag = 43
    Price = 44
    RefSeqNum = 45
    SecurityID = 48
    SenderCompID = 49
    SenderSubID = 50
    SendingTime = 52
    Side = 54
    Symbol = 55
    TargetCompID = 56
    TargetSubID = 57
    Text = 58
    TimeInForce = 59
    TransactTime = 60
    AllocAccount = 79
    Signature = 89
    SignatureLength = 93
    RawDataLength = 95
    RawData = 96
    PossResend = 97
    EncryptMethod = 98
    ExDestination = 100
    CxlRejReason = 102
    OrdRejReason = 103
    HeartBtInt = 108
    TestReqID = 112
    OnBehalfOfCompID = 115
    QuoteID = 117
    OrigSendingTime = 122
    GapFillFlag = 123
    ExpireTime = 126
    DeliverToCompID = 128
    QuoteReqID = 131
    BidPx = 132
    OfferPx = 133
    BidSize = 134
    OfferSize = 135
    NoMiscFees = 136
    MiscFeeAmt = 137
    MiscFeeCurr = 138
    MiscFeeType = 139
    ResetSeqNumFlag = 141
    SenderLocationID = 142
    TargetLocationID = 143
    NoRelatedSym = 146
    ExecType = 150
    LeavesQty = 151
    CashOrderQty = 152
    SubscriptionRequestType = 263
    NoMDEntries = 268
    MDEntryType = 269
    MDEntryPx = 270
    MDEntrySize = 271
    MDEntryDate = 272
    MDEntryTime = 273
    MDUpdateAction = 279
    MDReqRejReason = 281
    QuoteStatus = 297
    QuoteCancelStatus = 298
    QuoteRequestType = 303
    SecurityTradingStatus = 326
    RefTagID = 371
    RefMsgType = 372
    SessionRejectReason = 373
    ExecRestatementReason = 378
    BusinessRejectRefID = 379
    BusinessRejectReason = 380
    MaxMessageSize = 383
    CxlRejResponseTo = 434
    PartyID = 448
    PartyRole = 452
    NoPartyIDs = 453
    TestMessageIndicator = 464
    SecondaryClOrdID = 526
    MassCancelRequestType = 530
    MassCancelResponse = 531
    MassCancelRejectReason = 532
    Username = 553
    Password = 554
    QuoteRequestRejectReason = 658
    LongQty = 704
    ShortQty = 705
    ClearingBusinessDate = 715
    SettlementPrice = 730
    NextExpectedMsgSeqNum = 789
    TrdMatchID = 880
    MiscFeeBasis = 891
    LastFragment = 893
    AggressorIndicator = 1057
    ApplVerID = 1128
    CstmApplVerID = 1129
    DefaultApplVerID = 1137
    NoCollateralAmountChanges = 1703
    CollateralAmountChange = 1704
    CollateralAmountType = 1705
    AggressorSide = 2446
    SelfTradePreventionType = 2964
    CancelOrdersOnDisconnect = 8013
    MarketSettlementReportID = 20105
    TotNumMarketSettlementReports = 20106
    MarketResult = 20107
    NoMarketSettlementPartyIDs = 20108
    MarketSettlementPartyID = 20109
    MarketSettlementPartyRole = 20110
    ListenerSession = 20126
    ReceiveSettlementReports = 20127
    OrderGroupID = 20130
    OrderGroupAction = 20131
    OrderGroupContractsLimit = 20132
    MultivariateCollectionTicker = 20180
    NoMultivariateSelectedLegs = 20181
    MultivariateSelectedEventTicker = 20182
    MultivariateSelectedMarketTicker = 20183
    MultivariateSelectedSide = 20184
    NoMVEOffendingLegs = 20185
    MVEOffendingMarketTicker = 20186
    MVEValidationReasonCode = 20187
    MessageRetentionPeriod = 20200
    BeginExecID = 21001
    EndExecID = 21002
    ResendEventCount = 21003
    EventResendRejectReason = 21004
    UseDollars = 21005
    CancelOrderOnPause = 21006
    EnableIocCancelReport = 21007
    PreserveOriginalOrderQty = 21008
    MaxExecutionCost = 21009
    QuoteConfirmStatus = 21010
    SkipPendingExecReports = 21011
    UseExpiredOrdStatus = 21012
    RFQCancelStatus = 21013
    RestRemainder = 21015
    ReplaceExisting = 21016
    PreferBetterQuote = 21022
    RfqId = 21023
    AcceptedQuoteId = 21024
    AcceptQuoteStatus = 21025
    AlwaysEmitNewBeforeTrade = 21026
    SplitCollateralReturn = 21027
    SingleMarketCollateralReturn = 21030
    RangedMarketCollateralReturn = 21031


# Types of spec 12 §1, one line per type (tags in numeric order within a line).
_TYPES: dict[str, tuple[int, ...]] = {
    "STRING": (8, 10, 11, 17, 30, 35, 37, 41, 48, 49, 50, 55, 56, 57, 58, 112, 115, 117, 128,
               131, 142, 143, 372, 379, 448, 526, 553, 554, 880, 1128, 1129, 1137, 1705, 20105,
               20107, 20109, 20130, 20180, 20182, 20183, 20184, 20186, 20187, 21001, 21002,
               21023, 21024),
    "CHAR": (39, 40, 54, 59, 139, 150, 263, 269, 279, 281, 434, 530, 531, 2446, 21015, 21016,
             21022),
    "MULTIPLEVALUESTRING": (18,),
    "INT": (79, 98, 100, 102, 103, 108, 297, 298, 303, 326, 371, 373, 378, 380, 452, 532, 658,
            891, 2964, 20106, 20110, 20131, 20132, 20200, 21003, 21004, 21010, 21013, 21025),
    "SEQNUM": (7, 16, 34, 36, 45, 789),
    "LENGTH": (9, 93, 95, 383),
    "NUMINGROUP": (136, 146, 268, 453, 1703, 20108, 20181, 20185),
    "BOOLEAN": (43, 97, 123, 141, 464, 893, 1057, 8013, 20126, 20127, 21005, 21006, 21007,
                21008, 21011, 21012, 21026, 21027),
    "PRICE": (6, 31, 44, 132, 133, 270, 730),
    "QTY": (14, 32, 38, 134, 135, 151, 271, 704, 705),
    "AMT": (137, 152, 1704),
    "DECIMAL": (21009, 21030, 21031),
    "CURRENCY": (138,),
    "UTCTIMESTAMP": (52, 60, 122, 126),
    "LOCALMKTDATE": (715,),
    "DATA": (89, 96),
    "UTCDATEONLY": (272,),
    "UTCTIMEONLY": (273,),
}

TAG_NAMES: dict[int, str] = dict(sorted(
    (v, k) for k, v in vars(Tag).items() if not k.startswith("_") and isinstance(v, int)
))
TAG_TYPES: dict[int, str] = {t: typ for typ, tags in _TYPES.items() for t in tags}
TAG_TYPES = {t: TAG_TYPES[t] for t in sorted(TAG_TYPES)}

# Field types that depend on the MsgType (issue 11 §5): 21003 is ResendEventCount (INT) on an
# EventResendComplete, but on a Logon it is the legacy SkipPendingExecReports flag (Y/N) that
# Kalshi accepted before v1.0.17 (spec 01 §2.2).
MSG_TAG_TYPES: dict[tuple[str, int], str] = {("A", 21003): "BOOLEAN"}

# Kalshi tags in the user-defined ranges (spec 12 §4): 44 tags.
CUSTOM_TAGS: frozenset[int] = frozenset(t for t in TAG_TYPES if 5000 <= t < 10000 or t >= 20000)

# spec 01 §1.1 (header, incl. the Dict's optional fields) and §1.2 (trailer)
HEADER_TAGS: frozenset[int] = frozenset({8, 9, 35, 49, 56, 34, 52, 43, 97, 122, 50, 142, 57,
                                         143, 115, 128, 1128, 1129})
TRAILER_TAGS: frozenset[int] = frozenset({93, 89, 10})


def tag_label(tag: int) -> str:
    """"OrderQty(38)" for a known tag, "424242" otherwise."""
    name = TAG_NAMES.get(tag)
    return f"{name}({tag})" if name else str(tag)


# --- Message types (spec 12 §2) --------------------------------------------------------------

class MsgType:
    Heartbeat = "0"
    TestRequest = "1"
    ResendRequest = "2"
    Reject = "3"
    SequenceReset = "4"
    Logout = "5"
    Logon = "A"
    ExecutionReport = "8"
    OrderCancelReject = "9"
    NewOrderSingle = "D"
    OrderCancelRequest = "F"
    OrderCancelReplaceRequest = "G"
    BusinessMessageReject = "j"
    OrderMassCancelRequest = "q"
    OrderMassCancelReport = "r"
    QuoteRequest = "R"
    Quote = "S"
    QuoteCancel = "Z"
    QuoteRequestAck = "b"
    QuoteStatusReport = "AI"
    QuoteRequestReject = "AG"
    EventResendRequest = "U1"
    EventResendComplete = "U2"
    EventResendReject = "U3"
    QuoteConfirm = "U7"
    QuoteConfirmStatus = "U8"
    QuoteCancelStatus = "U9"
    AcceptQuote = "UA"
    RFQCancelStatus = "UB"
    AcceptQuoteStatus = "UC"
    RFQCancel = "UE"
    OrderGroupRequest = "UOG"
    OrderGroupResponse = "UOH"
    MarketSettlementReport = "UMS"
    # docs only (market data)
    MarketDataRequest = "V"
    MarketDataSnapshotFullRefresh = "W"
    MarketDataIncrementalRefresh = "X"
    MarketDataRequestReject = "Y"
    SecurityStatusRequest = "e"
    SecurityStatus = "f"


MSG_TYPE_NAMES: dict[str, str] = {
    v: k for k, v in vars(MsgType).items() if not k.startswith("_") and isinstance(v, str)
}
ADMIN_MSG_TYPES: frozenset[str] = frozenset({"0", "1", "2", "3", "4", "5", "A"})


# --- Enumerations (spec 12 §1, 09-errors §1-§2) ---------------------------------------------

class ExecInst:
    POST_ONLY = "6"  # ParticipantDontInitiate


class OrdStatus:
    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    CANCELED = "4"
    REPLACED = "5"  # docs only
    PENDING_CANCEL = "6"
    REJECTED = "8"
    PENDING_NEW = "A"
    EXPIRED = "C"
    PENDING_REPLACE = "E"


class OrdType:
    LIMIT = "2"


class Side:
    BUY_YES = "1"  # margin: buy
    SELL_NO = "2"  # margin: sell


class TimeInForce:
    DAY = "0"
    GTC = "1"
    IOC = "3"
    FOK = "4"
    GTD = "6"


class EncryptMethod:
    NONE = 0


class CxlRejReason:
    TOO_LATE_TO_CANCEL = 0
    UNKNOWN_ORDER = 1
    BROKER = 2
    DUPLICATE_CLORDID = 6  # docs only
    INVALID_PRICE_INCREMENT = 18
    OTHER = 99


class OrdRejReason:
    UNKNOWN_SYMBOL = 1
    EXCHANGE_CLOSED = 2
    ORDER_EXCEEDS_LIMIT = 3
    TOO_LATE_TO_ENTER = 4
    STALE_ORDER_MARGIN = 5  # margin docs use 5 for a stale order
    DUPLICATE_ORDER = 6
    STALE_ORDER = 8
    UNSUPPORTED_ORDER_CHARACTERISTIC = 11
    INCORRECT_QUANTITY = 13
    UNKNOWN_ACCOUNT = 15
    OTHER = 99


class MiscFeeType:
    EXCHANGE_FEES = "4"


class MiscFeeBasis:
    ABSOLUTE = 0


class ExecType:
    NEW = "0"
    CANCELED = "4"
    REPLACED = "5"
    PENDING_CANCEL = "6"
    REJECTED = "8"
    PENDING_NEW = "A"
    EXPIRED = "C"
    PENDING_REPLACE = "E"
    TRADE = "F"


class SubscriptionRequestType:
    SNAPSHOT = "0"
    SNAPSHOT_PLUS_UPDATES = "1"
    DISABLE = "2"


class MDEntryType:
    BID = "0"
    OFFER = "1"
    TRADE = "2"


class MDUpdateAction:
    NEW = "0"
    CHANGE = "1"
    DELETE = "2"


class MDReqRejReason:
    INSUFFICIENT_BANDWIDTH = "2"
    UNSUPPORTED_SUBSCRIPTION_REQUEST_TYPE = "4"


class QuoteStatus:
    ACCEPTED = 0
    REJECTED = 5
    PENDING = 10
    CANCELLED = 17


class QuoteCancelStatus:
    CANCELLED = 0
    REJECTED = 1


class QuoteRequestType:
    MANUAL = 1
    AUTOMATIC = 2


class SecurityTradingStatus:
    HALT = 2
    RESUME = 3
    DETERMINED = 100
    SETTLED = 101


class SessionRejectReason:
    INVALID_TAG_NUMBER = 0
    REQUIRED_TAG_MISSING = 1
    TAG_NOT_DEFINED_FOR_MESSAGE_TYPE = 2
    UNDEFINED_TAG = 3
    TAG_SPECIFIED_WITHOUT_A_VALUE = 4
    VALUE_IS_INCORRECT = 5
    INCORRECT_DATA_FORMAT = 6
    DECRYPTION_PROBLEM = 7
    SIGNATURE_PROBLEM = 8
    COMPID_PROBLEM = 9
    SENDINGTIME_ACCURACY_PROBLEM = 10
    INVALID_MSGTYPE = 11
    XML_VALIDATION_ERROR = 12
    TAG_APPEARS_MORE_THAN_ONCE = 13
    TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER = 14
    REPEATING_GROUP_FIELDS_OUT_OF_ORDER = 15
    INCORRECT_NUMINGROUP_COUNT = 16
    NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER = 17
    INVALID_UNSUPPORTED_APPLICATION_VERSION = 18
    OTHER = 99


class BusinessRejectReason:
    OTHER = 0
    UNKNOWN_ID = 1
    UNKNOWN_SECURITY = 2
    UNSUPPORTED_MESSAGE_TYPE = 3
    APPLICATION_NOT_AVAILABLE = 4
    CONDITIONALLY_REQUIRED_FIELD_MISSING = 5
    NOT_AUTHORIZED = 6
    RATE_LIMIT_EXCEEDED = 8


class CxlRejResponseTo:
    ORDER_CANCEL_REQUEST = "1"
    ORDER_CANCEL_REPLACE_REQUEST = "2"


class PartyRole:
    CUSTOMER_ACCOUNT = 24
    LIQUIDITY_PROVIDER = 35  # docs: on Quote (S) sent to the RFQ creator


class MassCancelRequestType:
    CANCEL_FOR_SESSION = "6"


class MassCancelResponse:
    REJECTED = "0"
    ALL_ORDERS_CANCELLED = "6"


class QuoteRequestRejectReason:
    UNKNOWN_SYMBOL = 1
    QUOTE_REQUEST_EXCEEDS_LIMIT = 3
    INSUFFICIENT_CREDIT = 11
    OTHER = 99


class ApplVerID:
    FIX50SP2 = "9"


class CollateralAmountType:
    BALANCE = "BALANCE"
    PAYOUT = "PAYOUT"


class AggressorSide:
    BUY = "1"
    SELL = "2"


class SelfTradePreventionType:
    UNKNOWN = 0
    TAKER_AT_CROSS = 1
    MAKER = 2


class MarketResult:
    YES = "yes"
    NO = "no"
    SCALAR = "scalar"


class OrderGroupAction:
    CREATE = 1
    RESET = 2
    DELETE = 3
    TRIGGER_CANCEL = 4
    UPDATE = 5


class MultivariateSelectedSide:
    YES = "yes"
    NO = "no"


class MVEValidationReasonCode:
    CONFLICTING_LEG_OUTCOMES = "conflicting_leg_outcomes"
    DUPLICATED_LEGS = "duplicated_legs"
    INVALID_MARKET_COMBINATION = "invalid_market_combination"


class EventResendRejectReason:
    RATE_LIMITED = 1
    SERVER_ERROR = 2
    BEGIN_EXECID_TOO_SMALL = 3
    END_EXECID_TOO_LARGE = 4


class QuoteConfirmStatus:
    ACCEPTED = 0
    REJECTED = 1


class RFQCancelStatus:
    CANCELED = 0
    REJECTED = 1
    EXPIRED = 2  # docs only


class AcceptQuoteStatus:
    ACCEPTED = 0
    REJECTED = 1


_YN = frozenset({"Y", "N"})

# Closed value sets enforced at the session layer (SessionRejectReason 5). Business enums
# (39, 150, 54, 59, 103, ...) are deliberately absent: the application validates those.
ENUM_VALUES: dict[int, frozenset[str]] = {
    8: frozenset({"FIXT.1.1"}),
    98: frozenset({"0"}),
    1128: frozenset({"9"}),
    1137: frozenset({"9"}),
    **{t: _YN for t in _TYPES["BOOLEAN"]},
}
# Closed value sets of fields whose type depends on the MsgType (MSG_TAG_TYPES).
MSG_ENUM_VALUES: dict[tuple[str, int], frozenset[str]] = {("A", 21003): _YN}

# Sane ranges of integer fields (issue 11 §3; numbers.py parses them). INT fields not listed
# take the 32-bit range; business bounds (HeartBtInt > 3, MessageRetentionPeriod 1..72,
# sub-accounts 0..63, ...) are checked by the layer that owns them, with its own Text.
MAX_GROUP_ENTRIES = 100_000  # a NumInGroup count above this is out of range (373=5)
INT_RANGES: dict[int, tuple[int, int]] = {
    **{t: (0, _MAX_SEQ) for t in _TYPES["SEQNUM"]},
    34: (1, _MAX_SEQ), 7: (1, _MAX_SEQ), 36: (1, _MAX_SEQ), 789: (1, _MAX_SEQ),  # spec 01 §5-§6
    **{t: (0, 1_000_000) for t in _TYPES["LENGTH"]},  # the framer's BodyLength cap
    **{t: (0, MAX_GROUP_ENTRIES) for t in _TYPES["NUMINGROUP"]},
}


# --- Message layouts (spec 12 §3) ------------------------------------------------------------

@dataclass(frozen=True)
class GroupDef:
    """A repeating group: `members` are the entry's own fields in order (nested count tags in
    place, nested members in `subgroups`). `alt_delimiters` are tags also accepted as the first
    field of an entry (QuoteRequest's MVE entries start with 38 or 152, spec 06 §2.1)."""

    count_tag: int
    delimiter: int
    members: tuple[int, ...]
    required_members: frozenset[int]
    subgroups: tuple[GroupDef, ...] = ()
    alt_delimiters: frozenset[int] = frozenset()
    all_tags: frozenset[int] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        tags = set(self.members)
        for sub in self.subgroups:
            tags |= sub.all_tags
        object.__setattr__(self, "all_tags", frozenset(tags))


@dataclass(frozen=True)
class MessageDef:
    msg_type: str
    name: str
    fields: tuple[int, ...]
    required: frozenset[int]
    groups: dict[int, GroupDef] = field(default_factory=dict, hash=False)
    allowed: frozenset[int] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        tags = set(self.fields)
        for g in self.groups.values():
            tags |= g.all_tags
        object.__setattr__(self, "allowed", frozenset(tags))


def _layout(spec: str) -> tuple[tuple[int, ...], frozenset[int]]:
    """"11 Y, 18 N, 38" -> ((11, 18, 38), {11}). Only Y counts as required (not C, not N)."""
    tags, required = [], set()
    for item in spec.split(","):
        parts = item.split()
        tags.append(int(parts[0]))
        if parts[1:] == ["Y"]:
            required.add(int(parts[0]))
    return tuple(tags), frozenset(required)


def _grp(count_tag: int, members: str, *subgroups: GroupDef, alt: tuple[int, ...] = ()) -> GroupDef:
    tags, required = _layout(members)
    return GroupDef(count_tag, tags[0], tags, required, subgroups, frozenset(alt))


def _msg(msg_type: str, fields: str, *groups: GroupDef) -> MessageDef:
    tags, required = _layout(fields)
    return MessageDef(msg_type, MSG_TYPE_NAMES[msg_type], tags, required,
                      {g.count_tag: g for g in groups})


_PARTIES = _grp(453, "448, 452")
_FEES = _grp(136, "137 Y, 138 Y, 139 Y, 891 Y")
_COLLATERAL = _grp(1703, "1704 Y, 1705 Y")
_MVE_LEGS = _grp(20181, "20182 Y, 20183 Y, 20184 Y")
# QuoteRequest's 146 entry: the docs nest 55/38/152/21015/21016/453 in it (06-rfq §2.1); the
# Dict's flat layout puts the same tags right after 146=1, so both parse as one entry.
_RFQ_SYMBOLS = _grp(146, "55, 38, 152, 21015, 21016, 453", _PARTIES, alt=(38, 152))

_MESSAGE_LIST = [
    # session (spec 12 §3)
    _msg("0", "112 N"),
    _msg("1", "112 Y"),
    _msg("2", "7 Y, 16 Y"),
    _msg("3", "45 Y, 371 N, 372 N, 373 N, 58 N"),
    _msg("4", "123 N, 36 Y"),
    _msg("5", "58 N"),
    # Logon: docs make 96 required; 21027 is a docs addition. 108 is checked per product by the
    # acceptor (prediction requires it, margin defaults to 30: spec 08); 21003 is the legacy
    # SkipPendingExecReports tag, still accepted as an alias (spec 01 §2.2).
    _msg("A", "98 Y, 108 N, 95 N, 96 Y, 141 N, 789 N, 383 N, 464 N, 553 N, 554 N, 1137 Y, "
              "8013 N, 21011 N, 21005 N, 21006 N, 21007 N, 20126 N, 20127 N, 20200 N, 21008 N, "
              "21012 N, 21026 N, 21027 N, 21003 N"),
    # order entry
    # D: TransactTime(60) is not in the dictionary, but the docs' subpenny sample sends it:
    # accepted (spec 02 §3), and used for the stale-order check.
    _msg("D", "11 Y, 18 N, 38 Y, 40 Y, 44 Y, 54 Y, 55 Y, 59 N, 126 N, 2964 N, 453 N, 526 N, "
              "20130 N, 21006 N, 21009 N, 79 N, 100 N, 117 N, 21023 N, 60 N", _PARTIES),
    _msg("G", "11 Y, 37 N, 41 Y, 38 Y, 40 Y, 44 N, 54 Y, 55 Y, 453 N, 20130 N, 79 N, 100 N",
         _PARTIES),
    _msg("F", "11 Y, 37 N, 41 Y, 54 Y, 55 Y, 453 N, 79 N, 100 N", _PARTIES),
    _msg("8", "37 Y, 11 Y, 17 Y, 150 Y, 39 Y, 54 Y, 55 Y, 151 Y, 14 Y, 6 Y, 38 Y, 31 N, 32 N, "
              "103 N, 41 N, 44 N, 60 C, 58 N, 126 N, 378 N, 136 N, 453 N, 79 N, 704 N, 705 N, "
              "1703 N, 880 N, 1057 N, 2964 N, 30 N, 21030 N, 21031 N",
         _FEES, _PARTIES, _COLLATERAL),
    _msg("9", "37 Y, 11 Y, 41 N, 39 Y, 434 Y, 102 N, 58 N"),
    _msg("q", "11 Y, 530 Y"),
    _msg("r", "11 Y, 37 Y, 531 Y, 532 N"),
    # j: docs make 45 and 372 required; one docs page lists 371 (09-errors §2)
    _msg("j", "45 Y, 372 Y, 379 N, 380 Y, 58 N, 371 N"),
    # RFQ
    _msg("R", "131 Y, 146 Y, 55 C, 38 C, 152 C, 453 N, 21015 N, 21016 N, 20180 N, 20181 N, 79 N",
         _RFQ_SYMBOLS, _PARTIES, _MVE_LEGS),
    _msg("b", "131 Y, 303 Y, 21023 N, 55 N, 58 N, 100 Y"),
    _msg("S", "117 Y, 131 Y, 55 Y, 132 C, 133 C, 38 N, 134 N, 135 N, 79 N, 21015 N, 18 N, 453 N",
         _PARTIES),
    _msg("Z", "117 Y, 21023 N"),
    _msg("AI", "117 Y, 131 Y, 79 N, 297 Y, 38 N, 132 N, 133 N, 134 N, 135 N, 54 N, 58 N"),
    _msg("AG", "131 Y, 658 Y, 58 Y, 20187 N, 20185 N", _grp(20185, "20186")),
    _msg("U7", "117 Y, 21023 N"),
    _msg("U8", "117 Y, 21010 Y, 58 N"),
    _msg("U9", "117 Y, 298 Y, 58 N"),
    _msg("UA", "117 Y, 54 Y, 38 N, 11 N, 453 N, 21022 N, 21023 N", _PARTIES),
    _msg("UB", "131 Y, 21013 Y, 58 N, 21023 C"),
    _msg("UC", "117 Y, 21025 Y, 21024 N, 11 N, 58 N"),
    _msg("UE", "131 C, 21023 C, 453 N", _PARTIES),
    # post-trade, order groups, event resend
    _msg("UMS", "20105 Y, 55 Y, 715 Y, 20106 N, 20107 Y, 730 Y, 893 N, 20108 N",
         _grp(20108, "20109 Y, 20110 Y, 704 N, 705 N, 1703 N, 136 N", _COLLATERAL, _FEES)),
    _msg("UOG", "20131 Y, 20132 N, 20130 N, 79 N, 100 N"),
    _msg("UOH", "20130 Y, 20132 N, 79 N"),
    _msg("U1", "21001 Y, 21002 N"),
    _msg("U2", "45 Y, 21003 Y"),
    _msg("U3", "45 Y, 21004 Y"),
    # market data (docs only)
    _msg("V", "263 Y, 146 C", _grp(146, "55")),
    _msg("W", "55 Y, 268 Y", _grp(268, "269, 270, 271, 272, 273")),
    _msg("X", "268 Y", _grp(268, "279, 55, 269, 270, 271, 272, 273, 2446 C")),
    _msg("Y", "281 N, 58 N"),
    _msg("e", "263 Y, 55 Y"),
    _msg("f", "55 Y, 326 Y"),
]

MESSAGES: dict[str, MessageDef] = {m.msg_type: m for m in _MESSAGE_LIST}
