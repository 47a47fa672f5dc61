"""The virtual clock: an asyncio event loop whose time is simulated wall time (issue 12 §4).

    loop = VirtualEventLoop(start="Thursday 02:59:50 America/New_York")
    sim = Simulator(config)               # on this loop: sim.clock is the loop's clock
    ...
    run_virtual(main, start=...)           # the asyncio.run of virtual runs

`loop.time()` is epoch seconds (UTC) and is the one source of truth: `loop.wall_clock.now()`
(the simulator's and the client's `Clock`, hence SendingTime, TransactTime, expiry, rate-limit
refill, the maintenance schedule) reads it, and every asyncio timer (call_later, sleep,
wait_for: heartbeats, logon timeouts, the client's timeouts and backoff, fault delays) is
scheduled on it. Time stands still while anything is runnable: callbacks that are ready, bytes
in flight on in-memory transports (they are delivered by ready callbacks), I/O that is ready.
When the loop would block waiting for its next timer, the clock jumps to that timer instead,
so idle time costs nothing: a 30 s heartbeat, a 15 s order-group window or a two-hour
maintenance window pass in milliseconds. Before each jump the loop runs its idle hooks
(`add_idle_hook`): the simulator does its clock work there (expiry, RFQ timers, pauses, the
schedule) and names its next deadline, so nothing polls. With nothing scheduled at all the
loop blocks for real (only another thread can wake it); a run that waits forever while
heartbeats keep the clock moving is stopped by run_virtual's `limit` (VirtualTimeLimit).

Runs are deterministic: the clock moves only by the loop's own timers, in their order, so the
same inputs and seed give the same messages at the same virtual instants, byte for byte.
A virtual loop is for in-process peers (simulator/memory_transport.py): a real socket's peer
lives in real time, and a timeout waiting for it would fire at once, so the simulator opens no
listeners on a virtual loop. `looptime` (PyPI) was evaluated and not used (docs/behaviour.md).
"""
from __future__ import annotations

import asyncio
import math
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any, Awaitable, Callable, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["VirtualEventLoop", "VirtualClock", "VirtualTimeLimit", "DEFAULT_START", "DEFAULT_LIMIT", "parse_start",
           "run_virtual", "is_virtual", "advance", "advance_to"]

T = TypeVar("T")

# A fixed default, so runs that set no start time are reproducible too: Monday 2026-01-05,
# the New York market open. Weekday forms ("Thursday 02:59:50 ...") resolve to the first such
# instant on or after this date.
DEFAULT_START = "2026-01-05 09:30:00 America/New_York"
_ANCHOR = date(2026, 1, 5)
# Virtual instants are multiples of GRID (2**-20 s, about 1 us): at epoch scale (2**31 s) their
# sums and differences with whole or binary-fraction intervals (30 s, 15 s, 0.5 s) are exact
# floats, so a deadline computed as last + 30 is met by a check now - last >= 30.
GRID = 2.0 ** -20
DEFAULT_LIMIT = 7 * 86_400.0  # seconds of virtual time a run_virtual may span
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_START_RE = re.compile(
    r"^\s*(?:(?P<date>\d{4}-\d{2}-\d{2})|(?P<weekday>[A-Za-z]+))?[ T]*"
    r"(?P<time>\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?\s*"
    r"(?P<zone>[A-Za-z_]+(?:/[A-Za-z_+-]+)*|[+-]\d{2}:?\d{2}|Z)?\s*$")


