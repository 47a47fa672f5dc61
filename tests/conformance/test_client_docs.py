"""docs/clients.md run for real: the Java and C++ signing snippets are compiled from the page and
their signatures must verify with the simulator's logon check (spec 01 §3); client-config's
keytool line makes the truststore; the page's stunnel config tunnels a Logon. Each is skipped
where javac, g++ with OpenSSL headers, keytool or stunnel is missing."""
from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from kalshi_fixsim.fixproto.codec import Framer, parse
from kalshi_fixsim.fixproto.kalshi import load_private_key, logon_payload, verify_logon
from kalshi_fixsim.simulator.cli import main
from kalshi_fixsim.simulator.keys import new_key_pair
from tests.wire import logon
from tests.wire import run as wire_run

DOC = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
ARGS = ("20260105-14:30:00.123", "1", "0f6a1c2e-1111-4222-8333-944455556666", "KalshiNR")


def block(info: str) -> str:
    """The fenced code block of docs/clients.md whose info string is `info`."""
    match = re.search(rf"^```{re.escape(info)}\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)
    assert match, f"no ```{info} block in {DOC}"
    return match.group(1)


def verifies(key_path: Path, signature: str) -> bool:
    public = load_private_key(key_path).public_key()
    return verify_logon(public, logon_payload(*ARGS), signature)


def run(cmd, cwd: Path) -> str:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(not (shutil.which("javac") and shutil.which("java")), reason="no JDK")
def test_the_java_signing_helper_of_the_docs_makes_a_signature_the_venue_accepts(tmp_path):
    pair = new_key_pair(tmp_path / "keys", "alice")
    (tmp_path / "KalshiSignature.java").write_text(block("java KalshiSignature.java"))
    (tmp_path / "Main.java").write_text(
        "import java.nio.file.Path;\n"
        "public class Main { public static void main(String[] a) throws Exception {\n"
        "  System.out.print(KalshiSignature.sign(KalshiSignature.load(Path.of(a[0])), a[1], a[2], a[3], a[4])); } }\n")
    run(["javac", "KalshiSignature.java", "Main.java"], tmp_path)
    signature = run(["java", "-cp", ".", "Main", str(pair.private_key_path), *ARGS], tmp_path)
    assert len(signature) == 344 and verifies(pair.private_key_path, signature)  # 2048-bit key, spec 01 §3


@pytest.mark.skipif(not shutil.which("g++") or not Path("/usr/include/openssl/evp.h").exists(),
                    reason="no g++ with OpenSSL headers")
def test_the_cpp_signing_helper_of_the_docs_makes_a_signature_the_venue_accepts(tmp_path):
    pair = new_key_pair(tmp_path / "keys", "alice")
    (tmp_path / "kalshi_signature.h").write_text(block("cpp kalshi_signature.h"))
    (tmp_path / "main.cpp").write_text(
        '#include "kalshi_signature.h"\n#include <iostream>\n'
        "int main(int, char** a) { EVP_PKEY* k = kalshi_load_key(a[1]);\n"
        "  std::cout << kalshi_signature(k, a[2], a[3], a[4], a[5]); EVP_PKEY_free(k); }\n")
    try:
        run(["g++", "-std=c++17", "-Wall", "-Werror", "main.cpp", "-o", "sign", "-lcrypto"], tmp_path)
    except AssertionError as exc:
        if "cannot find -lcrypto" in str(exc):
            pytest.skip("no libcrypto to link")
        raise
    signature = run(["./sign", str(pair.private_key_path), *ARGS], tmp_path)
    assert len(signature) == 344 and verifies(pair.private_key_path, signature)


@pytest.mark.skipif(not shutil.which("keytool"), reason="no keytool")
def test_the_keytool_line_client_config_prints_makes_the_quickfixj_truststore(tmp_path, capsys):
    config = tmp_path / "sim.yaml"
    assert main(["init", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["client-config", "--engine", "quickfixj", "--session", "NR", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    line = next(ln for ln in text.splitlines() if "keytool -importcert" in ln)
    run(line.lstrip("# ").split(), tmp_path)
    store = re.search(r"^SocketTrustStore=(.*)$", text, re.M).group(1)
    password = re.search(r"^SocketTrustStorePassword=(.*)$", text, re.M).group(1)
    listing = run(["keytool", "-list", "-keystore", store, "-storepass", password], tmp_path)
    assert "kalshi-fixsim-ca" in listing and "trustedCertEntry" in listing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not shutil.which("stunnel"), reason="no stunnel (apt-get install stunnel4)")
def test_the_stunnel_block_of_the_docs_carries_a_plaintext_logon_over_tls(fix_exchange, tmp_path):
    """The page's stunnel config, with this run's ports and CA: a plaintext Logon gets the venue's
    Logon back through the tunnel, and the certificate was checked (verifyChain, checkHost)."""
    local = free_port()
    conf = block("ini stunnel-kalshi.conf")
    conf = conf.replace("accept = 127.0.0.1:18228", f"accept = 127.0.0.1:{local}")
    conf = conf.replace("connect = 127.0.0.1:8228", f"connect = 127.0.0.1:{fix_exchange.endpoint('prediction', 'NR').port}")
    conf = conf.replace("CAfile = certs/ca.pem", f"CAfile = {fix_exchange.ca_file}")
    assert str(local) in conf and str(fix_exchange.ca_file) in conf
    (tmp_path / "stunnel.conf").write_text("pid =\n" + conf)  # no pid file: several runs may overlap
    tunnel = subprocess.Popen(["stunnel", str(tmp_path / "stunnel.conf")], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        async def scenario():
            loop = asyncio.get_running_loop()
            log = []
            while not log or "Configuration successful" not in log[-1]:  # logged once it listens
                log.append(await asyncio.wait_for(loop.run_in_executor(None, tunnel.stdout.readline), 20))
                assert log[-1], "stunnel stopped: " + "".join(log)
            reader, writer = await asyncio.open_connection("127.0.0.1", local)
            writer.write(logon(fix_exchange.accounts["alice"], "KalshiNR"))
            framer, replies = Framer(), []
            while not replies:
                data = await asyncio.wait_for(reader.read(65536), 10)
                assert data, "the tunnel closed before the Logon reply"
                replies += [parse(f) for f in framer.feed(data) if isinstance(f, bytes)]
            writer.close()
            return replies[0]

        reply = wire_run(scenario())
        assert reply.get(35) == "A" and reply.get(49) == "KalshiNR"
    finally:
        tunnel.terminate()
        tunnel.wait(timeout=10)
