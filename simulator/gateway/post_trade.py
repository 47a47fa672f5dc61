"""Market close and settlement, and the MarketSettlementReport (35=UMS) stream (spec 05).

Entry points for the control plane (they run on the simulator's loop):

    close_market(venue, ticker, now) -> list[Event]
    settle_market(venue, ticker, result, price, now) -> Settlement   # raises SettlementError

Who gets a UMS (spec 05 §1, spec 01 §2.2 tag 20127): every KalshiPT session unless its
Logon said 20127=N, and every KalshiRT session whose Logon said 20127=Y; each one receives
the entries of its own account only (all sub-accounts). PT and RT keep sequence continuity
(spec 01 §5.1), so a session that wanted reports and is not connected gets them stored for
resend after its next Logon without reset (as venue.OfflineSink does for RT reports).

KalshiPT is read-only: it offers no application message (fixproto.kalshi.APP_MESSAGES_IN),
so gateway.route answers anything from the client with BMR 380=3; no handler lives here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Iterator

from kalshi_fixsim.fixproto.session import record_offline
from kalshi_fixsim.fixproto.store import MessageStore

from ..engine.settlement import Settlement, SettlementEntry, SettleReject, check_settlement
from ..engine.types import MONEY_SCALE, Event
from . import LIFECYCLE, Connection
from .reports import Body, format_qty

if TYPE_CHECKING:  # pragma: no cover
    from .venue import Venue

__all__ = ["PAGE_SIZE", "SettlementError", "SettlementState", "close_market", "settle_market", "ums_pages",
           "party_id", "state", "DETERMINED", "SETTLED"]

PAGE_SIZE = 100          # party entries per UMS page (spec 05 §4); tests pass page_size=
DETERMINED, SETTLED = 100, 101  # SecurityTradingStatus on KalshiMD (spec 07 §6.2, spec 05 §2)
CUSTOMER_ACCOUNT = 24    # MarketSettlementPartyRole(20110)
_SERVICE = "settlement"  # key in venue.services


class SettlementError(ValueError):
    """A refused close/settlement; `code` is the engine's SettleReject code (for a 4xx)."""

    def __init__(self, reject: SettleReject, ticker: str) -> None:
        super().__init__(f"{reject.code}: {ticker}: {reject.text}")
        self.reject = reject
        self.code = reject.code
        self.ticker = ticker


@dataclass
class Recipient:
    """A PT/RT session that has logged on at least once (by session id)."""
    session_id: str
    account: str
    wants: bool                      # 20127 at its latest Logon (with the session type's default)
    conn: Connection | None = None   # live connection, None while away
    store: MessageStore | None = None  # for resend while away (None: nothing kept)
    sender: str = ""
    target: str = ""


@dataclass
class SettlementState:
    """venue.services["settlement"]: who receives UMS, the report-id counter, what was settled."""
    recipients: dict[str, Recipient] = field(default_factory=dict)
    reports: int = 0
    settled: dict[str, Settlement] = field(default_factory=dict)

    def next_report_id(self) -> str:
        self.reports += 1
        return f"stl-{self.reports}"

    # --- gateway.Lifecycle (one per venue; the module-level _Sessions routes to it) --------

    def attached(self, conn: Connection) -> None:
        options = getattr(conn, "options", None)
        wants = options is not None and options.settlement_reports(conn.session_code)
        rec = self.recipients.get(conn.session_id)
        if rec is None:
            rec = self.recipients[conn.session_id] = Recipient(conn.session_id, conn.user, wants)
        rec.account, rec.wants, rec.conn = conn.user, wants, conn
        driver = getattr(conn, "driver", None)
        # Listener RT sessions get live reports only, as venue.py does for ExecutionReports.
        rec.store = None
        if driver is not None and not getattr(conn, "listener", False):
            session = driver.session
            rec.store, rec.sender, rec.target = session.store, session.config.sender_comp_id, \
                getattr(conn, "api_key_id", "")

    def detached(self, conn: Connection) -> None:
        rec = self.recipients.get(conn.session_id)
        if rec is not None and rec.conn is conn:
            rec.conn = None


def state(venue: "Venue") -> SettlementState:
    st = venue.services.get(_SERVICE)
    if st is None:
        st = venue.services[_SERVICE] = SettlementState()
    return st  # type: ignore[return-value]


class _Sessions:
    """Registered in LIFECYCLE["PT"] and ["RT"]: tracks prediction sessions per venue."""

    def attached(self, conn: Connection) -> None:
        if conn.product == "prediction" and conn.session_id:
            state(conn.venue).attached(conn)

    def detached(self, conn: Connection) -> None:
        if conn.product == "prediction" and conn.session_id:
            state(conn.venue).detached(conn)


_SESSIONS = _Sessions()
for _code in ("PT", "RT"):
    LIFECYCLE.setdefault(_code, []).append(_SESSIONS)


# --- rendering (spec 05 §3, §4) -------------------------------------------------------------

def party_id(entry: SettlementEntry) -> str:
    """MarketSettlementPartyID: the account name, "<account>/<n>" for sub-account n >= 1."""
    return entry.account if entry.subaccount == 0 else f"{entry.account}/{entry.subaccount}"


