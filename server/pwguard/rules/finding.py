"""A finding: one problem at one place in a rule file (a plain, frozen, JSON-friendly value)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """`path:line:col: CODE message`; lines and columns count from 1 (0 = unknown)."""

    code: str
    path: str
    line: int
    col: int
    message: str
    severity: Severity = "error"

    @classmethod
    def at(
        cls, path: str, line: int, col: int, code: str, message: str, severity: Severity = "error"
    ) -> Finding:
        return cls(code, path, line, col, message, severity)

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.path, self.line, self.col, self.code, self.message)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.code} {self.message}"
