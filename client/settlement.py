"""MarketSettlementReport (35=UMS) reassembly (spec 05 §3, §4).

    reassembler = SettlementReassembler()
    for msg in await fix.collect():
        for batch in reassembler.feed([msg]):
            batch.symbol, batch.result, batch.price, [p.payout for p in batch.parties]

A batch may span several UMS pages: every page has its own MarketSettlementReportID(20105),
pages of one batch share Symbol(55), LastFragment(893)=N on all but the last, Y on the last;
a page without 893 is a whole batch by itself (as the SDK reads it). Party entries are read
by tag, not by position: each MarketSettlementPartyID(20109) opens an entry and the fields up
to the next one belong to it, whatever their order; amounts of repeated collateral or fee
entries are summed.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Iterable, Iterator

from kalshi_fixsim.fixproto.codec import FixMessage

__all__ = ["Party", "SettlementBatch", "SettlementReassembler", "parse_parties"]

_ZERO = Decimal(0)


def _dec(text: str | None) -> Decimal:
    try:
        return Decimal(text) if text else _ZERO
    except (InvalidOperation, ValueError):
        return _ZERO


@dataclass(frozen=True)
class Party:
    """One settled party: quantities in contracts, money in dollars."""
    id: str                      # MarketSettlementPartyID(20109)
    long_qty: Decimal = _ZERO    # YES held (704)
    short_qty: Decimal = _ZERO   # NO held (705)
    payout: Decimal = _ZERO      # sum of CollateralAmountChange(1704)
    fee: Decimal = _ZERO         # sum of MiscFeeAmt(137)
    role: str = "24"             # MarketSettlementPartyRole(20110)
    payout_type: str = ""        # CollateralAmountType(1705): PAYOUT (older docs: 2)

    @property
    def value(self) -> Decimal:
        """The exact pre-rounding settlement value: payout + fee (spec 05 §2)."""
        return self.payout + self.fee


@dataclass(frozen=True)
class SettlementBatch:
    symbol: str
    result: str                  # MarketResult(20107), lower-cased (older docs sent "Yes")
    price: Decimal               # SettlementPrice(730) in cents
    report_ids: tuple[str, ...]  # 20105 of each page, in arrival order
    parties: tuple[Party, ...]
    clearing_date: str = ""      # ClearingBusinessDate(715) of the first page
    total_reports: int | None = None  # TotNumMarketSettlementReports(20106) as sent on the last page

    def party(self, party_id: str) -> Party | None:
        return next((p for p in self.parties if p.id == party_id), None)


def parse_parties(msg: FixMessage) -> list[Party]:
    """The 20108 entries of one UMS, keyed by tag (see module docstring)."""
    parties: list[Party] = []
    current: dict | None = None

    def close() -> None:
        if current is not None:
            parties.append(Party(**current))

    for tag, value in msg.pairs:
        if tag == 20109:
            close()
            current = {"id": value}
        elif current is None:
            continue
        elif tag == 20110:
            current["role"] = value
        elif tag == 704:
            current["long_qty"] = _dec(value)
        elif tag == 705:
            current["short_qty"] = _dec(value)
        elif tag == 1704:
            current["payout"] = current.get("payout", _ZERO) + _dec(value)
        elif tag == 1705:
            current["payout_type"] = value
        elif tag == 137:
            current["fee"] = current.get("fee", _ZERO) + _dec(value)
        elif tag == 893:  # a top-level field written after the group ends the last entry
            close()
            current = None
    close()
    return parties


class SettlementReassembler:
    """Collects UMS pages per Symbol; `add` returns the batch when its last page arrives."""

    def __init__(self) -> None:
        self._pending: dict[str, list[FixMessage]] = {}

    @property
    def pending(self) -> dict[str, int]:
        """Symbol -> pages received of batches not yet complete."""
        return {symbol: len(pages) for symbol, pages in self._pending.items()}

    def add(self, msg: FixMessage) -> SettlementBatch | None:
        if msg.msg_type != "UMS":
            return None
        symbol = msg.get(55) or ""
        pages = self._pending.setdefault(symbol, [])
        pages.append(msg)
        if msg.get(893, "Y") != "Y":
            return None
        del self._pending[symbol]
        return self._batch(symbol, pages)

    def feed(self, messages: Iterable[FixMessage]) -> Iterator[SettlementBatch]:
        """Add each message (others than UMS are skipped); yield every batch completed."""
        for msg in messages:
            batch = self.add(msg)
            if batch is not None:
                yield batch

    @staticmethod
    def _batch(symbol: str, pages: list[FixMessage]) -> SettlementBatch:
        first, last = pages[0], pages[-1]
        parties = [p for page in pages for p in parse_parties(page)]
        total = last.get(20106)
        return SettlementBatch(
            symbol=symbol, result=(last.get(20107) or "").lower(), price=_dec(last.get(730)),
            report_ids=tuple(page.get(20105) or "" for page in pages), parties=tuple(parties),
            clearing_date=first.get(715) or "", total_reports=int(total) if total and total.isdigit() else None)
