"""History in the runs table: the one insert that claims and records share (crediting the job in
the same transaction), reading runs newest first, and pruning. Each function runs on a
connection whose transaction (or error guard) the caller holds."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cronpy.model import Claim, Run, Status, Trigger
from cronpy.model.run import OVERLAP_ELSEWHERE
from cronpy.store import imports
from cronpy.store.sqlite.rows import RUN_COLUMNS, run_from_row, to_us, to_us_or_none

# In an upsert: move the job's cursor forward to the one given (excluded.cursor), never back.
ADVANCE_CURSOR = (
    "cursor = CASE WHEN excluded.cursor IS NULL THEN cursor"
    " ELSE max(coalesce(cursor, excluded.cursor), excluded.cursor) END"
)


def insert_claim(db: sqlite3.Connection, claim: Claim, log_path: str | None = None) -> int | None:
    """``insert_run`` for a start; a batch of claims carries no log paths (set_pids adds them).
    None, too, when the job has started ``claim.max_runs`` runs already."""
    if claim.max_runs is not None:
        row = db.execute("SELECT run_count FROM jobs WHERE name = ?", (claim.job,)).fetchone()
        if row is not None and row[0] >= claim.max_runs:
            return None
    if (
        claim.exclusive
        and db.execute(
            "SELECT 1 FROM runs WHERE job = ? AND status = 'running' AND runner_id IS NOT ?",
            (claim.job, claim.runner_id),
        ).fetchone()
    ):
        insert_run(
            db,
            job=claim.job,
            scheduled_at=claim.scheduled_at,
            attempt=claim.attempt,
            status=Status.SKIPPED,
            trigger=claim.trigger,
            host=claim.host,
            runner_id=claim.runner_id,
            at=claim.started_at,
            started=False,
            cursor=claim.cursor,
            reason=OVERLAP_ELSEWHERE,
        )
        return None
    return insert_run(
        db,
        job=claim.job,
        scheduled_at=claim.scheduled_at,
        attempt=claim.attempt,
        status=Status.RUNNING,
        trigger=claim.trigger,
        host=claim.host,
        runner_id=claim.runner_id,
        at=claim.started_at,
        started=True,
        cursor=claim.cursor,
        log_path=log_path,
        lease_until=claim.lease_until,
    )


def insert_run(
    db: sqlite3.Connection,
    *,
    job: str,
    scheduled_at: datetime | None,
    attempt: int,
    status: Status,
    trigger: Trigger,
    host: str,
    runner_id: int | None,
    at: datetime,
    started: bool,
    cursor: datetime | None,
    log_path: str | None = None,
    reason: str | None = None,
    missed_count: int | None = None,
    lease_until: datetime | None = None,
) -> int | None:
    """The one record of an occurrence, credited to its job, in the caller's transaction: a
    claim (``started``: ``at`` is its start) or an occurrence that did not start (``at`` is
    when it was recorded, its end). None, writing nothing, when (job, scheduled_at, attempt)
    has a record already."""
    when = to_us(at)
    row = db.execute(
        "INSERT INTO runs (job, scheduled_at, created_at, started_at, ended_at, status, attempt,"
        " trigger, host, runner_id, log_path, reason, missed_count, lease_until)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (job, scheduled_at, attempt) DO NOTHING RETURNING id",
        (
            job,
            to_us_or_none(scheduled_at),
            when,
            when if started else None,
            None if started else when,
            status.value,
            attempt,
            trigger.value,
            host,
            runner_id,
            log_path,
            reason,
            missed_count,
            to_us_or_none(lease_until),
        ),
    ).fetchone()
    if row is None:
        return None
    run_id = int(row[0])
    # Only starts count against max_runs. The runner saves job states before claiming; the
    # upsert only keeps a run of a job it has not saved yet from failing on the foreign key.
    db.execute(
        "INSERT INTO jobs (name, first_seen, cursor, run_count, last_run_id)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
        " run_count = run_count + excluded.run_count, last_run_id = excluded.last_run_id,"
        f" {ADVANCE_CURSOR}",
        (job, when, to_us_or_none(cursor), int(started), run_id),
    )
    return run_id


def select_runs(
    db: sqlite3.Connection,
    job: str | None,
    *,
    limit: int,
    status: Status | None,
    since: datetime | None,
) -> list[Run]:
    """Newest first (by id)."""
    clauses: list[str] = []
    params: list[Any] = []
    if job is not None:
        clauses.append("job = ?")
        params.append(job)
    if status is not None:
        clauses.append("status = ?")
        params.append(status.value)
    if since is not None and job is not None:
        # Newest first by id, but only since T: bound the id range with the (job, created_at)
        # index, then walk (job, id) backwards and stop at the limit, instead of fetching
        # and sorting every run since T. The unary + keeps the planner off created_at.
        clauses.append(
            "+created_at >= ? AND id >= coalesce("
            "(SELECT min(id) FROM runs WHERE job = ? AND created_at >= ?), -1)"
        )
        params.extend([to_us(since), job, to_us(since)])
    elif since is not None:
        clauses.append("created_at >= ?")
        params.append(to_us(since))
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    params.append(limit)
    rows = db.execute(f"SELECT {RUN_COLUMNS} FROM runs{where} ORDER BY id DESC LIMIT ?", params)
    return [run_from_row(r) for r in rows]


def prune_runs(
    db: sqlite3.Connection, job: str, *, keep_runs: int | None, older_than: datetime | None
) -> list[str]:
    """Delete the job's finished runs beyond the newest ``keep_runs`` or created before
    ``older_than``; return their log paths."""
    # Called after every finished run, so both deletes are index range scans that find
    # nothing in the common case. Running runs and the job's last run are never deleted:
    # the first are not history yet, the second is what `status` shows.
    keep = "status != 'running' AND id IS NOT (SELECT last_run_id FROM jobs WHERE name = ?)"
    paths: list[str] = []
    if keep_runs is not None:
        if keep_runs <= 0:
            cutoff: int | None = 2**63 - 1
        else:
            row = db.execute(
                "SELECT id FROM runs WHERE job = ? ORDER BY id DESC LIMIT 1 OFFSET ?",
                (job, keep_runs - 1),
            ).fetchone()
            cutoff = None if row is None else int(row[0])
        if cutoff is not None:
            deleted = db.execute(
                f"DELETE FROM runs WHERE job = ? AND id < ? AND {keep} RETURNING log_path",
                (job, cutoff, job),
            ).fetchall()
            paths.extend(p for (p,) in deleted if p is not None)
    if older_than is not None:
        deleted = db.execute(
            f"DELETE FROM runs WHERE job = ? AND created_at < ? AND {keep} RETURNING log_path",
            (job, to_us(older_than), job),
        ).fetchall()
        paths.extend(p for (p,) in deleted if p is not None)
    return paths


def import_runs(db: sqlite3.Connection, runs: Sequence[Run]) -> int:
    """``Store.import_runs`` in the caller's transaction: how many records were added."""
    return imports.import_runs(db, runs, to_us_or_none, "?", "IS")