def parse_start(value: float | int | str | datetime | None) -> float:
    """A start time -> epoch seconds. Accepts epoch seconds, an aware datetime, or text:
    "2026-01-08 02:59:50 America/New_York", "2026-01-08T07:59:50Z", "Thursday 02:59:50
    America/New_York" (the first Thursday on or after 2026-01-05), "Thursday 03:00" (UTC when
    no zone is given). None: DEFAULT_START. Raises ValueError naming what is wrong."""
    if value is None:
        value = DEFAULT_START
    if isinstance(value, bool):
        raise ValueError(f"clock start must be epoch seconds or a date/time text, not {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"clock start {value!r} has no time zone: give one (e.g. America/New_York or UTC)")
        return value.timestamp()
    if not isinstance(value, str):
        raise ValueError(f"clock start must be epoch seconds or a date/time text, not {type(value).__name__}")
    match = _START_RE.match(value)
    if match is None or not (match["date"] or match["weekday"] or match["time"]):
        raise ValueError(f"clock start {value!r}: expected e.g. '2026-01-08 02:59:50 America/New_York' or "
                         "'Thursday 02:59:50 America/New_York'")
    if match["weekday"] and match["weekday"].lower() not in _WEEKDAYS:
        raise ValueError(f"clock start {value!r}: {match['weekday']!r} is not a weekday name (Monday..Sunday)")
    zone = _zone(match["zone"], value)
    clock_time = _time_of_day(match["time"] or "00:00", value)
    if match["date"]:
        try:
            day = date.fromisoformat(match["date"])
        except ValueError:
            raise ValueError(f"clock start {value!r}: {match['date']} is not a calendar date") from None
        return datetime.combine(day, clock_time, zone).timestamp()
    day = _ANCHOR
    if match["weekday"]:
        name = match["weekday"].lower()
        day = _ANCHOR + timedelta(days=(_WEEKDAYS.index(name) - _ANCHOR.weekday()) % 7)
    return datetime.combine(day, clock_time, zone).timestamp()


def _zone(text: str | None, value: str):
    if not text or text in ("Z", "UTC"):
        return timezone.utc
    if text[0] in "+-":
        digits = text[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return timezone(offset if text[0] == "+" else -offset)
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"clock start {value!r}: unknown time zone {text!r} (an IANA name such as "
                         "America/New_York, or UTC)") from None


def _time_of_day(text: str, value: str):
    parts = text.split(":")
    try:
        hours, minutes = int(parts[0]), int(parts[1])
        seconds = float(parts[2]) if len(parts) > 2 else 0.0
        whole = int(seconds)
        return datetime(2000, 1, 1, hours, minutes, whole, round((seconds - whole) * 1e6)).time()
    except ValueError:
        raise ValueError(f"clock start {value!r}: {text!r} is not a time of day (HH:MM[:SS])") from None


def _on_grid(when: float) -> float:
    """The first grid instant at or after `when` (scaling by a power of two is exact)."""
    return math.ceil(when / GRID) * GRID


class VirtualTimeLimit(TimeoutError):
    """A virtual run reached its limit of virtual time (run_virtual(limit=...))."""


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class VirtualClock:
    """The `Clock` (fixproto.aio) of a virtual loop: now() is the loop's time, epoch seconds."""

    def __init__(self, loop: "VirtualEventLoop") -> None:
        self._loop = loop

    def now(self) -> float:
        return self._loop.time()


class VirtualEventLoop(asyncio.SelectorEventLoop):
    """A selector event loop on virtual time (see the module doc). `jumps` counts the
    fast-forwards, `skipped` the virtual seconds they covered."""

    def __init__(self, start: float | int | str | datetime | None = None) -> None:
        self._virtual_now = _on_grid(parse_start(start))  # before super().__init__: it may read time()
        super().__init__()
        self.start_time = self._virtual_now
        # _run_once runs timers due before time() + _clock_resolution; the monotonic clock's 1e-9
        # vanishes at epoch scale (float spacing ~2.4e-7), which would strand timers due now.
        self._clock_resolution = GRID / 2
        self.jumps = 0
        self.skipped = 0.0
        self._idle_hooks: list[Callable[[], float | None]] = []
        self.time_limit: float | None = None  # epoch seconds the clock may not pass (run_virtual)
        self.on_time_limit: Callable[[], None] | None = None
        self.wall_clock = VirtualClock(self)  # fixproto.aio.default_clock() picks this up
        self._real_select = self._selector.select
        self._selector.select = self._virtual_select  # type: ignore[method-assign]

    def time(self) -> float:
        return self._virtual_now

    def add_idle_hook(self, hook: Callable[[], float | None]) -> Callable[[], None]:
        """Call `hook()` each time the loop is about to move its clock (nothing else runnable);
        it does the work due now and returns when it next needs to run (epoch seconds) or None.
        Work it schedules (call_soon, writes) runs before time moves. Returns a remover."""
        self._idle_hooks.append(hook)
        return lambda: self._idle_hooks.remove(hook) if hook in self._idle_hooks else None

    def _run_idle_hooks(self) -> float | None:
        due = None
        for hook in list(self._idle_hooks):
            try:
                when = hook()
            except Exception as exc:  # a bug in a hook must not stop the loop (as in a callback)
                self.call_exception_handler({"message": f"exception in idle hook {hook!r}", "exception": exc})
                continue
            if when is not None and (due is None or when < due):
                due = when
        return due

    def _virtual_select(self, timeout: float | None = None) -> list[Any]:
        ready = self._real_select(0)  # poll: work already here runs before time moves
        if ready:
            return ready
        if timeout == 0:
            if not self._ready and not self._stopping:  # type: ignore[attr-defined]
                # Only timers already due and nothing else to run: a callback re-armed itself for
                # "now". Real time would have moved on; a timer woken a float rounding early
                # (deadline a+b computed one way, checked as now-a >= b) must see it move too.
                self._virtual_now += GRID
            return ready
        # About to move time: the idle hooks do the work due now and say when they next need to run.
        due = self._run_idle_hooks()
        if self._ready:  # type: ignore[attr-defined]
            return ready  # the hooks made work at this instant: it runs before time moves
        # BaseEventLoop._run_once asked to wait `timeout` for its earliest timer: be there now.
        # The heap's head is read after the hooks ran (they may have scheduled an earlier one),
        # and is exact where `timeout` has float drift and a one-day cap.
        scheduled = self._scheduled  # type: ignore[attr-defined]  # asyncio.BaseEventLoop's timer heap
        target = scheduled[0].when() if scheduled else None
        if due is not None and (target is None or due < target):
            target = max(due, self._virtual_now + GRID)
        if target is None:
            return self._real_select(None)  # nothing scheduled: only another thread can wake us
        target = max(_on_grid(target), self._virtual_now)  # never back (a head already due: no move)
        limit = self.time_limit
        if limit is not None and target > limit:
            # A run waiting without a timeout would jump from heartbeat to heartbeat forever.
            self.time_limit = None  # once: cleanup after it may still need its own timers
            target = max(self._virtual_now, limit)
            if self.on_time_limit is not None:
                self.call_soon(self.on_time_limit)
        self.jumps += 1
        self.skipped += target - self._virtual_now
        self._virtual_now = target
        return ready


def is_virtual(loop: asyncio.AbstractEventLoop | None = None) -> bool:
    """Whether `loop` (default: the running loop) runs on virtual time."""
    if loop is None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
    return isinstance(loop, VirtualEventLoop)


async def advance(seconds: float) -> None:
    """Let `seconds` of virtual time pass; every timer due meanwhile fires, in order."""
    if not is_virtual():
        raise RuntimeError("advance() needs a virtual-clock loop (run_virtual); on a real loop, time passes by itself")
    if seconds < 0:
        raise ValueError(f"advance({seconds}): the clock never goes back")
    await asyncio.sleep(seconds)


async def advance_to(when: float | int | str | datetime) -> None:
    """Let virtual time pass until `when` (epoch seconds or a parse_start text); at once if past."""
    target = parse_start(when)
    loop = asyncio.get_running_loop()
    if not is_virtual(loop):
        raise RuntimeError("advance_to() needs a virtual-clock loop (run_virtual)")
    delay = target - loop.time()
    if delay > 0:
        await asyncio.sleep(delay)


def run_virtual(main: Callable[[], Awaitable[T]] | Awaitable[T], *,
                start: float | int | str | datetime | None = None, limit: float | None = DEFAULT_LIMIT) -> T:
    """asyncio.run on a fresh VirtualEventLoop starting at `start`: runs `main` (a coroutine
    or a function returning one), then cancels what is left and closes the loop. `main` is
    cancelled and VirtualTimeLimit raised if the clock would pass `limit` seconds after the
    start (None: no limit): a wait with no timeout never ends, at full speed."""
    loop = VirtualEventLoop(start)
    try:
        asyncio.set_event_loop(loop)
        coro = main() if callable(main) else main
        task = loop.create_task(coro)  # type: ignore[arg-type]
        hit = []
        if limit is not None:
            loop.time_limit = loop.start_time + limit

            def stop() -> None:
                hit.append(loop.time())
                task.cancel()
            loop.on_time_limit = stop
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            if hit:
                raise VirtualTimeLimit(
                    f"virtual run stopped at its limit of {limit:g} s of virtual time "
                    f"({_iso(hit[0])}): something waited without a timeout? (run_virtual(limit=...))") from None
            raise
    finally:
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            asyncio.set_event_loop(None)
            loop.close()
