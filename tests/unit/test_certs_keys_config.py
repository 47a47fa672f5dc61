"""Dev certificates, API key pairs and the YAML config (simulator.certs/keys/config)."""

from __future__ import annotations

import concurrent.futures
import ipaddress
import random
import socket
import ssl
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from kalshi_fixsim.simulator.certs import CertPaths, client_ssl_context, make_dev_certs, server_ssl_context
from kalshi_fixsim.simulator.config import (
    ConfigError,
    DEFAULT_PORTS,
    add_account,
    default_config,
    load_config,
    write_sample_config,
)
from kalshi_fixsim.simulator.keys import KeyPair, load_private_key, load_public_key, new_key_pair

TIMEOUT = 10.0  # absolute bound on every network wait (house rule 8)
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")

KEY_A = "0f6a1c2e-1111-4222-8333-944455556666"
KEY_B = "1f6a1c2e-1111-4222-8333-944455556666"


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> CertPaths:
    return make_dev_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def keypair(tmp_path_factory) -> KeyPair:
    return new_key_pair(tmp_path_factory.mktemp("keys"), "alice", rng=random.Random(7))


def _load_chain(path: Path) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(path.read_bytes())


def _ec_public_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# ------------------------------------------------------------------ certs


def test_server_certificate_covers_localhost_and_127_0_0_1(certs):
    leaf = _load_chain(certs.cert)[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in eku


def test_server_certificate_is_signed_by_the_dev_ca(certs):
    ca = x509.load_pem_x509_certificate(certs.ca.read_bytes())
    chain = _load_chain(certs.cert)
    chain[0].verify_directly_issued_by(ca)  # raises if not
    assert chain[1:] == [ca]  # server.pem is leaf then CA
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True
    assert chain[0].extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def _handshake(certs: CertPaths, server_hostname: str) -> bytes:
    """Echo one message over real TLS on 127.0.0.1 port 0; returns what came back."""
    server_ctx = server_ssl_context(certs)
    client_ctx = client_ssl_context(certs.ca)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(TIMEOUT)
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            conn.settimeout(TIMEOUT)
            try:
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(tls.recv(64))
            except (ssl.SSLError, OSError):
                pass  # the client side reports the failure
            finally:
                conn.close()

        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            done = pool.submit(serve)
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
                    with client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
                        assert tls.version() in ("TLSv1.2", "TLSv1.3")
                        tls.sendall(b"8=FIXT.1.1")
                        return tls.recv(64)
            finally:
                done.result(timeout=TIMEOUT)


@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1"])
def test_tls_handshake_verifies_for_localhost_and_127_0_0_1(certs, server_hostname):
    assert _handshake(certs, server_hostname) == b"8=FIXT.1.1"


def test_tls_handshake_fails_for_a_host_not_in_the_certificate(certs):
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(certs, "example.com")


def test_tls_contexts_require_tls_1_2_and_verify_the_host(certs):
    server = server_ssl_context(certs)
    client = client_ssl_context(certs.ca)
    assert server.minimum_version == ssl.TLSVersion.TLSv1_2
    assert client.minimum_version == ssl.TLSVersion.TLSv1_2
    assert client.check_hostname is True
    assert client.verify_mode == ssl.CERT_REQUIRED


@posix_only
def test_certificate_private_keys_are_owner_only(certs):
    assert certs.key.stat().st_mode & 0o777 == 0o600
    assert certs.ca_key.stat().st_mode & 0o777 == 0o600


def test_existing_certificates_are_not_regenerated(tmp_path):
    first = make_dev_certs(tmp_path)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in vars(first).values()}
    second = make_dev_certs(tmp_path)
    assert second == first
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in vars(second).values()} == before


def test_overwrite_regenerates_certificates(tmp_path):
    first = make_dev_certs(tmp_path)
    old_ca = first.ca.read_bytes()
    make_dev_certs(tmp_path, overwrite=True)
    assert first.ca.read_bytes() != old_ca


