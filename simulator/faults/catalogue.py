"""The fault catalogue (issue 12 §1): every fault's name, family, typed parameters and doc line.

Families say where a fault acts (DESIGN §2, the state machine is never bent):
- transport: the connection's byte stream, at the driver (delays, bandwidth, closes, RST);
- frame: one FIX frame, at the driver's interceptor (drop, duplicate, corrupt, ...);
- session: the venue's FIX session misbehaving, through fixproto.Session's fault API;
- venue: business behaviour, in the gateway (late or missing ExecutionReports, rejects, ...).

`kalshi-fixsim faults` and `GET /faults/catalogue` print `describe()`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Param", "FaultKind", "CATALOGUE", "FAMILIES", "describe", "fault_kind"]

FAMILIES = ("transport", "frame", "session", "venue")


@dataclass(frozen=True)
class Param:
    name: str
    kind: str                       # int, float, str, bool, choice
    default: Any = None             # None + required=False: optional, no default
    doc: str = ""
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    required: bool = False

    def as_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "type": self.kind, "doc": self.doc}
        if self.required:
            out["required"] = True
        else:
            out["default"] = self.default
        if self.lo is not None or self.hi is not None:
            out["range"] = [self.lo, self.hi]
        if self.choices:
            out["choices"] = list(self.choices)
        return out


@dataclass(frozen=True)
class FaultKind:
    name: str
    family: str
    doc: str
    params: tuple[Param, ...] = ()
    # What starts it: "message" (a frame/message matching the rule's trigger), "connect" (a new
    # connection), "logon" (a Logon arriving), or "now" (at once, on the live sessions in scope).
    triggers: tuple[str, ...] = ("message",)
    directions: tuple[str, ...] = ("inbound", "outbound")
    default_direction: str = "outbound"
    spec: str = ""                  # the spec section the fault reproduces, if any
    param_names: frozenset[str] = field(init=False, default=frozenset())

    def __post_init__(self) -> None:
        object.__setattr__(self, "param_names", frozenset(p.name for p in self.params))

    def as_dict(self) -> dict:
        return {"fault": self.name, "family": self.family, "doc": self.doc,
                "params": [p.as_dict() for p in self.params], "triggers": list(self.triggers),
                "directions": list(self.directions), "default_direction": self.default_direction,
                **({"spec": self.spec} if self.spec else {})}


_MS = 600_000.0  # ten minutes: the longest delay, stall or silence a rule may ask for
_BOTH = ("inbound", "outbound")
_OUT = ("outbound",)
_IN = ("inbound",)
_HOW = Param("how", "choice", "fin", "fin: an orderly close; rst: a TCP reset (SO_LINGER 0)", choices=("fin", "rst"))

_KINDS = [
    # --- transport -------------------------------------------------------------------------------
    FaultKind("delay", "transport", "Hold matching frames, and everything behind them on the stream, for a time",
              (Param("ms", "float", 0.0, "delay in milliseconds (fixed; the median for lognormal)", 0, _MS),
               Param("distribution", "choice", "fixed", "how each frame's delay is drawn (seeded)",
                     choices=("fixed", "uniform", "normal", "lognormal")),
               Param("spread_ms", "float", 0.0, "uniform: +/- this; normal: the standard deviation", 0, _MS),
               Param("sigma", "float", 0.5, "lognormal: the shape (standard deviation of the log)", 0, 5)),
              directions=_BOTH),
    FaultKind("jitter", "transport", "Add a random delay of 0..ms to each matching frame (seeded, order kept)",
              (Param("ms", "float", 50.0, "the largest extra delay in milliseconds", 0, _MS),),
              directions=_BOTH),
    FaultKind("bandwidth", "transport", "Limit matching outbound frames to a byte rate (written in 1/20 s chunks)",
              (Param("bytes_per_second", "int", 10_000, "bytes per second", 1, 1_000_000_000),),
              directions=_OUT),
    FaultKind("slice", "transport", "Split matching frames into small writes of N bytes with a pause between",
              (Param("bytes", "int", 1, "bytes per write", 1, 1_000_000),
               Param("pause_ms", "float", 1.0, "pause between writes in milliseconds", 0, _MS)),
              directions=_OUT),
    FaultKind("coalesce", "transport", "Write matching frames several at a time in one write",
              (Param("count", "int", 2, "frames per write", 2, 10_000),
               Param("max_wait_ms", "float", 100.0, "write what is held after this long anyway", 0, _MS)),
              directions=_OUT),
    FaultKind("stall", "transport", "Stop reading (inbound) or writing (outbound) the connection for a time",
              (Param("ms", "float", 1000.0, "how long, in milliseconds", 0, _MS),),
              triggers=("message", "now"), directions=_BOTH),
    FaultKind("half_close", "transport", "Shut the venue's write side (the client reads EOF); keep reading",
              triggers=("message", "now"), directions=_BOTH),
    FaultKind("reset", "transport", "TCP reset (RST, not FIN): SO_LINGER 0, then close",
              (Param("before", "bool", True, "reset before the matching frame passes (False: just after)"),),
              triggers=("message", "now"), directions=_BOTH),
    FaultKind("close", "transport", "Close the connection at the matching message (e.g. the Kth)",
              (_HOW, Param("before", "bool", True, "close before the matching frame passes (False: after)")),
              triggers=("message", "now"), directions=_BOTH),
    FaultKind("close_after_bytes", "transport", "Close once N more bytes have been written (mid-frame if so)",
              (Param("bytes", "int", 100, "bytes written before the close", 0, 1_000_000_000), _HOW),
              triggers=("message", "now"), directions=_OUT),
    FaultKind("refuse_connections", "transport", "Refuse new connections: accept, then reset at once (RST)",
              (Param("how", "choice", "rst", "rst: a TCP reset; fin: an orderly close", choices=("fin", "rst")),),
              triggers=("connect",), directions=_IN, default_direction="inbound"),
    # --- frame -----------------------------------------------------------------------------------
    FaultKind("drop", "frame", "Drop the matching frame", directions=_BOTH),
    FaultKind("duplicate", "frame", "Pass the matching frame, then the same bytes again",
              (Param("copies", "int", 1, "extra copies", 1, 100),), directions=_BOTH),
    FaultKind("reorder", "frame", "Hold the matching frame and release it after the next one",
              (Param("after", "int", 1, "frames to let pass first", 1, 100),
               Param("max_wait_ms", "float", 1000.0, "release it after this long if nothing follows", 0, _MS)),
              directions=_BOTH),
    FaultKind("corrupt_checksum", "frame", "Send the frame with a wrong CheckSum(10)", directions=_BOTH,
              spec="01 §1.2"),
    FaultKind("corrupt_body_length", "frame", "Send the frame with a wrong BodyLength(9)",
              (Param("delta", "int", 1, "added to the true BodyLength (not 0)", -1000, 1000),),
              directions=_BOTH, spec="01 §1.1"),
    FaultKind("garble", "frame", "Overwrite random bytes of the frame body (seeded)",
              (Param("bytes", "int", 3, "how many bytes", 1, 1000),), directions=_BOTH),
    FaultKind("truncate", "frame", "Send only the first N bytes of the frame",
              (Param("keep", "int", 0, "bytes kept (0: half the frame)", 0, 1_000_000),), directions=_BOTH),
    # --- session ---------------------------------------------------------------------------------
    FaultKind("skip_seq", "session", "Skip N outbound MsgSeqNums: the client sees a gap",
              (Param("count", "int", 1, "sequence numbers skipped", 1, 1_000_000),
               Param("how", "choice", "gap_fill", "gap_fill: the numbers carry nothing (a resend gap-fills "
                     "them); hold: the next N messages are numbered and stored but not sent (a resend on RT "
                     "replays them)", choices=("gap_fill", "hold"))),
              triggers=("message", "now"), directions=_BOTH, spec="01 §5"),
    FaultKind("resend", "session", "Send earlier application messages again with PossDupFlag=Y and "
              "OrigSendingTime", (Param("count", "int", 1, "how many of the latest to resend", 1, 10_000),
                                  Param("orig_sending_time", "bool", True, "False: leave OrigSendingTime(122) out "
                                        "(FIX session test case 2f: the client must Reject 373=1)")),
              triggers=("message", "now"), directions=_BOTH, spec="01 §6"),
    FaultKind("test_request", "session", "Send a TestRequest now",
              (Param("test_req_id", "str", "FAULT", "TestReqID(112)"),), triggers=("message", "now"),
              directions=_BOTH, spec="01 §4"),
    FaultKind("resend_request", "session", "Send a ResendRequest for a range of the client's messages",
              (Param("begin", "int", 1, "BeginSeqNo(7)", 1, 2**31), Param("end", "int", 0, "EndSeqNo(16), 0 = all", 0,
                                                                           2**31)),
              triggers=("message", "now"), directions=_BOTH, spec="01 §6"),
    FaultKind("sequence_reset", "session", "Send a SequenceReset (GapFill or Reset) with a chosen NewSeqNo",
              (Param("new_seq", "int", None, "NewSeqNo(36); default: 10 past the next", 1, 2**31),
               Param("gap_fill", "bool", True, "GapFillFlag(123)=Y; False: a Reset")),
              triggers=("message", "now"), directions=_BOTH, spec="01 §6"),
    FaultKind("logon_seq", "session", "Answer the Logon with a lower or higher MsgSeqNum",
              (Param("offset", "int", 5, "added to the MsgSeqNum of the Logon answer (negative: lower)",
                     -1_000_000, 1_000_000),),
              triggers=("logon",), directions=_IN, default_direction="inbound", spec="01 §5"),
    FaultKind("logout", "session", "Log the session out now with a Text",
              (Param("text", "str", "Logout by fault rule", "Text(58)"),), triggers=("message", "now"),
              directions=_BOTH, spec="01 §7"),
    FaultKind("refuse_logon", "session", "Refuse the next Logon(s) with a Logout Text",
              (Param("text", "str", "Logon refused by fault rule", "Text(58) of the Logout"),),
              triggers=("logon",), directions=_IN, default_direction="inbound", spec="01 §2.4"),
    FaultKind("silence", "session", "Go silent: no Heartbeat, TestRequest or TestRequest answer for a time",
              (Param("ms", "float", 60_000.0, "how long, in milliseconds", 1, _MS),), triggers=("message", "now"),
              directions=_BOTH, spec="01 §4"),
    FaultKind("sending_time_skew", "session", "Skew the venue's SendingTime(52) by N seconds while the rule lasts",
              (Param("seconds", "float", 60.0, "added to SendingTime (negative: in the past)", -86_400, 86_400),),
              triggers=("message", "now"), directions=_BOTH, spec="01 §1.1"),
    FaultKind("reject_inbound", "session", "Answer the next inbound message with Reject 35=3 (373=reason)",
              (Param("reason", "int", 99, "SessionRejectReason(373)", 0, 99),
               Param("text", "str", "Rejected by fault rule", "Text(58)")),
              directions=_IN, default_direction="inbound", spec="09 §1"),
    # --- venue -----------------------------------------------------------------------------------
    FaultKind("er_delay", "venue", "Send the matching ExecutionReport (or other message) late; the order "
              "is booked as usual", (Param("ms", "float", 1000.0, "how late, in milliseconds", 0, _MS),),
              directions=_OUT, spec="09 §7"),
    FaultKind("er_drop", "venue", "Never send the matching ExecutionReport (or other message); the order is "
              "still booked", directions=_OUT, spec="09 §7"),
    FaultKind("er_duplicate", "venue", "Send the matching message twice, the copy with PossResend(97)=Y",
              directions=_OUT, spec="01 §6"),
    FaultKind("exchange_unavailable", "venue", "Reject the matching order 103=99 EXCHANGE_UNAVAILABLE; "
              "booked anyway or not", (Param("booked", "bool", False, "the exchange took the order regardless"),),
              directions=_IN, default_direction="inbound", spec="09 §7, 02 §8.5"),
    FaultKind("internal_error", "venue", "Reject the matching order 103=99 INTERNAL_ERROR (definitely not "
              "booked)", directions=_IN, default_direction="inbound", spec="09 §7, 02 §8.5"),
    FaultKind("unsolicited_cancel", "venue", "Cancel a resting order of the account as if the venue did",
              (Param("cl_ord_id", "str", None, "the order's ClOrdID (default: the matching message's 11, else "
                     "the oldest resting order)"),),
              triggers=("message", "now"), directions=_BOTH),
    FaultKind("rfq_roll", "venue", "The RFQ server rolls: every pending quote vanishes, unannounced; an "
              "AcceptQuote naming one gets UC NOT_FOUND", triggers=("message", "now"), directions=_BOTH,
              default_direction="inbound", spec="09 §7, 06 §2.9"),
    FaultKind("rate_limit", "venue", "Answer the matching messages with BusinessMessageReject 380=8",
              (Param("text", "str", "Rate limit exceeded (fault rule)", "Text(58)"),),
              directions=_IN, default_direction="inbound", spec="11 §4, 09 §7"),
    FaultKind("control", "venue", "Run a control-plane operation when the matching message arrives "
              "(before it is processed)",
              (Param("op", "choice", None, "the operation", required=True,
                     choices=("pause", "resume", "halt", "resume_market", "close_market", "settle_market",
                              "maintenance")),
               Param("kind", "str", None, "pause: trading or exchange"),
               Param("ticker", "str", None, "halt/close/settle: the market (default: the message's Symbol)"),
               Param("result", "str", None, "settle: yes, no or scalar"),
               Param("price", "str", None, "settle scalar: the price"),
               Param("mode", "str", None, "maintenance: continuity or reset")),
              triggers=("message", "now"), directions=_BOTH, default_direction="inbound", spec="10 §2"),
]

CATALOGUE: dict[str, FaultKind] = {k.name: k for k in _KINDS}


def fault_kind(name: str) -> FaultKind | None:
    return CATALOGUE.get(name)


def describe() -> list[dict]:
    """The catalogue as plain data, family by family."""
    return [k.as_dict() for family in FAMILIES for k in _KINDS if k.family == family]
