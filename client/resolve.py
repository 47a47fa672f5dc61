"""Order submission that survives the venue's documented failures (spec 09 §3, §7).

    outcome = await submit_order(fix, new_order("o-1", "KXTEST-26JAN01-A", "buy", 40, 1))
    outcome.state   # ACCEPTED, EXISTS, REJECTED or UNKNOWN; outcome.report: the deciding report

What it does with each answer (spec 09 §3 retry guidance, spec 02 §12 idempotency):
- `103=99 EXCHANGE_UNAVAILABLE`: the outcome is unknown, the exchange may hold the order. The
  same NewOrderSingle is sent again with the same ClOrdID: a New means it had not been taken
  (ACCEPTED); `103=6 ORDER_ALREADY_EXISTS` means the first copy was (EXISTS). Never a second order.
- `103=99 INTERNAL_ERROR`: definitely not applied: REJECTED, not retried.
- BusinessMessageReject `380=8` (rate limit): resent after an exponential backoff with full jitter.
- A duplicate report (PossResend 97=Y, or a PossDup the session let through) with an ExecID
  already seen is skipped.
Other messages that arrive meanwhile are kept in `outcome.others`, in order.
"""
from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from kalshi_fixsim.fixproto.codec import FixMessage

from .orders import ExecutionReport

__all__ = ["OrderOutcome", "submit_order"]


@dataclass
class OrderOutcome:
    ACCEPTED = "accepted"   # the venue acknowledged (or filled) this order
    EXISTS = "exists"       # a resend met the order the first, unanswered, copy created
    REJECTED = "rejected"   # a definite reject (the report says why)
    UNKNOWN = "unknown"     # no decisive answer within the attempts

    state: str
    report: ExecutionReport | None
    attempts: int
    others: list[FixMessage] = field(default_factory=list)


async def submit_order(fix, body: list[tuple[int, object]], *, timeout: float = 10.0, max_attempts: int = 5,
                       backoff: float = 0.5, backoff_cap: float = 10.0, rng: random.Random | None = None
                       ) -> OrderOutcome:
    cl = next((str(v) for t, v in body if t == 11), "")
    if not cl:
        raise ValueError("the NewOrderSingle body has no ClOrdID(11)")
    rng = rng or fix.rng
    others: list[FixMessage] = []
    seen: set[str] = set()
    unknown = False
    last: ExecutionReport | None = None
    for attempt in range(1, max_attempts + 1):
        fix.send("D", body)
        msg = await _answer(fix, cl, timeout, seen, others)
        if msg is None:
            return OrderOutcome(OrderOutcome.UNKNOWN, last, attempt, others)
        if msg.msg_type == "j":  # spec 09 §3: rate limit -> exponential backoff, then again
            await asyncio.sleep(rng.uniform(0, min(backoff_cap, backoff * 2 ** (attempt - 1))))
            continue
        report = last = ExecutionReport(msg)
        if report.exec_type != "8":
            return OrderOutcome(OrderOutcome.ACCEPTED, report, attempt, others)
        if report.text == "EXCHANGE_UNAVAILABLE":  # spec 02 §8.5: outcome unknown; same ClOrdID again
            unknown = True
            await asyncio.sleep(rng.uniform(0, min(backoff_cap, backoff * 2 ** (attempt - 1))))
            continue
        if unknown and report.ord_rej_reason == 6:  # the first copy was taken (spec 02 §12)
            return OrderOutcome(OrderOutcome.EXISTS, report, attempt, others)
        return OrderOutcome(OrderOutcome.REJECTED, report, attempt, others)
    return OrderOutcome(OrderOutcome.UNKNOWN, last, max_attempts, others)


async def _answer(fix, cl: str, timeout: float, seen: set[str], others: list[FixMessage]) -> FixMessage | None:
    """The first report (not a pending one) or rate-limit BMR for this ClOrdID."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            msg = await fix.receive(max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:
            return None
        if msg.msg_type == "j" and msg.get(379) == cl and msg.get(380) == "8":
            return msg
        if msg.msg_type == "8" and msg.get(11) == cl and msg.get(150) not in ("A", "E", "6"):
            exec_id = msg.get(17) or ""
            if exec_id and exec_id != "-1;-1" and exec_id in seen:
                continue  # a duplicate (97=Y): already applied
            seen.add(exec_id)
            return msg
        others.append(msg)
