"""Checks of `steps:`: each step kind's keys, message and tag names, matchers, durations, variables."""
from __future__ import annotations

import re
from typing import Any

from ...fixproto.fields import MSG_TYPE_NAMES, TAG_NAMES
from ...fixproto.kalshi import LogonOptions
from .check_client import ClientStepChecks
from .check_setup import check_order
from .model import STEP_KINDS, VENUE_CONTROL, Step
from .problems import Problems
from .yamlnodes import LDict, LList

MSG_BY_NAME = {name: code for code, name in MSG_TYPE_NAMES.items()}
TAG_BY_NAME = {name: tag for tag, name in TAG_NAMES.items()}
_TAG_BY_LOWER = {name.lower(): tag for tag, name in TAG_NAMES.items()}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_VAR_RE = re.compile(r"\$\{([^}]*)\}")
_NOW_RE = re.compile(r"^now(?:\s*([+-])\s*(.+))?$")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MATCHER_KEYS = ("regex", "present", "absent", "gt", "ge", "lt", "le", "any_of")
LOGON_OPTIONS = tuple(f for f in LogonOptions.__dataclass_fields__)
CONTROL_ACTIONS = {  # action -> (required keys, optional keys)
    "pause": ((), ("kind", "product")), "resume": ((), ("product",)),
    "halt": (("symbol",), ("product",)), "unhalt": (("symbol",), ("product",)),
    "close": (("symbol",), ("product",)), "settle": (("symbol", "result"), ("price", "product", "page_size")),
    "reset": ((), ()), "maintenance": ((), ("mode", "sessions", "pause", "duration")),
    "balance": (("account", "balance"), ("product",)), "tier": (("account", "tier"), ("product",)),
    "place_order": (("account", "symbol", "side", "price", "qty"), ("tif", "product", "cl_ord_id", "subaccount")),
}
_KEYS = {
    "connect": ("as", "session", "product", "name", "options", "raw", "client", "heartbeat", "reset", "logon",
                "wait", "logon_fields", "bad_signature", "within", "fields", "capture"),
    "send": ("session", "msg", "fields"),
    "expect": ("session", "msg", "fields", "capture", "within", "next", "any", "heartbeats", "from"),
    "expect_nothing": ("session", "for", "msg", "heartbeats", "from"),
    "expect_disconnect": ("session", "within", "by"),
    "wait_fault": ("id", "hits", "within"),
    "disconnect": ("session",),
    "logout": ("session", "text", "within"),
    "repeat": ("times", "steps"),
}
HEADER_OVERRIDES = {34, 43, 52, 97, 122, 49, 56}  # MsgSeqNum, PossDupFlag, SendingTime, PossResend, Orig..., CompIDs


def duration(value: Any) -> float | None:
    """'250ms', '5s', '2m', '1h' or a number of seconds -> seconds; None if malformed."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    m = _DURATION_RE.match(value)
    if m is None:
        return None
    return float(m[1]) * {"ms": 0.001, None: 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}[m[2]]


def tag_of(key: Any) -> int | None:
    """A tag name (ClOrdID, case-insensitive) or number (11, "11") -> its number; None if unknown."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key if key > 0 else None
    if isinstance(key, str):
        if key.isdigit():
            return int(key) if int(key) > 0 else None
        return TAG_BY_NAME.get(key) or _TAG_BY_LOWER.get(key.lower())
    return None


def msg_code(value: Any) -> str | None:
    """A MsgType name (NewOrderSingle) or code (D) -> the code; None if unknown."""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        return None
    value = str(value)
    if value in MSG_BY_NAME:
        return MSG_BY_NAME[value]
    return value if value in MSG_TYPE_NAMES else None


