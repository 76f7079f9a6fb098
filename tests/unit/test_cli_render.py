"""The renderer: the same results as colour tables (rich), plain text, or JSON."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cronpy.cli.commands.history import HistoryResult
from cronpy.cli.commands.preview import NextResult
from cronpy.cli.commands.status import JobStatus, RunnerStatus, StatusResult
from cronpy.cli.render import render
from cronpy.model import Run, Status, Trigger

T = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
ANSI = re.compile(r"\x1b\[")


def run(run_id: int, status: Status, **kw: object) -> Run:
    args: dict[str, object] = {
        "id": run_id,
        "job": "backup",
        "status": status,
        "trigger": Trigger.SCHEDULE,
        "scheduled_at": T,
        "started_at": T + timedelta(seconds=2),
        "ended_at": T + timedelta(seconds=62),
    }
    args.update(kw)
    return Run(**args)  # type: ignore[arg-type]


def history() -> HistoryResult:
    newest_first = (
        run(4, Status.MISSED, started_at=None, missed_count=3),
        run(3, Status.SKIPPED, started_at=None, reason="paused"),
        run(2, Status.FAILED, exit_code=3),
        run(1, Status.SUCCEEDED, exit_code=0),
    )
    return HistoryResult(job="backup", runs=newest_first)


def status() -> StatusResult:
    job = JobStatus(
        name="backup",
        schedule="0 3 * * *",
        timezone="UTC",
        paused=True,
        paused_until=None,
        next_run_at=T + timedelta(days=1),
        last_run=run(2, Status.FAILED, exit_code=3),
        running=(),
        present=True,
    )
    return StatusResult(
        state_dir=Path("/state"),
        now=T,
        runners=(RunnerStatus(pid=42, host="box", started_at=T),),
        jobs=(job,),
    )


def rendered(result: object, *, color: bool) -> str:
    out = io.StringIO()
    render(result, stream=out, color=color)
    return out.getvalue()


def test_plain_history_has_a_letter_strip_oldest_first_and_a_legend(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")  # piped: every column whatever the width
    text = rendered(history(), color=False)
    assert not ANSI.search(text)
    lines = text.splitlines()
    assert lines[0].endswith("SF-M")
    assert lines[1].strip() == "S succeeded, F failed, - skipped, M missed"
    header = next(line for line in lines if line.startswith("ID"))
    assert header.split() == [
        "ID",
        "JOB",
        "SCHEDULED",
        "STARTED",
        "DURATION",
        "STATUS",
        "EXIT",
        "TRIGGER",
        "LATE",
        "CPU",
        "MAXRSS",
    ]
    row = next(line for line in lines if "failed (exit 3)" in line)
    assert " 1m00s " in row and " 2s " in row  # duration and lateness


def test_wide_history_shows_what_each_run_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    costly = replace(run(7, Status.SUCCEEDED), cpu_seconds=0.5234, max_rss_kib=51_300)
    text = rendered(HistoryResult(runs=(costly,), job=None), color=False)
    header = next(line for line in text.splitlines() if line.startswith("ID"))
    assert header.split()[-2:] == ["CPU", "MAXRSS"]
    row = next(line for line in text.splitlines() if line.lstrip().startswith("7 "))
    assert row.split()[-2:] == ["0.52s", "50.1MiB"]


def test_plain_table_right_aligns_numbers() -> None:
    runs = (run(10, Status.SUCCEEDED, exit_code=0), run(9, Status.SUCCEEDED, exit_code=0))
    text = rendered(HistoryResult(job=None, runs=runs), color=False)
    ids = [line[:2] for line in text.splitlines() if line[:2].strip().isdigit()]
    assert ids == ["10", " 9"]


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    """rich sizes tables to the terminal; make the pretend terminal one it sizes from COLUMNS
    (it takes any "dumb" one as 80 wide) and wide enough for one line."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLUMNS", "200")


