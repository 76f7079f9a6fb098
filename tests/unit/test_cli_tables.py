"""Tables on a real terminal width: no job name and no state is ever split across lines
(issue 12: ``after-bac`` / ``kup``, ``succeede`` / ``d`` at 80 columns). Colour is forced, so
rich draws them, sized from COLUMNS as on a terminal; plain output on a terminal follows the
same layout."""

from __future__ import annotations

import io
import re
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cronpy.cli.commands.history import HistoryResult
from cronpy.cli.commands.status import JobStatus, RunnerStatus, StatusResult
from cronpy.cli.render import render
from cronpy.cli.render.fit import Column, fit
from cronpy.model import Run, Status, Trigger

T = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
NAMES = ("after-backup", "nightly-dump", "7")


def _run(run_id: int, job: str, status: Status, **kw: object) -> Run:
    args: dict[str, object] = {
        "id": run_id,
        "job": job,
        "status": status,
        "trigger": Trigger.SCHEDULE,
        "scheduled_at": T,
        "started_at": T + timedelta(seconds=2),
        "ended_at": T + timedelta(seconds=62),
    }
    args.update(kw)
    return Run(**args)  # type: ignore[arg-type]


RUNS = (
    _run(3, "after-backup", Status.CANCELLED, signal=int(signal.SIGTERM)),
    _run(2, "nightly-dump", Status.TIMED_OUT, signal=int(signal.SIGTERM)),
    _run(1, "7", Status.SUCCEEDED, exit_code=0),
)


def _status() -> StatusResult:
    def job(name: str, last: Run, **kw: object) -> JobStatus:
        args: dict[str, object] = {
            "name": name,
            "schedule": "*/15 3-5 * * mon-fri",
            "timezone": "America/Argentina/Buenos_Aires",
            "paused": False,
            "paused_until": None,
            "next_run_at": T + timedelta(days=1),
            "last_run": last,
            "running": (),
            "present": True,
        }
        args.update(kw)
        return JobStatus(**args)  # type: ignore[arg-type]

    jobs = (
        job("7", RUNS[2], running=(RUNS[2],)),
        job("after-backup", RUNS[0], paused=True, paused_until=T + timedelta(days=3)),
        job("nightly-dump", RUNS[1], late="late: still running after 1h"),
    )
    runner = RunnerStatus(pid=42, host="box", started_at=T)
    return StatusResult(state_dir=Path("/s"), now=T, runners=(runner,), jobs=jobs)


# What must appear whole, on one line, at every width.
STATUS_WORDS = (*NAMES, "cancelled (SIGTERM)", "timed_out (SIGTERM)", "succeeded", "late")
HISTORY_WORDS = (*NAMES, "cancelled (SIGTERM)", "timed_out (SIGTERM)", "succeeded")


def _draw(result: object, width: int, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", str(width))
    out = io.StringIO()
    render(result, stream=out, color=True)
    return [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize(
    ("result", "words", "first"),
    [(_status(), STATUS_WORDS, "JOB"), (HistoryResult(None, RUNS), HISTORY_WORDS, "ID")],
    ids=["status", "history"],
)
def test_tables_never_split_a_name_or_a_state(
    result: object, words: tuple[str, ...], first: str, width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = _draw(result, width, monkeypatch)
    table = lines[next(i for i, line in enumerate(lines) if line.startswith(first)) :]
    assert all(len(line) <= width for line in table), "\n".join(table)
    for word in words:
        assert any(re.search(rf"(^|\s){re.escape(word)}(\s|$)", line) for line in table), (
            word,
            "\n".join(table),
        )
    # every row is one line: the header, the rule, one per run/job, the zone caption
    assert len(table) == 2 + 3 + 1, "\n".join(table)


def test_columns_that_are_never_left_out_stay_whole_even_when_too_wide(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = _draw(_status(), 40, monkeypatch)
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("JOB")) :]
    assert table[0].split() == ["JOB", "RESULT", "NOW"]
    assert any("paused until Mar 05 03:00" in line for line in table), "\n".join(table)
    assert any(line.startswith("nightly-dump  timed_out (SIGTERM)") for line in table)


def test_a_wide_terminal_shows_every_column(monkeypatch: pytest.MonkeyPatch) -> None:
    header = next(line for line in _draw(_status(), 200, monkeypatch) if line.startswith("JOB"))
    assert header.split() == [
        "JOB", "SCHEDULE", "TIMEZONE", "NEXT", "RUN", "IN", "LAST", "RUN", "RESULT", "NOW"
    ]  # fmt: skip


def test_fit_leaves_out_the_least_useful_columns_first() -> None:
    columns = [Column("A"), Column("B", drop=2), Column("C", drop=1), Column("D")]
    rows = [["a" * 10, "b" * 10, "c" * 10, "d" * 10]]
    assert fit(columns, rows, None).keep == (0, 1, 2, 3)
    assert fit(columns, rows, 46).keep == (0, 1, 2, 3)  # 4 x 10 + 3 gaps of 2
    assert fit(columns, rows, 45).keep == (0, 2, 3)  # B goes first
    assert fit(columns, rows, 33).keep == (0, 3)
    # never below the columns that are always shown: the terminal folds the line instead
    assert fit(columns, rows, 10) == ((0, 3), (10, 10))
