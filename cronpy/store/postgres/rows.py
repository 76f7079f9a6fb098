"""Rows of the shared database to records and back. Timestamps are ``timestamptz``: psycopg
hands them over as aware datetimes, in UTC (connection.py sets the session's zone)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cronpy.model import Control, ControlKind, JobState, Run, RunnerInfo, Status, Trigger
from cronpy.store import retries

RUN_COLUMNS = (
    "id, job, status, trigger, scheduled_at, started_at, ended_at, exit_code, signal, attempt,"
    " host, pid, reason, missed_count, output_tail, log_path, cpu_seconds, max_rss_kib,"
    " runner_id"
)
JOB_COLUMNS = (
    "name, first_seen, cursor, next_run_at, run_count, paused, paused_until, last_run_id,"
    " boot_id, retries, schedule, timezone, command, present, late, enabled"
)
RUNNER_COLUMNS = "id, host, pid, started_at, heartbeat_at, stopped_at, note, file_hash, version"
CONTROL_COLUMNS = "id, kind, requested_at, job, run_id, taken_at, result"


def aware(when: datetime) -> datetime:
    # A naive datetime would be read in the session's zone by the server: refuse it, as the
    # SQLite store does, rather than store a time that means something else on another host.
    if when.utcoffset() is None:
        raise ValueError(f"naive datetime {when.isoformat()}: the store takes aware datetimes")
    return when


def aware_or_none(when: datetime | None) -> datetime | None:
    return None if when is None else aware(when)


def run_from_row(row: Sequence[Any]) -> Run:
    """A row selected as RUN_COLUMNS."""
    return Run(
        id=row[0],
        job=row[1],
        status=Status(row[2]),
        trigger=Trigger(row[3]),
        scheduled_at=row[4],
        started_at=row[5],
        ended_at=row[6],
        exit_code=row[7],
        signal=row[8],
        attempt=row[9],
        host=row[10],
        pid=row[11],
        reason=row[12],
        missed_count=row[13],
        output_tail=row[14],
        log_path=row[15],
        cpu_seconds=row[16],
        max_rss_kib=row[17],
        runner_id=row[18],
    )


def job_from_row(row: Sequence[Any]) -> JobState:
    """A row selected as JOB_COLUMNS."""
    return JobState(
        name=row[0],
        first_seen=row[1],
        cursor=row[2],
        next_run_at=row[3],
        run_count=row[4],
        paused=row[5],
        paused_until=row[6],
        last_run_id=row[7],
        boot_id=row[8],
        retries=retries.decode(row[9]),
        schedule=row[10],
        timezone=row[11],
        command=row[12],
        present=row[13],
        late=row[14],
        enabled=row[15],
    )


def job_to_row(state: JobState) -> tuple[Any, ...]:
    """The values of JOB_COLUMNS, in that order."""
    return (
        state.name,
        aware(state.first_seen),
        aware_or_none(state.cursor),
        aware_or_none(state.next_run_at),
        state.run_count,
        state.paused,
        aware_or_none(state.paused_until),
        state.last_run_id,
        state.boot_id,
        retries.encode(state.retries),
        state.schedule,
        state.timezone,
        state.command,
        state.present,
        state.late,
        state.enabled,
    )


def runner_from_row(row: Sequence[Any]) -> RunnerInfo:
    """A row selected as RUNNER_COLUMNS."""
    return RunnerInfo(
        id=row[0],
        host=row[1],
        pid=row[2],
        started_at=row[3],
        heartbeat_at=row[4],
        stopped_at=row[5],
        note=row[6],
        file_hash=row[7],
        version=row[8],
    )


def control_from_row(row: Sequence[Any]) -> Control:
    """A row selected as CONTROL_COLUMNS."""
    return Control(
        id=row[0],
        kind=ControlKind(row[1]),
        requested_at=row[2],
        job=row[3],
        run_id=row[4],
        taken_at=row[5],
        result=row[6],
    )


# The job-state upsert (save_job_states), one row per job, VALUES in JOB_COLUMNS order.
SAVE_JOBS = (
    f"INSERT INTO jobs AS j ({JOB_COLUMNS}) VALUES ({', '.join(['%s'] * 16)})"
    " ON CONFLICT (name) DO UPDATE SET"
    # first_seen, run_count, last_run_id and the pauses are not overwritten: claims, records
    # and set_paused own them. The cursor only moves forward: a claim may have moved it.
    " cursor = greatest(j.cursor, excluded.cursor), next_run_at = excluded.next_run_at,"
    " boot_id = excluded.boot_id, retries = excluded.retries,"
    " schedule = excluded.schedule, timezone = excluded.timezone,"
    " command = excluded.command, present = excluded.present, late = excluded.late,"
    " enabled = excluded.enabled"
)
