"""What keeps 100,000 jobs cheap to start, without changing what the runner decides: a restart
writes only the job states that changed, and equal values are shared between jobs."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable
from dataclasses import fields, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cronpy.cli.app import run_app
from cronpy.cli.commands.status import LIST_ALL_UP_TO, PAGE
from cronpy.cli.main import main
from cronpy.engine.plan import with_next_run
from cronpy.errors import ScheduleError
from cronpy.model import JobState, RetryDue
from cronpy.runtime.statedir import db_path, ensure_state_dir
from cronpy.schedule import _parse_cached, parse_schedule
from cronpy.store.sqlite import SqliteStore
from tests.harness import Harness, utc

JOBS = """
[jobs.a]
schedule = "0 3 * * *"
command = "true"

[jobs.b]
schedule = "H H * * *"
command = "true"

[jobs.c]
schedule = "every 6h"
command = "true"
"""


def _spy_saves(h: Harness) -> list[list[str]]:
    """The names in each save_job_states call from now on."""
    writes: list[list[str]] = []
    inner = h.store._store
    real = inner.save_job_states

    def save(states: Iterable[JobState]) -> None:
        states = list(states)
        writes.append([s.name for s in states])
        real(states)

    inner.save_job_states = save  # type: ignore[method-assign]
    return writes


def test_a_restart_writes_only_the_job_states_that_changed(tmp_path: Path) -> None:
    h = Harness(tmp_path, JOBS, utc("2026-05-01T05:00:00Z"))
    h.run_for(60)
    before = h.store.job_states()
    writes = _spy_saves(h)

    h.crash_and_restart(utc("2026-05-01T05:10:00Z"))
    assert [w for w in writes if w] == []  # nothing fell due, nothing changed: no write
    assert h.store.job_states() == before
    assert h.core.next_wakeup() == min(s.next_run_at for s in before.values() if s.next_run_at)

    changed = JOBS.replace('"0 3 * * *"', '"0 4 * * *"')
    h.crash_and_restart(utc("2026-05-01T05:20:00Z"), toml=changed)
    assert [w for w in writes if w] == [["a"]]
    after = h.store.job_states()
    assert after["a"].schedule == "0 4 * * *"
    assert after["a"].next_run_at == utc("2026-05-02T04:00:00Z")
    assert after["b"] == before["b"] and after["c"] == before["c"]


def test_a_state_changed_after_the_restart_is_still_written(tmp_path: Path) -> None:
    h = Harness(tmp_path, JOBS, utc("2026-05-01T02:00:00Z"))
    h.crash_and_restart(utc("2026-05-01T02:30:00Z"))
    writes = _spy_saves(h)
    h.run_until(utc("2026-05-01T03:00:30Z"))  # job a runs at 03:00
    assert ["a"] in writes
    assert h.statuses("a") == ["succeeded"]
    assert h.store.job_states()["a"].next_run_at == utc("2026-05-02T03:00:00Z")


@pytest.mark.parametrize(
    "text",
    [
        "H H * * *",
        "h H * * mon-fri",
        "H 3 * * *",
        "0 H 1 * *",
        "H H H * * *",
        "H H * jan sun",
        "h h L * *",
        "H/5 H * * *",  # not bare: the general parser
        "H H H * *",
        "H H,3 * * *",
        "H(0-29) 2 * * *",
    ],
)
@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
def test_a_bare_h_schedule_is_what_the_general_parser_makes(text: str, zone: str) -> None:
    """Jobs written "H H * * *" take a shortcut: the expression is parsed once and each job
    only hashes its name into its H fields. Same values, same plans, as the full parser."""
    tz = ZoneInfo(zone)
    after = utc("2026-03-28T12:00:00Z")
    for i in range(200):
        name = f"job-{i:06d}"
        fast = parse_schedule(text, tz=tz, job_name=name)
        full = _parse_cached(text, tz, name)
        assert fast == full
        assert fast.next_times(after, 3) == full.next_times(after, 3)


def test_a_bare_h_schedule_that_never_fires_is_reported_for_each_job() -> None:
    tz = ZoneInfo("UTC")
    for name in ("a", "b"):
        with pytest.raises(ScheduleError, match='it never fires: no date has day-of-month "31"'):
            parse_schedule("H H 31 2 *", tz=tz, job_name=name)


def test_the_planned_copy_of_a_job_state_keeps_every_field() -> None:
    """``with_next_run`` names each field: a field added to JobState must be added there too."""
    names = [f.name for f in fields(JobState)]
    source = inspect.getsource(with_next_run)
    assert [n for n in names if f"{n}=" not in source] == []
    state = JobState(
        name="a",
        first_seen=utc("2026-01-01T00:00:00Z"),
        cursor=utc("2026-01-02T00:00:00Z"),
        next_run_at=utc("2026-01-03T00:00:00Z"),
        run_count=3,
        paused=True,
        paused_until=utc("2026-01-04T00:00:00Z"),
        last_run_id=7,
        boot_id="boot",
        retries=(RetryDue(utc("2026-01-02T00:00:00Z"), 2, utc("2026-01-02T00:01:00Z")),),
        late="late",
        schedule="H H * * *",
        timezone="UTC",
        command="true",
        present=False,
        enabled=False,
    )
    when = utc("2026-01-05T00:00:00Z")
    assert with_next_run(state, when) == replace(state, next_run_at=when)


def test_job_states_read_back_share_equal_instants_and_schedules(tmp_path: Path) -> None:
    """A restart of 100,000 jobs holds one datetime per distinct instant and one string per
    distinct schedule and zone, not one per job."""
    h = Harness(tmp_path, JOBS.replace('"every 6h"', '"0 3 * * *"'), utc("2026-05-01T02:00:00Z"))
    a, _, c = (h.store.job_states()[n] for n in "abc")
    assert a.first_seen == c.first_seen and a.first_seen is c.first_seen
    assert a.cursor is c.cursor and a.next_run_at is c.next_run_at
    assert a.schedule is c.schedule and a.timezone is c.timezone


def test_status_of_many_jobs_shows_a_page_and_says_how_many(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """100,000 jobs took ~2 s to list and scrolled out of sight: past LIST_ALL_UP_TO jobs the
    table shows the first ones by name and how to see the rest; --all and --json list all."""
    monkeypatch.delenv("CRONPY_STATE_DIR", raising=False)
    state_dir = ensure_state_dir(tmp_path / "state")
    first = utc("2026-05-01T00:00:00Z")
    count = LIST_ALL_UP_TO + 3
    SqliteStore(db_path(state_dir)).save_job_states(
        JobState(name=f"job-{i:05d}", first_seen=first, schedule="H H * * *", timezone="UTC")
        for i in range(count)
    )

    def status(*args: str) -> str:
        assert main(["--state-dir", str(state_dir), "status", *args]) == 0
        return capsys.readouterr().out

    def rows(out: str) -> list[str]:
        return [line.split()[0] for line in out.splitlines() if line.startswith("job-")]

    paged = status()
    assert rows(paged) == [f"job-{i:05d}" for i in range(PAGE)]
    assert f"only the first {PAGE:,} by name are shown" in paged
    assert "cronpy status --all" in paged
    for every in (
        status("--all"),
        run_app_out(["--state-dir", str(state_dir), "status", "--all"], capsys),
    ):
        assert len(rows(every)) == count and "only the first" not in every
    assert len(json.loads(status("--json"))["jobs"]) == count
    assert rows(status(f"job-{count - 1:05d}")) == [f"job-{count - 1:05d}"]


def test_status_of_a_page_of_jobs_or_fewer_lists_them_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRONPY_STATE_DIR", raising=False)
    state_dir = ensure_state_dir(tmp_path / "state")
    SqliteStore(db_path(state_dir)).save_job_states(
        JobState(name=f"job-{i:05d}", first_seen=utc("2026-05-01T00:00:00Z"))
        for i in range(LIST_ALL_UP_TO)
    )
    assert main(["--state-dir", str(state_dir), "status"]) == 0
    out = capsys.readouterr().out
    assert sum(line.startswith("job-") for line in out.splitlines()) == LIST_ALL_UP_TO
    assert "only the first" not in out


def run_app_out(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The same command through typer's wiring (the fast path takes plain spellings only)."""
    assert run_app(args) == 0
    return capsys.readouterr().out


