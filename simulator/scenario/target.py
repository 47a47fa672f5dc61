"""`--target HOST:PORT` / `--target-config FILE`: the venue a portable run talks to.

    host: fix.demo.kalshi.co          # required (or --target)
    server_hostname: null             # TLS name, default host
    ca: null                          # a CA file; default: the system's trust store
    ports: {NR: 8228, RT: 8230}       # per session; or per product: {prediction: {NR: ..}, margin: {..}}
    accounts:                         # scenario account name -> key (paths relative to this file)
      alice: {api_key: "...", private_key: keys/alice.pem}
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import yaml


class TargetError(ValueError):
    pass


@dataclass
class Target:
    host: str
    ports: dict = field(default_factory=dict)   # (product, session) -> port; ("*", "*") for all
    ca_file: Path | None = None
    server_hostname: str | None = None
    accounts: dict = field(default_factory=dict)

    def address(self, product: str, session: str) -> tuple[str, int]:
        for key in ((product, session), ("*", session), ("*", "*")):
            if key in self.ports:
                return self.host, self.ports[key]
        raise TargetError(f"the target has no port for {product}/{session} (ports: in the target config)")


def load_target(address: str | None, config: str | None) -> Target:
    data: dict = {}
    base = Path(".")
    if config:
        path = Path(config)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise TargetError(f"--target-config {config}: cannot read it ({exc})") from None
        if not isinstance(data, dict):
            raise TargetError(f"--target-config {config}: expected a mapping (host, ports, ca, accounts)")
        base = path.parent
    target = Target(host=str(data.get("host") or ""), server_hostname=data.get("server_hostname"))
    if data.get("ca"):
        target.ca_file = base / str(data["ca"])
    for key, value in (data.get("ports") or {}).items():
        if isinstance(value, dict):
            for session, port in value.items():
                target.ports[(str(key), str(session).upper())] = int(port)
        else:
            target.ports[("*", str(key).upper())] = int(value)
    for name, spec in (data.get("accounts") or {}).items():
        if not isinstance(spec, dict) or "api_key" not in spec or "private_key" not in spec:
            raise TargetError(f"--target-config {config}: accounts.{name}: expected {{api_key, private_key}}")
        target.accounts[name] = SimpleNamespace(api_key=str(spec["api_key"]),
                                                private_key_path=base / str(spec["private_key"]))
    if address:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise TargetError(f"--target {address}: expected HOST:PORT")
        target.host = host
        target.ports[("*", "*")] = int(port)
    if not target.host:
        raise TargetError("--target-config: host: missing (or give --target HOST:PORT)")
    if not target.accounts:
        raise TargetError("a target run needs API keys: give --target-config with accounts: "
                          "{alice: {api_key, private_key}} (docs/scenarios.md)")
    return target