def test_missing_server_pair_is_reissued_from_the_existing_ca(tmp_path):
    paths = make_dev_certs(tmp_path)
    ca_pem = paths.ca.read_bytes()
    paths.cert.unlink()
    make_dev_certs(tmp_path)
    assert paths.ca.read_bytes() == ca_pem  # clients that trust ca.pem keep working
    _load_chain(paths.cert)[0].verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))


def test_an_unusable_existing_ca_is_not_silently_replaced(tmp_path):
    paths = make_dev_certs(tmp_path)
    paths.cert.unlink()
    paths.ca_key.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="overwrite=True"):
        make_dev_certs(tmp_path)
    assert make_dev_certs(tmp_path, overwrite=True).cert.is_file()


# ------------------------------------------------------------------ keys


def test_new_key_pair_writes_a_loadable_rsa_2048_pair_and_a_uuid4(keypair):
    private = load_private_key(keypair.private_key_path)
    public = load_public_key(keypair.public_key_path)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    assert private.public_key().public_numbers() == public.public_numbers()
    assert keypair.private_key_path.name == "alice.pem"
    assert keypair.public_key_path.name == "alice.pub.pem"
    assert b"BEGIN PRIVATE KEY" in keypair.private_key_path.read_bytes()  # PKCS#8
    assert uuid.UUID(keypair.api_key).version == 4
    assert str(uuid.UUID(keypair.api_key)) == keypair.api_key


@posix_only
def test_api_private_key_file_is_owner_only(keypair):
    assert keypair.private_key_path.stat().st_mode & 0o777 == 0o600


def test_seeded_rng_makes_the_api_key_id_deterministic(tmp_path):
    a = new_key_pair(tmp_path / "a", "k", rng=random.Random(1))
    b = new_key_pair(tmp_path / "b", "k", rng=random.Random(1))
    assert a.api_key == b.api_key
    assert uuid.UUID(a.api_key).variant == uuid.RFC_4122


def test_new_key_pair_refuses_to_replace_an_existing_key(tmp_path, keypair):
    new_key_pair(tmp_path, "bob")
    with pytest.raises(FileExistsError):
        new_key_pair(tmp_path, "bob")


def test_load_public_key_takes_inline_pem_and_rejects_non_rsa(keypair):
    pem = keypair.public_key_path.read_bytes()
    assert isinstance(load_public_key(pem), rsa.RSAPublicKey)
    assert isinstance(load_public_key(pem.decode()), rsa.RSAPublicKey)
    with pytest.raises(ValueError):
        load_public_key(_ec_public_pem())


# ------------------------------------------------------------------ config


def test_empty_file_gives_the_documented_defaults(tmp_path):
    (tmp_path / "sim.yaml").write_text("")
    cfg = load_config(tmp_path / "sim.yaml")
    assert cfg.seed == 42 and cfg.host == "127.0.0.1" and cfg.store == "memory"
    assert cfg.tls.enabled and cfg.tls.cert == tmp_path / "certs" / "server.pem"
    assert cfg.products["prediction"].ports == DEFAULT_PORTS["prediction"]
    assert cfg.products["margin"].ports == {"NR": 8328, "DC": 8329, "RT": 8330, "MD": 8333}
    s = cfg.session
    assert (s.sending_time_tolerance, s.server_comp_id, s.one_connection_scope) == (30, "echo", "key_and_product")
    assert (s.logon_timeout, s.max_retention_hours, s.accept_legacy_21003) == (10, 72, True)
    assert (s.tls_handshake_timeout, s.max_connections, s.max_connections_per_peer) == (10, 1000, 500)
    limits = cfg.rate_limits
    assert limits.enabled and limits.logon.enabled
    assert (limits.logon.limit, limits.logon.window_seconds) == (100, 1.0)  # behaviour.md "Logon limit"
    assert (limits.logon.failed_limit, limits.logon.failed_window_seconds) == (1000, 10.0)
    assert cfg.without_rate_limits().rate_limits.enabled is False
    assert cfg.accounts == [] and cfg.path == (tmp_path / "sim.yaml").absolute()
    assert default_config().products == cfg.products


