"""Rows of the state database to records and back: the column lists the store selects, and
timestamps as INTEGER microseconds since the epoch (UTC), which round-trip exactly and compare
cheaply."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from cronpy.model import (
    Control,
    ControlKind,
    JobState,
    Run,
    RunnerInfo,
    Status,
    Trigger,
)
from cronpy.store import retries

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

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


def to_us(when: datetime) -> int:
    # A naive datetime would be read in the local zone by some callers and UTC by others.
    if when.utcoffset() is None:
        raise ValueError(f"naive datetime {when.isoformat()}: the store takes aware datetimes")
    return (when - _EPOCH) // _MICROSECOND


def to_us_or_none(when: datetime | None) -> int | None:
    return None if when is None else to_us(when)


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def from_us_or_none(us: int | None) -> datetime | None:
    return None if us is None else from_us(us)


def run_from_row(row: Sequence[Any]) -> Run:
    """A row selected as RUN_COLUMNS."""
    return Run(
        id=row[0],
        job=row[1],
        status=Status(row[2]),
        trigger=Trigger(row[3]),
        scheduled_at=from_us_or_none(row[4]),
        started_at=from_us_or_none(row[5]),
        ended_at=from_us_or_none(row[6]),
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


@lru_cache(maxsize=4096)
def _shared_instant(us: int) -> datetime:
    """One datetime per value: 100,000 jobs share a few first_seen and cursor instants, and
    jobs written "H H * * *" have at most 1,440 planned ones (48 B each, 14 MiB otherwise)."""
    return from_us(us)


def _job_instant(us: int | None) -> datetime | None:
    return None if us is None else _shared_instant(us)


def job_from_row(row: Sequence[Any]) -> JobState:
    """A row selected as JOB_COLUMNS."""
    return JobState(
        name=row[0],
        first_seen=_shared_instant(row[1]),
        cursor=_job_instant(row[2]),
        next_run_at=_job_instant(row[3]),
        run_count=row[4],
        paused=bool(row[5]),
        paused_until=from_us_or_none(row[6]),
        last_run_id=row[7],
        boot_id=row[8],
        retries=retries.decode(row[9]),
        # few distinct values among many jobs: one string each, as the job file's are
        schedule=sys.intern(row[10]),
        timezone=sys.intern(row[11]),
        command=row[12],
        present=bool(row[13]),
        late=row[14],
        enabled=bool(row[15]),
    )


def job_to_row(state: JobState) -> tuple[Any, ...]:
    """The values of JOB_COLUMNS, in that order."""
    return (
        state.name,
        to_us(state.first_seen),
        to_us_or_none(state.cursor),
        to_us_or_none(state.next_run_at),
        state.run_count,
        int(state.paused),
        to_us_or_none(state.paused_until),
        state.last_run_id,
        state.boot_id,
        retries.encode(state.retries),
        state.schedule,
        state.timezone,
        state.command,
        int(state.present),
        state.late,
        int(state.enabled),
    )


def runner_from_row(row: Sequence[Any]) -> RunnerInfo:
    """A row selected as RUNNER_COLUMNS."""
    return RunnerInfo(
        id=row[0],
        host=row[1],
        pid=row[2],
        started_at=from_us(row[3]),
        heartbeat_at=from_us(row[4]),
        stopped_at=from_us_or_none(row[5]),
        note=row[6],
        file_hash=row[7],
        version=row[8],
    )


def control_from_row(row: Sequence[Any]) -> Control:
    """A row selected as CONTROL_COLUMNS."""
    return Control(
        id=row[0],
        kind=ControlKind(row[1]),
        requested_at=from_us(row[2]),
        job=row[3],
        run_id=row[4],
        taken_at=from_us_or_none(row[5]),
        result=row[6],
    )
