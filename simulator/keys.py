"""API key pairs: the RSA keys clients sign their Logon with (spec 00 §3, 01 §3).

Kalshi uses the same 2048-bit RSA key pair for FIX as for REST, private key in
PKCS#8, and an API key id (a UUID) that becomes the client's SenderCompID(49).
This module makes such pairs for development, and loads the keys that the
config (``simulator.config``) and the logon verifier need.

It also owns ``atomic_write``, the one place that writes key material, so every
private key on disk is created with mode 0600 from the start (never chmod'ed
afterwards, which would leave a window where it is world-readable).
"""

from __future__ import annotations

import os
import random
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_fixsim.fixproto.kalshi import load_private_key  # one loader for simulator and client

__all__ = [
    "KeyPair",
    "atomic_write",
    "load_private_key",
    "load_public_key",
    "new_api_key_id",
    "new_key_pair",
    "public_key_pem",
]

# spec 00 §3: "2048-bit RSA; docs say PKCS#8".
RSA_BITS = 2048
_PEM_MARKER = "-----BEGIN"
# A key name becomes a file name: keep it to one plain path component.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class KeyPair:
    name: str
    api_key: str
    private_key_path: Path
    public_key_path: Path


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` via a temp file + rename.

    Readers (another process, a concurrent test) never see a half-written
    file, and the temp file is created with ``mode`` so secrets are never
    exposed, even briefly.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates with 0600; widen (or keep) to the requested mode.
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def new_api_key_id(rng: random.Random | None = None) -> str:
    """A UUID4 string; deterministic when ``rng`` is a seeded Random (house rule 8)."""
    if rng is None:
        return str(uuid.uuid4())
    # UUID(int=..., version=4) sets the version and RFC 4122 variant bits.
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def public_key_pem(key: rsa.RSAPublicKey | rsa.RSAPrivateKey) -> bytes:
    """SubjectPublicKeyInfo PEM of a key (the form the config stores)."""
    if isinstance(key, rsa.RSAPrivateKey):
        key = key.public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def new_key_pair(
    out_dir: Path,
    name: str,
    *,
    rng: random.Random | None = None,
    overwrite: bool = False,
) -> KeyPair:
    """Make an RSA 2048 key pair and an API key id; write ``<name>.pem`` + ``<name>.pub.pem``.

    The RSA key itself always comes from the OS RNG (``cryptography`` cannot
    take a seed); only the API key id follows ``rng``. Refuses to replace an
    existing private key unless ``overwrite`` — losing a key locks its user out.
    """
    if not _NAME_RE.match(name):
        raise ValueError(f"key name {name!r}: use letters, digits, '_', '.', '-' (max 64)")
    out_dir = Path(out_dir)
    private_path = out_dir / f"{name}.pem"
    public_path = out_dir / f"{name}.pub.pem"
    if not overwrite and private_path.exists():
        raise FileExistsError(f"{private_path} already exists")

    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,  # spec 00 §3: PKCS#8
        serialization.NoEncryption(),  # dev keys; the reference client loads them unattended
    )
    atomic_write(private_path, private_pem, 0o600)
    atomic_write(public_path, public_key_pem(key), 0o644)
    return KeyPair(
        name=name,
        api_key=new_api_key_id(rng),
        private_key_path=private_path,
        public_key_path=public_path,
    )


def load_public_key(pem_or_path: bytes | str | Path) -> rsa.RSAPublicKey:
    """Load an RSA public key from inline PEM (bytes/str) or from a file path.

    Raises ValueError for anything that is not an RSA public key, OSError if
    the file cannot be read.
    """
    if isinstance(pem_or_path, bytes):
        data = pem_or_path
    elif isinstance(pem_or_path, str) and _PEM_MARKER in pem_or_path:
        data = pem_or_path.encode("ascii")
    else:
        data = Path(pem_or_path).read_bytes()
    try:
        key = serialization.load_pem_public_key(data)
    except UnsupportedAlgorithm as exc:  # one error type for callers
        raise ValueError(f"unsupported key type: {exc}") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key
