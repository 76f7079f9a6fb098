"""Where a key path (``("jobs", "backup", "retry", "delay")``) is written in the TOML text.

tomllib gives values but no positions, so problems found after parsing get their line and
column from a light, linear scan of the source. It understands the usual layouts (table
headers, dotted keys, inline tables, multi-line strings) and runs only when a file has
something to report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

_HEADER = re.compile(r"\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_PART = re.compile(r"\s*([A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*')\s*")
_INLINE_KEY = re.compile(r"[{,]\s*([A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\")\s*=")


def _unquote(part: str) -> str:
    if part.startswith('"'):
        try:
            return str(json.loads(part))
        except ValueError:
            return part[1:-1]
    if part.startswith("'"):
        return part[1:-1]
    return part


def _dotted_key(text: str, start: int) -> tuple[list[str], int] | None:
    """The key parts of ``a."b".c`` at ``start`` and the index just past them."""
    parts: list[str] = []
    pos = start
    while True:
        match = _KEY_PART.match(text, pos)
        if match is None:
            return None
        parts.append(_unquote(match.group(1)))
        pos = match.end()
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return parts, pos


class Locator:
    """Where tables and keys start: one pass over the lines, good for the usual layouts.

    Only the tables named in ``wanted`` (the places of the problems found) are looked into,
    so a file with 10,000 jobs and one mistake costs one cheap pass.
    """

    def __init__(self, text: str, wanted: Iterable[tuple[str, ...]]) -> None:
        self.places: dict[tuple[str, ...], tuple[int, int]] = {}
        tables = {path[:end] for path in wanted for end in range(len(path) + 1)}
        table: tuple[str, ...] = ()
        relevant = True
        closing: str | None = None  # inside a multi-line string: its closing quotes
        # TOML counts lines by "\n" only; str.splitlines would also split on \x0c, \u2028, ...
        for number, raw_line in enumerate(text.split("\n"), start=1):
            line = raw_line.rstrip("\r")
            if closing is not None:
                if closing in line:
                    closing = None
                continue
            body = line.lstrip()
            indent = len(line) - len(body)
            if body.startswith("["):
                header = _HEADER.match(body)
                parsed = _dotted_key(header.group(1), 0) if header else None
                if parsed is not None:
                    table = tuple(parsed[0])
                    relevant = table in tables
                    self._mark(table, (), number, indent + 1)
                continue
            if not relevant and '"""' not in body and "'''" not in body:
                continue  # cannot hide a header inside a string, and nothing wanted is here
            parsed = _dotted_key(body, 0)
            if parsed is None or not body[parsed[1] :].startswith("="):
                continue
            value = body[parsed[1] + 1 :].lstrip()
            for quotes in ('"""', "'''"):
                if value.startswith(quotes) and quotes not in value[3:]:
                    closing = quotes
            if not relevant:
                continue
            key = (*table, *parsed[0])
            self._mark(key, table, number, indent + 1)
            if value.startswith("{"):
                offset = indent + len(body) - len(value)
                for inner in _INLINE_KEY.finditer(value):
                    self._mark(
                        (*key, _unquote(inner.group(1))), key, number, offset + inner.start(1) + 1
                    )

    def _mark(self, key: tuple[str, ...], table: tuple[str, ...], line: int, column: int) -> None:
        # Every prefix below the current table is defined here too (dotted keys).
        for end in range(len(table) + 1, len(key) + 1):
            self.places.setdefault(key[:end], (line, column))

    def find(self, where: tuple[str, ...]) -> tuple[int | None, int | None]:
        for end in range(len(where), 0, -1):
            place = self.places.get(where[:end])
            if place is not None:
                return place
        return None, None
