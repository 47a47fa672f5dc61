"""Installed as a user installs it, the package never collides with a user's own packages
(issue 10 §1): a throwaway project with its own `client/` and `simulator/` packages gets this
package from a real (non-editable) `pip install` into a fresh venv beside it and runs one
`fix_exchange` test with pytest there. About 25 s (a venv and an install from the package
index); marked `install`, so `pytest -m "not install"` leaves it out.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 600  # seconds, absolute, per step: pip on a loaded machine

pytestmark = pytest.mark.install

USER_TEST = '''
import asyncio

from client import FixClient          # the project's own client package, not ours
from simulator import VENUE           # and its own simulator package

from kalshi_fixsim import FixExchange
from kalshi_fixsim.client.orders import ExecutionReport, new_order


def test_fix_exchange_beside_a_users_own_client_and_simulator(fix_exchange):
    assert FixClient.__module__ == "client" and VENUE == "mine"
    assert isinstance(fix_exchange, FixExchange)

    async def scenario():
        async with fix_exchange.client("alice", "prediction", "NR") as fix:
            fix.send("D", new_order("o-1", "KXTEST-26JAN01-A", "buy", 40, 10))
            return [ExecutionReport(m).kinds for m in await fix.collect()]
    assert asyncio.run(scenario()) == [("A", "A"), ("0", "0")]
'''


def _copy_sources(target: Path) -> Path:
    """The repository's files a fresh clone has (no venv, build output or caches)."""
    ignore = shutil.ignore_patterns(".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
                                    "state", "keys", "sim.yaml", "*.pem", "*.key")
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def _run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert done.returncode == 0, f"{' '.join(argv)}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.skipif(os.name != "posix", reason="venv layout (bin/) of POSIX")
def test_a_user_project_with_its_own_client_and_simulator_packages_runs_the_fixture(tmp_path):
    source = _copy_sources(tmp_path / "kalshi-fixsim")
    project = tmp_path / "project"
    (project / "client").mkdir(parents=True)
    (project / "client" / "__init__.py").write_text("class FixClient:\n    pass\n")
    (project / "simulator").mkdir()
    (project / "simulator" / "__init__.py").write_text("VENUE = 'mine'\n")
    (project / "tests").mkdir()
    (project / "tests" / "test_mine.py").write_text(textwrap.dedent(USER_TEST))
    (project / "pytest.ini").write_text("[pytest]\npythonpath = .\naddopts = -p no:cacheprovider\n")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "--quiet", str(source), "pytest"], tmp_path)

    # the installed names: one package, no bare client/simulator/fixproto on sys.path
    probe = _run([python, "-c", "import importlib.util as u, kalshi_fixsim.simulator as s; "
                                "print(s.__file__); print([n for n in ('client', 'simulator', 'fixproto') "
                                "if u.find_spec(n)])"], tmp_path)
    installed, bare = probe.stdout.splitlines()
    assert "site-packages" in installed and str(source) not in installed  # not editable
    assert bare == "[]"

    # the web view's files are package data: a non-editable install serves them (issue 17 §1)
    static = _run([python, "-c", "from kalshi_fixsim.simulator.control_http import STATIC; "
                                 "print(' '.join(sorted(p.name for p in STATIC.iterdir())))"], tmp_path)
    assert {"index.html", "app.js", "style.css"} <= set(static.stdout.split())

    done = _run([python, "-m", "pytest", "-q", "tests"], project)
    assert "1 passed" in done.stdout, done.stdout
