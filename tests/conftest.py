"""Shared test setup: the kalshi-fixsim pytest plugin and raw-wire helpers."""
from __future__ import annotations

import kalshi_fixsim.simulator.pytest_plugin as _plugin


def pytest_configure(config):
    # Installed packages load the plugin through its pytest11 entry point; a plain checkout does not.
    if not config.pluginmanager.has_plugin("kalshi_fixsim") and not config.pluginmanager.is_registered(_plugin):
        config.pluginmanager.register(_plugin, "kalshi_fixsim")
