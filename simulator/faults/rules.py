"""Fault rules (issue 12 §2): fault + selector + trigger + lifetime, as flat plain data.

    {"fault": "drop", "direction": "outbound", "product": "prediction", "session": "RT",
     "account": "alice", "match": {"35": "8"}, "times": 1}

One dict form for every door (Python, HTTP/JSON, CLI, YAML config). `parse_rule` checks all of
it before anything is installed and raises `RuleError` naming the field; `Rule.as_dict()` gives
the normalised form back (what GET /faults shows). Omitted selectors match everything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from kalshi_fixsim.fixproto.fields import ADMIN_MSG_TYPES, TAG_NAMES
from kalshi_fixsim.fixproto.kalshi import APP_MESSAGES_IN, APP_MESSAGES_OUT, PRODUCTS, SESSION_TYPES

from .catalogue import CATALOGUE, FaultKind, Param

__all__ = ["Rule", "RuleError", "parse_rule", "RULE_KEYS", "APP_MESSAGES_OUT", "carried"]

SELECTOR_KEYS = ("product", "session", "account", "api_key", "session_id", "direction")
TRIGGER_KEYS = ("msg_type", "match", "match_regex", "nth", "every", "probability", "after_s", "now")
LIFETIME_KEYS = ("times", "duration_s")
RULE_KEYS = ("id", "fault") + SELECTOR_KEYS + TRIGGER_KEYS + LIFETIME_KEYS + ("seed", "note")
_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_TAG_BY_NAME = {name.lower(): tag for tag, name in TAG_NAMES.items()}

def carried(product: str, session: str, direction: str) -> frozenset[str]:
    """Every MsgType that can cross (product, session) in a direction: its application messages
    and the session-level ones (2 and 4 only where there is retransmission, spec 00 §4)."""
    admin = set(ADMIN_MSG_TYPES)
    if not SESSION_TYPES[session].retransmission:
        admin -= {"2", "4"}
    if direction == "inbound":
        return APP_MESSAGES_IN[(product, session)] | admin
    return APP_MESSAGES_OUT[(product, session)] | admin


class RuleError(ValueError):
    """A rule refused: `field` names the key, the message says what is wrong."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


@dataclass
class Rule:
    id: str
    kind: FaultKind
    params: dict[str, Any]
    products: tuple[str, ...]           # in scope (all if not selected)
    sessions: tuple[str, ...] | None    # None: every session type
    account: str | None
    api_key: str | None
    session_id: str | None
    directions: tuple[str, ...]
    msg_types: frozenset[str] | None
    match: tuple[tuple[int, str], ...]
    match_regex: tuple[tuple[int, "re.Pattern[str]"], ...]
    nth: int | None
    every: int | None
    probability: float | None
    after_s: float
    duration_s: float | None
    times: int | None
    now: bool
    note: str = ""
    seed: int | None = None              # the rule's own RNG seed (default: from the simulator's)
    source: dict = field(default_factory=dict)

    @property
    def fault(self) -> str:
        return self.kind.name

    @property
    def needs_fields(self) -> bool:
        """The trigger looks at more than MsgType (a full parse of the frame is needed)."""
        return bool(self.match or self.match_regex)

    def as_dict(self) -> dict:
        return dict(self.source)


# --- value checks ---------------------------------------------------------------------------

