"""The renderer's machinery: which view draws which result type, whether to colour, and the
output surface views draw on (lines, styled segments and tables, through rich or plain).

rich is imported only inside ``Output`` and only when colour is on: plain output (a pipe, a
file, ``NO_COLOR``) never loads it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TextIO, TypeVar

R = TypeVar("R")
ViewOf = Callable[[R, "Output"], None]  # draws one result of type R
View = Callable[[Any, "Output"], None]

_VIEWS: dict[type, View] = {}

# Terminals rich itself treats as unable to show colour.
DUMB_TERMS = frozenset({"dumb", "unknown"})


def view(result_type: type[R]) -> Callable[[ViewOf[R]], ViewOf[R]]:
    """Register the decorated function as the human view of ``result_type`` (one per type)."""

    def register(fn: ViewOf[R]) -> ViewOf[R]:
        if result_type in _VIEWS:
            raise TypeError(f"{result_type.__qualname__} already has a view")
        _VIEWS[result_type] = fn
        return fn

    return register


def registered_view(result_type: type) -> View | None:
    return _VIEWS.get(result_type)


def isatty(stream: TextIO) -> bool:
    method = getattr(stream, "isatty", None)
    return bool(method and method())


def color_wanted(stream: TextIO) -> bool:
    """Colour only on a terminal that can show it, and never with NO_COLOR set
    (https://no-color.org). The one place this is decided: rich is then told, not asked."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM", "").lower() in DUMB_TERMS:
        return False
    return isatty(stream)


class Cell(NamedTuple):  # not a dataclass: building one costs ~0.25 ms at every start
    text: str
    style: str | None = None  # a rich style name; ignored without colour


class Output:
    """Lines and tables, coloured through rich or plain."""

    def __init__(self, stream: TextIO, color: bool) -> None:
        self.stream = stream
        self.color = color
        self._console: Any = None

    def line(self, text: str = "", style: str | None = None) -> None:
        if self.color and style:
            self.console.print(text, style=style, markup=False, highlight=False)
        else:
            self.stream.write(text + "\n")

    def segments(self, parts: Sequence[Cell]) -> None:
        """One line made of differently styled pieces."""
        if not self.color:
            self.stream.write("".join(p.text for p in parts) + "\n")
            return
        from rich.text import Text

        text = Text()
        for part in parts:
            text.append(part.text, style=part.style or "")
        self.console.print(text, highlight=False)

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[Cell]],
        right: frozenset[int] = frozenset(),
    ) -> None:
        """Columns sized to their content; ``right`` holds the indexes of right-aligned ones."""
        if self.color:
            self._rich_table(headers, rows, right)
        else:
            self._plain_table(headers, rows, right)

    @property
    def console(self) -> Any:
        if self._console is None:
            from rich.console import Console

            # Colour is already decided (color_wanted, or the caller): rich must not undo it
            # from NO_COLOR or TERM, which it reads on its own. It still picks how many colours
            # the terminal has, except on one it would call dumb, where 8 are safe.
            dumb = os.environ.get("TERM", "").lower() in DUMB_TERMS
            self._console = Console(
                file=self.stream,
                highlight=False,
                force_terminal=True,
                no_color=False,
                color_system="standard" if dumb else "auto",
            )
        return self._console

    def _rich_table(
        self, headers: Sequence[str], rows: Sequence[Sequence[Cell]], right: frozenset[int]
    ) -> None:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(
            box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False, collapse_padding=True
        )
        for i, header in enumerate(headers):
            # In a narrow terminal cells wrap ("fold"): no header, name or time is ever cut
            # short with "…", and no column is pushed off the screen.
            table.add_column(
                header,
                justify="right" if i in right else "left",
                min_width=len(header),
                overflow="fold",
            )
        for row in rows:
            table.add_row(*(Text(c.text, style=c.style or "") for c in row))
        self.console.print(table)

    def _plain_table(
        self, headers: Sequence[str], rows: Sequence[Sequence[Cell]], right: frozenset[int]
    ) -> None:
        widths = [len(h) for h in headers]
        for row in rows:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell.text))

        def fmt(texts: Sequence[str]) -> str:
            parts = [
                t.rjust(widths[i]) if i in right else t.ljust(widths[i])
                for i, t in enumerate(texts)
            ]
            return "  ".join(parts).rstrip()

        lines = [fmt(headers)] + [fmt([c.text for c in row]) for row in rows]
        self.stream.write("\n".join(lines) + "\n")
