"""The renderer's machinery: which view draws which result type, whether to colour, and the
output surface views draw on (lines, styled segments and tables, through rich or plain).

rich is imported only inside ``Output`` and only when colour is on: plain output (a pipe, a
file, ``NO_COLOR``) never loads it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TextIO, TypeVar

from cronpy.cli.render.fit import GAP, Column, Layout, fit

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

    def table(self, columns: Sequence[Column], rows: Sequence[Sequence[Cell]]) -> None:
        """Columns sized to their content and fitted to the terminal (``fit``): no cell is ever
        split across lines or cut; a table too wide leaves out the columns that allow it."""
        texts = [[c.text for c in row] for row in rows]
        layout = fit(columns, texts, self.width())
        if self.color:
            shown = [columns[i] for i in layout.keep]
            cells = [[row[i] for i in layout.keep] for row in rows]
            self._rich_table(shown, cells, layout.widths)
        else:
            self._plain_table(columns, texts, layout)

    def width(self) -> int | None:
        """The terminal's width when the output goes to one; None (no limit) for a pipe or file,
        where a script wants every column whatever its length."""
        if self.color:
            return int(self.console.width)
        if not isatty(self.stream):
            return None
        import shutil

        return shutil.get_terminal_size().columns  # honours COLUMNS, as rich does

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
        self, columns: Sequence[Column], rows: Sequence[Sequence[Cell]], widths: Sequence[int]
    ) -> None:
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(
            box=box.SIMPLE_HEAD,
            header_style="bold",
            pad_edge=False,
            collapse_padding=True,
            show_edge=False,  # so the columns and gaps add up to what ``fit`` counted
        )
        for column, width in zip(columns, widths, strict=True):
            table.add_column(
                column.header,
                justify="right" if column.right else "left",
                width=width,
                no_wrap=True,  # never split a name or a state: ``fit`` made the room
            )
        for row in rows:
            table.add_row(*(Text(c.text, style=c.style or "") for c in row))
        needed = sum(widths) + GAP * (len(widths) - 1)
        console = self.console
        if needed <= console.width:
            console.print(table)
            return
        # Even the columns never left out are wider than the terminal: print them whole (the
        # terminal folds the line) rather than let rich squeeze or cut them.
        terminal = console.width
        console.width = needed
        try:
            console.print(table)
        finally:
            console.width = terminal

    def _plain_table(
        self, columns: Sequence[Column], texts: Sequence[Sequence[str]], layout: Layout
    ) -> None:
        """``columns`` and each row of ``texts`` whole; ``layout`` says which are shown."""
        # One format string for every row: a 1,000-row table is 8,000 cells, and one
        # str.format per row costs a third of a ljust per cell.
        line = (" " * GAP).join(
            f"{{{i}:{'>' if columns[i].right else '<'}{width}}}"
            for i, width in zip(layout.keep, layout.widths, strict=True)
        )
        lines = [line.format(*(c.header for c in columns)).rstrip()]
        lines += [line.format(*row).rstrip() for row in texts]
        self.stream.write("\n".join(lines) + "\n")