def _int(value: Any, name: str, lo: float | None = None, hi: float | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or \
            (isinstance(value, str) and not re.fullmatch(r"-?\d{1,12}", value.strip())):
        raise RuleError(name, f"expected a whole number, got {value!r}")
    number = int(value)
    _range(number, name, lo, hi)
    return number


def _float(value: Any, name: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool):
        raise RuleError(name, f"expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RuleError(name, f"expected a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise RuleError(name, f"expected a finite number, got {value!r}")
    _range(number, name, lo, hi)
    return number


def _range(number: float, name: str, lo: float | None, hi: float | None) -> None:
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise RuleError(name, f"{number:g} is out of range {lo:g}..{hi:g}" if lo is not None and hi is not None
                        else f"{number:g} is out of range")


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "y", "1", "false", "no", "n", "0"):
        return value.lower() in ("true", "yes", "y", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise RuleError(name, f"expected true or false, got {value!r}")


def _str(value: Any, name: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise RuleError(name, f"expected a string, got {value!r}")
    return value


def _param(p: Param, value: Any) -> Any:
    name = p.name
    if p.kind == "int":
        return _int(value, name, p.lo, p.hi)
    if p.kind == "float":
        return _float(value, name, p.lo, p.hi)
    if p.kind == "bool":
        return _bool(value, name)
    if p.kind == "choice":
        text = _str(value, name)
        if text not in p.choices:
            raise RuleError(name, f"{text!r} is not one of {', '.join(p.choices)}")
        return text
    text = _str(value, name)
    if "\x01" in text or len(text) > 1000:
        raise RuleError(name, "must be at most 1000 characters without SOH")
    return text


def _tag(key: Any, name: str) -> int:
    text = str(key).strip()
    if text.isdigit() and 0 < int(text) < 100_000:
        return int(text)
    tag = _TAG_BY_NAME.get(text.lower())
    if tag is None:
        raise RuleError(name, f"{key!r} is neither a tag number nor a known tag name (e.g. 35 or MsgType)")
    return tag


def _str_or_list(value: Any, name: str) -> list[str]:
    items = value if isinstance(value, (list, tuple)) else [value]
    out = [_str(v, name).strip() for v in items]
    if not out or any(not v for v in out):
        raise RuleError(name, "expected a non-empty string or list of strings")
    return out


# --- the rule -------------------------------------------------------------------------------

def parse_rule(data: Any, *, rule_id: str | None = None, accounts: Iterable[str] | None = None,
               api_keys: Iterable[str] | None = None) -> Rule:
    """A checked Rule from plain data, or RuleError naming the field (nothing is installed)."""
    if not isinstance(data, dict):
        raise RuleError("(rule)", f"expected a mapping of keys to values, got {type(data).__name__}")
    if "fault" not in data:
        raise RuleError("fault", f"missing: name a fault (kalshi-fixsim faults lists them: "
                                 f"{', '.join(sorted(CATALOGUE))})")
    name = _str(data["fault"], "fault")
    kind = CATALOGUE.get(name)
    if kind is None:
        close = [k for k in CATALOGUE if k.startswith(name[:3])] if name else []
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise RuleError("fault", f"unknown fault {name!r}{hint}; kalshi-fixsim faults lists them")
    for key in data:
        if key not in RULE_KEYS and key not in kind.param_names:
            allowed = ", ".join(sorted(kind.param_names)) or "none"
            raise RuleError(str(key), f"unknown key for fault {name!r} (its parameters: {allowed}; rule keys: "
                                      f"{', '.join(RULE_KEYS)})")
    params: dict[str, Any] = {}
    for p in kind.params:
        if p.name in data and data[p.name] is not None:
            params[p.name] = _param(p, data[p.name])
        elif p.required:
            raise RuleError(p.name, f"required by fault {name!r}: {p.doc}")
        else:
            params[p.name] = p.default
    if name == "corrupt_body_length" and params["delta"] == 0:
        raise RuleError("delta", "0 would leave BodyLength correct")

    rid = rule_id if rule_id is not None else data.get("id")
    if rid is not None:
        rid = _str(rid, "id")
        if not _ID_RE.fullmatch(rid):
            raise RuleError("id", "1-64 letters, digits or _ . : -")

    # selector
    products = PRODUCTS
    if data.get("product") is not None:
        chosen = _str_or_list(data["product"], "product")
        for p in chosen:
            if p not in PRODUCTS:
                raise RuleError("product", f"unknown product {p!r} (prediction or margin)")
        products = tuple(chosen)
    sessions = None
    if data.get("session") is not None:
        codes = [c.upper() for c in _str_or_list(data["session"], "session")]
        for code in codes:
            if code not in SESSION_TYPES:
                raise RuleError("session", f"unknown session type {code!r} ({', '.join(SESSION_TYPES)})")
        if not any(p in SESSION_TYPES[c].products for p in products for c in codes):
            raise RuleError("session", f"{'/'.join(codes)} does not exist on {'/'.join(products)} (spec 00 §2)")
        sessions = tuple(codes)
    account = _str(data["account"], "account") if data.get("account") is not None else None
    if account is not None and accounts is not None and account not in set(accounts):
        raise RuleError("account", f"unknown account {account!r}")
    api_key = _str(data["api_key"], "api_key") if data.get("api_key") is not None else None
    if api_key is not None and api_keys is not None and api_key.lower() not in {k.lower() for k in api_keys}:
        raise RuleError("api_key", f"no account has API key {api_key!r}")
    session_id = _str(data["session_id"], "session_id") if data.get("session_id") is not None else None
    if session_id is not None:
        parts = session_id.split("/")
        if len(parts) != 3 or parts[0] not in PRODUCTS or parts[1] not in SESSION_TYPES:
            raise RuleError("session_id", "expected PRODUCT/SESSION/API_KEY, e.g. prediction/RT/<api key id>")
        if parts[0] not in products or (sessions is not None and parts[1] not in sessions):
            raise RuleError("session_id", f"{session_id} is outside the rule's product/session: it could never "
                                          "match")
    direction = data.get("direction", kind.default_direction)
    direction = _str(direction, "direction")
    if direction not in ("inbound", "outbound", "both"):
        raise RuleError("direction", f"{direction!r}: use inbound (client to venue), outbound or both")
    directions = kind.directions if direction == "both" else (direction,)
    for d in directions:
        if d not in kind.directions:
            raise RuleError("direction", f"fault {name!r} acts {' or '.join(kind.directions)} only")

    # trigger
    msg_types: set[str] | None = None
    if data.get("msg_type") is not None:
        msg_types = set(_str_or_list(data["msg_type"], "msg_type"))
    match: list[tuple[int, str]] = []
    raw_match = data.get("match")
    if raw_match is not None:
        if not isinstance(raw_match, dict):
            raise RuleError("match", "expected a mapping of tag (number or name) to value, e.g. {\"35\": \"8\"}")
        for key, value in raw_match.items():
            tag = _tag(key, f"match.{key}")
            text = _str(value, f"match.{key}")
            if tag == 35:
                msg_types = {text} if msg_types is None else msg_types & {text}
                if not msg_types:
                    raise RuleError("match.35", "contradicts msg_type: no message can match both")
                continue
            match.append((tag, text))
    match_regex: list[tuple[int, re.Pattern[str]]] = []
    raw_regex = data.get("match_regex")
    if raw_regex is not None:
        if not isinstance(raw_regex, dict):
            raise RuleError("match_regex", "expected a mapping of tag to regular expression")
        for key, value in raw_regex.items():
            tag = _tag(key, f"match_regex.{key}")
            try:
                match_regex.append((tag, re.compile(_str(value, f"match_regex.{key}"))))
            except re.error as exc:
                raise RuleError(f"match_regex.{key}", f"not a regular expression: {exc}") from None
    message_trigger = "message" in kind.triggers
    if not message_trigger and (msg_types or match or match_regex):
        raise RuleError("match" if (match or match_regex) else "msg_type",
                        f"fault {name!r} is triggered by a {kind.triggers[0]}, not by a message")
    if name in ("exchange_unavailable", "internal_error"):
        if msg_types is None:
            msg_types = {"D"}
        elif msg_types - {"D"}:
            raise RuleError("msg_type", f"{name} rejects NewOrderSingle (35=D) only")
    if kind.triggers == ("connect",):
        for key, value in (("account", account), ("api_key", api_key), ("session_id", session_id)):
            if value is not None:
                raise RuleError(key, f"{name} acts before the Logon says who connects: select by product and "
                                     "session only")
    if name == "rfq_roll" and "prediction" not in products:
        raise RuleError("product", "RFQ exists on prediction only (spec 00 §2)")
    if kind.family == "venue" and msg_types:
        admin = msg_types & ADMIN_MSG_TYPES
        if admin:
            raise RuleError("msg_type", f"venue faults act on application messages, not 35={sorted(admin)[0]}")
    if msg_types:
        _check_carried(msg_types, products, sessions, directions)

    nth = _int(data["nth"], "nth", 1, 2**31) if data.get("nth") is not None else None
    every = _int(data["every"], "every", 1, 2**31) if data.get("every") is not None else None
    if nth is not None and every is not None:
        raise RuleError("every", "use nth (only the Nth match) or every (every Nth match), not both")
    probability = _float(data["probability"], "probability", 0, 1) if data.get("probability") is not None else None
    if probability == 0:
        raise RuleError("probability", "0 never fires: remove the rule instead")
    after_s = _float(data.get("after_s", 0) or 0, "after_s", 0, 7 * 86_400)
    duration_s = _float(data["duration_s"], "duration_s", 0.001, 30 * 86_400) \
        if data.get("duration_s") is not None else None
    times = _int(data["times"], "times", 1, 2**31) if data.get("times") is not None else None
    now = _bool(data.get("now", False), "now")
    if now and "now" not in kind.triggers:
        raise RuleError("now", f"fault {name!r} cannot act now: it is triggered by a "
                               f"{' or '.join(kind.triggers)}")
    if now and (msg_types or match or match_regex or nth or every):
        raise RuleError("now", "a rule that acts now takes no message trigger (msg_type, match, nth, every); "
                               "after_s delays it")
    if "message" not in kind.triggers and "now" in kind.triggers and not now:
        now = True
    note = _str(data.get("note", ""), "note")
    seed = _int(data["seed"], "seed", -2**63, 2**63) if data.get("seed") is not None else None

    source: dict[str, Any] = {"fault": name}
    source.update({k: v for k, v in params.items() if v is not None})
    for key in SELECTOR_KEYS + TRIGGER_KEYS + LIFETIME_KEYS + ("seed", "note"):
        if data.get(key) not in (None, "", False):
            source[key] = data[key]
    source["direction"] = direction
    if now:
        source["now"] = True
    return Rule(id=rid or "", kind=kind, params=params, products=tuple(products), sessions=sessions,
                account=account, api_key=api_key, session_id=session_id, directions=tuple(directions),
                msg_types=frozenset(msg_types) if msg_types else None, match=tuple(match),
                match_regex=tuple(match_regex), nth=nth, every=every, probability=probability, after_s=after_s,
                duration_s=duration_s, times=times, now=now, note=note, seed=seed, source=source)


def _check_carried(msg_types: set[str], products: Iterable[str], sessions: tuple[str, ...] | None,
                   directions: tuple[str, ...]) -> None:
    """A selector that can never match is refused (issue 12 §2): e.g. 35=W on NR."""
    scopes = [(p, s) for p in products for s in (sessions or SESSION_TYPES) if p in SESSION_TYPES[s].products]
    for mt in sorted(msg_types):
        if not any(mt in carried(p, s, d) for p, s in scopes for d in directions):
            where = ", ".join(f"{p} {s}" for p, s in scopes)
            raise RuleError("msg_type", f"35={mt} is never sent {' or '.join(directions)} on {where} "
                                        f"(spec 00 §4): the rule could never match")
