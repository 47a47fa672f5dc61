"""`kalshi-fixsim conform`: grade a Kalshi FIX client, any language (issue 14 §1; docs/conform.md).

`register(sub)` adds the command; it sets `args.handler`, which `cli.main` calls. Exit status:
0 every mandatory case passed, 1 one failed, 2 a usage or configuration error (one line).
"""
from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from .cases import PROFILES, CaseError, all_features, load_cases, select, Selection
from .clients import PLACEHOLDERS, ConformError

__all__ = ["register", "build_options", "answers_from"]

_SESSIONS = ("NR", "DC", "RT", "PT", "RFQ", "MD")
_PRODUCTS = ("prediction", "margin")
_ANSWER_KEYS = ("profile", "product", "session", "features", "heartbeat", "use_dollars", "mandatory_only")


def _csv(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = str(value).split(",")
    return [v.strip() for v in items if v.strip()]


def _check_choice(flag: str, values: list[str], allowed, upper: bool = False) -> list[str]:
    out = [v.upper() if upper else v for v in values]
    bad = [v for v in out if v not in allowed]
    if bad:
        raise ConformError(f"{flag}: {', '.join(bad)} is not one of {', '.join(allowed)}")
    return out


def answers_from(path: Path) -> dict:
    """A small YAML of the interview's answers: profile, product, session, features, heartbeat,
    use_dollars, mandatory_only (each a value or a list)."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConformError(f"--answers {path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConformError(f"--answers {path}: not YAML: {str(exc).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConformError(f"--answers {path}: expected a mapping ({', '.join(_ANSWER_KEYS)})")
    for key in data:
        if key not in _ANSWER_KEYS:
            raise ConformError(f"--answers {path}: {key}: unknown key; expected one of {', '.join(_ANSWER_KEYS)}")
    return data


def interview(ask, features_known: list[str]) -> dict:
    """AutoCert+'s idea: which profiles, products, session types and features the client has."""
    out = {}
    out["profile"] = ask(f"Profiles to grade ({', '.join(PROFILES)}) [session]: ") or "session"
    out["product"] = ask("Products your client trades (prediction, margin) [prediction]: ") or "prediction"
    out["session"] = ask(f"Session types it uses ({', '.join(_SESSIONS)}) [NR]: ") or "NR"
    if features_known:
        got = ask(f"Optional features it has ({', '.join(features_known)}; empty: none, 'all': all) [all]: ")
        out["features"] = features_known if got.strip() in ("", "all") else _csv(got)
    mandatory = ask("Run only the mandatory cases? [y/N]: ")
    out["mandatory_only"] = mandatory.strip().lower() in ("y", "yes")
    return out


def build_options(args: argparse.Namespace, *, ask=None, isatty: bool | None = None):
    """Flags, --answers and --interview -> run.Options (flags win over the answers file)."""
    from .run import Options

    answers: dict = {}
    if args.answers:
        answers = answers_from(Path(args.answers))
    if args.interview:
        tty = sys.stdin.isatty() if isatty is None else isatty
        if not tty:
            raise ConformError("--interview asks on a terminal: give the answers as flags or --answers FILE")
        try:
            cases = load_cases(args.cases)
        except CaseError as exc:
            raise ConformError(str(exc)) from None
        answers.update(interview(ask or input, all_features(cases)))

    def pick(flag_value, key, default):
        if flag_value is not None:
            return flag_value
        return answers.get(key, default)

    profiles = _check_choice("--profile", _csv(pick(args.profile, "profile", "session")), PROFILES)
    products = _check_choice("--product", _csv(pick(args.product, "product", "prediction")), _PRODUCTS)
    sessions = _check_choice("--session", _csv(pick(args.session, "session", "NR")), _SESSIONS, upper=True)
    features = pick(args.features, "features", None)
    heartbeat = pick(args.heartbeat, "heartbeat", None)
    if heartbeat is not None and (isinstance(heartbeat, bool) or not str(heartbeat).isdigit()):
        raise ConformError(f"--heartbeat: expected whole seconds, not {heartbeat!r}")
    if args.api_key and not args.public_key:
        raise ConformError("--api-key needs --public-key FILE (the PEM public key registered for the key)")
    if args.client_cmd is not None and not args.client_cmd.strip():
        raise ConformError("--client-cmd: empty command")
    return Options(profiles=profiles, products=products, sessions=sessions,
                   features=None if features is None else _csv(features),
                   mandatory_only=bool(args.mandatory_only or answers.get("mandatory_only", False)),
                   only=_csv(args.case), client_cmd=args.client_cmd, api_key=args.api_key,
                   public_key=Path(args.public_key) if args.public_key else None,
                   private_key=Path(args.private_key) if args.private_key else None,
                   heartbeat=int(heartbeat) if heartbeat is not None else None,
                   use_dollars=bool(args.use_dollars or answers.get("use_dollars", False)),
                   report=Path(args.report) if args.report else None, junit=Path(args.junit) if args.junit else None,
                   cases=Path(args.cases) if args.cases else None, wait=args.wait, grace=args.grace,
                   case_limit=args.case_timeout)


def _list(args, opts) -> int:
    cases = load_cases(opts.cases)
    plan = select(cases, Selection(opts.profiles, opts.products, opts.sessions, opts.features, opts.mandatory_only,
                                   opts.only))
    for p in plan:
        flag = "mandatory" if p.case.mandatory else "optional"
        skip = f"  SKIP: {p.skip}" if p.skip else ""
        print(f"{p.case.id:<6} {p.product}/{p.session:<4} {flag:<9} {p.case.name}  [{', '.join(p.case.spec)}]{skip}\n"
              f"       {p.case.expect}")
    print(f"{len(plan)} case(s)")
    return 0


def _handler(args: argparse.Namespace) -> int:
    from .run import run_plan

    try:
        opts = build_options(args)
        if args.list:
            return _list(args, opts)
        if opts.client_cmd:
            from .clients import check_command
            check_command(opts.client_cmd)
        result = asyncio.run(run_plan(opts))
    except (ConformError, CaseError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print()
    print(result.summary())
    if result.junit is not None:
        print(f"junit: {result.junit}")
    return result.exit_code


def register(sub) -> None:
    """Add `conform` to the CLI's sub-parsers."""
    text = "grade a FIX client (any language) against Kalshi's rules: the kit plays the venue (docs/conform.md)"
    s = sub.add_parser("conform", help=text, description=text,
                       epilog="placeholders of --client-cmd (also KALSHI_FIX_<NAME> environment variables): "
                              + ", ".join("{" + p + "}" for p in PLACEHOLDERS)
                              + ". Exit status: 0 every mandatory case passed, 1 one failed, 2 usage error.")
    s.add_argument("--profile", default=None, help=f"profiles to grade, comma-separated: {', '.join(PROFILES)} "
                                                   "(default session)")
    s.add_argument("--product", default=None, help="prediction or margin, comma-separated (default prediction)")
    s.add_argument("--session", default=None, help="session types the client uses, comma-separated: "
                                                   "NR, DC, RT, PT, RFQ, MD (default NR); the client is started "
                                                   "once per session type, with that port")
    s.add_argument("--features", default=None, help="optional features the client has, comma-separated (cases "
                                                    "needing others are SKIP; default: all)")
    s.add_argument("--mandatory-only", action="store_true", help="run only the mandatory cases")
    s.add_argument("--case", default=None, help="run only these case ids or names, comma-separated")
    s.add_argument("--client-cmd", default=None, metavar="CMD",
                   help="the command that starts your client (a shell command; placeholders below); without "
                        "it the endpoints are printed and the kit waits for your client")
    s.add_argument("--api-key", default=None, help="your own API key id as the account under test (with "
                                                   "--public-key; default: a fresh test key)")
    s.add_argument("--public-key", default=None, metavar="FILE", help="the PEM public key of --api-key")
    s.add_argument("--private-key", default=None, metavar="FILE",
                   help="with --api-key: the private key file given to the client as {key_file}")
    s.add_argument("--heartbeat", default=None, type=int, metavar="SECONDS",
                   help="the HeartBtInt the client is told to use (default 4 on prediction, 3 on margin)")
    s.add_argument("--use-dollars", action="store_true", help="tell the client to log on with UseDollars "
                                                              "({use_dollars} = Y)")
    s.add_argument("--interview", action="store_true",
                   help="ask which profiles, products, session types and features the client has (a terminal)")
    s.add_argument("--answers", default=None, metavar="FILE",
                   help="the interview's answers as YAML (profile, product, session, features, heartbeat, "
                        "use_dollars, mandatory_only); flags win")
    s.add_argument("--junit", default=None, metavar="FILE", help="write JUnit XML here (one testcase per case)")
    s.add_argument("--report", default=None, metavar="DIR",
                   help="write the report here: summary.txt, one transcript per case, the client's output, "
                        "the venue's keys and CA (default: a temporary folder, printed)")
    s.add_argument("--cases", default=None, metavar="DIR", help="the case files (default scenarios/conform)")
    s.add_argument("--list", action="store_true", help="list the cases that would run, and exit")
    s.add_argument("--wait", default=300.0, type=float, metavar="SECONDS",
                   help="without --client-cmd: how long the first case waits for your client (default 300)")
    s.add_argument("--grace", default=5.0, type=float, metavar="SECONDS",
                   help="between SIGTERM and SIGKILL when the client is stopped (default 5)")
    s.add_argument("--case-timeout", default=180.0, type=float, metavar="SECONDS",
                   help="a case still running after this long fails (default 180)")
    s.set_defaults(handler=_handler)
