"""`kalshi-fixsim serve` with a config `faults:` list, driven by the real curl binary with the
issue's two commands as written (issue 12 §3): what a Java or Go user does in a terminal."""
from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from kalshi_fixsim.simulator.cli import main

ROOT = Path(__file__).resolve().parents[2]
ISSUE_COMMANDS = [
    """curl -s -X POST 127.0.0.1:8380/faults -d '{"fault": "drop", "direction": "outbound",
  "product": "prediction", "session": "RT", "account": "alice", "match": {"35": "8"}, "times": 1}'""",
    """curl -s -X POST 127.0.0.1:8380/faults -d '{"fault": "delay", "ms": 250, "direction": "outbound",
  "session": "NR", "match": {"35": "8"}}'""",
]


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary")
def test_serve_loads_config_faults_and_the_issue_curl_commands_add_rules(tmp_path):
    config = tmp_path / "sim.yaml"
    main(["init", "--config", str(config)])
    data = yaml.safe_load(config.read_text())
    for product in data["products"].values():
        product["ports"] = {code: 0 for code in product["ports"]}
    data["store"] = "memory"
    data["faults"] = [{"id": "boot", "fault": "jitter", "ms": 20, "session": "MD"}]
    config.write_text(yaml.safe_dump(data))
    proc = subprocess.Popen([sys.executable, "-m", "kalshi_fixsim", "serve", "--config", str(config),
                             "--control-port", "0"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        lines = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (lines and lines[-1].startswith("CA file")):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        assert "fault rules active from the config: boot (jitter)" in "".join(lines)
        port = re.search(r"^control plane: http://127\.0\.0\.1:(\d+)", "".join(lines), re.M).group(1)
        answers = []
        for command in ISSUE_COMMANDS:
            out = subprocess.run(["bash", "-c", command.replace("8380", port)], capture_output=True, text=True,
                                 timeout=15)
            answers.append(json.loads(out.stdout))
        assert [(a["id"], a["fault"]) for a in answers] == [("f1", "drop"), ("f2", "delay")]
        listed = json.loads(subprocess.run(["curl", "-s", f"127.0.0.1:{port}/faults"], capture_output=True,
                                           text=True, timeout=15).stdout)
        assert [r["id"] for r in listed] == ["boot", "f1", "f2"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
