"""Session settings files for QuickFIX-family initiators, aimed at this simulator.

`render(engine, target)` returns the text of one settings file, in the INI-like format that
QuickFIX C++, QuickFIX/J, QuickFIX/n and quickfixgo all read: a [DEFAULT] and a [SESSION]
section of Key=Value lines, `#` comments. `target_from_config` fills a `Target` from the simulator's
config: host, the listener's port, CompIDs, TLS, the account's API key and key file. The
per-session rules come from fixproto.kalshi (spec 01 §5.1 ResetSeqNumFlag, spec 01 §2.1
HeartBtInt); the dictionaries are those of fixproto.qfdict.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kalshi_fixsim.fixproto.fields import MSG_TYPE_NAMES
from kalshi_fixsim.fixproto.kalshi import APP_MESSAGES_IN, FIX_APPL_VER_ID, min_heartbeat, session_type
from kalshi_fixsim.fixproto.qfdict import APPLICATION_FILE, TRANSPORT_FILE

from .config import ConfigError, SimConfig

__all__ = ["ENGINES", "Target", "target_from_config", "render", "DEFAULT_TRUSTSTORE_PASSWORD"]

ENGINES = ("quickfixj", "quickfix", "quickfixgo")
DEFAULT_TRUSTSTORE_PASSWORD = "changeit"
_WILDCARD = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class Target:
    product: str
    session: str         # NR, DC, RT, PT, RFQ, MD
    host: str
    port: int
    api_key: str         # SenderCompID (spec 01 §1.1)
    private_key: Path | None
    tls: bool
    ca_file: Path | None
    truststore: Path | None
    truststore_password: str
    dictionary_dir: Path
    heartbeat: int = 30
    tunnel: bool = False  # plaintext to a local TLS tunnel (stunnel), though the simulator speaks TLS
    server_comp_id: str = "echo"  # the config's session.server_comp_id (spec 00 §3)


def target_from_config(config: SimConfig, product: str, session: str, *, account: str | None = None,
                       api_key: str | None = None, host: str | None = None, port: int | None = None,
                       heartbeat: int = 30, dictionary_dir: Path | None = None, truststore: Path | None = None,
                       truststore_password: str = DEFAULT_TRUSTSTORE_PASSWORD, tunnel: bool = False) -> Target:
    """A Target for one endpoint; ConfigError (one line, naming the key) when something is missing."""
    code = session.upper()
    try:
        session_type(product, code)
    except ValueError as exc:
        raise ConfigError(f"--session: {exc}") from None
    pconf = config.products[product]
    if not pconf.enabled and port is None:
        raise ConfigError(f"products.{product}.enabled: the {product} product is off in the config")
    if port is None:
        port = pconf.ports.get(code, 0)
        if port == 0:
            raise ConfigError(f"products.{product}.ports.{code}: 0 means a port chosen at start-up; "
                              "start `kalshi-fixsim serve` (its ready file has the port) or pass --port")
    if heartbeat < min_heartbeat(product):
        raise ConfigError(f"--heartbeat: {product} needs HeartBtInt >= {min_heartbeat(product)} (spec 01 §2.1)")
    base = config.path.absolute().parent if config.path is not None else Path.cwd()
    key_path: Path | None = None
    if api_key is None:
        candidates = [a for a in config.accounts if account is None or a.name == account]
        candidates = [a for a in candidates if product in a.products and code in a.sessions]
        if not candidates:
            where = f"accounts: no account {account!r}" if account else "accounts: no account"
            raise ConfigError(f"{where} for {product} {code} in the config; add one with "
                              "`kalshi-fixsim keys new --name NAME` or pass --api-key")
        chosen = candidates[0]
        api_key = chosen.api_key
        key_path = base / "keys" / f"{chosen.name}.pem"
    bind = host or config.host
    ca = config.tls.ca if config.tls.enabled else None
    return Target(
        product=product, session=code, host="127.0.0.1" if bind in _WILDCARD else bind, port=port,
        api_key=api_key, private_key=key_path, tls=config.tls.enabled, ca_file=ca,
        truststore=truststore or (ca.with_name("truststore.jks") if ca is not None else None),
        truststore_password=truststore_password,
        dictionary_dir=(dictionary_dir or base / "dict").absolute(), heartbeat=heartbeat, tunnel=tunnel,
        server_comp_id=config.session.server_comp_id)


# --- rendering ---------------------------------------------------------------------------------

_HOOKS = {
    "quickfixj": ("Application.toAdmin(Message message, SessionID sessionID)",
                  "message.getHeader().getString(SendingTime.FIELD)"),
    "quickfix": ("Application::toAdmin(FIX::Message& message, const FIX::SessionID&)",
                 "message.getHeader().getField(FIX::FIELD::SendingTime)"),
    "quickfixgo": ("Application.ToAdmin(msg *quickfix.Message, sessionID quickfix.SessionID)",
                   "msg.Header.GetString(tag.SendingTime)"),
}


def _tls_lines(engine: str, t: Target) -> list[str]:
    if t.tunnel:
        trusts = f" that trusts {t.ca_file}" if t.ca_file else ""
        return [f"# Plaintext to a local TLS tunnel (stunnel, docs/clients.md){trusts}"]
    if not t.tls:
        return ["# TLS is off in the simulator's config (tls.enabled: false): plaintext, loopback only"]
    ca = t.ca_file
    if engine == "quickfixj":
        return [
            "# TLS 1.2+ (DESIGN §1). The truststore holds the simulator's dev CA; make it once with",
            f"#   keytool -importcert -noprompt -alias kalshi-fixsim-ca -file {ca} -keystore {t.truststore} "
            f"-storepass {t.truststore_password}",
            "SocketUseSSL=Y",
            f"SocketTrustStore={t.truststore}",
            f"SocketTrustStorePassword={t.truststore_password}",
            "TrustStoreType=JKS",
            "EnabledProtocols=TLSv1.2,TLSv1.3",
        ]
    if engine == "quickfix":
        return [
            "# TLS 1.2+ (DESIGN §1): QuickFIX C++ built with OpenSSL (--with-openssl); start a",
            "# FIX::ThreadedSSLSocketInitiator (or SSLSocketInitiator) instead of SocketInitiator.",
            "# No SSL build? Use stunnel (docs/clients.md) and drop these four lines.",
            f"CertificationAuthoritiesFile={ca}",
            "VerifyLevel=1",
            "SSLProtocol=all -SSLv2 -SSLv3 -TLSv1 -TLSv1_1",
            "SSLCipherSuite=HIGH:!aNULL:!MD5",
        ]
    return [  # quickfixgo
        "# TLS 1.2+ (DESIGN §1): SocketUseSSL without a client certificate, server verified against the CA",
        "SocketUseSSL=Y",
        f"SocketCAFile={ca}",
        "SocketMinimumTLSVersion=TLS12",
    ]


def render(engine: str, t: Target) -> str:
    """The settings file for one engine and endpoint (see the module doc)."""
    if engine not in ENGINES:
        raise ConfigError(f"--engine: {engine!r} is not one of {', '.join(ENGINES)}")
    st = session_type(t.product, t.session)
    reset = "Y" if st.reset_required else "N"  # spec 01 §5.1
    hook, sending_time = _HOOKS[engine]
    key = t.private_key or "your RSA private key (PEM)"
    lines = [
        f"# kalshi-fixsim client-config --engine {engine} --session {t.session} --product {t.product}",
        f"# Kalshi {t.product} {st.comp_id} at {t.host}:{t.port}. See docs/clients.md.",
        "[DEFAULT]",
        "ConnectionType=initiator",
        "ReconnectInterval=5",
        "StartTime=00:00:00",
        "EndTime=00:00:00",
        "FileStorePath=store",
        "FileLogPath=log",
        "# Validation against the Kalshi dialect; write the two files with",
        f"#   kalshi-fixsim dictionary --format quickfix --out {t.dictionary_dir}",
        "UseDataDictionary=Y",
        f"TransportDataDictionary={t.dictionary_dir / TRANSPORT_FILE}",
        f"AppDataDictionary={t.dictionary_dir / APPLICATION_FILE}",
    ]
    if engine in ("quickfixj", "quickfixgo"):
        lines += ["# spec 01 §1.1: SendingTime with milliseconds", "TimeStampPrecision=MILLIS"]
    lines += _tls_lines(engine, t)
    lines += [
        "",
        "[SESSION]",
        "BeginString=FIXT.1.1",
        f"DefaultApplVerID={FIX_APPL_VER_ID}",
        "# ^ 9 = FIX.5.0SP2, the only version Kalshi accepts (spec 01 §2.1)",
        f"SenderCompID={t.api_key}",
        f"TargetCompID={st.comp_id}",
    ]
    if t.server_comp_id != "echo":
        lines += [
            f"# WARNING: the simulator answers with SenderCompID={t.server_comp_id} (session.server_comp_id);",
            f"# QuickFIX engines refuse messages whose SenderCompID is not {st.comp_id} (373=9).",
            "# Set session.server_comp_id: echo in the simulator's config.",
        ]
    lines += [
        f"SocketConnectHost={t.host}",
        f"SocketConnectPort={t.port}",
        f"HeartBtInt={t.heartbeat}",
    ]
    if st.reset_required:
        lines += [
            f"# {st.comp_id} has no retransmission: every Logon must carry ResetSeqNumFlag(141)=Y (spec 01 §5.1)",
            f"ResetOnLogon={reset}",
            "ResetOnLogout=Y",
            "ResetOnDisconnect=Y",
        ]
    else:
        lines += [
            f"# {st.comp_id} keeps sequence numbers across reconnects and answers ResendRequest (spec 01 §5.1, §6)",
            f"ResetOnLogon={reset}",
            "ResetOnLogout=N",
            "ResetOnDisconnect=N",
            "PersistMessages=Y",
        ]
    allowed = sorted(APP_MESSAGES_IN[(t.product, t.session)], key=lambda m: (len(m), m))  # spec 00 §4
    sends = ", ".join(f"{MSG_TYPE_NAMES[m]}({m})" for m in allowed) or "no application messages"
    lines += [
        "#",
        f"# On {st.comp_id} ({t.product}) you send: {sends}; anything else is refused with",
        "# BusinessMessageReject(35=j) 380=3 (the dictionaries hold every message of every session).",
        "#",
        f"# Logon signature (spec 01 §3): in {hook}, when MsgType(35) is A,",
        f"#   payload = SendingTime + SOH + \"A\" + SOH + MsgSeqNum + SOH + SenderCompID + SOH + TargetCompID",
        f"#   with SendingTime read back from the header ({sending_time}),",
        "#   signed RSA-PSS / SHA-256 / MGF1-SHA-256 / salt 32 bytes, Base64;",
        "#   set RawData(96) = the Base64 text and RawDataLength(95) = its length.",
        f"#   Key: {key}",
        "#   Never touch SendingTime after signing. Kalshi flags (8013, 21011, ...) go on the Logon here too.",
    ]
    return "\n".join(lines) + "\n"
