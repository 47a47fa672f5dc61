"""The reference bot: a small, always-on Kalshi FIX client built on FixClient.

    python -m kalshi_fixsim.client.bot --session NR --host 127.0.0.1 --port 8228 \\
        --api-key KEY --key-file alice.pem --ca-file ca.pem --symbol KXTEST-26JAN01-A

Every flag defaults to its KALSHI_FIX_* environment variable, the conformance kit's client
contract (docs/conform.md), so `kalshi-fixsim conform --client-cmd 'python -m
kalshi_fixsim.client.bot'` grades it with no flags at all. It is also an example of what a
production client must do on each session type:

- every session: log on (FixClient signs the Logon, spec 01 §3), stay logged on, and after any
  disconnect reconnect with exponential backoff and jitter; on SIGTERM log out and exit 0;
- NR/RT (order entry): every `--interval` seconds cancel the orders that rest and send one new
  limit order on the symbol (spec 02 §3, §7); retry an EXCHANGE_UNAVAILABLE order with the
  same ClOrdID (spec 09 §7) and slow down after a rate-limit reject (380=8, spec 11);
- MD: after every Logon subscribe to the symbol (snapshot + updates) and keep its book (spec 07);
- DC: after every Logon ask for the executions since the last ExecID seen (35=U1, spec 04 §3);
- PT: reassemble the paginated MarketSettlementReports (35=UMS, spec 05 §4).

It logs one line per event to stderr (and to bot.log in --report-dir when given).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import signal
import sys
from decimal import Decimal
from pathlib import Path

from kalshi_fixsim.fixproto.codec import FixMessage
from kalshi_fixsim.fixproto.kalshi import SESSION_TYPES

from .dropcopy import event_resend_request, exec_id_key
from .orderbook import MarketDataBooks, MarketDataError, subscribe
from .orders import cancel_order, new_order
from .session import ConnectionClosed, FixClient, LogonError, LogonOptions
from .settlement import SettlementReassembler

__all__ = ["Bot", "backoff_delay", "main", "parse_args"]

log = logging.getLogger("kalshi_fixsim.bot")

ORDER_ENTRY = {"NR", "RT"}
DONE = {"2", "4", "8", "C"}  # OrdStatus of an order that no longer rests: filled, canceled, rejected, expired


def backoff_delay(attempt: int, rng: random.Random, base: float = 1.0, cap: float = 30.0) -> float:
    """Seconds before reconnect attempt `attempt` (0 = the first after a disconnect): exponential
    (1, 2, 4 ... 30 s) times a random factor in [1, 1.5), so the first retry is never sooner than
    `base` and clients dropped together never come back in step."""
    return min(cap, base * 2 ** min(attempt, 16)) * rng.uniform(1.0, 1.5)


class Bot:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.code = args.session.upper()
        self.rng = random.Random(args.seed)
        use_dollars = args.use_dollars or args.product == "margin"
        options = LogonOptions(use_dollars=use_dollars if args.product == "prediction" else None)
        if self.code in ORDER_ENTRY:
            options.cancel_orders_on_disconnect = True  # nothing rests while we cannot see it (spec 01 §7)
        # One FixClient for the whole run: its message store and reset rule carry RT/PT
        # sequence continuity across reconnects (spec 01 §5.1). Reconnects are ours (run()).
        self.fix = FixClient(product=args.product, session=self.code, host=args.host, port=args.port,
                             api_key=args.api_key, private_key=args.key_file, ca_file=args.ca_file,
                             heartbeat=args.heartbeat, options=options, rng=self.rng, reconnect=False)
        self.stopping = asyncio.Event()
        self.price = args.price or (("0.10" if use_dollars else "10") if args.product == "prediction" else "3000.0000")
        self.prefix = f"bot{self.rng.getrandbits(32):08x}"  # ClOrdIDs unique across restarts (spec 02 §12)
        self.orders_sent = 0
        self.resting: dict[str, int] = {}       # ClOrdID -> Side of our orders that rest
        self.retry: list[str] = []              # ClOrdIDs answered EXCHANGE_UNAVAILABLE, to resend
        self.retried: set[str] = set()          # ... and resent: ORDER_ALREADY_EXISTS means it lives
        self.slow_until = 0.0                   # loop time until which we send nothing (rate limit)
        self.books = MarketDataBooks()
        self.settlements = SettlementReassembler()
        self.last_exec: dict[int, str] = {}     # DC: exchange index -> last ExecID seen

    # --- the connection loop ---------------------------------------------------------------

    async def run(self) -> int:
        attempt = 0
        while not self.stopping.is_set():
            try:
                reply = await self._unless_stopped(self.fix.connect())
            except LogonError as exc:
                log.info("logon failed (%s): %s", exc.reason, exc.text)
            except _Stopped:
                break
            else:
                attempt = 0
                log.info("logged on %s %s seq=%s", self.args.product, self.code, reply.get(34))
                try:
                    self._after_logon()
                except ConnectionClosed:
                    pass  # gone already: the wait below sees it
                closed = self.fix.driver.closed
                duties = asyncio.ensure_future(self._duties())
                try:
                    gone = await self._unless_stopped(asyncio.shield(closed))
                    log.info("disconnected: %s %s", gone.reason, gone.text)
                except _Stopped:
                    break
                finally:
                    duties.cancel()
                self.resting.clear()  # CancelOrdersOnDisconnect: the venue cancelled them
                self.books = MarketDataBooks()  # MD: the next Logon brings a fresh snapshot
            delay = backoff_delay(attempt, self.rng)
            attempt += 1
            log.info("reconnecting in %.2f s (attempt %d)", delay, attempt)
            try:
                await self._unless_stopped(asyncio.sleep(delay))
            except _Stopped:
                break
        await self._shutdown()
        return 0

    async def _shutdown(self) -> None:
        """SIGTERM: Logout handshake if logged on (spec 01 §7), else just drop the socket."""
        if self.fix.is_active:
            log.info("SIGTERM: logging out")
            gone = await self.fix.logout(timeout=3.0)
            log.info("logged out: %s", gone.reason)
        elif self.fix.driver is not None and not self.fix.driver.closed.done():
            self.fix.driver.abort()
        log.info("exit")

    async def _unless_stopped(self, awaitable):
        """Await `awaitable`, or raise _Stopped (cancelling it) as soon as stop() is called."""
        task = asyncio.ensure_future(awaitable)
        stop = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if task.done():
            return task.result()
        task.cancel()
        raise _Stopped

    def stop(self) -> None:
        self.stopping.set()

    # --- per-session duties -----------------------------------------------------------------

    def _after_logon(self) -> None:
        if self.code == "MD":  # spec 07 §2: 263=1 snapshot + updates; NR-like, nothing survives a reconnect
            self.fix.send("V", subscribe([self.args.symbol]))
            log.info("subscribed to %s", self.args.symbol)
        elif self.code == "DC":  # spec 04 §3, §6: from the last ExecID processed (inclusive), per index
            for index in sorted(set(self.last_exec) | {0}):
                begin = self.last_exec.get(index) or ("0;0" if index == 0 else f"0;0;{index}")
                seq = self.fix.send("U1", event_resend_request(begin))
                log.info("EventResendRequest seq=%d from %s", seq, begin)

    async def _duties(self) -> None:
        tasks = [asyncio.ensure_future(self._read())]
        if self.code in ORDER_ENTRY:
            tasks.append(asyncio.ensure_future(self._trade()))
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def _trade(self) -> None:
        """Order entry: each tick cancel what rests, retry what the venue could not take, and send
        one new buy far from the market (a price valid on every grid: whole cents, spec 02 §2.1)."""
        loop = asyncio.get_running_loop()
        while self.fix.is_active:
            if loop.time() >= self.slow_until:
                self._tick()
            await asyncio.sleep(self.args.interval)

    def _tick(self) -> None:
        try:
            for cl_ord_id, side in list(self.resting.items()):
                self.orders_sent += 1
                self.fix.send("F", cancel_order(f"{self.prefix}-{self.orders_sent}", cl_ord_id,
                                                self.args.symbol, side))
                log.info("cancel %s", cl_ord_id)
                del self.resting[cl_ord_id]
            for cl_ord_id in self.retry:  # spec 09 §7: same ClOrdID, the venue de-duplicates
                self._send_order(cl_ord_id)
            self.retry.clear()
            self.orders_sent += 1
            self._send_order(f"{self.prefix}-{self.orders_sent}")
        except ConnectionClosed:
            pass  # the connection loop in run() takes over

    def _send_order(self, cl_ord_id: str) -> None:
        # CancelOrderOnPause: a pause cancels it (spec 02 §5.4), so nothing rests unseen meanwhile
        self.fix.send("D", new_order(cl_ord_id, self.args.symbol, "buy", self.price, 1, tif="gtc",
                                     cancel_on_pause=True))
        log.info("order %s buy 1 @ %s", cl_ord_id, self.price)

    async def _read(self) -> None:
        while True:
            msg = await self.fix.inbox.get()
            try:
                self._on_message(msg)
            except (ValueError, ArithmeticError) as exc:  # a venue field we cannot read: log, go on
                log.info("cannot use %s: %s", msg.msg_type, exc)

    def _on_message(self, msg: FixMessage) -> None:
        kind = msg.msg_type
        if kind == "8":
            self._on_report(msg)
        elif kind == "9":  # OrderCancelReject (spec 02 §10): already filled, cancelled or unknown
            log.info("cancel rejected %s: %s", msg.get(41), msg.get(58))
        elif kind == "j":
            log.info("business reject %s: %s", msg.get(380), msg.get(58))
            if msg.get(380) == "8":  # rate limited (spec 11): send nothing for a few intervals
                self.slow_until = asyncio.get_running_loop().time() + 5 * self.args.interval
        elif kind == "3":
            log.info("session reject ref=%s tag=%s: %s", msg.get(45), msg.get(371), msg.get(58))
        elif kind in ("W", "X"):
            try:
                for symbol in self.books.apply(msg):
                    book = self.books[symbol]
                    log.info("book %s bid %s ask %s", symbol, book.best_bid, book.best_ask)
            except MarketDataError as exc:
                log.info("bad market data: %s", exc)
        elif kind == "Y":
            log.info("market data rejected: %s", msg.get(58))
        elif kind in ("U2", "U3"):
            log.info("EventResend %s ref=%s count=%s reason=%s", "complete" if kind == "U2" else "rejected",
                     msg.get(45), msg.get(21003), msg.get(21004))
        elif kind == "UMS":
            batch = self.settlements.add(msg)
            log.info("settlement page %s of %s", msg.get(20105), msg.get(55))
            if batch is not None:
                log.info("settled %s %s at %s: %d parties", batch.symbol, batch.result, batch.price,
                         len(batch.parties))
        else:
            log.info("received %s", kind)

    def _on_report(self, msg: FixMessage) -> None:
        cl_ord_id, status, text = msg.get(11) or "", msg.get(39), msg.get(58)
        log.info("execution report %s exec_type=%s ord_status=%s%s", cl_ord_id, msg.get(150), status,
                 f" text={text}" if text else "")
        if self.code == "DC":
            key = exec_id_key(msg.get(17) or "")
            if key is not None:
                index = key[0]
                last = exec_id_key(self.last_exec.get(index, "")) if index in self.last_exec else None
                if last is None or key > last:
                    self.last_exec[index] = msg.get(17) or ""
            return
        if not cl_ord_id.startswith(self.prefix):
            return
        if status == "8" and text == "EXCHANGE_UNAVAILABLE":
            self.retry.append(cl_ord_id)  # spec 09 §7: its fate is unknown; resend it as it was
            self.retried.add(cl_ord_id)
        elif status == "8" and text == "ORDER_ALREADY_EXISTS" and cl_ord_id in self.retried:
            self.retried.discard(cl_ord_id)  # spec 02 §12: the first copy was booked after all
            self.resting[cl_ord_id] = int(msg.get(54) or 1)
        elif status in DONE:
            self.resting.pop(cl_ord_id, None)
        elif msg.get(41) is None and status in ("0", "1"):
            self.resting[cl_ord_id] = int(msg.get(54) or 1)


class _Stopped(Exception):
    """stop() was called while waiting."""


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"KALSHI_FIX_{name}", default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m kalshi_fixsim.client.bot",
                                description="The reference Kalshi FIX bot (docs/conform.md). "
                                            "Every flag defaults to its KALSHI_FIX_* environment variable.")
    p.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(_env("PORT", "0") or 0))
    p.add_argument("--api-key", default=_env("API_KEY"))
    p.add_argument("--key-file", default=_env("KEY_FILE"))
    p.add_argument("--ca-file", default=_env("CA_FILE"))
    p.add_argument("--session", default=_env("SESSION", "NR"), type=str.upper, choices=sorted(SESSION_TYPES))
    p.add_argument("--product", default=_env("PRODUCT", "prediction"), choices=("prediction", "margin"))
    p.add_argument("--symbol", default=_env("SYMBOL", "KXTEST-26JAN01-A"))
    p.add_argument("--heartbeat", type=int, default=int(_env("HEARTBEAT", "30") or 30))
    p.add_argument("--use-dollars", default=_env("USE_DOLLARS", "N"), choices=("Y", "N"))
    p.add_argument("--report-dir", default=_env("REPORT_DIR"))
    p.add_argument("--price", default=None, help="limit price (default 10 cents, 0.10 in dollars, 3000.0000 on margin)")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between orders (order entry)")
    p.add_argument("--seed", type=int, default=None, help="seed of the jitter and ClOrdID prefix")
    args = p.parse_args(argv)
    args.use_dollars = args.use_dollars == "Y"
    missing = [flag for flag, value in (("--api-key", args.api_key), ("--key-file", args.key_file)) if not value]
    if not args.port:
        missing.append("--port")
    if missing:
        p.error(f"{', '.join(missing)} required (or KALSHI_FIX_API_KEY / _KEY_FILE / _PORT)")
    if not Path(args.key_file).is_file():
        p.error(f"--key-file {args.key_file}: no such file (a PEM RSA private key)")
    if args.price is not None:
        try:
            Decimal(args.price)
        except ArithmeticError:
            p.error(f"--price {args.price}: not a number")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if args.report_dir:
        Path(args.report_dir).mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(Path(args.report_dir) / "bot.log"))
    logging.basicConfig(level=logging.INFO, handlers=handlers,
                        format="%(asctime)s.%(msecs)03d bot %(message)s", datefmt="%H:%M:%S")

    async def body() -> int:
        bot = Bot(args)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, bot.stop)
        return await bot.run()

    return asyncio.run(body())


if __name__ == "__main__":
    sys.exit(main())
