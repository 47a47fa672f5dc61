"""`GET /metrics`: the simulator in the Prometheus text format (issue 17 §2).

The one module prometheus-client enters through. Each Simulator has its own CollectorRegistry
(several simulators share a process in tests), holding one custom collector that turns plain
counters into metric families at scrape time. The hot path never touches prometheus-client:
counting a frame is a few dict increments (`Metrics.frame`, called by the journal for every frame
in and out); an order's time is taken there too, from its frame in to the first frame out on
its session, a bisect into a list (docs/benchmarks.md "Metrics").

    kalshi_fixsim_messages_total{product,session,direction,msg_type}   msg_type "other": not a known one
    kalshi_fixsim_rejects_total{kind,reason}      kind: reject(373) business_reject(380)
                                                  order_reject(ER 103) cancel_reject(9's 102)
    kalshi_fixsim_rate_limited_total{product,session}
    kalshi_fixsim_logons_total{product,session,result,reason}   result: accepted / refused
    kalshi_fixsim_connections{product,session}   logged-on sessions now
    kalshi_fixsim_fault_hits_total{rule,fault}
    kalshi_fixsim_order_processing_seconds       histogram: an order frame in to the first frame out
                                                  on its session (decode, checks, matching, encode)
    kalshi_fixsim_store_commit_seconds           histogram: one message-store commit
"""
from __future__ import annotations

import bisect
import re
from time import perf_counter
from typing import TYPE_CHECKING, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from kalshi_fixsim.fixproto.fields import MSG_TYPE_NAMES

if TYPE_CHECKING:
    from .server import Simulator

