"""The one parser for numbers from the wire (DESIGN.md house rule 12, spec 01 §1.3).

Every integer or decimal a peer sends is read here, never with a bare `int()`/`Decimal()`:

* ASCII digits only: `str.isdigit()` accepts "²" and other Unicode digits that `int()` then
  refuses; `int()` accepts "+5", " 5", "5_0" and "٥", none of which is FIX.
* bounded length, so no value reaches Python's 4,300-digit `int()` limit or overflows a float
  (a 400-digit HeartBtInt once crashed the heartbeat timer);
* a range, so a value that parses is also sane.

`int_problem` / `decimal_problem` say what is wrong (the SessionRejectReason to answer with:
6 = incorrect data format, 5 = value out of range) so callers build the Reject or Logout;
`parse_int` / `parse_decimal` return the value or None. Nothing here raises on any input.
"""
from __future__ import annotations

from decimal import Decimal

__all__ = [
    "FORMAT", "RANGE", "INT32_MIN", "INT32_MAX", "MAX_SEQ", "MAX_INT_DIGITS", "MAX_DECIMAL_DIGITS",
    "MAX_FRACTION_DIGITS", "int_problem", "parse_int", "decimal_problem", "parse_decimal", "is_ascii_digits",
]

FORMAT = 6  # SessionRejectReason: incorrect data format (spec 09 §1)
RANGE = 5   # SessionRejectReason: value is incorrect (out of range)

INT32_MIN, INT32_MAX = -2**31, 2**31 - 1  # FIX int fields: the 32-bit range engines use
MAX_SEQ = INT32_MAX                 # MsgSeqNum, BeginSeqNo, NewSeqNo ... (behaviour.md)
MAX_INT_DIGITS = 10                 # digits of the largest INT32 value, leading zeros aside
MAX_DECIMAL_DIGITS = 12             # integer digits of a Price/Qty/Amt (up to 999,999,999,999)
MAX_FRACTION_DIGITS = 10            # fraction digits of a Price/Qty/Amt (Kalshi uses at most 4)
_MAX_TEXT = 64                      # longer number texts are out of range without a look


def is_ascii_digits(text: str) -> bool:
    """Non-empty and only "0".."9" (what str.isdigit() should have meant)."""
    return text.isascii() and text.isdigit()


def int_problem(text: str, lo: int = INT32_MIN, hi: int = INT32_MAX) -> int | None:
    """None if `text` is a decimal integer in lo..hi; else FORMAT (not an integer) or RANGE."""
    digits = text[1:] if text[:1] == "-" else text
    if not is_ascii_digits(digits):
        return FORMAT
    if len(digits) > MAX_INT_DIGITS and (len(digits) > _MAX_TEXT or digits.lstrip("0")[MAX_INT_DIGITS:]):
        return RANGE  # more significant digits than any int32: never given to int()
    value = int(text)
    return None if lo <= value <= hi else RANGE


def parse_int(text: str | None, lo: int = INT32_MIN, hi: int = INT32_MAX) -> int | None:
    """The integer value of `text` if it is one in lo..hi, else None."""
    if text is None or int_problem(text, lo, hi) is not None:
        return None
    return int(text)


def decimal_problem(text: str, lo: Decimal | None = None, hi: Decimal | None = None) -> int | None:
    """None if `text` is a plain decimal (optional '-', digits, at most one '.', no exponent:
    spec 01 §1.3) with at most MAX_DECIMAL_DIGITS integer and MAX_FRACTION_DIGITS fraction
    digits (leading/trailing zeros aside) and within lo..hi; else FORMAT or RANGE."""
    body = text[1:] if text[:1] == "-" else text
    whole, dot, frac = body.partition(".")
    if not (whole or frac) or (whole and not is_ascii_digits(whole)) or (frac and not is_ascii_digits(frac)):
        return FORMAT
    if len(body) > _MAX_TEXT or len(whole.lstrip("0")) > MAX_DECIMAL_DIGITS \
            or len(frac.rstrip("0")) > MAX_FRACTION_DIGITS:
        return RANGE
    if lo is not None or hi is not None:
        value = Decimal(text)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return RANGE
    return None


def parse_decimal(text: str | None, lo: Decimal | None = None, hi: Decimal | None = None) -> Decimal | None:
    """The Decimal value of `text` if it is a bounded plain decimal in lo..hi, else None."""
    if text is None or decimal_problem(text, lo, hi) is not None:
        return None
    return Decimal(text)
