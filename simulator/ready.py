"""The ready file: what a running `serve` bound, as JSON, for CI scripts and other languages.

`serve` writes it atomically (temp file + rename) once every listener is bound, so a script
can wait for the file to appear and then read the real ports (port 0 in the config), and
removes it when it stops. The CLI's own `client` and `ctl` commands read it to find a
running simulator of a config. Default place: `state/<config stem>.ready.json` beside the
config (`serve --ready-file PATH` to choose). Format (version 1):

    {"version": 1, "pid": 4242, "config": "/abs/sim.yaml", "tls": true,
     "products": {"prediction": {"NR": {"host": "127.0.0.1", "port": 40123,
                                        "target_comp_id": "KalshiNR", "tls": true}, ...},
                  "margin": {...}},
     "control_url": "http://127.0.0.1:40200",          # null when the control plane is off
     "ca_file": "/abs/certs/ca.pem",                     # null in plaintext
     "accounts": [{"name": "alice", "api_key": "...", "private_key": "/abs/keys/alice.pem"}]}

`private_key` is null when the key is not in `keys/` beside the config (the simulator only
ever holds public keys).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .keys import atomic_write

__all__ = ["VERSION", "default_path", "ready_document", "write", "remove", "read", "ReadyFileError"]

VERSION = 1


class ReadyFileError(ValueError):
    """No usable ready file (missing, stale or malformed); the message says what to do."""


def default_path(config_path: Path | str) -> Path:
    """state/<stem>.ready.json beside the config (the folder of the sample's SQLite store)."""
    config_path = Path(config_path).absolute()
    return config_path.parent / "state" / f"{config_path.stem}.ready.json"


def private_key_path(config_path: Path | None, name: str) -> Path | None:
    """keys/<name>.pem beside the config, where init and `keys new` put it, if it is there."""
    if config_path is None:
        return None
    path = Path(config_path).absolute().parent / "keys" / f"{name}.pem"
    return path if path.is_file() else None


def ready_document(sim: Any, config_path: Path | None) -> dict:
    """The ready file's content for a started Simulator."""
    config = sim.config
    products: dict[str, dict[str, dict]] = {}
    for ep in sim.endpoints.values():
        products.setdefault(ep.product, {})[ep.session] = {
            "host": ep.host, "port": ep.port, "target_comp_id": ep.comp_id, "tls": ep.tls}
    control = sim.control_server
    tls = any(ep.tls for ep in sim.endpoints.values())
    accounts = []
    for account in config.accounts:
        key = private_key_path(config_path, account.name)
        accounts.append({"name": account.name, "api_key": account.api_key,
                         "private_key": str(key) if key is not None else None})
    return {
        "version": VERSION,
        "pid": os.getpid(),
        "config": str(Path(config_path).absolute()) if config_path is not None else None,
        "tls": tls,
        "products": products,
        "control_url": f"http://127.0.0.1:{control.port}" if control is not None else None,
        "ca_file": str(Path(config.tls.ca).absolute()) if tls else None,
        "accounts": accounts,
    }


def write(path: Path | str, document: dict) -> Path:
    """Write atomically: a reader sees no file or the whole file, never part of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(document, indent=2) + "\n").encode("utf-8"), 0o644)
    return path


def remove(path: Path | str) -> None:
    """Remove the file if it is still this process's (another serve may have replaced it)."""
    path = Path(path)
    try:
        if json.loads(path.read_text(encoding="utf-8")).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists, owned by someone else (or the platform cannot tell)
    return True


def _shown(path: Path) -> str:
    """Relative to the current folder when below it (as the user would type it)."""
    try:
        rel = os.path.relpath(Path(path).absolute())
    except ValueError:
        return str(path)
    return rel if not rel.startswith("..") else str(Path(path).absolute())


def read(path: Path | str) -> dict:
    """The ready file of a running simulator; ReadyFileError if there is none."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReadyFileError(f"there is no ready file {_shown(path)} (is `kalshi-fixsim serve` running for this "
                             f"config?)") from None
    except (OSError, ValueError) as exc:
        raise ReadyFileError(f"{_shown(path)}: unreadable ready file ({exc}); restart `kalshi-fixsim serve`") from None
    if not isinstance(document, dict) or document.get("version") != VERSION:
        raise ReadyFileError(f"{_shown(path)}: not a version {VERSION} ready file; restart `kalshi-fixsim serve`")
    if not _alive(document.get("pid")):
        raise ReadyFileError(f"{_shown(path)} is a stale ready file (serve pid {document.get('pid')} is not running): "
                             f"start `kalshi-fixsim serve` again")
    return document
