"""What runners share beyond runs, in PostgreSQL: pending retries as rows (one per failed
occurrence, written when planned and deleted when claimed, so any runner may start one,
including after its planner died) and the `after` jobs that succeeded since a job's last
`after` start, counted whichever runner saw each success."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cronpy.model import RetryDue
from cronpy.store.postgres.rows import aware
from cronpy.store.postgres.schema import Conn

# pg_advisory_xact_lock(int4, int4) key space: "cron" in ASCII, then the job's hash
_AFTER_LOCK = 0x63726F6E


def plan_retry(db: Conn, job: str, retry: RetryDue) -> None:
    db.execute(
        "INSERT INTO retries (job, scheduled_at, attempt, due_at) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (job, scheduled_at) DO UPDATE SET attempt = excluded.attempt,"
        " due_at = excluded.due_at WHERE excluded.attempt >= retries.attempt",
        (job, aware(retry.scheduled_at), retry.attempt, aware(retry.due_at)),
    )


def drop_retry(db: Conn, job: str, scheduled_at: datetime, attempt: int | None) -> None:
    db.execute(
        "DELETE FROM retries WHERE job = %(job)s AND scheduled_at = %(at)s"
        " AND (%(attempt)s::integer IS NULL OR attempt <= %(attempt)s::integer)",
        {"job": job, "at": aware(scheduled_at), "attempt": attempt},
    )


def pending_retries(db: Conn, job: str | None = None) -> dict[str, tuple[RetryDue, ...]]:
    rows = db.execute(
        "SELECT job, scheduled_at, attempt, due_at FROM retries"
        " WHERE %(job)s::text IS NULL OR job = %(job)s::text"
        ' ORDER BY job COLLATE "C", scheduled_at',
        {"job": job},
    ).fetchall()
    found: dict[str, list[RetryDue]] = {}
    for name, scheduled_at, attempt, due_at in rows:
        found.setdefault(name, []).append(RetryDue(scheduled_at, int(attempt), due_at))
    return {name: tuple(retries) for name, retries in found.items()}


def upstream_succeeded(db: Conn, job: str, upstream: str, needed: Sequence[str]) -> list[str]:
    """In one transaction under a lock per job: two runners adding the last two upstream jobs
    at once would otherwise each miss the other's uncommitted row, and neither would start."""
    with db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_AFTER_LOCK, job))
        db.execute(
            "INSERT INTO after_done (job, upstream) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (job, upstream),
        )
        rows = db.execute("SELECT upstream FROM after_done WHERE job = %s", (job,)).fetchall()
        done = {r[0] for r in rows}
        waiting = [name for name in needed if name not in done]
        if not waiting:
            db.execute("DELETE FROM after_done WHERE job = %s", (job,))
    return waiting