__all__ = ["Metrics", "install", "exposition", "CONTENT_TYPE", "ORDER_TYPES"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
ORDER_TYPES = frozenset({"D", "F", "G", "q", "AC"})  # order entry: new, cancel, amend, mass cancel ...
_ORDERS = frozenset(t.encode() for t in ORDER_TYPES)
_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_REJECT_TAG = {b"3": (b"373", "reject"), b"j": (b"380", "business_reject"), b"9": (b"102", "cancel_reject")}
_WATCH = frozenset({b"3", b"j", b"9", b"8", b"A", b"5"})  # outbound answers that count beyond messages
_KNOWN = frozenset(t.encode() for t in MSG_TYPE_NAMES)
_WORD = re.compile(r"[^A-Za-z ]+")


def _field(frame: bytes, tag: bytes) -> str:
    i = frame.find(b"\x01" + tag + b"=")
    if i < 0:
        return ""
    j = frame.find(b"\x01", i + 1)
    return frame[i + len(tag) + 2:j if j >= 0 else len(frame)].decode("latin-1")


def _reason(text: str) -> str:
    """A refusal's Text reduced to a label with few values: its words before the first ':' or
    '(' (`Invalid signature`, `Rate limit exceeded`), at most 40 characters."""
    head = re.split(r"[:(;,]", text, maxsplit=1)[0]
    return " ".join(_WORD.sub(" ", head).split())[:40] or "unspecified"


class Histogram:
    """Cumulative-at-scrape buckets in a plain list: observe() is one bisect and two adds."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(_BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(_BUCKETS, seconds)] += 1
        self.sum += seconds

    def family(self, name: str, doc: str) -> HistogramMetricFamily:
        running, buckets = 0, []
        for bound, n in zip((*(repr(b) for b in _BUCKETS), "+Inf"), self.counts):
            running += n
            buckets.append((bound, running))
        return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=self.sum)


class Metrics:
    """Plain counters filled on the simulator's loop; `collect()` is the registry's collector."""

    def __init__(self, sim: "Simulator") -> None:
        self.sim = sim
        self.messages: dict[tuple[str, str, bytes], int] = {}  # (endpoint, direction, MsgType)
        self.rejects: dict[tuple[str, str], int] = {}
        self.rate_limited: dict[str, int] = {}
        self.logons: dict[tuple[str, str, str], int] = {}
        self.orders = Histogram()
        # session id -> {ClOrdID: when its order frame came in (perf_counter)}: with group commit
        # the answers to a read's orders leave after all of them came in, so match by ClOrdID
        self._pending: dict[str, dict[bytes, float]] = {}
        self.commits = Histogram()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    # --- the hot path -------------------------------------------------------------------------

    def frame(self, direction: str, endpoint: str, session: str, frame: bytes) -> None:
        """One frame crossed a connection (the journal calls this, simulator/transcript.py)."""
        i = frame.find(b"\x0135=")
        msg_type = frame[i + 4:frame.find(b"\x01", i + 4)] if i >= 0 else b""
        if msg_type not in _KNOWN:  # garbage from a bad peer must not grow the label set
            msg_type = b"other"
        key = (endpoint, direction, msg_type)
        messages = self.messages
        messages[key] = messages.get(key, 0) + 1
        # The ClOrdID (11) of an order and of its first report, found inline (issue 16).
        if direction == "in":
            if msg_type in _ORDERS:  # its answer's time goes into the histogram
                waiting = self._pending.get(session)
                if waiting is None:
                    waiting = self._pending[session] = {}
                elif len(waiting) >= _MAX_WAITING:  # answers a fault suppressed: forget the oldest
                    del waiting[next(iter(waiting))]
                i = frame.find(b"\x0111=")
                waiting[frame[i + 4:frame.find(b"\x01", i + 4)] if i >= 0 else b""] = perf_counter()
            return
        if self._pending:
            waiting = self._pending.get(session)
            if waiting:
                if msg_type in (b"8", b"9"):  # the first report naming the order's ClOrdID
                    i = frame.find(b"\x0111=")
                    started = waiting.pop(frame[i + 4:frame.find(b"\x01", i + 4)] if i >= 0 else b"", None)
                elif msg_type in (b"3", b"j"):  # a reject names no ClOrdID: the oldest order
                    started = waiting.pop(next(iter(waiting)))
                else:
                    started = None
                if started is not None:
                    self.orders.observe(perf_counter() - started)
        if msg_type == b"8":  # the usual answer: only a rejected report counts beyond messages
            if b"\x01150=8\x01" in frame:  # ExecType Rejected: OrdRejReason(103)
                self._reject("order_reject", _field(frame, b"103") or "none", endpoint, frame)
        elif msg_type in _WATCH:
            self._answer(msg_type, endpoint, session, frame)

    def _answer(self, msg_type: bytes, endpoint: str, session: str, frame: bytes) -> None:
        """An outbound Reject, BMR, cancel reject, Logon or Logout (ExecutionReports: `frame`)."""
        if msg_type == b"A":
            self._logon(endpoint, "accepted", "")
        elif msg_type == b"5":
            if not session:  # a Logout before any Logon was accepted: the Logon was refused
                self._logon(endpoint, "refused", _reason(_field(frame, b"58")))
        else:
            tag, kind = _REJECT_TAG[msg_type]
            self._reject(kind, _field(frame, tag) or "none", endpoint, frame)

    def _reject(self, kind: str, reason: str, endpoint: str, frame: bytes) -> None:
        key = (kind, reason)
        self.rejects[key] = self.rejects.get(key, 0) + 1
        if b"\x0158=Rate limit exceeded" in frame:  # ratelimit_gate.refusal_text
            self.rate_limited[endpoint] = self.rate_limited.get(endpoint, 0) + 1

    def _logon(self, endpoint: str, result: str, reason: str) -> None:
        key = (endpoint, result, reason)
        self.logons[key] = self.logons.get(key, 0) + 1

    # --- scrape time ----------------------------------------------------------------------------

    def collect(self) -> Iterable:
        p = "kalshi_fixsim_"
        fam = CounterMetricFamily(p + "messages", "FIX messages in and out",
                                  labels=["product", "session", "direction", "msg_type"])
        for (endpoint, direction, msg_type), n in sorted(self.messages.items()):
            fam.add_metric([*endpoint.split("/", 1), direction, msg_type.decode()], n)
        yield fam
        fam = CounterMetricFamily(p + "rejects", "rejections sent, by kind (reject 373, business_reject 380, "
                                  "order_reject ER 103, cancel_reject 9's 102) and reason code",
                                  labels=["kind", "reason"])
        for (kind, reason), n in sorted(self.rejects.items()):
            fam.add_metric([kind, reason], n)
        yield fam
        fam = CounterMetricFamily(p + "rate_limited", "requests refused by a rate limit",
                                  labels=["product", "session"])
        for endpoint, n in sorted(self.rate_limited.items()):
            fam.add_metric(endpoint.split("/", 1), n)
        yield fam
        fam = CounterMetricFamily(p + "logons", "Logons accepted and refused (reason: the Text's head)",
                                  labels=["product", "session", "result", "reason"])
        for (endpoint, result, reason), n in sorted(self.logons.items()):
            fam.add_metric([*endpoint.split("/", 1), result, reason], n)
        yield fam
        live: dict[tuple[str, str], int] = {}
        for conn in self.sim.connections:
            live[(conn.product, conn.session_code)] = live.get((conn.product, conn.session_code), 0) + 1
        fam = GaugeMetricFamily(p + "connections", "logged-on sessions", labels=["product", "session"])
        for (product, code), n in sorted(live.items()):
            fam.add_metric([product, code], n)
        yield fam
        fam = CounterMetricFamily(p + "fault_hits", "times each installed fault rule acted",
                                  labels=["rule", "fault"])
        for rule in self.sim.faults.list():
            fam.add_metric([str(rule["id"]), str(rule["fault"])], rule["hits"])
        yield fam
        yield self.orders.family(p + "order_processing_seconds",
                                 "server-side time to process one inbound order message")
        yield self.commits.family(p + "store_commit_seconds", "time of one message-store commit")


_MAX_WAITING = 10_000  # orders per session waiting for their first answer


class _TimedDb:
    """The message stores' shared SQLite connection with its commits timed."""

    def __init__(self, db, histogram: Histogram) -> None:
        self._db, self._histogram = db, histogram

    def commit(self) -> None:
        started = perf_counter()
        self._db.commit()
        self._histogram.observe(perf_counter() - started)

    def __getattr__(self, name: str):
        return getattr(self._db, name)


def install(sim: "Simulator") -> Metrics:
    """A fresh Metrics for `sim`, fed by its journal and its message stores' commits."""
    metrics = Metrics(sim)
    sim.transcript.count = metrics.frame
    state_file = getattr(sim, "state_file", None)
    if state_file is not None and not getattr(state_file.commit, "timed", False):
        # a file store: one transaction per batch (journal, stores, history; simulator/journal.py)
        commit = state_file.commit

        def timed_commit() -> None:
            started = perf_counter()
            commit()
            metrics.commits.observe(perf_counter() - started)
        timed_commit.timed = True  # type: ignore[attr-defined]
        state_file.commit = timed_commit
        return metrics
    stores = getattr(sim, "stores", None)
    if getattr(stores, "_db", None) is not None and not isinstance(stores._db, _TimedDb):
        stores._db = _TimedDb(stores._db, metrics.commits)
    return metrics


def exposition(sim: "Simulator") -> bytes:
    metrics = getattr(sim, "metrics", None)
    if metrics is None:
        metrics = sim.metrics = install(sim)
    return generate_latest(metrics.registry)