def unstyled(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_colour_history_uses_escape_codes_and_squares(wide: None) -> None:
    text = rendered(history(), color=True)
    assert ANSI.search(text)
    assert unstyled(text.splitlines()[0]).endswith("■■■■")
    assert "failed (exit 3)" in unstyled(text)


def test_status_plain_and_colour_show_the_same_facts(wide: None) -> None:
    plain = rendered(status(), color=False)
    colour = unstyled(rendered(status(), color=True))
    for text in (plain, colour):
        assert "pid 42 on box" in text
        assert "failed (exit 3)" in text and "paused" in text and "0 3 * * *" in text
        assert "in 1d00h" in text
    assert not ANSI.search(plain)


@pytest.mark.parametrize(
    "environ", [{"TERM": "dumb"}, {"TERM": "unknown"}, {"NO_COLOR": "1"}, {"TERM": "xterm"}]
)
def test_colour_asked_for_is_colour_whatever_the_environment(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    strip = rendered(history(), color=True).splitlines()[0]
    assert re.search(r"\x1b\[[0-9;]*3[1-7]m", strip)  # a foreground colour, not only bold
    assert unstyled(strip).endswith("■■■■")
    assert not ANSI.search(rendered(history(), color=False))


def test_json_is_the_result_document() -> None:
    out = io.StringIO()
    render(status(), as_json=True, stream=out)
    data = json.loads(out.getvalue())
    assert data == status().to_json()
    assert data["jobs"][0]["last_run"]["exit_code"] == 3
    assert data["jobs"][0]["next_run_at"] == "2026-03-03T03:00:00+00:00"


def test_next_marks_only_the_results_where_the_offset_changes() -> None:
    zone = ZoneInfo("Europe/Berlin")
    times = tuple(
        datetime.fromisoformat(t).astimezone(zone)
        for t in (
            "2026-03-28T01:30:00+00:00",
            "2026-03-29T01:30:00+00:00",
            "2026-03-30T01:30:00+00:00",
        )
    )
    result = NextResult(
        schedule="30 H * * *",  # text only; rendering does not parse it
        timezone="Europe/Berlin",
        after=datetime(2026, 3, 28, tzinfo=UTC),
        times=times,
        zone=zone,
    )
    lines = rendered(result, color=False).splitlines()[1:]
    marked = ["→" in line for line in lines]
    assert marked == [False, True, False]
    assert "+01:00 → +02:00" in lines[1] and "2026-03-29T01:30:00Z" in lines[1]


@pytest.mark.parametrize("as_json", [False, True])
def test_unknown_results_are_a_programming_error(as_json: bool) -> None:
    with pytest.raises((TypeError, AttributeError)):
        render(object(), as_json=as_json, stream=io.StringIO())


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({"TERM": "xterm"}, True),
        ({"TERM": "dumb"}, False),
        ({"TERM": "unknown"}, False),  # what rich calls dumb too
        ({"TERM": "xterm", "NO_COLOR": "1"}, False),
    ],
)
def test_colour_is_wanted_only_on_a_terminal_that_shows_it(
    environ: dict[str, str], wanted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cronpy.cli.render import color_wanted

    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert color_wanted(Tty()) is wanted
    assert not color_wanted(io.StringIO())


def test_every_result_type_has_one_view() -> None:
    from cronpy.cli.commands.control import Requested
    from cronpy.cli.commands.pause import PauseResult
    from cronpy.cli.commands.systemd import UnitResult
    from cronpy.cli.commands.validate import ValidateResult
    from cronpy.cli.render import view_for
    from cronpy.cli.render.base import view
    from cronpy.engine.why import WhyAnswer

    types = [
        StatusResult,
        HistoryResult,
        PauseResult,
        Requested,
        NextResult,
        WhyAnswer,
        ValidateResult,
        UnitResult,
    ]
    views = [view_for(t) for t in types]
    assert len(set(views)) == len(types)
    with pytest.raises(TypeError, match="already has a view"):
        view(StatusResult)(lambda result, out: None)


def test_rendering_loads_only_the_views_asked_for_and_no_rich() -> None:
    """Plain ``cronpy status`` and ``next`` stay fast: a result type's views are imported when
    it is first rendered (``why``'s would load the engine), rich only for colour."""
    import subprocess
    import sys

    program = """
import io, sys
from datetime import UTC, datetime
from pathlib import Path
from cronpy.cli.commands.status import StatusResult
from cronpy.cli.render import render
render(StatusResult(Path("/s"), datetime.now(UTC), (), ()), stream=io.StringIO(), color=False)
render(StatusResult(Path("/s"), datetime.now(UTC), (), ()), stream=io.StringIO(), as_json=True)
from zoneinfo import ZoneInfo
from cronpy.cli.commands.preview import NextResult
utc = ZoneInfo("UTC")
render(NextResult("@daily", "UTC", datetime.now(UTC), (), utc), stream=io.StringIO(), color=False)
watched = ("rich", "typer", "cronpy.schedule", "cronpy.engine", "cronpy.config", "cronpy.cli.")
print(" ".join(sorted(m for m in sys.modules if m.startswith(watched))))
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.split()
    assert [m for m in loaded if m.startswith("cronpy.cli.render.")] == [
        "cronpy.cli.render.base",
        "cronpy.cli.render.fit",
        "cronpy.cli.render.next",
        "cronpy.cli.render.status",
        "cronpy.cli.render.words",
    ]
    assert not [m for m in loaded if not m.startswith("cronpy.cli.")], loaded
    assert "cronpy.cli.commands.history" not in loaded


def test_every_test_sees_utc_as_the_local_zone() -> None:
    """tests/conftest.py pins TZ (and tzset), so local times in tables do not follow the caller."""
    assert datetime(2026, 7, 1, tzinfo=UTC).astimezone().utcoffset() == timedelta(0)
    from cronpy.cli.render.words import when

    assert when(T) == "2026-03-02 03:00:00 UTC"  # the long form names its zone
