"""What runners share beyond runs, in SQLite: pending retries as rows (one per failed
occurrence, written when planned and deleted when claimed) and the `after` jobs that succeeded
since a job's last `after` start. Each write is one transaction under the file's write lock."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from cronpy.model import RetryDue
from cronpy.store.sqlite.connection import guard, transaction
from cronpy.store.sqlite.rows import from_us, to_us


def plan_retry(db: sqlite3.Connection, path: Path, job: str, retry: RetryDue) -> None:
    with transaction(db, path):
        db.execute(
            "INSERT INTO retries (job, scheduled_at, attempt, due_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (job, scheduled_at) DO UPDATE SET attempt = excluded.attempt,"
            " due_at = excluded.due_at WHERE excluded.attempt >= retries.attempt",
            (job, to_us(retry.scheduled_at), retry.attempt, to_us(retry.due_at)),
        )


def drop_retry(
    db: sqlite3.Connection, path: Path, job: str, scheduled_at: datetime, attempt: int | None
) -> None:
    with transaction(db, path):
        db.execute(
            "DELETE FROM retries WHERE job = :job AND scheduled_at = :at"
            " AND (:attempt IS NULL OR attempt <= :attempt)",
            {"job": job, "at": to_us(scheduled_at), "attempt": attempt},
        )


def pending_retries(
    db: sqlite3.Connection, path: Path, job: str | None = None
) -> dict[str, tuple[RetryDue, ...]]:
    with guard(path):
        rows = db.execute(
            "SELECT job, scheduled_at, attempt, due_at FROM retries"
            " WHERE ?1 IS NULL OR job = ?1 ORDER BY job, scheduled_at",
            (job,),
        ).fetchall()
    found: dict[str, list[RetryDue]] = {}
    for name, scheduled_at, attempt, due_at in rows:
        found.setdefault(name, []).append(
            RetryDue(from_us(scheduled_at), int(attempt), from_us(due_at))
        )
    return {name: tuple(retries) for name, retries in found.items()}


def upstream_succeeded(
    db: sqlite3.Connection, path: Path, job: str, upstream: str, needed: Sequence[str]
) -> list[str]:
    with transaction(db, path):  # BEGIN IMMEDIATE: no other process counts between the two
        db.execute(
            "INSERT OR IGNORE INTO after_done (job, upstream) VALUES (?, ?)", (job, upstream)
        )
        done = {r[0] for r in db.execute("SELECT upstream FROM after_done WHERE job = ?", (job,))}
        waiting = [name for name in needed if name not in done]
        if not waiting:
            db.execute("DELETE FROM after_done WHERE job = ?", (job,))
    return waiting