def _dollars(micros: int) -> str:
    """µ$ -> dollars with at least 2 decimals and as many as needed (0.47, 0.0043, 0.00)."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MONEY_SCALE)
    return f"{sign}{whole}.{f'{frac:06d}'.rstrip('0').ljust(2, '0')}"


def clearing_date(now: float) -> str:
    """ClearingBusinessDate(715): the UTC date of the settlement, YYYYMMDD."""
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y%m%d")


def ums_pages(settlement: Settlement, entries: list[SettlementEntry], next_id: Callable[[], str], now: float,
              page_size: int = PAGE_SIZE) -> list[Body]:
    """The UMS bodies of one batch, in the field order of spec 05 §3 (groups nested in each
    party entry). Pages of at most `page_size` entries (spec 05 §4): each with its own 20105,
    20106 = number of pages on every page, 893=N on all but the last, Y on the last."""
    if page_size < 1:
        raise ValueError("page_size must be >= 1")
    chunks = [entries[i:i + page_size] for i in range(0, len(entries), page_size)] or [[]]
    head = [(55, settlement.ticker), (715, clearing_date(now)), (20106, len(chunks)),
            (20107, settlement.result), (730, f"{settlement.price:.2f}")]
    pages: list[Body] = []
    for n, chunk in enumerate(chunks, 1):
        body: Body = [(20105, next_id())] + head + [(893, "Y" if n == len(chunks) else "N"), (20108, len(chunk))]
        for e in chunk:
            body += [(20109, party_id(e)), (20110, CUSTOMER_ACCOUNT),
                     (704, format_qty(e.long_qty)), (705, format_qty(e.short_qty)),
                     (1703, 1), (1704, _dollars(e.payout)), (1705, "PAYOUT"),
                     (136, 1), (137, _dollars(e.fee)), (138, "USD"), (139, 4), (891, 0)]
        pages.append(body)
    return pages


# --- delivery -------------------------------------------------------------------------------

def _recipients(st: SettlementState) -> Iterator[Recipient]:
    for session_id in sorted(st.recipients):
        rec = st.recipients[session_id]
        if rec.wants and (rec.conn is not None or rec.store is not None):
            yield rec


def _deliver(st: SettlementState, settlement: Settlement, now: float, page_size: int) -> None:
    by_account: dict[str, list[SettlementEntry]] = {}
    for entry in settlement.entries:
        by_account.setdefault(entry.account, []).append(entry)
    for rec in _recipients(st):
        entries = by_account.get(rec.account)
        if not entries:
            continue  # nothing of this account settled: no report (behaviour.md)
        for body in ums_pages(settlement, entries, st.next_report_id, now, page_size):
            # a live session gets it now; one away (or closing) finds it in its store on resend
            if rec.conn is not None and rec.conn.send("UMS", body):
                continue
            if rec.store is not None:
                record_offline(rec.store, rec.sender, rec.target, "UMS", body, now)


def _publish_status(venue: "Venue", ticker: str, status: int) -> None:
    """SecurityStatus on KalshiMD if the market-data gateway offers it (spec 07 §6.2)."""
    from . import market_data  # imported late: it may not offer publish_status

    publish = getattr(market_data, "publish_status", None)
    if publish is not None:
        publish(venue, ticker, status)


# --- entry points ---------------------------------------------------------------------------

def close_market(venue: "Venue", ticker: str, now: float) -> list[Event]:
    """Market -> CLOSED; its resting orders get CloseCancel reports (4/4, C/C with 21012=Y:
    spec 02 §4, §9 #16) on their sessions, listeners and RT stores."""
    events = venue.exchange.close_market(ticker, now)
    if isinstance(events, SettleReject):
        raise SettlementError(events, ticker)
    if events:
        venue.dispatch(events)
    return events


def settle_market(venue: "Venue", ticker: str, result: str, price: object, now: float, *,
                  page_size: int | None = None) -> Settlement:
    """Settle a market: close it (cancels dispatched), SecurityStatus 100, pay the positions,
    send the UMS batches, SecurityStatus 101. `result` is yes/no/scalar (any case); `price`
    in cents (None for yes/no). Raises SettlementError (a ValueError) with nothing changed
    for an unknown market, a market already settled, or a bad result/price."""
    exchange = venue.exchange
    result = result.lower() if isinstance(result, str) else result
    problem = check_settlement(exchange, ticker, result, price)
    if problem is not None:
        raise SettlementError(problem, ticker)
    cancels = close_market(venue, ticker, now)
    _publish_status(venue, ticker, DETERMINED)
    settlement = exchange.settle_market(ticker, result, price, now)
    if isinstance(settlement, SettleReject):  # pragma: no cover - checked above
        raise SettlementError(settlement, ticker)
    settlement.cancels = cancels
    st = state(venue)
    st.settled[ticker] = settlement
    _deliver(st, settlement, now, page_size or PAGE_SIZE)
    _publish_status(venue, ticker, SETTLED)
    return settlement
