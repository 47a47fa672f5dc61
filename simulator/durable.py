"""Wiring the journal (journal.py) into a Simulator: restore at start-up, then journal.

`restore(sim)` runs once the venues, market makers, rate limits and ops exist: it loads the
latest snapshot (engine objects), replays the journal after it through the engine, applies
the aux state (pauses, maintenance window, settlement counters, mass-cancel ids), then
instruments the engine objects so every later state-changing call is journaled.
"""
from __future__ import annotations

import logging
import pickle
import time
from typing import Any

from .engine.types import MarketStatus
from .gateway import post_trade
from .gateway.venue import OfflineSink
from .gateway import rfq as rfq_gateway
from .journal import DESK_CALLS, EXCHANGE_CALLS, MAKER_CALLS, StateFile

__all__ = ["restore", "engine_objects", "RestoreReport", "live_cancel_on_disconnect"]

_COD = "durable.cancel_on_disconnect"


def live_cancel_on_disconnect(venue: Any) -> set[str]:
    """The connected order-entry sessions that asked for CancelOrdersOnDisconnect (spec 01 §7):
    a crash disconnected them, so a restart cancels their orders."""
    live = venue.services.get(_COD)
    if live is None:
        live = venue.services[_COD] = set()
    return live

log = logging.getLogger("kalshi_fixsim")


class RestoreReport:
    def __init__(self) -> None:
        self.snapshot_seq = 0
        self.replayed = 0
        self.failed = 0
        self.seconds = 0.0

    def __repr__(self) -> str:
        return (f"RestoreReport(snapshot_seq={self.snapshot_seq}, replayed={self.replayed}, failed={self.failed}, "
                f"seconds={self.seconds:.3f})")


def _desk(sim: Any, product: str):
    return rfq_gateway.service_for(sim.venues[product], sim.config.seed).desk


def _target(sim: Any, product: str, target: str):
    if target == "exchange":
        return sim.venues[product].exchange
    if target == "desk":
        return _desk(sim, product)
    return sim.market_makers[product]


def engine_objects(sim: Any) -> list[object]:
    out: list[object] = []
    for product, venue in sim.venues.items():
        out += [venue.exchange, _desk(sim, product)]
        if product in sim.market_makers:
            out.append(sim.market_makers[product])
    return out


def _snapshot_bytes(sim: Any) -> bytes:
    state = {product: {"exchange": venue.exchange, "desk": _desk(sim, product),
                       "maker": sim.market_makers.get(product)} for product, venue in sim.venues.items()}
    with StateFile.unwrapped(engine_objects(sim)):
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)


def _aux_state(sim: Any) -> dict:
    ops = getattr(sim, "ops", None)
    venues = {}
    for product, venue in sim.venues.items():
        settlement = venue.services.get("settlement")
        # RT sessions' store-backed sinks: their reports (fills, expiries) reach the RT store for
        # resend even before the client logs on again after a restart.
        offline = {sid: (sink.store.key, sink.sender, sink.target, sink.flags) for sid, sink in venue.offline.items()
                   if hasattr(sink.store, "key")}
        venues[product] = {"ids": venue._ids, "last_mass_cancel": venue.last_mass_cancel, "offline": offline,
                           "cancel_on_disconnect": sorted(live_cancel_on_disconnect(venue)),
                           "halted": [m.ticker for m in venue.exchange.markets() if m.status is MarketStatus.HALTED],
                           "settlement": (settlement.reports, settlement.settled) if settlement is not None else None,
                           "recipients": _recipients_state(settlement)}
    return {"ops": (ops.pauses, ops.window, ops._applied, ops._reset_gen, ops._reset_done) if ops is not None
            else None, "venues": venues}


def _recipients_state(settlement: Any) -> dict:
    """Settlement-report recipients (PT, RT opt-in) by session id: account, wants, RT/PT store key."""
    if settlement is None:
        return {}
    return {sid: (rec.account, rec.wants, getattr(rec.store, "key", None), rec.sender, rec.target)
            for sid, rec in settlement.recipients.items()}


