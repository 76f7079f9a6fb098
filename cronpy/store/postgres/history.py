"""History in the runs table: the one statement that claims and records share (a whole batch
in one round trip, crediting the jobs in the same transaction), reading runs newest first,
and pruning."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from cronpy.model import Claim, Run, Status, Trigger
from cronpy.model.run import OVERLAP_ELSEWHERE
from cronpy.store import imports
from cronpy.store.postgres.rows import RUN_COLUMNS, aware, aware_or_none, run_from_row

Conn = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True)
class NewRun:
    """One record to insert: a claim (``started``: ``at`` is its start) or an occurrence that
    did not start (``at`` is when it was recorded, its end)."""

    job: str
    scheduled_at: datetime | None
    attempt: int
    status: Status
    trigger: Trigger
    host: str
    runner_id: int | None
    at: datetime
    started: bool
    cursor: datetime | None
    log_path: str | None = None
    reason: str | None = None
    missed_count: int | None = None
    lease_until: datetime | None = None
    max_runs: int | None = None  # a start refused once the job has started this many runs
    exclusive: bool = False  # skipped (overlap) while another runner runs the job

    @classmethod
    def claim(cls, claim: Claim, log_path: str | None = None) -> NewRun:
        return cls(
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
            max_runs=claim.max_runs,
            exclusive=claim.exclusive,
        )


# One statement, so one round trip and one transaction (autocommit) for the whole batch:
# - input: the batch as arrays, each row with its position (ord) and an id drawn now, in
#   input order, so that the result lines up with the input and a job's last_run_id is its
#   last claim of the batch, as one by one;
# - inserted: every row whose (job, scheduled_at, attempt) has no record yet. Inserted in key
#   order, not input order, so two runners claiming overlapping batches take the unique
#   index's locks in the same order and wait for each other instead of deadlocking;
# - credited: each job of an inserted row: run_count counts starts, last_run_id, the cursor
#   moves forward only (greatest() ignores NULL: no cursor given leaves it), and a job never
#   saved gets its row (first_seen: its first record's time);
# - the ids that were inserted, by position; the others were claimed before.
INSERT_RUNS = """
WITH input AS MATERIALIZED (
    SELECT nextval('runs_id_seq') AS id, u.*
    FROM unnest(
        %(job)s::text[], %(scheduled_at)s::timestamptz[], %(attempt)s::integer[],
        %(status)s::text[], %(trigger)s::text[], %(host)s::text[], %(runner_id)s::bigint[],
        %(at)s::timestamptz[], %(started)s::boolean[], %(cursor)s::timestamptz[],
        %(log_path)s::text[], %(reason)s::text[], %(missed_count)s::integer[],
        %(lease_until)s::timestamptz[], %(max_runs)s::integer[], %(exclusive)s::boolean[]
    ) WITH ORDINALITY AS u(job, scheduled_at, attempt, status, trigger, host, runner_id, at,
                           started, cursor, log_path, reason, missed_count, lease_until,
                           max_runs, exclusive, ord)
    ORDER BY u.ord
), counted AS (
    -- the run counts of jobs with max_runs, row-locked: runners claiming at once wait here
    SELECT name, run_count FROM jobs
    WHERE name IN (SELECT job FROM input WHERE max_runs IS NOT NULL)
    ORDER BY name FOR UPDATE
), busy AS (
    -- overlap = "forbid" across runners: another runner runs the job, so record it skipped
    SELECT i.id FROM input i
    WHERE i.exclusive AND EXISTS (
        SELECT 1 FROM runs r WHERE r.job = i.job AND r.status = 'running'
        AND r.runner_id IS DISTINCT FROM i.runner_id)
), inserted AS (
    INSERT INTO runs (id, job, scheduled_at, created_at, started_at, ended_at, status, attempt,
                      trigger, host, runner_id, log_path, reason, missed_count, lease_until)
    SELECT id, job, scheduled_at, at,
           CASE WHEN started AND id NOT IN (SELECT id FROM busy) THEN at END,
           CASE WHEN started AND id NOT IN (SELECT id FROM busy) THEN NULL ELSE at END,
           CASE WHEN id IN (SELECT id FROM busy) THEN 'skipped' ELSE status END,
           attempt, trigger, host, runner_id, log_path,
           CASE WHEN id IN (SELECT id FROM busy) THEN %(overlap)s ELSE reason END,
           missed_count,
           CASE WHEN id IN (SELECT id FROM busy) THEN NULL ELSE lease_until END
    FROM input
    WHERE max_runs IS NULL
       OR coalesce((SELECT run_count FROM counted WHERE name = input.job), 0) < max_runs
    ORDER BY job, scheduled_at, attempt, ord
    ON CONFLICT (job, scheduled_at, attempt) DO NOTHING
    RETURNING id
), credited AS (
    INSERT INTO jobs AS j (name, first_seen, cursor, run_count, last_run_id)
    SELECT i.job, (array_agg(i.at ORDER BY i.id))[1], max(i.cursor),
           count(*) FILTER (WHERE i.started AND i.id NOT IN (SELECT id FROM busy)), max(i.id)
    FROM input i JOIN inserted USING (id)
    GROUP BY i.job ORDER BY i.job
    ON CONFLICT (name) DO UPDATE SET
        run_count = j.run_count + excluded.run_count,
        last_run_id = excluded.last_run_id,
        cursor = greatest(j.cursor, excluded.cursor)
)
SELECT i.ord, i.id FROM input i JOIN inserted USING (id)
WHERE i.id NOT IN (SELECT id FROM busy)
"""


def insert_runs(db: Conn, rows: Sequence[NewRun]) -> list[int | None]:
    """The id of each row, in order; None, writing nothing, where (job, scheduled_at, attempt)
    has a record already."""
    if not rows:
        return []
    params: dict[str, list[Any]] = {
        "job": [r.job for r in rows],
        "scheduled_at": [aware_or_none(r.scheduled_at) for r in rows],
        "attempt": [r.attempt for r in rows],
        "status": [r.status.value for r in rows],
        "trigger": [r.trigger.value for r in rows],
        "host": [r.host for r in rows],
        "runner_id": [r.runner_id for r in rows],
        "at": [aware(r.at) for r in rows],
        "started": [r.started for r in rows],
        "cursor": [aware_or_none(r.cursor) for r in rows],
        "log_path": [r.log_path for r in rows],
        "reason": [r.reason for r in rows],
        "missed_count": [r.missed_count for r in rows],
        "lease_until": [aware_or_none(r.lease_until) for r in rows],
        "max_runs": [r.max_runs for r in rows],
        "exclusive": [r.exclusive for r in rows],
        "overlap": OVERLAP_ELSEWHERE,  # type: ignore[dict-item]
    }
    ids: list[int | None] = [None] * len(rows)
    for ord_, run_id in db.execute(INSERT_RUNS, params).fetchall():
        ids[int(ord_) - 1] = int(run_id)
    return ids


def select_runs(
    db: Conn,
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
        clauses.append("job = %s")
        params.append(job)
    if status is not None:
        clauses.append("status = %s")
        params.append(status.value)
    if since is not None:
        clauses.append("created_at >= %s")
        params.append(aware(since))
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    params.append(limit)
    rows = db.execute(f"SELECT {RUN_COLUMNS} FROM runs{where} ORDER BY id DESC LIMIT %s", params)
    return [run_from_row(r) for r in rows]


def prune_runs(
    db: Conn, job: str, *, keep_runs: int | None, older_than: datetime | None
) -> list[str]:
    """Delete the job's finished runs beyond the newest ``keep_runs`` or created before
    ``older_than``; return their log paths. The caller holds the transaction."""
    # Running runs are not history yet; the job's last run is what `status` shows.
    keep = (
        "status <> 'running'"
        " AND id IS DISTINCT FROM (SELECT last_run_id FROM jobs WHERE name = %(job)s)"
    )
    paths: list[str] = []
    if keep_runs is not None:
        row = None
        if keep_runs > 0:
            row = db.execute(
                "SELECT id FROM runs WHERE job = %s ORDER BY id DESC LIMIT 1 OFFSET %s",
                (job, keep_runs - 1),
            ).fetchone()
        cutoff = 2**63 - 1 if keep_runs <= 0 else None if row is None else row[0]
        if cutoff is not None:
            deleted = db.execute(
                "DELETE FROM runs WHERE job = %(job)s AND id < %(cutoff)s"
                f" AND {keep} RETURNING log_path",
                {"job": job, "cutoff": cutoff},
            ).fetchall()
            paths.extend(str(p) for (p,) in deleted if p is not None)
    if older_than is not None:
        deleted = db.execute(
            "DELETE FROM runs WHERE job = %(job)s AND created_at < %(before)s"
            f" AND {keep} RETURNING log_path",
            {"job": job, "before": aware(older_than)},
        ).fetchall()
        paths.extend(str(p) for (p,) in deleted if p is not None)
    return paths


def import_runs(db: Conn, runs: Sequence[Run]) -> int:
    """``Store.import_runs`` in the caller's transaction: how many records were added."""
    return imports.import_runs(db, runs, aware_or_none, "%s", "IS NOT DISTINCT FROM")
