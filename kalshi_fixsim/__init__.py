"""kalshi-fixsim: a simulator of Kalshi's FIX gateways, a reference client and a conformance kit.

Everything importable lives under this one package, so a user's own `client/` or `simulator/`
package never collides with ours: `kalshi_fixsim.fixproto` (the sans-IO session layer),
`kalshi_fixsim.simulator` (the exchange) and `kalshi_fixsim.client` (the reference client) are
mapped onto the repository's top-level folders by pyproject.toml (`[tool.setuptools.package-dir]`).

The short public names are loaded on first use, so `import kalshi_fixsim` stays cheap:

    from kalshi_fixsim import FixClient, FixExchange, LogonOptions
"""
from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version as _dist_version

try:
    __version__ = _dist_version("kalshi-fixsim")
except PackageNotFoundError:  # a plain checkout that was never installed
    __version__ = "0+unknown"

# public name -> module that defines it
_ALIASES = {
    "FixClient": "kalshi_fixsim.client",
    "LogonOptions": "kalshi_fixsim.client",
    "LogonError": "kalshi_fixsim.client",
    "ConnectionClosed": "kalshi_fixsim.client",
    "FixExchange": "kalshi_fixsim.simulator.pytest_plugin",
    "Simulator": "kalshi_fixsim.simulator.server",
    "SimulatorThread": "kalshi_fixsim.simulator.server",
}

__all__ = ["__version__", *_ALIASES]


def __getattr__(name: str):
    module = _ALIASES.get(name)
    if module is None:
        raise AttributeError(f"module 'kalshi_fixsim' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
