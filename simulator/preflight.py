"""Start-up checks of `serve`: each problem becomes one line naming the config file, the key,
the file or address and what to do, instead of a traceback (the CLI exits 2 on them).

    check_tls(config, config_path)          # tls.cert / tls.key / tls.ca present, matching
    plaintext_config(config, config_path)   # serve --plaintext: loopback only (DESIGN.md §1)
    listen_error(exc, config_path)          # a port already in use -> the ports key that set it
"""
from __future__ import annotations

import dataclasses
import os
import ssl
from pathlib import Path

from .certs import server_ssl_context
from .config import SimConfig, TlsConfig
from .config.parse import is_loopback

__all__ = ["StartupError", "check_tls", "plaintext_config", "listen_error", "store_error", "where"]


class StartupError(Exception):
    """A problem that stops `serve` before it serves; str() is the one-line message."""


def where(config_path: Path | None) -> str:
    """"sim.yaml: " (the file the setting came from), or "" for a config built in code."""
    return f"{_shown(config_path)}: " if config_path is not None else ""


def _shown(path: Path | str) -> str:
    """A path as the user would type it: relative to the current folder when below it."""
    path = Path(path)
    try:
        rel = os.path.relpath(path.absolute())
    except ValueError:  # another drive (Windows)
        return str(path)
    return rel if not rel.startswith("..") else str(path.absolute())


def _certs_hint(folder: Path, force: bool = False) -> str:
    return f"make dev certificates with `kalshi-fixsim certs --out {_shown(folder)}{' --force' if force else ''}`"


def check_tls(config: SimConfig, config_path: Path | None) -> None:
    """The files the TLS listeners need exist and belong together (nothing to do in plaintext)."""
    tls = config.tls
    if not tls.enabled:
        return
    at = where(config_path)
    for key, path in (("tls.cert", tls.cert), ("tls.key", tls.key), ("tls.ca", tls.ca)):
        if not Path(path).is_file():
            raise StartupError(f"{at}{key}: {_shown(path)} does not exist; {_certs_hint(Path(path).parent)} "
                               f"(or point {key} at your own file)")
    try:
        server_ssl_context(tls)
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or getattr(exc, "reason", "") == "KEY_VALUES_MISMATCH":
            raise StartupError(f"{at}tls.key: {_shown(tls.key)} is not the key of the certificate in tls.cert "
                               f"({_shown(tls.cert)}); {_certs_hint(Path(tls.cert).parent, force=True)}") from None
        raise StartupError(f"{at}tls.cert / tls.key: cannot load {_shown(tls.cert)} with {_shown(tls.key)} "
                           f"({getattr(exc, 'reason', None) or exc}); "
                           f"{_certs_hint(Path(tls.cert).parent, force=True)}") from None
    _check_ca(tls, at)


def _check_ca(tls: TlsConfig, at: str) -> None:
    """tls.ca is what clients are told to trust: it must be a CA certificate that signed tls.cert."""
    from cryptography import x509

    hint = _certs_hint(Path(tls.ca).parent, force=True)
    try:
        ca = x509.load_pem_x509_certificate(Path(tls.ca).read_bytes())
    except ValueError:
        raise StartupError(f"{at}tls.ca: {_shown(tls.ca)} is not a PEM certificate; {hint}") from None
    try:
        leaf = x509.load_pem_x509_certificate(Path(tls.cert).read_bytes())
        leaf.verify_directly_issued_by(ca)
    except Exception:  # ValueError, TypeError, InvalidSignature: clients trusting the CA would refuse us
        raise StartupError(f"{at}tls.ca: {_shown(tls.ca)} did not sign tls.cert ({_shown(tls.cert)}), so clients "
                           f"that trust it refuse the server; {hint}") from None


def plaintext_config(config: SimConfig, config_path: Path | None) -> SimConfig:
    """`serve --plaintext`: the config with TLS off, refused unless it listens on loopback only
    (DESIGN.md §1, docs/behaviour.md "Plaintext")."""
    if not is_loopback(config.host):
        raise StartupError(f"--plaintext: plaintext is allowed only on a loopback host, but {where(config_path)}"
                           f"host is {config.host!r}; set host: 127.0.0.1 or keep TLS (a client without TLS "
                           f"can use a local stunnel)")
    return dataclasses.replace(config, tls=dataclasses.replace(config.tls, enabled=False))


def listen_error(exc: OSError, config_path: Path | None) -> StartupError:
    """One line for a listener that could not bind (server.ListenError or the control plane's)."""
    product, session = getattr(exc, "product", None), getattr(exc, "session", None)
    host, port = getattr(exc, "host", "?"), getattr(exc, "port", "?")
    reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
    if product is None:  # the control plane
        return StartupError(f"--control-port: cannot listen on 127.0.0.1:{port}: {reason}; pass another "
                            f"--control-port, 0 (any free port) or -1 (no control plane)")
    key = f"products.{product}.ports.{session}"
    return StartupError(f"{where(config_path)}{key}: cannot listen on {host}:{port}: {reason}; set another port "
                        f"or 0 (any free port) in {_shown(config_path) if config_path else 'the config'}")


def store_error(exc: Exception, config: SimConfig, config_path: Path | None) -> StartupError:
    """One line for a `store:` file that cannot be opened (folder missing, not writable, not SQLite)."""
    reason = getattr(exc, "strerror", None) or str(exc)
    return StartupError(f"{where(config_path)}store: cannot open {_shown(config.store)}: {reason}; set store to "
                        f"a writable file path or to memory")
