"""Scenario file problems: `file:line: key.path: what was expected`."""
from __future__ import annotations

from pathlib import Path


class ScenarioError(ValueError):
    def __init__(self, file: Path | str, line: int, path: str, message: str) -> None:
        self.file, self.line, self.path, self.message = Path(file), line, path, message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ScenarioErrors(ValueError):
    """Every problem of a load, in file order; str() is one line per problem."""

    def __init__(self, errors: list[ScenarioError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class Problems:
    def __init__(self, file: Path | str) -> None:
        self.file = Path(file)
        self.errors: list[ScenarioError] = []

    def add(self, line: int, path: str, message: str) -> None:
        self.errors.append(ScenarioError(self.file, line, path, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ScenarioErrors(self.errors)
