"""docs/clients.md's signing helpers and client-config's keytool line, run for real: the Java and
C++ snippets are compiled from the page and their signatures must verify with the simulator's
logon check (spec 01 §3); skipped where javac / g++ with OpenSSL headers / keytool are missing."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kalshi_fixsim.fixproto.kalshi import load_private_key, logon_payload, verify_logon
from kalshi_fixsim.simulator.cli import main
from kalshi_fixsim.simulator.keys import new_key_pair

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
