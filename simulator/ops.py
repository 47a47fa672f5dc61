"""Operations of the venue (spec 10): trading and exchange pauses, the weekly maintenance
schedule, maintenance windows, and the market lifecycle (halt, resume, close, settle).

FIX-free: time comes in as `now` (epoch seconds, the simulator's clock) and the FIX-facing
parts (the pause gate, SecurityStatus, Logout of sessions, the logon guard) live in
`gateway/pauses.py`. Every function must run on the simulator's event-loop thread (from
another thread, e.g. a test: `fx.call(lambda: ops.pause(fx.sim, "trading", now))`).

    ops.install(sim)                                    # once: sim.ops, clock task, logon guard
    ops.install(sim, schedule=ops.THURSDAY)             # + the weekly trading pause (spec 10 §1)
    ops.pause(sim, "trading", now)                      # every product unless products=[...]
    ops.resume(sim, now)
    ops.maintenance(sim, now, mode="reset", pause="trading", duration=2 * 3600)
    ops.halt(sim, "KXTEST-26JAN01-A"); ops.resume_market(sim, "KXTEST-26JAN01-A")

The engine owns the pause state that orders see (`Exchange.paused`, spec 10 §2); `Ops` owns
why and until when. Operator mistakes (resuming what is not paused or halted, unknown
products, sessions or markets) raise `OpsError`, a ValueError with a clear message.
"""
from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime, time as dtime, timedelta
from typing import Any, Iterable
from zoneinfo import ZoneInfo

from .engine.exchange import Pause
from .engine.types import MarketStatus
from .gateway import pauses as fix_side
from .gateway import post_trade

__all__ = ["Ops", "OpsError", "Schedule", "THURSDAY", "PauseState", "MaintenanceWindow", "OPEN", "TRADING_PAUSED",
           "EXCHANGE_PAUSED", "MODES", "install", "ops_for", "set_schedule", "next_window", "pause", "resume",
           "maintenance", "end_maintenance", "halt", "resume_market", "close_market", "settle_market", "status"]

OPEN, TRADING_PAUSED, EXCHANGE_PAUSED = "open", "trading_paused", "exchange_paused"
_STATE = {Pause.TRADING: TRADING_PAUSED, Pause.EXCHANGE: EXCHANGE_PAUSED}
MODES = ("continuity", "reset")       # spec 01 §5.1: the two documented maintenance behaviours
SESSION_CODES = ("NR", "DC", "RT", "PT", "RFQ", "MD")
_CONTINUITY_SESSIONS = ("RT", "PT")   # the only ones whose sequence numbers outlive a connection
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class OpsError(ValueError):
    """An operator request that cannot be done as asked (the control plane answers 4xx)."""


def _clock_time(text: str) -> dtime:
    hours, minutes = text.split(":")
    return dtime(int(hours), int(minutes))


def _pause_kind(kind: str | Pause) -> Pause:
    if isinstance(kind, Pause):
        return kind
    try:
        return Pause(str(kind).lower())
    except ValueError:
        raise OpsError(f"pause kind must be 'trading' or 'exchange', not {kind!r}") from None