def test_add_account_registers_it_and_load_config_returns_its_public_key(tmp_path, keypair):
    path = tmp_path / "sim.yaml"
    write_sample_config(path)
    added = add_account(path, "alice", keypair.api_key, keypair.public_key_path, products=["prediction"])
    cfg = load_config(path)
    assert cfg.accounts == [added]
    account = cfg.accounts[0]
    assert (account.name, account.api_key) == ("alice", keypair.api_key)
    assert account.public_key_pem == keypair.public_key_path.read_bytes()
    assert account.products == ("prediction",)
    assert account.sessions == ("NR", "DC", "RT", "PT", "RFQ", "MD")
    assert (account.tier, account.balance, account.subaccount, account.read_only) == (
        "premier", Decimal("1000.00"), None, False,
    )
    assert cfg.account_by_key(keypair.api_key.upper()) == account


def test_add_account_creates_a_missing_file_and_keeps_its_comments(tmp_path, keypair):
    path = tmp_path / "sub" / "sim.yaml"
    add_account(path, "alice", KEY_A, keypair.public_key_path)
    add_account(path, "bob", KEY_B, keypair.public_key_path, products=["margin"])
    text = path.read_text()
    assert "# kalshi-fixsim configuration" in text
    assert [a.name for a in load_config(path).accounts] == ["alice", "bob"]
    assert load_config(path).accounts[1].sessions == ("NR", "DC", "RT", "MD")


def test_add_account_writes_a_relative_public_key_path(tmp_path, keypair):
    path = tmp_path / "sim.yaml"
    key = new_key_pair(tmp_path / "keys", "carol")
    add_account(path, "carol", key.api_key, key.public_key_path)
    entry = yaml.safe_load(path.read_text())["accounts"][0]
    assert entry["public_key"] == "keys/carol.pub.pem"


def test_add_account_refuses_a_duplicate_name(tmp_path, keypair):
    path = tmp_path / "sim.yaml"
    add_account(path, "alice", KEY_A, keypair.public_key_path)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="accounts: an account named 'alice' already exists"):
        add_account(path, "alice", KEY_B, keypair.public_key_path)
    assert path.read_bytes() == before


def test_add_account_validates_before_writing(tmp_path, keypair):
    path = tmp_path / "sim.yaml"
    write_sample_config(path)
    before = path.read_bytes()
    with pytest.raises(ConfigError, match=r"^accounts\[0\]\.api_key: not a UUID"):
        add_account(path, "alice", "not-a-uuid", keypair.public_key_path)
    assert path.read_bytes() == before


def test_add_account_falls_back_to_a_rewrite_when_accounts_is_not_last(tmp_path, keypair):
    path = tmp_path / "sim.yaml"
    path.write_text("accounts: []\nseed: 7  # comment\n")
    add_account(path, "alice", KEY_A, keypair.public_key_path)
    cfg = load_config(path)
    assert cfg.seed == 7 and [a.name for a in cfg.accounts] == ["alice"]


def test_relative_paths_resolve_against_the_yaml_folder(tmp_path, keypair, monkeypatch):
    folder = tmp_path / "conf"
    (folder / "keys").mkdir(parents=True)
    (folder / "keys" / "a.pub.pem").write_bytes(keypair.public_key_path.read_bytes())
    (folder / "sim.yaml").write_text(yaml.safe_dump({
        "tls": {"cert": "c/s.pem", "key": "c/s.key", "ca": "c/ca.pem"},
        "store": "state/sim.db",
        "accounts": [{"name": "a", "api_key": KEY_A, "public_key": "keys/a.pub.pem"}],
    }))
    monkeypatch.chdir(tmp_path)  # somewhere else than the YAML's folder
    cfg = load_config(Path("conf/sim.yaml"))
    assert cfg.tls.cert == folder / "c" / "s.pem"
    assert cfg.tls.ca == folder / "c" / "ca.pem"
    assert Path(cfg.store) == folder / "state" / "sim.db"
    assert cfg.accounts[0].public_key_pem == keypair.public_key_path.read_bytes()


