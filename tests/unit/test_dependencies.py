"""DESIGN.md §2 dependency rules and §3 rule 1 (no I/O below the glue), checked on the source."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IO_MODULES = {"asyncio", "socket", "ssl", "time", "selectors", "threading"}
# The glue: the only modules allowed to do I/O or to reach across packages.
IO_GLUE = {"fixproto/aio.py"}
CROSS_GLUE = {"simulator/pytest_plugin.py", "simulator/cli.py", "simulator/cli_client.py"}


def imports(path: Path) -> set[str]:
    """Top-level names a module imports; `kalshi_fixsim.X...` and relative imports count as `X`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = path.relative_to(ROOT).parts[0]  # the folder kalshi_fixsim.<package> maps onto
    found: set[str] = set()

    def add(module: str) -> None:
        parts = module.split(".")
        found.add(parts[1] if parts[0] == "kalshi_fixsim" and len(parts) > 1 else parts[0])

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module:
                add(node.module)
            elif node.level > len(path.relative_to(ROOT).parts) - 1:
                # climbs out of its own package: `from ..client import x` in simulator/cli.py
                add(node.module or ".".join(alias.name for alias in node.names))
            else:
                found.add(package)
    return found


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", sources("fixproto"), ids=rel)
def test_fixproto_imports_neither_simulator_nor_client(path):
    assert not imports(path) & {"simulator", "client"}


@pytest.mark.parametrize("path", [p for p in sources("fixproto") if rel(p) not in IO_GLUE], ids=rel)
def test_protocol_code_does_no_io_and_reads_no_clock(path):
    assert not imports(path) & IO_MODULES


@pytest.mark.parametrize("path", sources("client"), ids=rel)
def test_client_never_imports_simulator(path):
    assert "simulator" not in imports(path)


@pytest.mark.parametrize("path", [p for p in sources("simulator") if rel(p) not in CROSS_GLUE], ids=rel)
def test_simulator_never_imports_client_outside_the_glue(path):
    assert "client" not in imports(path)


@pytest.mark.parametrize("path", sources("simulator/engine") if (ROOT / "simulator/engine").exists() else [],
                         ids=rel)
def test_engine_is_fix_free_and_does_no_io(path):
    assert not imports(path) & ({"fixproto"} | IO_MODULES)


@pytest.mark.parametrize("path", sources("simulator/faults"), ids=rel)
def test_fault_engine_does_no_io_and_reads_no_clock(path):
    # DESIGN §3 rule 1: frames in, frames and actions out; `now` comes from the injected clock.
    assert not imports(path) & IO_MODULES


@pytest.mark.parametrize("path", sources("simulator/faults"), ids=rel)
def test_fault_engine_never_reaches_into_the_matching_engine_or_the_client(path):
    # Venue faults act in the gateway (simulator/gateway/fault_gate.py), never by bending the engine.
    tree = ast.parse(path.read_text(), filename=str(path))
    reached = {("." * n.level) + (n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "client" not in imports(path)
    assert not {m for m in reached if m.startswith("..engine") or m.startswith("kalshi_fixsim.simulator.engine")}


@pytest.mark.parametrize("path", [p for p in sources("simulator/gateway")] + [ROOT / "simulator/auth.py"], ids=rel)
def test_gateway_and_auth_do_no_io(path):
    assert not imports(path) & IO_MODULES


@pytest.mark.parametrize("path", sources("fixproto") + sources("simulator") + sources("client"), ids=rel)
def test_simplefix_is_not_a_runtime_dependency(path):
    assert "simplefix" not in imports(path)


@pytest.mark.parametrize("path", sources("fixproto") + sources("simulator") + sources("client"), ids=rel)
def test_code_imports_through_the_kalshi_fixsim_namespace(path):
    # issue 10 §1: a bare `import simulator` would resolve to a user's own package of that name.
    tree = ast.parse(path.read_text(), filename=str(path))
    bare = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    bare |= {node.module for node in ast.walk(tree)
             if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module}
    assert not {name for name in bare if name.split(".")[0] in {"fixproto", "simulator", "client"}}