def _local(when: float) -> str:
    return datetime.fromtimestamp(when, ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M:%S %Z")


# --- the weekly schedule (spec 10 §1) ----------------------------------------------------------

@dataclass(frozen=True)
class Schedule:
    """A weekly pause window in local time, DST-correct: `weekday` 0 = Monday .. 6 = Sunday,
    `start`/`end` "HH:MM" (an end at or before the start means the next day). A local time that
    does not exist on a DST day is read with the offset before the change (zoneinfo fold=0)."""
    weekday: int = 3
    start: str = "03:00"
    end: str = "05:00"
    kind: str = "trading"
    timezone: str = "America/New_York"

    def __post_init__(self) -> None:
        if not (isinstance(self.weekday, int) and 0 <= self.weekday <= 6):
            raise OpsError(f"Schedule weekday must be 0 (Monday) .. 6 (Sunday), not {self.weekday!r}")
        for name in ("start", "end"):
            if not _HHMM.fullmatch(str(getattr(self, name))):
                raise OpsError(f"Schedule {name} must be HH:MM (24 h), not {getattr(self, name)!r}")
        if self.start == self.end:
            raise OpsError("Schedule start and end must differ")
        _pause_kind(self.kind)
        try:
            ZoneInfo(self.timezone)
        except Exception as exc:  # ZoneInfoNotFoundError, ValueError for odd keys
            raise OpsError(f"Schedule timezone {self.timezone!r} is unknown") from exc

    def _window(self, day: date) -> tuple[float, float]:
        tz = ZoneInfo(self.timezone)
        start, end = _clock_time(self.start), _clock_time(self.end)
        end_day = day if end > start else day + timedelta(days=1)
        return (datetime.combine(day, start, tzinfo=tz).timestamp(),
                datetime.combine(end_day, end, tzinfo=tz).timestamp())

    def next_window(self, now: float) -> tuple[float, float]:
        """(start, end) epoch seconds of the window containing `now` (start <= now < end), else
        of the next one to begin."""
        local = datetime.fromtimestamp(now, ZoneInfo(self.timezone))
        day = local.date() - timedelta(days=(local.weekday() - self.weekday) % 7)
        start, end = self._window(day)
        if now >= end:
            start, end = self._window(day + timedelta(days=7))
        return start, end

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


THURSDAY = Schedule()  # spec 10 §1: every Thursday 03:00-05:00 ET, a trading pause


def next_window(now: float, schedule: Schedule = THURSDAY) -> tuple[float, float]:
    """The scheduled window containing `now`, or the next one (pure; see Schedule.next_window)."""
    return schedule.next_window(now)


# --- state -------------------------------------------------------------------------------------

@dataclass
class PauseState:
    kind: Pause
    since: float
    until: float | None          # None: until resumed
    source: str                  # "manual" | "schedule" | "maintenance"

    def as_dict(self) -> dict[str, Any]:
        return {"state": _STATE[self.kind], "since": self.since, "until": self.until, "source": self.source}


@dataclass
class MaintenanceWindow:
    started: float
    until: float | None          # logons of the sessions in scope are refused until then
    products: tuple[str, ...]
    sessions: tuple[str, ...]
    mode: str                    # "continuity" | "reset"
    pause: str | None
    disconnected: int            # sessions sent a Logout

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Ops:
    """sim.ops: the pause, maintenance and schedule state of one simulator."""

    def __init__(self, sim: Any, schedule: Schedule | None = None) -> None:
        self.sim = sim
        self.schedule = schedule
        self.pauses: dict[str, PauseState] = {}          # product -> its pause (absent: open)
        self.window: MaintenanceWindow | None = None
        self._applied: float | None = None               # start of the last scheduled window applied
        self._reset_gen: dict[tuple[str, str], int] = {}  # (product, RT/PT) -> maintenance reset count
        self._reset_done: dict[str, int] = {}             # session id -> generation it reset for

    # --- pauses (spec 10 §2, §3) ------------------------------------------------------------

    def state(self, product: str) -> str:
        """OPEN, TRADING_PAUSED or EXCHANGE_PAUSED."""
        self._venue(product)
        st = self.pauses.get(product)
        return OPEN if st is None else _STATE[st.kind]

    def pause(self, kind: str | Pause, now: float, *, products: Iterable[str] | None = None,
              until: float | None = None, source: str = "manual") -> dict[str, int]:
        """Start (or change) a pause on each product; returns product -> orders cancelled
        because they carried CancelOrderOnPause=Y (reported 4/4 with the pause Text)."""
        kind = _pause_kind(kind)
        targets = self._products(products)
        if until is not None and until <= now:
            raise OpsError("a pause must end after it starts (until > now)")
        out: dict[str, int] = {}
        for product in targets:
            venue = self.sim.venues[product]
            before = self.pauses.get(product)
            since = before.since if before is not None and before.kind is kind else now
            self.pauses[product] = PauseState(kind, since, until, source)
            events = venue.exchange.set_pause(kind, now)
            self._hold_market_maker(product, True, now)
            if events:
                venue.dispatch(events)
            out[product] = len(events)
        return out

    def resume(self, now: float, *, products: Iterable[str] | None = None) -> list[str]:
        """End the pause of each product (all paused ones when None); returns those resumed."""
        if products is None:
            targets = list(self.pauses)
            if not targets:
                raise OpsError("nothing to resume: no product is paused")
        else:
            targets = self._products(products)
            idle = [p for p in targets if p not in self.pauses]
            if idle:
                raise OpsError(f"cannot resume {', '.join(idle)}: not paused")
        for product in targets:
            self._end_pause(product, now)
        return targets

    def _end_pause(self, product: str, now: float) -> None:
        self.pauses.pop(product, None)
        self.sim.venues[product].exchange.set_pause(None, now)
        self._hold_market_maker(product, False, now)

    def _hold_market_maker(self, product: str, paused: bool, now: float) -> None:
        """The background market maker sits the pause out: its quotes rest like anyone's and
        it places nothing until the pause ends (then it refreshes at the next tick)."""
        maker = getattr(self.sim, "market_makers", {}).get(product)
        if maker is not None:
            maker.next_refresh = math.inf if paused else now

    # --- maintenance (spec 10 §1, §6; spec 01 §5.1) -----------------------------------------

    def maintenance(self, now: float, session_codes: Iterable[str] | str | None = None, mode: str = "continuity",
                    pause: str | Pause | None = None, duration: float | None = None, *,
                    products: Iterable[str] | None = None) -> MaintenanceWindow:
        """Disconnect the sessions in scope with a Logout Text (CancelOrdersOnDisconnect runs as
        on any disconnect). `mode` "continuity": RT/PT keep their sequence state and resend
        what was missed; "reset": their next Logon must carry ResetSeqNumFlag(141)=Y or it is
        refused. `pause` starts a pause first (so CancelOrderOnPause reports still reach live
        sessions). `duration` (seconds): logons in scope are refused until it has passed, and
        the pause ends then; None: no logon block and the pause lasts until resumed."""
        if mode not in MODES:
            raise OpsError(f"maintenance mode must be one of {', '.join(MODES)}, not {mode!r}")
        if isinstance(session_codes, str):
            session_codes = [session_codes]
        codes = SESSION_CODES if session_codes is None else tuple(c.upper() for c in session_codes)
        unknown = [c for c in codes if c not in SESSION_CODES]
        if unknown or not codes:
            raise OpsError(f"unknown session types {unknown or '(none)'}: use {', '.join(SESSION_CODES)}")
        if duration is not None and not duration > 0:
            raise OpsError("maintenance duration must be more than 0 seconds (or None)")
        targets = tuple(self._products(products))
        kind = _pause_kind(pause) if pause is not None else None
        until = now + duration if duration is not None else None
        if kind is not None:
            self.pause(kind, now, products=targets, until=until, source="maintenance")
        if mode == "reset":
            for product in targets:
                for code in codes:
                    if code in _CONTINUITY_SESSIONS:
                        key = (product, code)
                        self._reset_gen[key] = self._reset_gen.get(key, 0) + 1
        when = f"reconnect after {_local(until)}" if until is not None else "reconnect now"
        dropped = 0
        for conn in list(getattr(self.sim, "connections", ())):
            if conn.product in targets and conn.session_code in codes:
                text = f"Scheduled maintenance: disconnected by the exchange; {when}"
                if mode == "reset" and conn.session_code in _CONTINUITY_SESSIONS:
                    text += "; sequence numbers were reset: log on with ResetSeqNumFlag(141)=Y"
                dropped += fix_side.disconnect(conn, text)
        self.window = MaintenanceWindow(now, until, targets, codes, mode, kind.value if kind else None, dropped)
        return self.window

    def end_maintenance(self, now: float) -> MaintenanceWindow:
        """End the window now: logons are accepted again and a pause it started ends."""
        window = self.window
        if window is None:
            raise OpsError("no maintenance window is in progress")
        self.window = None
        for product, st in list(self.pauses.items()):
            if st.source == "maintenance":
                self._end_pause(product, now)
        return window

    def logon_refusal(self, product: str, code: str, api_key: str, reset: bool, now: float) -> str | None:
        """Why an otherwise valid Logon (`reset`: it carries 141=Y) is refused now: the Logout
        Text, or None. Called by the logon guard of gateway/pauses.py after the Authenticator
        accepted the Logon."""
        window = self.window
        if window is not None and window.until is not None and now < window.until \
                and product in window.products and code in window.sessions:
            return f"Scheduled maintenance in progress: reconnect after {_local(window.until)}"
        generation = self._reset_gen.get((product, code))
        if generation is not None:
            session_id = f"{product}/{code}/{api_key}"
            if self._reset_done.get(session_id) != generation:
                if not reset:  # spec 01 §5.1 (session-management page): 141=Y after maintenance
                    return "Maintenance reset sequence numbers: log on with ResetSeqNumFlag(141)=Y"
                self._reset_done[session_id] = generation  # the 141=Y Logon resets the server store
        return None

    # --- clock (Simulator.clock_tasks) --------------------------------------------------------

    def tick(self, now: float) -> float | None:
        """End pauses and windows that are due, start the scheduled pause once per window;
        returns when it next needs to run (epoch seconds) or None."""
        for product, st in list(self.pauses.items()):
            if st.until is not None and now >= st.until:
                self._end_pause(product, now)
        window = self.window
        if window is not None and window.until is not None and now >= window.until:
            self.window = None
        due: list[float] = []
        schedule = self.schedule
        if schedule is not None:
            start, end = schedule.next_window(now)
            if start <= now and self._applied != start:
                self._applied = start  # once per window: a manual resume inside it stays resumed
                targets = [p for p in self.sim.venues if p not in self.pauses]
                if targets:
                    self.pause(schedule.kind, now, products=targets, until=end, source="schedule")
            due.append(start if now < start else end)
        due += [st.until for st in self.pauses.values() if st.until is not None]
        if self.window is not None and self.window.until is not None:
            due.append(self.window.until)
        return min(due) if due else None

    def status(self, now: float) -> dict[str, Any]:
        """JSON-ready: each product's pause state, the schedule and its next window, maintenance."""
        schedule = self.schedule
        return {
            "products": {p: (self.pauses[p].as_dict() if p in self.pauses else {"state": OPEN})
                         for p in self.sim.venues},
            "schedule": None if schedule is None else {**schedule.as_dict(),
                                                       "next_window": list(schedule.next_window(now))},
            "maintenance": None if self.window is None else self.window.as_dict(),
        }

    # --- helpers ------------------------------------------------------------------------------

    def _venue(self, product: str):
        venue = self.sim.venues.get(product)
        if venue is None:
            raise OpsError(f"unknown product {product!r}: this simulator serves {', '.join(self.sim.venues)}")
        return venue

    def _products(self, products: Iterable[str] | str | None) -> list[str]:
        if products is None:
            return list(self.sim.venues)
        if isinstance(products, str):
            products = [products]
        out = list(dict.fromkeys(products))
        for product in out:
            self._venue(product)
        if not out:
            raise OpsError("no product given")
        return out


# --- module API: one call per control-plane action ---------------------------------------------

def install(sim: Any, schedule: Schedule | None = None) -> Ops:
    """Give `sim` its Ops (sim.ops), clock task and logon guard; idempotent. A schedule given
    here turns the weekly pause on (None leaves the current one: off on a new simulator)."""
    ops = getattr(sim, "ops", None)
    if not isinstance(ops, Ops):
        ops = Ops(sim, schedule)
        sim.ops = ops
        sim.clock_tasks.append(ops.tick)
        if getattr(sim, "auth", None) is not None:
            fix_side.guard_logons(sim.auth, ops.logon_refusal)
    elif schedule is not None:
        ops.schedule = schedule
    return ops


ops_for = install


def set_schedule(sim: Any, schedule: Schedule | None) -> None:
    """Turn the weekly pause on (a Schedule) or off (None)."""
    ops = install(sim)
    ops.schedule = schedule
    ops._applied = None


def pause(sim: Any, kind: str | Pause, now: float, *, products: Iterable[str] | None = None,
          until: float | None = None) -> dict[str, int]:
    """Trading or exchange pause now, on every product unless `products` (see Ops.pause)."""
    return install(sim).pause(kind, now, products=products, until=until)


def resume(sim: Any, now: float, *, products: Iterable[str] | None = None) -> list[str]:
    """End pauses (see Ops.resume); OpsError when nothing in scope is paused."""
    return install(sim).resume(now, products=products)


def maintenance(sim: Any, now: float, session_codes: Iterable[str] | str | None = None, mode: str = "continuity",
                pause: str | None = None, duration: float | None = None, *,
                products: Iterable[str] | None = None) -> MaintenanceWindow:
    """A maintenance window (see Ops.maintenance)."""
    return install(sim).maintenance(now, session_codes, mode, pause, duration, products=products)


def end_maintenance(sim: Any, now: float) -> MaintenanceWindow:
    return install(sim).end_maintenance(now)


def status(sim: Any, now: float) -> dict[str, Any]:
    return install(sim).status(now)


# --- market lifecycle (spec 10 §4, spec 07 §6) -------------------------------------------------

def _market(sim: Any, symbol: str, product: str):
    venue = install(sim)._venue(product)
    market = venue.exchange.market(symbol)
    if market is None:
        raise OpsError(f"unknown market {symbol!r} on {product}")
    return venue, market


def halt(sim: Any, symbol: str, *, product: str = "prediction") -> None:
    """An open market stops trading: orders get MARKET_INACTIVE (103=2), KalshiMD status
    subscribers get SecurityStatus 326=2 (prediction; margin has no SecurityStatus). Resting
    orders stay, CancelOrderOnPause included (the flag is for exchange-wide pauses)."""
    venue, market = _market(sim, symbol, product)
    if market.status is not MarketStatus.OPEN:
        raise OpsError(f"cannot halt {symbol}: it is {market.status.value}, only an open market can be halted")
    market.status = MarketStatus.HALTED
    fix_side.publish_market_status(venue, symbol, halted=True)


def resume_market(sim: Any, symbol: str, *, product: str = "prediction") -> None:
    """A halted market trades again: SecurityStatus 326=3 (prediction)."""
    venue, market = _market(sim, symbol, product)
    if market.status is not MarketStatus.HALTED:
        raise OpsError(f"cannot resume {symbol}: it is {market.status.value}, not halted")
    market.status = MarketStatus.OPEN
    fix_side.publish_market_status(venue, symbol, halted=False)


def close_market(sim: Any, symbol: str, now: float, *, product: str = "prediction"):
    """post_trade.close_market: CLOSED, resting orders CloseCancel (raises a ValueError)."""
    venue, _ = _market(sim, symbol, product)
    return post_trade.close_market(venue, symbol, now)


def settle_market(sim: Any, symbol: str, result: str, now: float, *, price: object = None,
                  product: str = "prediction"):
    """post_trade.settle_market: close, SecurityStatus 100, payouts and UMS, 101."""
    venue, _ = _market(sim, symbol, product)
    return post_trade.settle_market(venue, symbol, result, price, now)
