"""What both stores write when they import a finished record from another store
(``Store.import_runs``): the columns, and the values in that order, each time converted the
way the store keeps time (SQLite: integer microseconds; PostgreSQL: timestamptz)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from cronpy.model import Run

IMPORT_COLUMNS = (
    "job, scheduled_at, created_at, started_at, ended_at, status, exit_code, signal, attempt,"
    " trigger, host, pid, reason, missed_count, output_tail, log_path, cpu_seconds, max_rss_kib"
)


def import_values(r: Run, when: Callable[[datetime | None], Any]) -> tuple[Any, ...]:
    """The values of IMPORT_COLUMNS for ``r``; ``created_at`` is when it started, or ended."""
    created = r.started_at or r.ended_at or r.scheduled_at
    return (
        *(r.job, when(r.scheduled_at), when(created), when(r.started_at), when(r.ended_at)),
        *(r.status.value, r.exit_code, r.signal, r.attempt, r.trigger.value, r.host, r.pid),
        *(r.reason, r.missed_count, r.output_tail, r.log_path, r.cpu_seconds, r.max_rss_kib),
    )
