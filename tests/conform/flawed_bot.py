"""The reference bot with one flaw each, for the conform cases of the order-entry, market-data,
drop-copy and post-trade profiles (each flaw fails the case it names; the tests grade that case):

    python tests/conform/flawed_bot.py --flaw retry-hot [bot flags]   (KALSHI_FIX_* env vars)
"""
from __future__ import annotations

import asyncio
import sys

from kalshi_fixsim.client import bot as reference
from kalshi_fixsim.client.dropcopy import event_resend_request
from kalshi_fixsim.client.orders import cancel_order

FLAWS = {
    "retry-hot": "OE02: answers BusinessMessageReject 380=8 by resending the order at once",
    "forget-unavailable": "OE03: takes EXCHANGE_UNAVAILABLE as a failure and forgets the order",
    "drop-late-reports": "OE04: ignores a report that comes more than 2 s after its order",
    "ignore-unsolicited-cancel": "OE06: keeps an order the venue cancelled unasked as resting",
    "retry-cancel-reject": "OE07: cancels again after an OrderCancelReject",
    "count-possresend": "OE10: takes a PossResend copy of a report for another order and cancels twice",
    "hammer-on-pause": "OE08: answers TRADING_PAUSED with a new order at once",
    "subscribe-once": "MD02: subscribes only after its first Logon",
    "bad-md-request": "MD01: sends MarketDataRequest without NoRelatedSym/Symbol",
    "dc-from-start": "DC02: asks drop copy from 0;0 after every reconnect",
    "bad-exec-id": "DC01: sends BeginExecID(21001)=latest",
    "reject-pages": "PT01: answers a UMS page with LastFragment(893)=N with a session Reject",
}
_CAP = 60  # hot loops stop here (enough to show the flaw, not to flood a test's journal)


class _Forgetful(dict):
    def __contains__(self, key) -> bool:
        return False


class FlawedBot(reference.Bot):
    def __init__(self, args, flaw: str) -> None:
        super().__init__(args)
        self.flaw = flaw
        self.hot = 0
        self.sent_at: dict[str, float] = {}
        self.logons = 0
        if flaw == "count-possresend":  # FixClient drops PossResend copies of known ExecIDs: let them in
            self.fix._exec_ids = _Forgetful()  # noqa: SLF001

    def _send_order(self, cl_ord_id: str) -> None:
        self.sent_at.setdefault(cl_ord_id, asyncio.get_running_loop().time())
        super()._send_order(cl_ord_id)

    def _new_order_now(self) -> None:
        self.hot += 1
        self.orders_sent += 1
        self._send_order(f"{self.prefix}-{self.orders_sent}")

    def _after_logon(self) -> None:
        self.logons += 1
        if self.flaw == "subscribe-once" and self.logons > 1:
            return
        if self.flaw == "bad-md-request" and self.code == "MD":
            self.fix.send("V", [(263, "1")])
            return
        if self.flaw == "bad-exec-id" and self.code == "DC":
            self.fix.send("U1", event_resend_request("latest"))
            return
        if self.flaw == "dc-from-start":
            self.last_exec.clear()
        super()._after_logon()

    def _on_message(self, msg) -> None:
        kind = msg.msg_type
        if self.flaw == "retry-hot" and kind == "j" and msg.get(380) == "8" and self.hot < _CAP:
            self.hot += 1
            self._send_order(msg.get(379) or f"{self.prefix}-hot{self.hot}")
            return  # and no slowing down
        if self.flaw == "retry-cancel-reject" and kind == "9":
            self.resting[msg.get(41) or ""] = 1
        if self.flaw == "reject-pages" and kind == "UMS" and msg.get(893) == "N":
            self.fix.send("3", [(45, msg.get(34) or "0"), (371, 893), (372, "UMS"), (373, 5),
                                (58, "unexpected LastFragment")])
        super()._on_message(msg)

    def _on_report(self, msg) -> None:
        cl, status, text = msg.get(11) or "", msg.get(39), msg.get(58)
        if self.flaw == "forget-unavailable" and text == "EXCHANGE_UNAVAILABLE":
            return
        if self.flaw == "hammer-on-pause" and text == "TRADING_PAUSED" and self.hot < _CAP:
            self._new_order_now()
            return
        if self.flaw == "drop-late-reports" and status in ("0", "1") and cl in self.sent_at \
                and asyncio.get_running_loop().time() - self.sent_at[cl] > 2.0:
            return
        if self.flaw == "ignore-unsolicited-cancel" and status == "4" and msg.get(41) is None:
            return
        if self.flaw == "count-possresend" and msg.get(97) == "Y" and status == "0" and cl.startswith(self.prefix):
            self.orders_sent += 1  # "another" order rests: cancel it now (the tick cancels the first)
            self.fix.send("F", cancel_order(f"{self.prefix}-{self.orders_sent}", cl, self.args.symbol,
                                            int(msg.get(54) or 1)))
            return
        super()._on_report(msg)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--flaw" not in argv or argv.index("--flaw") + 1 >= len(argv):
        print("usage: flawed_bot.py --flaw NAME [bot flags]; flaws: " + ", ".join(FLAWS), file=sys.stderr)
        return 2
    i = argv.index("--flaw")
    flaw = argv[i + 1]
    del argv[i:i + 2]
    if flaw not in FLAWS:
        print(f"--flaw: unknown {flaw!r}; expected one of {', '.join(FLAWS)}", file=sys.stderr)
        return 2
    original = reference.Bot
    reference.Bot = lambda args: FlawedBot(args, flaw)  # main() builds its Bot through this name
    try:
        return reference.main(argv)
    finally:
        reference.Bot = original


if __name__ == "__main__":
    sys.exit(main())
