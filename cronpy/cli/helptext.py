"""``cronpy --help`` without typer: the same text, laid out as click lays it out.

Importing typer and building its 17 commands costs ~45 ms, more than twice the interpreter's
own start, to print a page that changes only with the terminal's width. So ``cronpy.cli.main``
prints this one page from the table below, with click's layout rules copied here (usage line,
paragraph, two-column lists, a summary cut to fit). Everything else, ``COMMAND --help``
included, is typer's. tests/unit/test_cli_help.py holds this page to typer's at every width
click distinguishes, so the table cannot drift from the commands ``cronpy.cli.app`` registers.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Sequence

USAGE = "[OPTIONS] COMMAND [ARGS]..."
ABOUT = (
    "A cron replacement that records every run: one TOML job file, one runner, history you "
    "can query."
)

# (the option's spelling, its help as typer renders it, env var included)
OPTIONS: tuple[tuple[str, str], ...] = (
    (
        "--state-dir DIR",
        "State directory (history, locks, logs). Default: /var/lib/cronpy for root, else the "
        "user's state directory.  [env var: CRONPY_STATE_DIR]",
    ),
    (
        "--store URL",
        "The store the runners share (postgresql://...). Default: the one the state "
        "directory's runner uses, else its SQLite file.  [env var: CRONPY_STORE]",
    ),
    ("--version", "Print the version and exit."),
    ("--install-completion", "Install completion for the current shell."),
    (
        "--show-completion",
        "Show completion for the current shell, to copy it or customize the installation.",
    ),
    ("-h, --help", "Show this message and exit."),
)

# (name, summary, whether the summary is the command's own short_help, which click never cuts);
# in the order cronpy.cli.app registers them. A summary is the first sentence of the docstring.
COMMANDS: tuple[tuple[str, str, bool], ...] = (
    ("run", "Run the jobs of FILE on schedule (the runner).", False),
    ("stop", "Stop the runner of this state directory.", False),
    ("status", "Show the jobs, their next and last runs, and the runner.", False),
    ("history", "Show past runs, newest first, under a strip of outcomes.", False),
    ("logs", "Print a run's output (stdout and stderr as written).", False),
    ("top", "A live full-screen view of the runner and its jobs.", False),
    ("pause", "Pause jobs until resumed, or for a while.", False),
    ("resume", "Resume paused jobs.", False),
    ("trigger", "Run a job now, through the runner.", False),
    ("cancel", "Stop a job's running runs, or one run (--run ID).", False),
    ("reload", "Ask the runner to reread its job file.", False),
    ("next", "Show the next fire times of a schedule.", False),
    ("why", "Explain why a job ran or not, and when it runs next.", False),
    ("validate", "Check a job file as `cronpy run` would.", False),
    ("systemd-unit", "Print a systemd service unit for FILE.", True),
    ("import-crontab", "Convert a crontab into a job file.", False),
    ("edit", "Edit a job file like crontab -e.", False),
    ("store", "Copy the state into another store.", False),
)


def render() -> str:
    """The page ``cronpy --help`` prints, for this terminal."""
    width = max(min(_columns(), 80) - 2, 50)  # click's HelpFormatter
    out = [_wrap(USAGE, width, "Usage: cronpy ", " " * len("Usage: cronpy ")), "\n"]
    out += ["\n", _wrap(ABOUT, width, "  ", "  "), "\n"]
    out += ["\n", "Options:\n", *_definitions(OPTIONS, width)]
    limit = width - 6 - max(len(name) for name, _, _ in COMMANDS)
    rows = [(name, text if fixed else _shorten(text, limit)) for name, text, fixed in COMMANDS]
    out += ["\n", "Commands:\n", *_definitions(rows, width)]
    return "".join(out)


def _columns() -> int:
    """shutil.get_terminal_size().columns, without importing shutil (it loads bz2 and lzma)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    try:
        lines = int(os.environ["LINES"])
    except (KeyError, ValueError):
        lines = 0
    if columns <= 0 or lines <= 0:
        try:
            size = os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            size = os.terminal_size((80, 24))
        if columns <= 0:
            columns = size.columns or 80
    return columns


class _Wrapper(textwrap.TextWrapper):
    def _handle_long_word(
        self, reversed_chunks: list[str], cur_line: list[str], cur_len: int, width: int
    ) -> None:
        # click cuts a word longer than the line where the line ends, never at a hyphen
        space_left = max(width - cur_len, 1)
        last = reversed_chunks[-1]
        cur_line.append(last[:space_left])
        reversed_chunks[-1] = last[space_left:]


def _wrap(text: str, width: int, first: str = "", rest: str = "") -> str:
    wrapper = _Wrapper(
        width, initial_indent=first, subsequent_indent=rest, replace_whitespace=False
    )
    return wrapper.fill(text)


def _definitions(rows: Sequence[tuple[str, str]], width: int) -> list[str]:
    """click's HelpFormatter.write_dl at indent 2: names, then help wrapped beside them."""
    indent = 2
    first_col = min(max(len(name) for name, _ in rows), 30) + 2
    out: list[str] = []
    for name, text in rows:
        out.append(" " * indent + name)
        if len(name) <= first_col - 2:
            out.append(" " * (first_col - len(name)))
        else:
            out += ["\n", " " * (first_col + indent)]
        lines = _wrap(text, max(width - first_col - 2, 10)).splitlines()
        out.append(f"{lines[0]}\n")
        out += [f"{' ' * (first_col + indent)}{line}\n" for line in lines[1:]]
    return out


def _shorten(text: str, limit: int) -> str:
    """click's make_default_short_help: up to the first sentence's end, cut with "..." when it
    does not fit in ``limit``."""
    words = text.split()
    total = 0
    for i, word in enumerate(words):
        total += len(word) + (i > 0)
        if total > limit:
            break
        if word[-1] == ".":
            return " ".join(words[: i + 1])
        if total == limit and i != len(words) - 1:
            break
    else:
        return " ".join(words)
    total += 3
    while i > 0:
        total -= len(words[i]) + (i > 0)
        if total <= limit:
            break
        i -= 1
    return " ".join(words[:i]) + "..."
