"""Scenarios (issue 13): a YAML language for venue setup, faults and scripted FIX steps.

`load(path)` reads and checks a file (sans-IO, simulator/scenario/loader.py + check.py);
`run_scenario(...)` (runner.py) plays it against a test venue or a `--target`.
docs/scenarios.md is the language reference.
"""
from .loader import ScenarioError, ScenarioErrors, load, load_path

__all__ = ["ScenarioError", "ScenarioErrors", "load", "load_path"]
