"""The live view of ``cronpy top``: a full screen redrawn from a fresh snapshot at most once
a second, until ``q`` or Ctrl-C. The terminal goes into cbreak mode (keys arrive one by one,
unechoed) and is restored in ``finally``, whatever ends the view; rich's alternate screen
gives back what was on the terminal before."""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable, Iterator
from typing import Any

from cronpy.cli.commands.top import TopSnapshot
from cronpy.cli.render.words import STATUS_STYLE, duration, outcome, when

REFRESH = 1.0  # seconds between snapshots: the store is read no faster than this
QUIT_KEYS = frozenset({"q", "Q", "\x03"})  # \x03: Ctrl-C, should it arrive as a key


def draw(snap: TopSnapshot) -> Any:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    def table(title: str, *columns: str) -> Table:
        t = Table(title=title, title_justify="left", title_style="bold", expand=True)
        for column in columns:
            t.add_column(column, overflow="fold")
        return t

    runner = snap.runner
    head = Text(f"cronpy top  {when(snap.now)}  {snap.jobs} jobs  ", style="bold")
    if runner is None:
        head.append("no runner up", style="red")
    else:
        head.append(f"runner pid {runner['pid']} on {runner['host']}", style="green")
        if runner.get("degraded"):
            head.append(f"  degraded: {runner.get('degraded')}", style="yellow")
    head.append("   q: quit", style="dim")

    running = table("Running now", "JOB", "RUN", "ELAPSED", "OUTPUT (tail)")
    for r in snap.running:
        running.add_row(r.run.job, str(r.run.id), duration(r.elapsed), "\n".join(r.tail))
    upcoming = table("Next", "JOB", "AT")
    for name, at in snap.upcoming:
        upcoming.add_row(name, when(at, short=True))
    failures = table("Recent failures", "JOB", "RUN", "ENDED", "STATUS")
    for run in snap.failures:
        failures.add_row(
            run.job,
            str(run.id),
            when(run.ended_at or run.started_at, short=True),
            Text(outcome(run), style=STATUS_STYLE[run.status]),
        )
    late = table("Late", "JOB", "WHY")
    for name, why in snap.late:
        late.add_row(name, Text(why, style="yellow"))
    return Group(head, running, upcoming, failures, late)


@contextlib.contextmanager
def keys_one_by_one(fd: int) -> Iterator[None]:
    """cbreak mode on a terminal, restored in finally; nothing to do on a pipe."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def live(take: Callable[[], TopSnapshot], *, stdin_fd: int | None = None) -> None:
    """Show snapshots until q, Ctrl-C, or the end of stdin."""
    from rich.console import Console
    from rich.live import Live

    fd = sys.stdin.fileno() if stdin_fd is None else stdin_fd
    console = Console()
    with (
        keys_one_by_one(fd),
        contextlib.suppress(KeyboardInterrupt),
        Live(draw(take()), console=console, screen=True, auto_refresh=False) as view,
    ):
        next_at = time.monotonic() + REFRESH
        while True:
            ready, _, _ = select.select([fd], [], [], max(0.0, next_at - time.monotonic()))
            if ready:
                key = os.read(fd, 32).decode("utf-8", "replace")
                if not key or QUIT_KEYS & set(key):
                    return
            if time.monotonic() >= next_at:
                view.update(draw(take()), refresh=True)
                next_at = time.monotonic() + REFRESH