def test_status_of_one_job_reads_that_job_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cronpy status JOB` among 100,000 jobs read them all (~0.5 s) to find one."""
    monkeypatch.delenv("CRONPY_STATE_DIR", raising=False)
    state_dir = ensure_state_dir(tmp_path / "state")
    SqliteStore(db_path(state_dir)).save_job_states(
        JobState(name=f"job-{i}", first_seen=utc("2026-05-01T00:00:00Z")) for i in range(3)
    )
    real = SqliteStore.job_states
    monkeypatch.setattr(SqliteStore, "job_states", lambda self: pytest.fail("read every job"))
    assert main(["--state-dir", str(state_dir), "status", "job-1"]) == 0
    assert "job-1" in capsys.readouterr().out
    monkeypatch.setattr(SqliteStore, "job_states", real)  # an unknown name: what it may mean
    assert main(["--state-dir", str(state_dir), "status", "job-9"]) == 2
    assert "unknown job 'job-9'" in capsys.readouterr().err


def test_jobs_without_env_share_one_empty_mapping() -> None:
    """100,000 jobs each held an empty dict and a proxy of it (~100 B a job)."""
    from cronpy.config import parse_job_file

    jobs = parse_job_file(
        JOBS + '\n[jobs.d]\nschedule = "@daily"\ncommand = "true"\nenv = { A = "1" }\n'
    ).jobs
    assert jobs["a"].env is jobs["b"].env and dict(jobs["a"].env) == {}
    assert dict(jobs["d"].env) == {"A": "1"}
