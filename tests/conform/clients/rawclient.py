"""A raw-socket Kalshi FIX initiator with one deliberate bug per flag, for grading the kit.

    python tests/conform/clients/rawclient.py [--bug NAME]   (settings: KALSHI_FIX_* env vars)

Without --bug it is a correct client that shares no code with kalshi_fixsim (wire format in
rawfix.py): signed Logon (spec 01 §3), heartbeats and TestRequest (§4), sequence checks with
ResendRequest on RT/PT and reconnect-with-reset elsewhere (§5, §6), resend with PossDup and gap
fill, SequenceReset, Logout handshake (§7), reconnect with backoff and jitter, and the duties
of docs/conform.md (orders on NR/RT, subscription on MD, EventResendRequest on DC).
Each --bug breaks exactly one of those rules (BUGS below). Logs go to stderr, one line each.
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import ssl
import sys
import time

from rawfix import ADMIN, Framer, Message, encode, load_key, sign_logon, utc_now

BUGS = {
    "no-heartbeats": "never sends a Heartbeat when idle",
    "ignore-test-request": "does not answer the venue's TestRequest",
    "no-gap-detection": "accepts any MsgSeqNum above the expected one as if nothing was missed",
    "gapfill-over-app-messages": "answers a ResendRequest with one gap fill, even over its orders",
    "no-backoff": "reconnects at once after every disconnect",
    "ignore-logout": "does not answer the venue's Logout",
    "wrong-reset-flag-on-relogon": "re-logs on with the reset rule of the other session family",
    "reuse-clordid": "sends every NewOrderSingle with the same ClOrdID",
    "dollars-on-cents": "sends prices in dollars on a cents session",
    "stuck-resend-after-reconnect": "after a reconnect never asks again for a gap it asked for before",
}
RETRANSMISSION = {"RT", "PT"}   # spec 01 §5.1: the others reset on every Logon
ORDER_ENTRY = {"NR", "RT"}


def log(text: str) -> None:
    print(f"{utc_now()[9:]} raw {text}", file=sys.stderr, flush=True)


class Disconnected(Exception):
    pass


class Client:
    def __init__(self, args: argparse.Namespace) -> None:
        self.a = args
        self.bug = args.bug
        self.key = load_key(args.key_file)
        self.rng = random.Random(args.seed)
        self.target = args.target_comp_id or f"Kalshi{args.session}"
        self.out_seq, self.in_seq = 1, 1
        self.store: dict[int, tuple[str, list, str]] = {}  # our app messages: seq -> (type, body, 52)
        self.logons = 0
        self.resend_pending = False      # a ResendRequest of ours is outstanding
        self.resend_until = 0            # ... and this is the highest MsgSeqNum it must bring
        self.stopping = False
        self.sock: ssl.SSLSocket | None = None
        self.logged_on = False
        self.force_reset = False
        self.last_sent = self.last_recv = 0.0
        self.order_n = 0
        self.resting: list[str] = []
        self.orders: dict[str, list] = {}  # ClOrdID -> NewOrderSingle body (for a retry)
        self.retry: list[str] = []
        self.slow_until = 0.0              # rate limited (380=8, spec 11): no new orders until then
        self.last_exec: dict[int, tuple] = {}  # DC: exchange index -> the last ExecID seen
        self.prefix = f"raw{self.rng.getrandbits(32):08x}"

    # --- wire -------------------------------------------------------------------------------

    def send(self, msg_type: str, body: list[tuple[int, object]], *, seq: int | None = None,
             extra_header: list[tuple[int, object]] = ()) -> int:
        if seq is None:
            seq, self.out_seq = self.out_seq, self.out_seq + 1
        sending_time = utc_now()
        header = [(35, msg_type), (49, self.a.api_key), (56, self.target), (34, seq), (52, sending_time),
                  *extra_header]
        if msg_type == "A":
            signature = sign_logon(self.key, sending_time, seq, self.a.api_key, self.target)
            body = [*body[:2], (95, len(signature)), (96, signature), *body[2:]]
        if msg_type not in ADMIN and not extra_header:
            self.store[seq] = (msg_type, body, sending_time)
        self.sock.sendall(encode([(t, str(v)) for t, v in header + list(body)]))
        self.last_sent = time.monotonic()
        return seq

    # --- one connection ---------------------------------------------------------------------

    def session(self) -> None:
        """Connect, log on, and run until the connection ends (raises Disconnected)."""
        ctx = ssl.create_default_context(cafile=self.a.ca_file)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        raw = socket.create_connection((self.a.host, self.a.port), timeout=10)
        self.sock = ctx.wrap_socket(raw, server_hostname=self.a.host)
        self.sock.settimeout(0.1)
        self.framer = Framer()
        if self.bug == "stuck-resend-after-reconnect" and self.resend_pending:
            self.resend_until = sys.maxsize  # the bug: the old connection's request stays "pending" for ever
        else:
            self.resend_pending, self.resend_until = False, 0  # a new connection: ask again for any gap
        reset = self.a.session not in RETRANSMISSION or self.logons == 0 or self.force_reset
        self.force_reset = False
        if self.bug == "wrong-reset-flag-on-relogon" and self.logons > 0:
            reset = not reset
        if reset:
            self.out_seq, self.in_seq = 1, 1
            self.store.clear()
        body = [(98, 0), (108, self.a.heartbeat)]
        if reset:
            body.append((141, "Y"))
        body.append((1137, 9))
        if self.a.session in ORDER_ENTRY:
            body.append((8013, "Y"))  # CancelOrdersOnDisconnect: nothing rests while we are away (spec 01 §7)
        if self.a.use_dollars == "Y" and self.a.product == "prediction":
            body.append((21005, "Y"))
        self.send("A", body)
        log(f"logon sent seq={self.out_seq - 1} reset={'Y' if reset else 'N'}")
        self.logged_on = False
        self.logout_sent_at: float | None = None
        self.last_recv = time.monotonic()
        self.test_req: str | None = None
        self.next_order = 0.0
        deadline = time.monotonic() + 10
        while True:
            now = time.monotonic()
            if self.stopping and self.logout_sent_at is None:
                if not self.logged_on:
                    raise Disconnected("stopping before the Logon reply")
                self.logout("")
            if not self.logged_on and now > deadline:
                raise Disconnected("no Logon reply in 10 s")
            try:
                data = self.sock.recv(65536)
                if not data:
                    raise Disconnected("connection closed by the venue")
            except socket.timeout:
                data = b""
            except (OSError, ssl.SSLError) as exc:
                raise Disconnected(f"connection error: {exc}") from None
            if data:
                self.last_recv = time.monotonic()
                for msg in self.framer.feed(data):
                    self.on_message(msg)
            self.timers()

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None

    def logout(self, text: str) -> None:
        self.send("5", [(58, text)] if text else [])
        self.logout_sent_at = time.monotonic()
        log(f"logout sent {text}")

    def timers(self) -> None:
        now, hb = time.monotonic(), self.a.heartbeat
        if self.logout_sent_at is not None:
            if now - self.logout_sent_at > 3:
                raise Disconnected("no Logout answer in 3 s")
            return
        if not self.logged_on:
            return
        if now - self.last_sent >= hb and self.bug != "no-heartbeats":
            self.send("0", [])
        silence = now - self.last_recv
        if silence >= 2 * hb:  # spec 01 §4: the peer is gone
            log(f"no message for {silence:.1f} s: disconnecting")
            raise Disconnected("peer silent")
        if silence >= 1.2 * hb and self.test_req is None:
            self.test_req = f"RAW{int(time.time())}"
            self.send("1", [(112, self.test_req)])
            log(f"TestRequest {self.test_req} after {silence:.1f} s of silence")
        if self.a.session in ORDER_ENTRY and now >= self.next_order:
            self.next_order = now + self.a.interval
            self.trade()

    # --- inbound ----------------------------------------------------------------------------

    def on_message(self, msg: Message) -> None:
        kind, seq = msg.type, msg.seq
        self.test_req = None  # any message proves the venue alive
        if msg.get(49) != self.target or msg.get(56) != self.a.api_key or seq == 0:
            log(f"ignored a frame with wrong CompIDs or no MsgSeqNum: {msg.show()[:80]}")
            return
        poss_dup = msg.get(43) == "Y"
        if poss_dup and msg.get(122) is None and kind != "4":  # spec 01 §6: resent without 122
            self.send("3", [(45, seq), (371, 122), (372, kind), (373, 1),
                            (58, "Required tag missing: OrigSendingTime(122) on a PossDup message")])
            log(f"rejected PossDup seq={seq} without OrigSendingTime")
            self.in_seq = max(self.in_seq, seq + 1)
            return
        if kind == "4" and msg.get(123) != "Y":  # SequenceReset-Reset: seq number ignored
            self.sequence_reset(msg)
            return
        if kind == "5" and not self.logged_on:  # our Logon refused: its Text says why (spec 01 §2.3)
            text = msg.get(58, "")
            if any(word in text.lower() for word in ("resetseqnumflag", "sequence", "msgseqnum")):
                self.force_reset = True  # RT/PT: the venue reset its side (maintenance, spec 01 §5)
            raise Disconnected(f"logon refused: {text}")
        if kind == "A" and not self.logged_on:
            self.logged_on = True
            self.logons += 1
            log(f"logged on {self.a.product} {self.a.session} seq={seq}")
            self.after_logon()
        if seq < self.in_seq:
            if poss_dup:
                log(f"duplicate seq={seq} discarded")
                return
            text = f"MsgSeqNum too low, expecting {self.in_seq} but received {seq}"
            self.logout(text)
            raise Disconnected(text)
        if seq > self.in_seq:
            if self.bug == "no-gap-detection":
                self.in_seq = seq
            elif self.gap(msg):
                return
        self.in_seq = seq + 1
        if self.resend_pending and self.in_seq > self.resend_until:
            self.resend_pending = False
            log("gap filled")
        self.handle(msg)

    def gap(self, msg: Message) -> bool:
        """A message above the expected number. True: it is not processed now (it comes again)."""
        log(f"gap: expected seq={self.in_seq}, received {msg.seq}")
        if self.a.session not in RETRANSMISSION:  # spec 01 §5 rule 4: unrecoverable, reset
            self.logout(f"MsgSeqNum gap, expecting {self.in_seq} but received {msg.seq}")
            raise Disconnected("sequence gap")
        self.resend_until = max(self.resend_until, msg.seq)
        if not self.resend_pending:
            self.resend_pending = True
            self.send("2", [(7, self.in_seq), (16, 0)])
            log(f"ResendRequest {self.in_seq}..0")
        if msg.type == "5":
            self.handle(msg)
        elif msg.type == "1":
            self.handle(msg)
        return True

    def handle(self, msg: Message) -> None:
        kind = msg.type
        if kind == "1":
            log(f"TestRequest {msg.get(112)} from the venue")
            if self.bug == "ignore-test-request":
                return
            self.send("0", [(112, msg.get(112, ""))])
        elif kind == "2":
            self.resend(msg)
        elif kind == "4":
            self.sequence_reset(msg)
        elif kind == "5":
            if self.logout_sent_at is not None:
                log("logout answered")
                raise Disconnected("logged out")
            log(f"venue logout: {msg.get(58, '')}")
            if self.bug == "ignore-logout":
                return
            # FIX 13b: answer, then let the venue close (closing first, with its reports still
            # unread, resets the connection and the venue may never read the answer)
            self.logout("")
        elif kind == "3":
            log(f"session reject ref={msg.get(45)} tag={msg.get(371)}: {msg.get(58)}")
        elif kind == "8":
            self.on_report(msg)
        elif kind == "j" and msg.get(380) == "8":
            self.slow_until = time.monotonic() + 5 * self.a.interval
            log(f"rate limited: {msg.get(58)}")
        elif kind not in ("0", "A"):
            log(f"received {kind}" + (f" {msg.get(58)}" if msg.get(58) else ""))

    def sequence_reset(self, msg: Message) -> None:
        new = msg.get(36, "")
        new_seq = int(new) if new.isdigit() else 0
        if new_seq < self.in_seq and msg.get(123) != "Y":
            self.send("3", [(45, msg.seq), (371, 36), (372, "4"), (373, 5),
                            (58, f"NewSeqNo {new_seq} is below the expected {self.in_seq}")])
            return
        self.in_seq = max(self.in_seq, new_seq)
        log(f"sequence reset to {self.in_seq}")
        if self.resend_pending and self.in_seq > self.resend_until:
            self.resend_pending = False
            log("gap filled")

    def resend(self, msg: Message) -> None:
        """Venue ResendRequest: replay our orders with PossDup, gap-fill the admin runs (spec 01 §6)."""
        begin = int(msg.get(7, "1") or 1)
        end = int(msg.get(16, "0") or 0)
        last = self.out_seq - 1 if end == 0 or end >= self.out_seq else end
        log(f"ResendRequest from the venue {begin}..{end}")
        if self.bug == "gapfill-over-app-messages":
            self.gap_fill(begin, last + 1)
            return
        seq, fill_from, replayed = begin, None, 0
        while seq <= last:
            stored = self.store.get(seq)
            if stored is None:
                fill_from = seq if fill_from is None else fill_from
            else:
                if fill_from is not None:
                    self.gap_fill(fill_from, seq)
                    fill_from = None
                msg_type, body, orig = stored
                self.send(msg_type, body, seq=seq, extra_header=[(43, "Y"), (122, orig)])
                replayed += 1
            seq += 1
        if fill_from is not None:
            self.gap_fill(fill_from, last + 1)
        log(f"resent {replayed} messages of {begin}..{last}")

    def gap_fill(self, first: int, next_seq: int) -> None:
        self.send("4", [(123, "Y"), (36, next_seq)], seq=first, extra_header=[(43, "Y"), (122, utc_now())])

    # --- duties -----------------------------------------------------------------------------

    def after_logon(self) -> None:
        symbol = self.a.symbol
        if self.a.session == "MD":  # spec 07 §2: snapshot + updates
            self.send("V", [(263, 1), (146, 1), (55, symbol)])
        elif self.a.session == "DC":  # spec 04 §3, §6: from the last ExecID seen (inclusive), per index
            for index in sorted(set(self.last_exec) | {0}):
                last = self.last_exec.get(index)
                begin = ";".join(map(str, last)) if last else ("0;0" if index == 0 else f"0;0;{index}")
                self.send("U1", [(21001, begin)])

    def trade(self) -> None:
        """Cancel what rests, then one limit buy far from the market (spec 02 §3, §7)."""
        for cl_ord_id in self.resting:
            self.order_n += 1
            self.send("F", [(11, f"{self.prefix}-{self.order_n}"), (41, cl_ord_id), (54, 1),
                            (55, self.a.symbol)])
        self.resting.clear()
        if time.monotonic() < self.slow_until:
            return
        for cl_ord_id, body in [(c, self.orders[c]) for c in self.retry if c in self.orders]:
            self.send("D", body)
            log(f"order {cl_ord_id} sent again")
        self.retry.clear()
        self.order_n += 1
        cl_ord_id = f"{self.prefix}-{self.order_n}"
        if self.bug == "reuse-clordid":
            cl_ord_id = f"{self.prefix}-same"
        dollars = self.a.product == "margin" or self.a.use_dollars == "Y"
        price = "3000.0000" if self.a.product == "margin" else "0.10" if dollars else "10"
        if self.bug == "dollars-on-cents" and not dollars:
            price = "0.10"
        body = [(11, cl_ord_id), (38, 1), (40, 2), (44, price), (54, 1), (55, self.a.symbol), (59, 1),
                (21006, "Y")]  # CancelOrderOnPause (spec 02 §5.4)
        self.orders[cl_ord_id] = body
        self.send("D", body)
        log(f"order {cl_ord_id} buy 1 @ {price}")

    def on_report(self, msg: Message) -> None:
        cl_ord_id, status, text = msg.get(11, ""), msg.get(39), msg.get(58, "")
        log(f"execution report {cl_ord_id} {msg.get(150)}/{status} {text}".rstrip())
        parts = msg.get(17, "").split(";")  # ExecID clock;event[;index]: ordered by numbers (spec 02 §8.2)
        if self.a.session == "DC" and len(parts) in (2, 3) and all(p.isdigit() and len(p) < 19 for p in parts):
            key = tuple(int(p) for p in parts)
            index = key[2] if len(key) == 3 else 0
            if key > self.last_exec.get(index, ()):
                self.last_exec[index] = key
            return
        if status == "8" and text == "EXCHANGE_UNAVAILABLE":  # spec 09 §7: unknown fate, resend as is
            self.retry.append(cl_ord_id)
        elif (status == "0" and msg.get(41) is None or status == "8" and text == "ORDER_ALREADY_EXISTS") \
                and cl_ord_id not in self.resting:  # the latter: a retried order was booked after all
            self.resting.append(cl_ord_id)
        elif status in ("2", "4", "C"):  # filled, cancelled (by us or the venue), expired: it is over
            for done in (cl_ord_id, msg.get(41)):
                self.orders.pop(done, None)
                if done in self.resting:
                    self.resting.remove(done)

    # --- process ----------------------------------------------------------------------------

    def run(self) -> int:
        attempt = 0
        while not self.stopping:
            try:
                log(f"connecting to {self.a.host}:{self.a.port}")
                self.session()
            except Disconnected as exc:
                log(f"disconnected: {exc}")
            except (OSError, ssl.SSLError) as exc:
                log(f"cannot connect: {exc}")
            finally:
                self.close()
            if self.logged_on:
                attempt = 0
                self.logged_on = False
            if self.stopping:
                break
            delay = 0.05 if self.bug == "no-backoff" else \
                min(30.0, 2.0 ** min(attempt, 16)) * self.rng.uniform(1.0, 1.5)
            attempt += 1
            log(f"reconnecting in {delay:.2f} s")
            until = time.monotonic() + delay
            while time.monotonic() < until and not self.stopping:
                time.sleep(max(0.0, min(0.1, until - time.monotonic())))  # the clock moved since the test
        log("exit")
        return 0


def main() -> int:
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bug", choices=sorted(BUGS), help="; ".join(f"{k}: {v}" for k, v in BUGS.items()))
    p.add_argument("--host", default=env("KALSHI_FIX_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("KALSHI_FIX_PORT", "0")))
    p.add_argument("--api-key", default=env("KALSHI_FIX_API_KEY"))
    p.add_argument("--key-file", default=env("KALSHI_FIX_KEY_FILE"))
    p.add_argument("--ca-file", default=env("KALSHI_FIX_CA_FILE"))
    p.add_argument("--session", default=env("KALSHI_FIX_SESSION", "NR"))
    p.add_argument("--target-comp-id", default=env("KALSHI_FIX_TARGET_COMP_ID"))
    p.add_argument("--product", default=env("KALSHI_FIX_PRODUCT", "prediction"))
    p.add_argument("--symbol", default=env("KALSHI_FIX_SYMBOL", "KXTEST-26JAN01-A"))
    p.add_argument("--heartbeat", type=int, default=int(env("KALSHI_FIX_HEARTBEAT", "30")))
    p.add_argument("--use-dollars", default=env("KALSHI_FIX_USE_DOLLARS", "N"))
    p.add_argument("--interval", type=float, default=1.0)
    p.add_argument("--seed", type=int)
    args = p.parse_args()
    if not (args.api_key and args.key_file and args.port):
        p.error("--api-key, --key-file and --port (or KALSHI_FIX_API_KEY, _KEY_FILE, _PORT) are required")
    client = Client(args)
    if args.bug:
        log(f"bug: {args.bug} ({BUGS[args.bug]})")

    def stop(*_):
        client.stopping = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return client.run()


if __name__ == "__main__":
    sys.exit(main())