class StepChecker(ClientStepChecks):
    def __init__(self, problems: Problems, accounts: set[str], fault_ids: set[str], clock: str = "virtual") -> None:
        self.p = problems
        self.clock = clock
        self.accounts = accounts
        self.fault_ids = set(fault_ids)
        self.sessions: set[str] = set()
        self.external: set[str] = set()
        self.closed: set[str] = set()   # names whose connection a step closed: a connect may reuse them
        self.captures: set[str] = set()
        self.loop_vars: list[str] = []
        self.uses_control: list[tuple[int, str]] = []

    # --- lists -------------------------------------------------------------------------------

    def steps(self, raw: Any, line: int, path: str) -> list[Step]:
        if not isinstance(raw, LList):
            self.p.add(line, path, "expected a list of steps")
            return []
        out = []
        for i, item in enumerate(raw):
            step = self.step(item, raw.line_of(i), f"{path}[{i}]")
            if step is not None:
                out.append(step)
        return out

    def step(self, item: Any, line: int, path: str) -> Step | None:
        if not isinstance(item, LDict) or len(item) != 1:
            self.p.add(line, path, f"expected a one-key mapping naming the step ({', '.join(STEP_KINDS)})")
            return None
        (kind, args), = item.items()
        line = item.line_of(kind)
        if kind not in STEP_KINDS:
            self.p.add(line, path, f"unknown step {kind!r}: expected one of {', '.join(STEP_KINDS)}")
            return None
        at = f"{path}.{kind}"
        if kind in VENUE_CONTROL:
            self.uses_control.append((line, at))
        self._vars(args, line, at)
        return getattr(self, f"_{kind}")(args, line, at)

    def check_portable(self, sc, pre: str) -> None:
        """A portable scenario may not need venue control in setup or faults (steps are skipped)."""
        s = sc.setup
        if s.config or s.accounts or s.markets or s.orders or s.pauses or s.clock == "virtual" or sc.faults:
            self.p.add(sc.line, f"{pre}meta.portable", "expected no venue setup (config, accounts, markets, orders, "
                                                      "pauses, faults) and clock: {mode: real} in a portable scenario")

    # --- helpers -----------------------------------------------------------------------------

    def _map(self, args: Any, line: int, at: str, kind: str) -> LDict | None:
        if not isinstance(args, LDict):
            self.p.add(line, at, f"expected a mapping ({', '.join(_KEYS[kind])})")
            return None
        for key in args:
            if key not in _KEYS[kind]:
                self.p.add(args.line_of(key), f"{at}.{key}", f"unknown key: expected one of {', '.join(_KEYS[kind])}")
        return args

    def _own_session(self, args: LDict, at: str) -> str | None:
        """A session the runner itself speaks on (not the test's external client)."""
        name = self._session(args, at)
        if name in self.external:
            self.p.add(args.line_of("session"), f"{at}.session", f"expected a session of the runner: {name!r} is "
                                                                 "the test's own client (client: external)")
        return name

    def _session(self, args: LDict, at: str) -> str | None:
        name = args.get("session")
        if name is None:
            self.p.add(args.line, f"{at}.session", "missing: name a session opened by an earlier connect")
            return None
        if name not in self.sessions:
            known = ", ".join(sorted(self.sessions)) or "none yet"
            self.p.add(args.line_of("session"), f"{at}.session",
                       f"expected a session opened by an earlier connect (known: {known}), not {name!r}")
        return str(name)

    def _duration(self, args: LDict, key: str, at: str, default: float | None) -> float | None:
        if key not in args:
            if default is None:
                self.p.add(args.line, f"{at}.{key}", "missing: expected a duration (250ms, 5s, 2m, or seconds)")
            return default
        value = duration(args[key])
        if value is None:
            self.p.add(args.line_of(key), f"{at}.{key}", f"expected a duration (250ms, 5s, 2m, or seconds), "
                                                         f"not {args[key]!r}")
        return value

    def _bool(self, args: LDict, key: str, at: str, default: bool) -> bool:
        value = args.get(key, default)
        if not isinstance(value, bool):
            self.p.add(args.line_of(key), f"{at}.{key}", "expected true or false")
            return default
        return value

    def _msg(self, args: LDict, at: str, required: bool) -> str | None:
        if "msg" not in args:
            if required:
                self.p.add(args.line, f"{at}.msg", "missing: expected a MsgType name (NewOrderSingle) or code (D)")
            return None
        code = msg_code(args["msg"])
        if code is None:
            self.p.add(args.line_of("msg"), f"{at}.msg", f"expected a MsgType name or code from fixproto/fields.py, "
                                                         f"not {args['msg']!r}")
        return code

    def _fields(self, raw: Any, line: int, at: str, matchers: bool) -> list[tuple[int, Any]]:
        if raw is None:
            return []
        if not isinstance(raw, LDict):
            self.p.add(line, at, "expected a mapping of tag names or numbers to values")
            return []
        out = []
        for key, value in raw.items():
            tag = tag_of(key)
            where = raw.line_of(key)
            if tag is None:
                self.p.add(where, f"{at}.{key}", "expected a tag name from fixproto/fields.py or a tag number")
                continue
            if matchers:
                value = self._matcher(value, where, f"{at}.{key}")
            elif isinstance(value, (dict, list)) or value is None:
                self.p.add(where, f"{at}.{key}", "expected a plain value (text or number)")
                continue
            out.append((tag, value))
        return out

    def _matcher(self, value: Any, line: int, at: str) -> Any:
        if not isinstance(value, dict):
            if isinstance(value, list) or value is None:
                self.p.add(line, at, "expected a value or a matcher ({regex|present|absent|gt|ge|lt|le|any_of: ...})")
            return value
        if not value:
            self.p.add(line, at, f"expected a matcher with one of {', '.join(MATCHER_KEYS)}")
        for key, arg in value.items():
            if key not in MATCHER_KEYS:
                self.p.add(line, f"{at}.{key}", f"unknown matcher: expected one of {', '.join(MATCHER_KEYS)}")
            elif key == "regex":
                try:
                    re.compile(str(arg))
                except re.error as exc:
                    self.p.add(line, f"{at}.regex", f"expected a regular expression: {exc}")
            elif key in ("present", "absent") and not isinstance(arg, bool):
                self.p.add(line, f"{at}.{key}", "expected true or false")
            elif key in ("gt", "ge", "lt", "le") and (isinstance(arg, bool) or not isinstance(arg, (int, float, str))):
                self.p.add(line, f"{at}.{key}", "expected a number")
            elif key == "any_of" and (not isinstance(arg, list) or not arg):
                self.p.add(line, f"{at}.any_of", "expected a non-empty list of values")
        return dict(value)

    def _vars(self, value: Any, line: int, at: str) -> None:
        """Every ${...} names a known variable form (captures must come from an earlier step)."""
        if isinstance(value, dict):
            for k, v in value.items():
                self._vars(v, value.line_of(k) if isinstance(value, LDict) else line, f"{at}.{k}")
            return
        if isinstance(value, list):
            if value and all(isinstance(v, LDict) and len(v) == 1 and next(iter(v)) in STEP_KINDS for v in value):
                return  # nested steps: checked as steps
            for i, v in enumerate(value):
                self._vars(v, value.line_of(i) if isinstance(value, LList) else line, f"{at}[{i}]")
            return
        if not isinstance(value, str):
            return
        for m in _VAR_RE.finditer(value):
            problem = self._var_problem(m[1].strip())
            if problem:
                self.p.add(line, at, f"${{{m[1]}}}: {problem}")

    def _var_problem(self, name: str) -> str | None:
        if name.startswith("clordid:"):
            return None if name[8:].isdigit() else "expected ${clordid:N} with N a number"
        m = _NOW_RE.match(name)
        if m:
            return None if m[2] is None or duration(m[2].strip()) is not None else \
                "expected ${now}, ${now+5s} or ${now-250ms}"
        if name.startswith("account."):
            parts = name.split(".")
            if len(parts) != 3 or parts[2] not in ("api_key", "name"):
                return "expected ${account.NAME.api_key}"
            return None if parts[1] in self.accounts else f"unknown account {parts[1]!r}"
        if not _NAME_RE.match(name):
            return "expected a variable name, clordid:N, now[+-duration] or account.NAME.api_key"
        if name in self.loop_vars or name in self.captures:
            return None
        return "not captured by an earlier step (capture: {name: Tag}) and not a repeat index"

    # --- step kinds --------------------------------------------------------------------------

    def _connect(self, args: Any, line: int, at: str) -> Step | None:
        from ...fixproto.kalshi import session_type

        a = self._map(args, line, at, "connect")
        if a is None:
            return None
        who = a.get("as")
        if who not in self.accounts:
            self.p.add(a.line_of("as"), f"{at}.as", f"expected a test-venue account ({', '.join(sorted(self.accounts))})")
        product = a.get("product", "prediction")
        session = a.get("session", "NR")
        try:
            session_type(str(product), str(session))
        except (KeyError, ValueError):
            self.p.add(a.line_of("session"), f"{at}.session", f"expected a session type of {product!r} "
                                                              "(NR, DC, RT, PT, RFQ, MD; margin: NR, DC, RT, MD)")
        name = str(a.get("name", who))
        if name in self.sessions and name not in self.closed:
            self.p.add(a.line_of("name"), f"{at}.name", f"expected a new session name: {name!r} is already "
                                                        "connected (give `name:`)")
        self.closed.discard(name)
        options = a.get("options", {})
        if not isinstance(options, dict):
            self.p.add(a.line_of("options"), f"{at}.options", "expected a mapping of Logon flags")
            options = {}
        for key, value in options.items():
            if key not in LOGON_OPTIONS:
                self.p.add(options.line_of(key), f"{at}.options.{key}", f"expected a Logon flag: {', '.join(LOGON_OPTIONS)}")
            elif not isinstance(value, (bool, int)):
                self.p.add(options.line_of(key), f"{at}.options.{key}", "expected true/false (hours for "
                                                                        "message_retention_period)")
        raw = self._bool(a, "raw", at, True)
        if not raw:
            for key in ("bad_signature", "logon_fields", "logon"):
                if key in a:
                    self.p.add(a.line_of(key), f"{at}.{key}", "expected raw: true with this key (the reference "
                                                              "client signs and builds its own Logon)")
        if "client" in a and a["client"] != "external":
            self.p.add(a.line_of("client"), f"{at}.client", "expected external")
        elif "client" in a and self.clock != "real":
            self.p.add(a.line_of("client"), f"{at}.client", "expected setup.clock: {mode: real}: the test's own "
                                                            "client lives in real time, not on the virtual clock")
        heartbeat = a.get("heartbeat", 30)
        if isinstance(heartbeat, bool) or not isinstance(heartbeat, int) or heartbeat < 0:
            self.p.add(a.line_of("heartbeat"), f"{at}.heartbeat", "expected seconds (an integer)")
        for key in ("reset",):
            if key in a and not isinstance(a[key], bool):
                self.p.add(a.line_of(key), f"{at}.{key}", "expected true or false")
        logon_caps = self._captures(a, at)
        if ("fields" in a or "capture" in a) and a.get("client") != "external":
            self.p.add(a.line_of("fields" if "fields" in a else "capture"), f"{at}.fields",
                       "fields/capture on connect match the client's Logon: expected client: external")
        self.captures.update(v for v, _ in logon_caps)
        args = {"as": who, "session": session, "product": product, "name": name, "options": dict(options), "raw": raw,
                "fields": self._fields(a.get("fields"), a.line_of("fields"), f"{at}.fields", True), "capture": logon_caps,
                "client": a.get("client"), "heartbeat": heartbeat, "reset": a.get("reset"),
                "logon": self._bool(a, "logon", at, True), "wait": self._bool(a, "wait", at, True),
                "bad_signature": self._bool(a, "bad_signature", at, False),
                "logon_fields": self._fields(a.get("logon_fields"), a.line_of("logon_fields"), f"{at}.logon_fields",
                                             False),
                "within": self._duration(a, "within", at, 10.0)}
        self.sessions.add(name)
        if args["client"] == "external":
            self.external.add(name)
        return Step("connect", args, line, at)

    def _send(self, args: Any, line: int, at: str) -> Step | None:
        a = self._map(args, line, at, "send")
        if a is None:
            return None
        return Step("send", {"session": self._own_session(a, at), "msg": self._msg(a, at, True),
                             "fields": self._fields(a.get("fields"), a.line_of("fields"), f"{at}.fields", False)},
                    line, at)

    def _expect(self, args: Any, line: int, at: str) -> Step | None:
        a = self._map(args, line, at, "expect")
        if a is None:
            return None
        any_ = self._bool(a, "any", at, False)
        nxt = self._bool(a, "next", at, not any_)
        if any_ and nxt:
            self.p.add(a.line, at, "expected either next: true or any: true, not both")
        caps = self._captures(a, at)
        step = Step("expect", {"session": self._session(a, at), "msg": self._msg(a, at, False), "from": self._from(a, at),
                               "fields": self._fields(a.get("fields"), a.line_of("fields"), f"{at}.fields", True),
                               "capture": caps, "within": self._duration(a, "within", at, 5.0), "any": any_,
                               "heartbeats": self._bool(a, "heartbeats", at, False)}, line, at)
        self.captures.update(v for v, _ in caps)
        return step

    def _captures(self, a: LDict, at: str) -> list[tuple[str, int]]:
        capture = a.get("capture", {})
        caps = []
        if not isinstance(capture, dict):
            self.p.add(a.line_of("capture"), f"{at}.capture", "expected a mapping: variable -> tag name")
        else:
            for var, tag in capture.items():
                if not isinstance(var, str) or not _NAME_RE.match(var):
                    self.p.add(capture.line_of(var), f"{at}.capture.{var}", "expected a variable name (letters, _)")
                elif tag_of(tag) is None:
                    self.p.add(capture.line_of(var), f"{at}.capture.{var}", f"expected a tag name or number, "
                                                                            f"not {tag!r}")
                else:
                    caps.append((var, tag_of(tag)))
        return caps

    def _expect_nothing(self, args: Any, line: int, at: str) -> Step | None:
        a = self._map(args, line, at, "expect_nothing")
        if a is None:
            return None
        msgs = a.get("msg")
        codes = []
        for m in (msgs if isinstance(msgs, list) else [msgs] if msgs is not None else []):
            code = msg_code(m)
            if code is None:
                self.p.add(a.line_of("msg"), f"{at}.msg", f"expected MsgType names or codes, not {m!r}")
            codes.append(code)
        return Step("expect_nothing", {"session": self._session(a, at), "for": self._duration(a, "for", at, None),
                                       "from": self._from(a, at),
                                       "msg": codes, "heartbeats": self._bool(a, "heartbeats", at, False)}, line, at)

    def _expect_disconnect(self, args: Any, line: int, at: str) -> Step | None:
        a = self._map(args, line, at, "expect_disconnect")
        if a is None:
            return None
        self.closed.add(str(a.get("session")))
        return Step("expect_disconnect", {"session": self._session(a, at), "by": self._by(a, at),
                                          "within": self._duration(a, "within", at, 10.0)}, line, at)

    def _advance(self, args: Any, line: int, at: str) -> Step | None:
        value = duration(args)
        if value is None:
            self.p.add(line, at, f"expected a duration (250ms, 5s, 2m, 1h, or seconds), not {args!r}")
            return None
        return Step("advance", value, line, at)

    def _control(self, args: Any, line: int, at: str) -> Step | None:
        if not isinstance(args, LDict) or "action" not in args:
            self.p.add(line, at, f"expected {{action: {'|'.join(CONTROL_ACTIONS)}, ...}}")
            return None
        action = args["action"]
        if action not in CONTROL_ACTIONS:
            self.p.add(args.line_of("action"), f"{at}.action", f"expected one of {', '.join(CONTROL_ACTIONS)}")
            return None
        required, optional = CONTROL_ACTIONS[action]
        for key in args:
            if key != "action" and key not in required + optional:
                self.p.add(args.line_of(key), f"{at}.{key}", f"unknown key for {action}: expected "
                                                             f"{', '.join(required + optional) or 'none'}")
        for key in required:
            if key not in args:
                self.p.add(args.line, f"{at}.{key}", f"missing: {action} needs {', '.join(required)}")
        if action == "place_order":
            check_order(_ld(args, "action"), line, at, self.p, self.accounts)
        if action == "pause" and args.get("kind", "trading") not in ("trading", "exchange"):
            self.p.add(args.line_of("kind"), f"{at}.kind", "expected trading or exchange")
        if action == "maintenance" and args.get("mode", "continuity") not in ("continuity", "reset"):
            self.p.add(args.line_of("mode"), f"{at}.mode", "expected continuity or reset")
        if action == "settle" and args.get("result") not in ("yes", "no", "scalar"):
            self.p.add(args.line_of("result"), f"{at}.result", "expected yes, no or scalar")
        return Step("control", dict(args), line, at)

    def _fault(self, args: Any, line: int, at: str) -> Step | None:
        from .loader import check_rule, plain

        if not isinstance(args, LDict) or len(args) != 1 or next(iter(args)) not in ("add", "remove", "clear"):
            self.p.add(line, at, "expected {add: {fault rule}}, {remove: ID} or {clear: true}")
            return None
        (op, value), = args.items()
        if op == "add":
            if check_rule(value, args.line_of("add"), f"{at}.add", self.accounts, self.p, self.fault_ids):
                return Step("fault", {"add": plain(value)}, line, at)
            return None
        if op == "remove":
            if value not in self.fault_ids:
                self.p.add(args.line_of("remove"), f"{at}.remove", f"expected the id of a fault added earlier "
                                                                   f"({', '.join(sorted(self.fault_ids)) or 'none'})")
            return Step("fault", {"remove": str(value)}, line, at)
        if value is not True:
            self.p.add(args.line_of("clear"), f"{at}.clear", "expected true")
        return Step("fault", {"clear": True}, line, at)

    def _wait_fault(self, args: Any, line: int, at: str) -> Step | None:
        a = self._map(args, line, at, "wait_fault")
        if a is None:
            return None
        if a.get("id") not in self.fault_ids:
            self.p.add(a.line_of("id"), f"{at}.id", f"expected the id of a fault rule "
                                                    f"({', '.join(sorted(self.fault_ids)) or 'none has one'})")
        hits = a.get("hits", 1)
        if isinstance(hits, bool) or not isinstance(hits, int) or hits < 1:
            self.p.add(a.line_of("hits"), f"{at}.hits", "expected a positive integer")
        return Step("wait_fault", {"id": str(a.get("id")), "hits": hits,
                                   "within": self._duration(a, "within", at, 5.0)}, line, at)

    def _repeat(self, args: Any, line: int, at: str) -> Step | None:
        a = self._map(args, line, at, "repeat")
        if a is None:
            return None
        times = a.get("times")
        if isinstance(times, bool) or not isinstance(times, int) or times < 0:
            self.p.add(a.line_of("times"), f"{at}.times", "expected a count (an integer)")
            times = 0
        self.loop_vars.append("i")
        children = self.steps(a.get("steps"), a.line_of("steps"), f"{at}.steps")
        self.loop_vars.pop()
        return Step("repeat", {"times": times}, line, at, children=children)

    def _parallel(self, args: Any, line: int, at: str) -> Step | None:
        if not isinstance(args, LList) or not args:
            self.p.add(line, at, "expected a list of step lists: [[steps of a], [steps of b]]")
            return None
        branches = [self.steps(b, args.line_of(i), f"{at}[{i}]") for i, b in enumerate(args)]
        return Step("parallel", None, line, at, branches=branches)

    def _disconnect(self, args: Any, line: int, at: str) -> Step | None:
        a = self._map(args, line, at, "disconnect")
        if a is None:
            return None
        step = Step("disconnect", {"session": self._own_session(a, at)}, line, at)
        self.closed.add(str(a.get("session")))
        return step

    def _logout(self, args: Any, line: int, at: str) -> Step | None:
        a = self._map(args, line, at, "logout")
        if a is None:
            return None
        step = Step("logout", {"session": self._own_session(a, at), "text": str(a.get("text", "")),
                               "within": self._duration(a, "within", at, 5.0)}, line, at)
        self.closed.add(str(a.get("session")))
        return step


def _ld(args: LDict, drop: str) -> LDict:
    out = LDict({k: v for k, v in args.items() if k != drop})
    out.line = args.line
    out.lines = {k: v for k, v in args.lines.items() if k != drop}
    return out


# Steps judging an external client (conform profiles): checked in conform_steps.py.
from . import conform_steps as _conform  # noqa: E402

for _kind in _conform.KINDS:
    setattr(StepChecker, f"_{_kind}", lambda self, args, line, at, _k=_kind: _conform.check(self, _k, args, line, at))