def _apply_aux(sim: Any, aux: dict) -> None:
    ops = getattr(sim, "ops", None)
    if aux.get("ops") is not None and ops is not None:
        ops.pauses, ops.window, ops._applied, ops._reset_gen, ops._reset_done = aux["ops"]
    for product, state in aux.get("venues", {}).items():
        venue = sim.venues.get(product)
        if venue is None:
            continue
        venue._ids = state["ids"]
        venue.last_mass_cancel = state["last_mass_cancel"]
        for sid, (key, sender, target, flags) in state.get("offline", {}).items():
            product_, code, api_key = key.split("/", 2)
            venue.offline[sid] = OfflineSink(sim.stores.get(product_, code, api_key), sender, target, flags,
                                             sim.clock.now)
        halted = set(state["halted"])  # ops.halt sets a market's status directly (spec 10)
        for market in venue.exchange.markets():
            if market.ticker in halted:
                market.status = MarketStatus.HALTED
            elif market.status is MarketStatus.HALTED:
                market.status = MarketStatus.OPEN
        if state["settlement"] is not None:
            st = post_trade.state(venue)
            st.reports, st.settled = state["settlement"]
        for sid, (account, wants, key, sender, target) in state.get("recipients", {}).items():
            # spec 05 §1: a PT/RT session away at settlement finds its UMS in its store on resend,
            # a restart in between included (its store is in the same state file)
            store = sim.stores.get(*key.split("/", 2)) if key is not None else None
            post_trade.state(venue).recipients[sid] = post_trade.Recipient(sid, account, wants, None, store,
                                                                           sender, target)


def restore(sim: Any, state: StateFile) -> RestoreReport:
    """Bring `sim`'s venues to the state the file holds, then journal from here on."""
    report = RestoreReport()
    started = time.perf_counter()
    snapshot = state.load_snapshot()
    if snapshot is not None:
        report.snapshot_seq = state.snapshot_seq
        for product, parts in snapshot.items():
            venue = sim.venues.get(product)
            if venue is None:
                continue
            venue.exchange = parts["exchange"]
            rfq_gateway.service_for(venue, sim.config.seed).desk = parts["desk"]
            if parts["maker"] is not None:
                sim.market_makers[product] = parts["maker"]
    for seq, (product, target, name, args, kwargs) in state.records():
        try:
            getattr(_target(sim, product, target), name)(*args, **kwargs)
        except Exception:  # the call raised live too (our bug, logged then); its effects are replayed
            report.failed += 1
            log.exception("journal record %d (%s.%s on %s) raised on replay", seq, target, name, product)
        report.replayed += 1
    aux = state.load_aux()
    if aux is not None:
        _apply_aux(sim, aux)
    instrument(sim, state)
    if aux is not None:  # spec 01 §7: the crash disconnected them; their orders go now (journaled)
        now = sim.clock.now()
        for product, vstate in aux.get("venues", {}).items():
            venue = sim.venues.get(product)
            for sid in vstate.get("cancel_on_disconnect", ()):
                if venue is not None:
                    venue.dispatch(venue.exchange.cancel_session_orders(sid, now))
        state.aux_dirty = True
    report.seconds = time.perf_counter() - started
    if report.replayed or snapshot is not None:
        log.info("state restored from %s: snapshot at %d, %d journal record(s) replayed in %.3f s",
                 state.path, report.snapshot_seq, report.replayed, report.seconds)
    return report


def instrument(sim: Any, state: StateFile) -> None:
    for product, venue in sim.venues.items():
        state.instrument(venue.exchange, product, "exchange", EXCHANGE_CALLS)
        state.instrument(_desk(sim, product), product, "desk", DESK_CALLS)
        maker = sim.market_makers.get(product)
        if maker is not None:
            state.instrument(maker, product, "maker", MAKER_CALLS)
    state.aux_source = lambda: _aux_state(sim)
    state.snapshot_source = lambda: _snapshot_bytes(sim)
