"""simulator/ready.py: the ready file is written whole or not at all, and a stale one is refused."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kalshi_fixsim.simulator import ready


def _document(**changes) -> dict:
    return {"version": ready.VERSION, "pid": os.getpid(), "products": {}, "control_url": None, "ca_file": None,
            "accounts": [], **changes}


def test_default_ready_file_is_in_state_beside_the_config(tmp_path):
    assert ready.default_path(tmp_path / "ci.yaml") == tmp_path / "state" / "ci.ready.json"


def test_write_then_read_round_trips_and_leaves_no_temp_file(tmp_path):
    path = ready.write(tmp_path / "deep" / "r.json", _document(control_url="http://127.0.0.1:1"))
    assert ready.read(path)["control_url"] == "http://127.0.0.1:1"
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_a_ready_file_of_a_process_that_has_exited_is_stale(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = ready.write(tmp_path / "r.json", _document(pid=dead.pid))
    with pytest.raises(ready.ReadyFileError, match=rf"is a stale ready file \(serve pid {dead.pid} is not running\)"):
        ready.read(path)


def test_missing_malformed_and_foreign_ready_files_are_refused_with_what_to_do(tmp_path):
    with pytest.raises(ready.ReadyFileError, match="is `kalshi-fixsim serve` running"):
        ready.read(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ready.ReadyFileError, match="unreadable ready file"):
        ready.read(tmp_path / "bad.json")
    (tmp_path / "v9.json").write_text(json.dumps(_document(version=9)))
    with pytest.raises(ready.ReadyFileError, match="not a version 1 ready file"):
        ready.read(tmp_path / "v9.json")


def test_remove_leaves_a_file_another_serve_has_written(tmp_path):
    ours = ready.write(tmp_path / "ours.json", _document())
    theirs = ready.write(tmp_path / "theirs.json", _document(pid=os.getpid() + 100000))
    ready.remove(ours)
    ready.remove(theirs)
    assert not ours.exists() and theirs.exists()
