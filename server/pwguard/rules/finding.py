"""A finding: one problem at one place in a rule file (a plain, frozen, JSON-friendly value)."""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


def printable(text: str) -> str:
    """`text` as it is shown: one line whatever it holds, and encodable in any UTF.

    A file name's bytes that are not UTF-8 (Python keeps them as surrogate escapes) show as
    `\\xff`; control characters as Python escapes (`\\n`, `\\x1b`): a name or key holding
    a newline cannot forge a line of output.
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's escape of the byte code - 0xDC00
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(ch) in ("Cc", "Cs"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


SHOWN_CHARS = 100


def shown(text: str, limit: int = SHOWN_CHARS) -> str:
    """A value a message quotes, as `repr` shows it, cut after `limit` characters with its
    length said: a finding about a 600 KB selector stays one readable line."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def cut(text: str, limit: int = SHOWN_CHARS) -> str:
    """Like `shown`, for text a message gives unquoted (a suggested rewrite)."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Finding:
    """`path:line:col: CODE message`; lines and columns count from 1 (0 = unknown).

    A finding about a whole folder or input (line 0: no rule files in a folder, a folder that
    cannot be listed) shows as `path: CODE message`, without a line to go to.
    """

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
        """As JSON output shows it (path and message `printable`)."""
        return {**asdict(self), "path": printable(self.path), "message": printable(self.message)}

    def __str__(self) -> str:
        path, message = printable(self.path), printable(self.message)
        if self.line <= 0:
            return f"{path}: {self.code} {message}"
        return f"{path}:{self.line}:{self.col}: {self.code} {message}"
