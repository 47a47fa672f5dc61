"""The venue a conformance run plays: a simulator thread on 127.0.0.1 port 0 with TLS, the test
venue's accounts plus a fresh `subject` (the client under test; or the user's own key with
`--api-key/--public-key`), its key and the CA written to a folder the client can read.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from ..scenario.external import ConnFeed, watch_feed
from ..scenario.venues import ThreadVenue

__all__ = ["KitVenue", "ConformVenue", "start_venue", "SUBJECT"]

SUBJECT = "subject"


@dataclass
class KitVenue:
    thread: object          # SimulatorThread
    accounts: dict          # name -> TestAccount (subject included)
    ca_file: Path
    key_file: Path | None   # the subject's private key (None: the user's own key, not given)
    api_key: str
    folder: Path

    @property
    def sim(self):
        return self.thread.sim

    def endpoint(self, product: str, session: str):
        return self.sim.endpoint(product, session)

    def stop(self) -> None:
        self.thread.stop()


def start_venue(folder: Path, *, api_key: str | None = None, public_key: Path | None = None,
                private_key: Path | None = None) -> KitVenue:
    """Keys, certificates and the simulator; raises ValueError (one line) on a bad key file."""
    from ..certs import make_dev_certs
    from ..config import AccountConfig
    from ..keys import load_public_key, new_key_pair
    from ..server import SimulatorThread
    from ..testvenue import TEST_ACCOUNTS, TestAccount, make_test_config

    folder.mkdir(parents=True, exist_ok=True)
    certs = make_dev_certs(folder / "certs", overwrite=True)
    keys = folder / "keys"
    accounts: dict = {}
    base = dict(products=("prediction", "margin"), sessions=("NR", "DC", "RT", "PT", "RFQ", "MD"), tier="basic",
                balance=Decimal("1000.00"), subaccount=None, read_only=False)
    for name, overrides in [(SUBJECT, {})] + [(n, o) for n, o in TEST_ACCOUNTS.items()]:
        if name == SUBJECT and api_key:
            if public_key is None:
                raise ValueError("--api-key needs --public-key FILE (the PEM public key registered for it)")
            try:
                pem = Path(public_key).read_bytes()
                load_public_key(pem)
            except (OSError, ValueError) as exc:
                raise ValueError(f"--public-key {public_key}: {exc}; give the PEM RSA public key of --api-key") from None
            fields = dict(base, name=name, api_key=api_key, public_key_pem=pem)
            accounts[name] = TestAccount(name, api_key, Path(private_key) if private_key else Path(""),
                                         AccountConfig(**fields))
            continue
        pair = new_key_pair(keys, name, overwrite=True)
        fields = dict(base, name=name, api_key=pair.api_key, public_key_pem=pair.public_key_path.read_bytes())
        fields.update(overrides)
        accounts[name] = TestAccount(name, pair.api_key, pair.private_key_path, AccountConfig(**fields))
    from ..config import TlsConfig
    tls = TlsConfig(enabled=True, cert=certs.cert, key=certs.key, ca=certs.ca)
    config = make_test_config(accounts, tls)
    config = dataclasses.replace(config, rate_limits=dataclasses.replace(config.rate_limits, enabled=False))
    thread = SimulatorThread(config)
    thread.start()
    subject = accounts[SUBJECT]
    key_file = subject.private_key_path if str(subject.private_key_path) else None
    return KitVenue(thread, accounts, certs.ca, key_file, subject.api_key, folder)


class ConformVenue(ThreadVenue):
    """ThreadVenue sharing the run's connection feed; external sessions start from now."""

    since_now = True

    def __init__(self, kit: KitVenue, feed: ConnFeed) -> None:
        super().__init__(kit.thread, kit.accounts, kit.ca_file)
        self.feed = feed


def start_feed(kit: KitVenue) -> ConnFeed:
    """The run's connection events (on the caller's loop), from before the client starts."""
    feed = ConnFeed()
    watch_feed(kit.thread.loop, kit.sim, feed, journal=False)
    return feed