def test_public_key_may_be_inline_pem(tmp_path, keypair):
    pem = keypair.public_key_path.read_text()
    (tmp_path / "sim.yaml").write_text(yaml.safe_dump(
        {"accounts": [{"name": "a", "api_key": KEY_A, "public_key": pem}]}
    ))
    assert load_config(tmp_path / "sim.yaml").accounts[0].public_key_pem.strip() == pem.strip().encode()


def test_with_ports_zero_sets_every_port_to_zero_and_keeps_the_original(tmp_path):
    cfg = default_config()
    zero = cfg.with_ports_zero()
    assert all(port == 0 for p in zero.products.values() for port in p.ports.values())
    assert set(zero.products["prediction"].ports) == {"NR", "DC", "RT", "PT", "RFQ", "MD"}
    assert cfg.products["prediction"].ports["NR"] == 8228
    assert len(zero.listeners()) == 10


def test_port_zero_is_allowed_even_twice(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text("products: {prediction: {ports: {NR: 0, DC: 0}}}\n")
    assert load_config(path).products["prediction"].ports["NR"] == 0


def test_sample_config_loads_and_is_not_overwritten(tmp_path):
    path = tmp_path / "sim.yaml"
    write_sample_config(path)
    path.write_text(path.read_text().replace("seed: 42", "seed: 5"))
    write_sample_config(path)
    cfg = load_config(path)
    assert cfg.seed == 5 and cfg.store == str(tmp_path / "state" / "sim.db")


def test_config_tls_paths_feed_server_ssl_context(tmp_path):
    make_dev_certs(tmp_path / "certs")
    path = write_sample_config(tmp_path / "sim.yaml")
    assert isinstance(server_ssl_context(load_config(path).tls), ssl.SSLContext)


def test_server_comp_id_accepts_echo_or_a_literal(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text("session: {server_comp_id: Kalshi, one_connection_scope: key_and_session}\n")
    s = load_config(path).session
    assert (s.server_comp_id, s.one_connection_scope) == ("Kalshi", "key_and_session")


def test_invalid_yaml_is_a_config_error(tmp_path):
    path = tmp_path / "sim.yaml"
    path.write_text("seed: [1\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def _base_config(pub: str) -> dict:
    return {
        "accounts": [
            {"name": "a", "api_key": KEY_A, "public_key": pub},
            {"name": "b", "api_key": KEY_B, "public_key": pub},
        ]
    }


def _set(data: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data[int(part)] if isinstance(data, list) else data.setdefault(part, {})
    if isinstance(data, list):
        data[int(last)] = value
    else:
        data[last] = value


BAD_CASES = [
    # (key to set, value, expected start of the message)
    ("bogus", 1, "bogus: unknown key"),
    ("products.prediction.ports.NR", 70000, "products.prediction.ports.NR: port must be"),
    ("products.margin.ports.MD", -1, "products.margin.ports.MD: port must be"),
    ("products.margin.ports.NR", "x", "products.margin.ports.NR: port must be"),
    ("products.margin.ports.NR", 8228, "products.margin.ports.NR: port 8228 is already used"),
    ("products.options", {}, "products.options: unknown product"),
    ("products.margin.ports.PT", 9000, "products.margin.ports.PT: unknown session type"),
    ("accounts.0.products", ["prediction", "options"], "accounts[0].products[1]: unknown product"),
    ("accounts.0.sessions", ["NR", "XX"], "accounts[0].sessions[1]: unknown session type"),
    ("accounts.1.api_key", KEY_A, "accounts[1].api_key: duplicate api_key"),
    ("accounts.1.api_key", "not-a-uuid", "accounts[1].api_key: not a UUID"),
    ("accounts.1.api_key", "{%s}" % KEY_B, "accounts[1].api_key: not a UUID"),
    ("accounts.1.name", "a", "accounts[1].name: duplicate name"),
    ("accounts.0.public_key", "keys/missing.pub.pem", "accounts[0].public_key: cannot read"),
    ("accounts.0.subaccount", 64, "accounts[0].subaccount:"),
    ("accounts.0.subaccount", -1, "accounts[0].subaccount:"),
    ("accounts.0.balance", "-0.01", "accounts[0].balance: balance must not be negative"),
    ("accounts.0.balance", "lots", "accounts[0].balance: not a number"),
    ("accounts.0.tier", "platinum", "accounts[0].tier: unknown tier"),
    ("accounts.0.read_only", "yes", "accounts[0].read_only:"),
    ("session.one_connection_scope", "session", "session.one_connection_scope:"),
    ("session.server_comp_id", "Kal shi", "session.server_comp_id:"),
    ("session.sending_time_tolerance", 0, "session.sending_time_tolerance:"),
    ("session.heartbeat", 30, "session.heartbeat: unknown key"),
    ("tls.enabled", False, "tls.enabled: plaintext is allowed only on a loopback host"),
    ("seed", "x", "seed: expected an integer"),
    ("rate_limits.enabled", "no", "rate_limits.enabled: expected true or false"),
    ("rate_limits.burst", 1, "rate_limits.burst: unknown key (expected one of: enabled, logon)"),
    ("rate_limits.logon.limit", 0, "rate_limits.logon.limit: must be >= 1"),
    ("rate_limits.logon.limit", "ten", "rate_limits.logon.limit: expected an integer"),
    ("rate_limits.logon.window_seconds", -1, "rate_limits.logon.window_seconds: expected a positive number"),
    ("rate_limits.logon.per_key", 5, "rate_limits.logon.per_key: unknown key"),
    ("rate_limits.logon.failed_limit", 1.5, "rate_limits.logon.failed_limit: expected an integer"),
    ("session.tls_handshake_timeout", 11, "session.tls_handshake_timeout: 11 s is longer than session.logon_timeout"),
    ("session.max_connections", 0, "session.max_connections: must be >= 1"),
    ("session.max_connections_per_peer", "many", "session.max_connections_per_peer: expected an integer"),
]


@pytest.mark.parametrize("key, value, message", BAD_CASES, ids=[c[0] + "=" + repr(c[1]) for c in BAD_CASES])
def test_config_error_names_the_key_path(tmp_path, keypair, key, value, message):
    data = _base_config(str(keypair.public_key_path))
    _set(data, key, value)
    if key == "tls.enabled":
        data["host"] = "0.0.0.0"
    path = tmp_path / "sim.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(message), str(info.value)


def test_margin_only_account_may_not_list_prediction_only_sessions(tmp_path, keypair):
    data = _base_config(str(keypair.public_key_path))
    data["accounts"][0].update(products=["margin"], sessions=["NR", "PT"])
    (tmp_path / "sim.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"^accounts\[0\]\.sessions\[1\]: unknown session type 'PT'"):
        load_config(tmp_path / "sim.yaml")


@pytest.mark.parametrize("content", [b"not a key", None], ids=["garbage", "ec-key"])
def test_public_key_must_be_an_rsa_public_key(tmp_path, keypair, content):
    (tmp_path / "bad.pem").write_bytes(content if content is not None else _ec_public_pem())
    data = _base_config(str(keypair.public_key_path))
    data["accounts"][1]["public_key"] = "bad.pem"
    (tmp_path / "sim.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"^accounts\[1\]\.public_key: bad\.pem is not an RSA public key"):
        load_config(tmp_path / "sim.yaml")


def test_missing_required_account_field_is_named(tmp_path, keypair):
    (tmp_path / "sim.yaml").write_text(yaml.safe_dump({"accounts": [{"name": "a", "public_key": "x"}]}))
    with pytest.raises(ConfigError, match=r"^accounts\[0\]\.api_key: required"):
        load_config(tmp_path / "sim.yaml")


def test_an_account_without_a_tier_is_premier_as_fix_access_is_premier_plus(tmp_path, keypair):
    data = _base_config(str(keypair.public_key_path))  # spec 11 §2: FIX access is default at Premier+
    data["accounts"][1]["tier"] = "Basic"
    (tmp_path / "sim.yaml").write_text(yaml.safe_dump(data))
    assert [a.tier for a in load_config(tmp_path / "sim.yaml").accounts] == ["premier", "basic"]
