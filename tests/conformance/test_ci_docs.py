"""docs/ci.md's shell script runs as written (issue 17 §4): read from the page, not copied here."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CI_DOC = ROOT / "docs" / "ci.md"
TIMEOUT = 180  # seconds, absolute: init, serve, one order, the transcript, the stop (a loaded machine)


def ci_script() -> str:
    blocks = [body for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", CI_DOC.read_text(), re.M | re.S)
              if lang == "sh" and body.startswith("# ci.sh")]
    assert len(blocks) == 1, "docs/ci.md has one ```sh block starting with '# ci.sh'"
    return blocks[0]


def test_ci_doc_names_the_ready_file_the_transcript_and_github_actions():
    text = CI_DOC.read_text()
    assert "--ready-file" in ci_script() and "ctl --config ci.yaml messages --format text" in ci_script()
    assert "```yaml" in text and "actions/upload-artifact" in text and "bash ci.sh" in text


@pytest.mark.skipif(os.name != "posix", reason="a POSIX shell script")
def test_the_ci_shell_example_runs_as_written(tmp_path):
    (tmp_path / "ci.sh").write_text(ci_script())
    bin_dir = str(Path(sys.executable).parent)  # kalshi-fixsim and python of this environment
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run(["bash", "ci.sh"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{(tmp_path / 'sim.log').read_text()}"
    assert "control plane: http://127.0.0.1:" in done.stdout
    transcript = (tmp_path / "transcript.txt").read_text()
    assert "35=D(NewOrderSingle)" in transcript and "11(ClOrdID)=ci-1" in transcript
    assert "35=8(ExecutionReport)" in transcript
    assert not (tmp_path / "state" / "ci.ready.json").exists()
