"""``cronpy why``: the job comes from its job file when given, else from what the state
remembers of it (schedule and zone; window, max_runs and enabled are then unknown)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from cronpy.cli.commands.common import check_jobs, parse_instant
from cronpy.errors import StateError, UsageError

if TYPE_CHECKING:
    from cronpy.engine.why import WhyAnswer
    from cronpy.interfaces import Schedule, Store
    from cronpy.model import Job, JobState

RECORDS_SEARCHED = 10_000


def explain(
    store: Store,
    *,
    state_dir: Path,
    job: str,
    at: str | None,
    job_file: Path | None,
    now: datetime,
    zone: tzinfo,
) -> WhyAnswer:
    """``at``, if naive, is read in ``zone``, and the answer gives its times in ``zone``: the
    one zone every command shows and reads times in (the viewer's, or UTC with --utc)."""
    from cronpy.engine.why import lookup_from, why

    state = store.job_state(job)
    definition = _from_file(job_file, job) if job_file is not None else None
    if state is None and definition is None:
        check_jobs([job], store.job_states(), state_dir)  # raises, with a did-you-mean
    if definition is None:
        assert state is not None
        definition = job_from_state(state)
    instant = None if at is None else parse_instant(at, tz=zone, option="T")
    since = lookup_from(definition, state, instant, now)
    runs = store.runs(job, limit=RECORDS_SEARCHED, since=since)
    answer = why(definition, state, runs, instant, now, shown_in=zone)
    if job_file is None and state is not None and state.present:
        note = "(Without --file, window, max_runs and enabled are not considered.)"
        answer = replace(answer, explanation=(*answer.explanation, note))
    return answer


def _from_file(path: Path, name: str) -> Job:
    from cronpy.config import load_job_file

    jobs = load_job_file(path).jobs
    if name not in jobs:
        from cronpy.errors import did_you_mean

        raise UsageError(f"{path} has no job {name!r}{did_you_mean(name, jobs)}")
    return jobs[name]


def job_from_state(state: JobState) -> Job:
    from cronpy.model import Job

    schedule = schedule_from_state(state)  # checks that the state has a schedule and a zone
    zone = ZoneInfo(state.timezone)
    return Job(name=state.name, schedule=schedule, command=state.command, timezone=zone)


def schedule_from_state(state: JobState) -> Schedule:
    """The job's schedule as the state remembers it (``status`` wants no more than this)."""
    from cronpy.schedule import parse_at, parse_schedule

    if not state.schedule or not state.timezone:
        raise StateError(
            f"the state does not record the schedule of {state.name!r};"
            " pass its job file with --file"
        )
    zone = ZoneInfo(state.timezone)
    if state.schedule.startswith("at "):  # how an ``at = [...]`` list is remembered
        schedule = parse_at(state.schedule[3:].split(", "), tz=zone)
    else:
        schedule = parse_schedule(state.schedule, tz=zone, job_name=state.name)
    return schedule
