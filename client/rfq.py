"""Request builders for RFQ (spec 06): the creator's messages on KalshiRT and the maker's on
KalshiRFQ, in dictionary order (spec 12 §3).

    rt.send("R", quote_request("rq-1", "KXTEST-26JAN01-A", 40))
    ack = await rt.expect("b"); rfq_id = ack.get(21023)
    mm.send("S", quote("q-1", rfq_id, "KXTEST-26JAN01-A", yes=31, no=66))
    rt.send("UA", accept_quote("q-1", "buy", rfq_id=rfq_id))     # buy YES: hits the maker's NO price
    mm.send("U7", quote_confirm("q-1", rfq_id))

Prices are in the session's units: integer cents by default, dollars with UseDollars=Y.
Side on UA (and on a NewOrderSingle that accepts a quote) is inverted (spec 06 §2.9):
1 / "buy" buys YES against the maker's NO price, 2 / "sell" buys NO against its YES price.
"""
from __future__ import annotations

from typing import Iterable

from .orders import Body, Number, _num, _side, new_order

__all__ = ["quote_request", "quote", "quote_cancel", "quote_confirm", "accept_quote", "accept_by_order",
           "rfq_cancel", "QUOTE_STATUS"]

QUOTE_STATUS = {"0": "accepted", "5": "rejected", "10": "pending", "17": "cancelled"}  # AI 297


def _yn(value: bool) -> str:
    return "Y" if value else "N"


def _parties(party_id: str | None) -> Body:
    return [(453, 1), (448, party_id), (452, 24)] if party_id is not None else []


def quote_request(req_id: str, symbol: str | None = None, qty: Number | None = None, *, cash: Number | None = None,
                  rest_remainder: bool | None = None, replace_existing: bool | None = None,
                  party_id: str | None = None, subaccount: int | None = None, collection: str | None = None,
                  legs: Iterable[tuple[str, str, str]] = ()) -> Body:
    """QuoteRequest (35=R), spec 06 §2.1, with the docs' nesting (55/38/152/21015/21016/453 in
    the single 146 entry). A combo (MVE) RFQ gives `collection` and `legs` as
    (event ticker, market ticker, "yes"/"no") instead of `symbol`."""
    body: Body = [(131, req_id), (146, 1)]
    if symbol is not None:
        body.append((55, symbol))
    if qty is not None:
        body.append((38, _num(qty)))
    if cash is not None:
        body.append((152, _num(cash)))
    if rest_remainder is not None:
        body.append((21015, _yn(rest_remainder)))
    if replace_existing is not None:
        body.append((21016, _yn(replace_existing)))
    body += _parties(party_id)
    legs = list(legs)
    if collection is not None:
        body.append((20180, collection))
    if legs:
        body.append((20181, len(legs)))
        for event, market, side in legs:
            body += [(20182, event), (20183, market), (20184, side)]
    if subaccount is not None:
        body.append((79, subaccount))
    return body


def quote(quote_id: str, rfq_id: str, symbol: str, *, yes: Number | None = None, no: Number | None = None,
          post_only: bool = False, subaccount: int | None = None, rest_remainder: bool | None = None) -> Body:
    """Quote (35=S) from a maker, spec 06 §2.4: `yes` is BidPx(132), `no` OfferPx(133)."""
    body: Body = [(117, quote_id), (131, rfq_id), (55, symbol)]
    if yes is not None:
        body.append((132, _num(yes)))
    if no is not None:
        body.append((133, _num(no)))
    if subaccount is not None:
        body.append((79, subaccount))
    if rest_remainder is not None:
        body.append((21015, _yn(rest_remainder)))
    if post_only:
        body.append((18, "6"))
    return body


def quote_cancel(quote_id: str, rfq_id: str | None = None) -> Body:
    """QuoteCancel (35=Z), spec 06 §2.6."""
    return [(117, quote_id)] + ([(21023, rfq_id)] if rfq_id is not None else [])


def quote_confirm(quote_id: str, rfq_id: str | None = None) -> Body:
    """QuoteConfirm (35=U7), spec 06 §2.7: within the confirmation window after AI 297=0."""
    return [(117, quote_id)] + ([(21023, rfq_id)] if rfq_id is not None else [])


def accept_quote(quote_id: str, side, *, rfq_id: str | None = None, qty: Number | None = None,
                 cl_ord_id: str | None = None, party_id: str | None = None,
                 prefer_better: bool | None = None) -> Body:
    """AcceptQuote (35=UA), spec 06 §2.9 (Side inverted: see the module docstring)."""
    body: Body = [(117, quote_id), (54, _side(side))]
    if qty is not None:
        body.append((38, _num(qty)))
    if cl_ord_id is not None:
        body.append((11, cl_ord_id))
    body += _parties(party_id)
    if prefer_better is not None:
        body.append((21022, _yn(prefer_better)))
    if rfq_id is not None:
        body.append((21023, rfq_id))
    return body


def accept_by_order(cl_ord_id: str, quote_id: str, symbol: str, side, price: Number, qty: Number, *,
                    rfq_id: str | None = None) -> Body:
    """NewOrderSingle carrying QuoteID(117), spec 02 §5.7: Side as on UA, Price(44) the YES
    price of the trade (a limit), OrderQty(38) at most the RFQ size."""
    body = new_order(cl_ord_id, symbol, side, price, qty)
    body.append((117, quote_id))
    if rfq_id is not None:
        body.append((21023, rfq_id))
    return body


def rfq_cancel(req_id: str | None = None, rfq_id: str | None = None, *, party_id: str | None = None) -> Body:
    """RFQCancel (35=UE), spec 06 §2.10: the client id (131), the server id (21023) or both."""
    if req_id is None and rfq_id is None:
        raise ValueError("rfq_cancel needs the client RFQ id, the server RFQ id or both")
    body: Body = []
    if req_id is not None:
        body.append((131, req_id))
    if rfq_id is not None:
        body.append((21023, rfq_id))
    return body + _parties(party_id)
