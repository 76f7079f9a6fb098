"""How both stores import finished records from another store (``Store.import_runs``): the
columns, the values in that order, each time converted the way the store keeps time (SQLite:
integer microseconds; PostgreSQL: timestamptz), and the import itself, which differs between
them only in that conversion and in SQL dialect (the placeholder, and how NULL compares)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

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


class _Cursor(Protocol):
    def fetchone(self) -> Any: ...


class _Connection(Protocol):
    """sqlite3's and psycopg's connections both have this."""

    def execute(self, sql: str, params: Any, /) -> _Cursor: ...


def import_runs(
    db: _Connection,
    runs: Sequence[Run],
    when: Callable[[datetime | None], Any],
    mark: str,
    same: str,
) -> int:
    """Add ``runs`` in the caller's transaction; how many were added. ``mark`` is the
    dialect's placeholder and ``same`` its NULL-safe equality (SQLite ``IS``, PostgreSQL
    ``IS NOT DISTINCT FROM``). An occurrence already recorded is kept as it is."""
    marks = ", ".join([mark] * len(IMPORT_COLUMNS.split(",")))
    added = 0
    for r in runs:
        if (
            r.scheduled_at is None
            and db.execute(
                f"SELECT 1 FROM runs WHERE job = {mark} AND scheduled_at IS NULL"
                f" AND started_at {same} {mark}",
                (r.job, when(r.started_at)),
            ).fetchone()
        ):
            continue  # no occurrence to be unique on: the same start, copied before
        row = db.execute(
            f"INSERT INTO runs ({IMPORT_COLUMNS}) VALUES ({marks})"
            " ON CONFLICT (job, scheduled_at, attempt) DO NOTHING RETURNING id",
            import_values(r, when),
        ).fetchone()
        added += row is not None
    return added
