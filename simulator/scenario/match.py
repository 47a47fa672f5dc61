"""Field matchers, variables and the expected-versus-received diff (sans-IO)."""
from __future__ import annotations

import random
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ...fixproto.codec import FixMessage, format_utc
from ...fixproto.fields import MSG_TYPE_NAMES, tag_label
from ...fixproto.render import render_block
from .check_steps import duration

_VAR_RE = re.compile(r"\$\{([^}]*)\}")


class Variables:
    """${name} captures, ${i}, ${clordid:N} (seeded per scenario), ${now[+-d]}, ${account.X.api_key}."""

    def __init__(self, scenario_name: str, seed: int, clock, accounts: dict) -> None:
        self.values: dict[str, str] = {}
        self.clock = clock
        self.accounts = accounts  # name -> object with .api_key
        self.prefix = f"{random.Random(f'{seed}:{scenario_name}').getrandbits(32):08x}"

    def resolve(self, name: str) -> str:
        name = name.strip()
        if name.startswith("clordid:"):
            return f"sc{self.prefix}-{int(name[8:])}"
        if name == "now" or name.startswith(("now+", "now-", "now +", "now -")):
            rest = name[3:].strip()
            offset = 0.0 if not rest else (duration(rest[1:].strip()) or 0.0) * (1 if rest[0] == "+" else -1)
            return format_utc(self.clock.now() + offset)
        if name.startswith("account."):
            _, who, what = name.split(".")
            acct = self.accounts[who]
            return acct.api_key if what == "api_key" else who
        if name not in self.values:
            raise KeyError(f"${{{name}}} has no value yet (was the capturing expect skipped?)")
        return self.values[name]

    def expand(self, value: Any) -> Any:
        if isinstance(value, str):
            return _VAR_RE.sub(lambda m: self.resolve(m[1]), value)
        if isinstance(value, dict):
            return {k: self.expand(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.expand(v) for v in value]
        return value


def fix_value(value: Any) -> str:
    """A YAML scalar as a FIX value: true/false -> Y/N, numbers as written."""
    if isinstance(value, bool):
        return "Y" if value else "N"
    return str(value)


def _num(text: Any) -> Decimal | None:
    try:
        return Decimal(str(text))
    except (InvalidOperation, ValueError):
        return None


def _equal(got: str, want: Any) -> bool:
    want = fix_value(want)
    if got == want:
        return True
    a, b = _num(got), _num(want)
    return a is not None and b is not None and a == b


def field_problem(got: str | None, matcher: Any) -> str | None:
    """None if `got` (a field's value, None when absent) satisfies the matcher, else why not."""
    if not isinstance(matcher, dict):
        if got is None:
            return f"expected {fix_value(matcher)!r}, field absent"
        return None if _equal(got, matcher) else f"expected {fix_value(matcher)!r}, got {got!r}"
    for key, arg in matcher.items():
        if key == "absent" or (key == "present" and arg is False):
            if got is not None:
                return f"expected absent, got {got!r}"
            continue
        if got is None:
            return f"expected {key}: {arg!r}, field absent"
        if key == "present":
            continue
        if key == "regex" and not re.search(str(arg), got):
            return f"expected to match /{arg}/, got {got!r}"
        if key == "any_of" and not any(_equal(got, v) for v in arg):
            return f"expected one of {[fix_value(v) for v in arg]}, got {got!r}"
        if key in ("gt", "ge", "lt", "le"):
            a, b = _num(got), _num(arg)
            ok = a is not None and b is not None and {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[key]
            if not ok:
                return f"expected {key} {arg}, got {got!r}"
    return None


def message_problems(msg: FixMessage, msg_type: str | None, fields: list[tuple[int, Any]]) -> list[str]:
    """Every way `msg` differs from what the expect asks, one line each with tag names."""
    out = []
    got_type = msg.get(35)
    if msg_type is not None and got_type != msg_type:
        out.append(f"MsgType(35): expected {_type_label(msg_type)}, got {_type_label(got_type)}")
    for tag, matcher in fields:
        problem = field_problem(msg.get(tag), matcher)
        if problem:
            out.append(f"{tag_label(tag)}: {problem}")
    return out


def _type_label(code: str | None) -> str:
    if code is None:
        return "none"
    name = MSG_TYPE_NAMES.get(code)
    return f"{name}({code})" if name else repr(code)


def describe_expect(msg_type: str | None, fields: list[tuple[int, Any]]) -> str:
    parts = [f"MsgType(35)={_type_label(msg_type)}"] if msg_type else []
    parts += [f"{tag_label(t)}={m if isinstance(m, dict) else fix_value(m)}" for t, m in fields]
    return ", ".join(parts) or "any message"


def diff(msg: FixMessage, frame: bytes, msg_type: str | None, fields: list[tuple[int, Any]]) -> str:
    """The expected-versus-received diff: what differs, then the received message by tag name."""
    lines = ["  expected: " + describe_expect(msg_type, fields), "  differs:"]
    lines += [f"    {p}" for p in message_problems(msg, msg_type, fields)]
    lines.append("  received:")
    try:
        lines += ["    " + line for line in render_block(frame).splitlines()]
    except Exception:  # noqa: BLE001 - a garbled frame is shown as bytes
        lines.append("    " + frame.decode("latin-1").replace("\x01", "|"))
    return "\n".join(lines)
