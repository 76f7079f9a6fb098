"""Fitting a table to the terminal without splitting a cell across lines.

A wrapped table splits names and states (``after-bac`` / ``kup``, ``succeede`` / ``d``), which
a reader then cannot find with their eyes or with grep; a cell cut short with "…" is no better
for a zone or a cron expression. So cells are never wrapped nor cut: as ``ps`` and ``kubectl``
do, a table too wide for the terminal leaves out its least useful columns, and never the ones
that name a job, a run or a state. A pure function, so the choice is tested without a terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

GAP = 2  # spaces between two columns, in the plain table and in rich's (show_edge=False)


class Column(NamedTuple):
    header: str
    right: bool = False  # right-aligned (numbers)
    drop: int = 0  # 0: always shown; otherwise left out when too narrow, the highest first


class Layout(NamedTuple):
    keep: tuple[int, ...]  # the indexes of the columns shown, in order
    widths: tuple[int, ...]  # the width of each column shown


def fit(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None) -> Layout:
    """Which columns to show, and how wide, in a terminal ``width`` columns wide (None: no
    limit). When even the columns that are never left out do not fit, they are shown whole:
    the terminal then folds the line, which still keeps each cell in one piece."""
    natural = [len(c.header) for c in columns]
    for i, texts in enumerate(zip(*rows, strict=True)):  # by column: one max() each, not per cell
        natural[i] = max(natural[i], *map(len, texts))
    keep = list(range(len(columns)))

    def total() -> int:
        return sum(natural[i] for i in keep) + GAP * (len(keep) - 1)

    while width is not None and total() > width:
        droppable = [i for i in keep if columns[i].drop]
        if not droppable:
            break
        keep.remove(max(droppable, key=lambda i: (columns[i].drop, i)))
    return Layout(tuple(keep), tuple(natural[i] for i in keep))
