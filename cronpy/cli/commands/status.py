"""``cronpy status``: every job's schedule, next run, last result, what runs now; the runner."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cronpy.cli.commands.common import check_jobs
from cronpy.model.run import iso

if TYPE_CHECKING:
    from cronpy.interfaces import Store
    from cronpy.model import JobState, Run
    from cronpy.runtime.statedir import Holder


@dataclass(frozen=True)
class JobStatus:
    """One job's line in ``cronpy status``."""

    name: str
    schedule: str
    timezone: str
    paused: bool
    paused_until: datetime | None
    next_run_at: datetime | None
    last_run: Run | None
    running: tuple[Run, ...]
    present: bool  # still in the runner's job file
    enabled: bool = True
    late: str | None = None  # why it is late (late_after, max_duration), until it succeeds
    # With no runner up: the job's next fire time after now, from its schedule (the stored
    # plan may be in the past); None with a runner up, which keeps next_run_at current.
    would_run_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "enabled": self.enabled,
            "late": self.late,
            "schedule": self.schedule,
            "timezone": self.timezone,
            "paused": self.paused,
            "paused_until": iso(self.paused_until),
            "next_run_at": iso(self.next_run_at),
            "last_run": None if self.last_run is None else self.last_run.to_json(),
            "running": [r.to_json() for r in self.running],
        }


@dataclass(frozen=True)
class RunnerStatus:
    """One runner in ``cronpy status``: the state directory's, or each on a shared store."""

    pid: int | None
    host: str | None
    started_at: datetime | None
    degraded: str | None = None  # what the runner cannot do right now, in its words
    loaded_at: str | None = None  # when it loaded the job file it runs
    reload_refused: str | None = None  # its last refused reload: when, and the problems
    # with a shared store, every runner registered there:
    id: int | None = None
    heartbeat_at: datetime | None = None
    silent: bool = False  # no heartbeat for a whole lease: dead, or cut off from the store
    runs: int = 0  # the runs it holds now
    file_hash: str | None = None
    file_differs: bool = False  # its job file is not the one most runners run

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pid": self.pid,
            "host": self.host,
            "started_at": iso(self.started_at),
            "heartbeat_at": iso(self.heartbeat_at),
            "silent": self.silent,
            "runs": self.runs,
            "file_hash": self.file_hash,
            "file_differs": self.file_differs,
            "degraded": self.degraded,
            "loaded_at": self.loaded_at,
            "reload_refused": self.reload_refused,
        }


@dataclass(frozen=True)
class StatusResult:
    """What ``cronpy status`` shows: the runners, then the jobs."""

    state_dir: Path
    now: datetime
    runners: tuple[RunnerStatus, ...]
    jobs: tuple[JobStatus, ...]
    zone: tzinfo | None = None  # the zone times are shown in (None: local)
    more: bool = False  # ``jobs`` is the first page of the jobs, not all of them

    def to_json(self) -> dict[str, Any]:
        return {
            "runners": [r.to_json() for r in self.runners],
            "jobs": [j.to_json() for j in self.jobs],
        }


# A table a person reads lists every job up to a thousand; past that (100,000 jobs took
# seconds to print and scrolled out of sight) it shows a page and says how to see the rest.
LIST_ALL_UP_TO = 1000
PAGE = 100


def status(
    store: Store,
    *,
    state_dir: Path,
    runner: Holder | None,
    job: str | None,
    now: datetime,
    zone: tzinfo | None = None,
    paged: bool = False,
) -> StatusResult:
    """Jobs still in the runner's file (or the one named, even if removed), in name order;
    ``paged``, past LIST_ALL_UP_TO jobs only the first PAGE (``more`` says so)."""
    more = False
    if job is not None:
        one = store.job_state(job)  # not all 100,000 of them
        if one is None:  # a UsageError with the names it may have meant
            check_jobs([job], store.job_states(), state_dir)
        chosen = [] if one is None else [one]
    elif paged:
        chosen, more = store.job_page(LIST_ALL_UP_TO)
        if more:
            chosen = chosen[:PAGE]
    else:
        chosen = [s for s in store.job_states().values() if s.present]
    running: dict[str, list[Run]] = {}
    for run in store.running_runs():  # one query for all jobs, not one per job
        running.setdefault(run.job, []).append(run)
    last_runs = store.get_runs([s.last_run_id for s in chosen if s.last_run_id is not None])
    jobs = tuple(
        _job_status(
            s, last_runs.get(s.last_run_id or -1), running.get(s.name, []), now, runner is None
        )
        for s in chosen
    )
    runners: tuple[RunnerStatus, ...] = ()
    if store.shared:
        runners = _fleet(store, [r for rs in running.values() for r in rs], now)
    elif runner is not None:
        runners = (
            RunnerStatus(
                pid=runner["pid"],
                host=runner["host"],
                started_at=_instant(runner["started_at"]),
                degraded=runner.get("degraded"),
                loaded_at=runner.get("loaded_at"),
                reload_refused=runner.get("reload_refused"),
            ),
        )
    return StatusResult(
        state_dir=state_dir, now=now, runners=runners, jobs=jobs, zone=zone, more=more
    )


def _fleet(store: Store, running: list[Run], now: datetime) -> tuple[RunnerStatus, ...]:
    """Every runner registered on a shared store: its heartbeat, the runs it holds, and
    whether its job file is the one most of them run."""
    from collections import Counter

    from cronpy.runtime.fleet import silent

    registered = store.live_runners()
    held = Counter(r.runner_id for r in running)
    files = Counter(r.file_hash for r in registered if r.file_hash)
    usual = files.most_common(1)[0][0] if files else None
    return tuple(
        RunnerStatus(
            id=r.id,
            pid=r.pid,
            host=r.host,
            started_at=r.started_at,
            degraded=r.note,
            heartbeat_at=r.heartbeat_at,
            silent=silent(r, now),
            runs=held.get(r.id, 0),
            file_hash=r.file_hash,
            file_differs=bool(r.file_hash) and r.file_hash != usual,
        )
        for r in registered
    )


def _job_status(
    state: JobState, last: Run | None, running: list[Run], now: datetime, no_runner: bool
) -> JobStatus:
    # A pause whose time has come is over even if no runner has cleared it yet.
    paused = state.is_paused(now)
    would_run = None
    if no_runner and state.present and state.enabled:
        would_run = state.next_run_at
        if would_run is None or would_run <= now:
            would_run = _next_fire(state, now)
    return JobStatus(
        name=state.name,
        schedule=state.schedule,
        timezone=state.timezone,
        paused=paused,
        paused_until=state.paused_until if paused else None,
        next_run_at=state.next_run_at,
        last_run=last,
        running=tuple(running),
        present=state.present,
        enabled=state.enabled,
        late=state.late,
        would_run_at=would_run,
    )


def _next_fire(state: JobState, now: datetime) -> datetime | None:
    """The job's next fire time after ``now`` from what the state remembers of its schedule;
    None when it has none (after-only, @reboot) or the state cannot say. Only asked when no
    runner is up, so a status with a runner never loads the schedule code."""
    from cronpy.cli.commands.explain import schedule_from_state
    from cronpy.errors import CronpyError

    try:
        schedule = schedule_from_state(state)
    except (CronpyError, ValueError, KeyError):
        return None
    return schedule.next_after(now, anchor=state.first_seen)


def _instant(text: str | None) -> datetime | None:
    """The runner's start as it wrote it (ISO 8601 with offset); None if the file was mangled."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
