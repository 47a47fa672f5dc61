"""The virtual-clock loop and the start-time parser (issue 12 §4)."""
from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from kalshi_fixsim.fixproto.aio import SystemClock, default_clock
from kalshi_fixsim.simulator.virtual_clock import (DEFAULT_START, GRID, VirtualClock, VirtualEventLoop,
                                                   VirtualTimeLimit, advance, advance_to, is_virtual, parse_start,
                                                   run_virtual)

T0 = 1_767_623_400.0  # 2026-01-05 14:30:00 UTC, DEFAULT_START


# --- start times -----------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("Thursday 02:59:50 America/New_York", "2026-01-08T07:59:50+00:00"),  # EST: UTC-5
    ("2026-07-09 02:59:50 America/New_York", "2026-07-09T06:59:50+00:00"),  # EDT: UTC-4
    ("2026-01-08T07:59:50Z", "2026-01-08T07:59:50+00:00"),
    ("2026-01-08 07:59:50.250 +01:00", "2026-01-08T06:59:50.250000+00:00"),
    ("Monday", "2026-01-05T00:00:00+00:00"),
    ("sunday 23:00 UTC", "2026-01-11T23:00:00+00:00"),
    (DEFAULT_START, "2026-01-05T14:30:00+00:00"),
])
def test_start_times_read_as_dates_or_weekdays_of_the_week_of_2026_01_05(text, expected):
    assert datetime.fromtimestamp(parse_start(text), timezone.utc).isoformat() == expected


def test_start_time_defaults_and_numbers():
    assert parse_start(None) == T0
    assert parse_start(1_800_000_000) == 1_800_000_000.0
    assert parse_start(datetime(2026, 1, 8, 8, tzinfo=timezone.utc)) == parse_start("2026-01-08 08:00 UTC")


