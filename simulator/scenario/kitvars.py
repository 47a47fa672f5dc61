"""The conformance kit's variables in a case file (sans-IO): `${session}`, `${product}`,
`${symbol}`, `${price}` (a buy price that rests on ${symbol}, in the units of a session without
UseDollars), `${heartbeat}`, `${api_key}`, `${target_comp_id}`, `${use_dollars}` and durations in
heartbeat intervals, `${hb}`, `${2hb}`, `${1.5hb}` (N × HeartBtInt, written `"4s"`).

They are put into the file's text before it is parsed, so the checker sees concrete values (a
`connect: {session: "${session}"}` is checked as `RT`). `scenario check` of a case file fills
them from the case's own meta (its first session and product, the kit's heartbeat).
"""
from __future__ import annotations

import re

__all__ = ["KIT_VARIABLES", "kit_values", "substitute", "DEFAULT_HEARTBEAT", "SYMBOLS"]

DEFAULT_HEARTBEAT = {"prediction": 4, "margin": 3}  # the shortest HeartBtInt each accepts (spec 01 §2.1)
SYMBOLS = {"prediction": "KXTEST-26JAN01-A", "margin": "ETH-PERP"}
PRICES = {"prediction": "10", "margin": "3000.0000"}  # cents (no UseDollars) / dollars: rests on SYMBOLS
KIT_VARIABLES = ("session", "product", "symbol", "price", "heartbeat", "api_key", "target_comp_id", "use_dollars")
_RE = re.compile(r"\$\{\s*(" + "|".join(KIT_VARIABLES) + r"|(\d+(?:\.\d+)?)?hb)\s*\}")


def kit_values(product: str, session: str, heartbeat: int | None = None, api_key: str = "",
               symbol: str | None = None, use_dollars: bool = False) -> dict[str, str]:
    from ...fixproto.kalshi import session_type

    try:
        comp_id = session_type(product, session).comp_id
    except (KeyError, ValueError):
        comp_id = f"Kalshi{session}"
    if heartbeat is None:
        heartbeat = DEFAULT_HEARTBEAT.get(product, 4)
    return {"session": session, "product": product, "symbol": symbol or SYMBOLS.get(product, ""),
            "price": PRICES.get(product, ""),
            "heartbeat": str(heartbeat), "api_key": api_key, "target_comp_id": comp_id,
            "use_dollars": "Y" if use_dollars else "N"}


def substitute(text: str, values: dict[str, str]) -> str:
    """Every kit variable of `text` replaced; other `${...}` (captures, clordid, now) are left."""
    heartbeat = float(values["heartbeat"])

    def one(m: re.Match) -> str:
        name = m[1]
        if name.endswith("hb"):
            seconds = heartbeat * float(m[2] or 1)
            return f"{seconds:g}s"
        return values[name]
    return _RE.sub(one, text)


def defaults_for(text: str) -> dict[str, str] | None:
    """A case file checked on its own: the values of its meta's first product and session."""
    from .yamlnodes import LDict, LList, parse

    try:
        doc = parse(substitute(text, kit_values("prediction", "NR")))  # parseable whatever the quoting
    except Exception:  # noqa: BLE001 - the loader reports the YAML error itself
        return None
    docs = [doc] if isinstance(doc, LDict) else list(doc) if isinstance(doc, LList) else []
    for d in docs:
        meta = d.get("meta") if isinstance(d, LDict) else None
        if isinstance(meta, LDict) and "conform" in meta:
            products = meta.get("products") or ["prediction"]
            sessions = meta.get("sessions") or ["NR"]
            product = products[0] if isinstance(products, list) and products else "prediction"
            session = sessions[0] if isinstance(sessions, list) and sessions else "NR"
            return kit_values(str(product), str(session))
    return None