@pytest.mark.parametrize("value,message", [
    ("Thorsday 03:00", "'Thorsday' is not a weekday name"),
    ("Thursday 03:00 Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ("2026-02-30 03:00", "2026-02-30 is not a calendar date"),
    ("Thursday 25:00", "'25:00' is not a time of day"),
    ("at dawn", "'at' is not a weekday name"),
    ("3 o'clock", "expected e.g."),
    (datetime(2026, 1, 8), "has no time zone"),
    (True, "epoch seconds or a date/time text"),
])
def test_a_bad_start_time_is_refused_with_what_was_expected(value, message):
    with pytest.raises(ValueError, match=message):
        parse_start(value)


# --- the loop ----------------------------------------------------------------------------------

def test_the_loop_starts_at_its_start_time_and_jumps_to_each_timer_at_its_exact_instant():
    async def main():
        loop = asyncio.get_running_loop()
        assert loop.time() == parse_start("Thursday 02:59:50 America/New_York")
        t0, fired = loop.time(), []
        for delay in (30.0, 0.5, 7200.0, 15.0):
            loop.call_later(delay, lambda d=delay: fired.append((d, loop.time() - t0)))
        await asyncio.sleep(7200.0)
        await asyncio.sleep(0)  # same instant: the 7200 s timer queued after the sleep's own runs next
        return fired, loop.jumps
    fired, jumps = run_virtual(main, start="Thursday 02:59:50 America/New_York")
    assert fired == [(0.5, 0.5), (15.0, 15.0), (30.0, 30.0), (7200.0, 7200.0)]
    assert jumps == 4


def test_time_stands_still_while_callbacks_are_ready():
    async def main():
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for _ in range(1000):
            await asyncio.sleep(0)
        event = asyncio.Event()
        loop.call_soon(event.set)
        await event.wait()
        return loop.time() - t0, loop.jumps
    assert run_virtual(main) == (0.0, 0)


def test_a_timer_rearmed_for_now_sees_the_clock_move_by_one_grid_step():
    # A deadline computed one way (a + b) and checked another (now - a >= b) can miss by a float
    # rounding; real time moves on and so must the virtual clock, or the loop would spin.
    async def main():
        loop = asyncio.get_running_loop()
        t0, done = loop.time(), loop.create_future()
        target = t0 + 0.1  # not a binary fraction: off the grid

        def check():
            if loop.time() >= target:
                done.set_result(loop.time() - t0)
            else:
                loop.call_later(0, check)
        loop.call_later(0.1 - GRID / 4, check)
        return await done
    moved = run_virtual(main)
    assert 0.1 <= moved <= 0.1 + 2 * GRID


def test_advance_and_advance_to_move_the_clock_and_refuse_a_real_loop():
    async def main():
        loop = asyncio.get_running_loop()
        await advance(90)
        first = loop.time()
        await advance_to("2026-01-05 14:45:00 UTC")
        await advance_to(T0)  # in the past: returns at once
        with pytest.raises(ValueError, match="never goes back"):
            await advance(-1)
        return first, loop.time()
    assert run_virtual(main) == (T0 + 90, T0 + 900)

    async def real():
        with pytest.raises(RuntimeError, match="needs a virtual-clock loop"):
            await advance(1)
        return is_virtual()
    assert asyncio.run(real()) is False


def test_the_default_clock_is_the_virtual_loops_own_clock_and_wall_time_elsewhere():
    async def on_virtual():
        clock = default_clock()
        return isinstance(clock, VirtualClock), clock.now()
    assert run_virtual(on_virtual, start=1_800_000_000) == (True, 1_800_000_000.0)

    async def on_real():
        return default_clock()
    assert isinstance(asyncio.run(on_real()), SystemClock)
    assert isinstance(default_clock(), SystemClock)  # no loop running


def test_run_virtual_cancels_what_is_left_and_closes_its_loop():
    seen = {}

    async def main():
        seen["loop"] = asyncio.get_running_loop()
        seen["task"] = asyncio.get_running_loop().create_task(asyncio.sleep(3600))
        return "done"
    assert run_virtual(main()) == "done"
    assert seen["task"].cancelled() and seen["loop"].is_closed()
    assert isinstance(seen["loop"], VirtualEventLoop)


def test_idle_hooks_run_before_time_moves_and_their_deadline_is_where_the_clock_jumps():
    async def main():
        loop = asyncio.get_running_loop()
        t0, seen = loop.time(), []
        deadlines = [t0 + 40.0, t0 + 90.0]

        def hook():
            now = loop.time() - t0
            seen.append(now)
            if deadlines and loop.time() >= deadlines[0]:
                deadlines.pop(0)
                loop.call_soon(seen.append, ("due", now))  # work made at this instant runs first
            return deadlines[0] if deadlines else None
        remove = loop.add_idle_hook(hook)
        await asyncio.sleep(100.0)
        remove()
        await asyncio.sleep(50.0)  # removed: not called again
        return seen, loop.time() - t0
    seen, end = run_virtual(main)
    assert end == 150.0
    assert ("due", 40.0) in seen and ("due", 90.0) in seen
    assert [s for s in seen if not isinstance(s, tuple)] == [0.0, 40.0, 40.0, 90.0, 90.0]


def test_a_run_waiting_without_a_timeout_stops_at_its_virtual_time_limit():
    async def main():
        loop = asyncio.get_running_loop()

        def beat():  # a heartbeat that keeps the clock moving forever
            loop.call_later(30, beat)
        beat()
        await loop.create_future()  # never resolved, no timeout
    with pytest.raises(VirtualTimeLimit, match=r"limit of 3600 s of virtual time \(2026-01-05 15:30:00 UTC\)"):
        run_virtual(main, limit=3600)


def test_a_failing_idle_hook_is_reported_and_the_loop_goes_on():
    errors = []

    async def main():
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(lambda _loop, context: errors.append(str(context["exception"])))
        loop.add_idle_hook(lambda: 1 / 0)
        await asyncio.sleep(5)
        return loop.time() - loop.start_time
    assert run_virtual(main) == 5.0
    assert errors and errors[0] == "division by zero"


def test_connections_are_visited_in_the_order_they_came_not_in_hash_order():
    from kalshi_fixsim.simulator.ordered import OrderedSet

    items = [object() for _ in range(50)]
    ordered = OrderedSet(items[:10])
    for item in items[10:]:
        ordered.add(item)
    ordered.discard(items[3])
    ordered.discard(object())  # absent: no error
    ordered |= {items[3]}
    assert list(ordered) == items[:3] + items[4:] + [items[3]]
    assert len(ordered) == 50 and items[0] in ordered


def test_a_timer_an_idle_hook_schedules_is_not_jumped_over():
    async def main():
        loop = asyncio.get_running_loop()
        t0, fired = loop.time(), []
        armed = []

        def hook():
            if not armed:  # first idle moment: a timer earlier than the sleep below
                armed.append(loop.call_later(5.0, lambda: fired.append(loop.time() - t0)))
            return None
        loop.add_idle_hook(hook)
        await asyncio.sleep(60.0)
        return fired
    assert run_virtual(main) == [5.0]
