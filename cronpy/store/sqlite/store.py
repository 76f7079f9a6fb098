"""SqliteStore: the single-host Store, one SQLite file in the state directory.

One connection per store object; ``atomic()`` owns every write transaction. Beside it:
connection.py opens the file, schema.py shapes it, history.py holds the SQL of the runs table
that claims, records, history and pruning share, rows.py turns rows into records. The store is
handed every timestamp it writes and never reads the clock.

At ~440 lines this is over the few hundred we aim for, on purpose: the class is the Store
interface (some thirty methods, each a statement or two); split, it would be read in pieces
that only make sense together. The SQL that grows lives in the modules beside it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

from cronpy.errors import RecordGoneError, UsageError
from cronpy.interfaces import Store
from cronpy.model import (
    Claim,
    Control,
    ControlKind,
    Finish,
    JobState,
    RetryDue,
    Run,
    RunnerInfo,
    Spawned,
    Status,
    Trigger,
)
from cronpy.store import retries
from cronpy.store.sqlite import shared
from cronpy.store.sqlite.connection import (
    BUSY_TIMEOUT,
    connect,
    durable_transaction,
    guard,
    transaction,
)
from cronpy.store.sqlite.history import (
    ADVANCE_CURSOR,
    import_runs,
    insert_claim,
    insert_run,
    prune_runs,
    select_runs,
)
from cronpy.store.sqlite.rows import (
    CONTROL_COLUMNS,
    JOB_COLUMNS,
    RUN_COLUMNS,
    RUNNER_COLUMNS,
    control_from_row,
    job_from_row,
    job_to_row,
    run_from_row,
    runner_from_row,
    to_us,
    to_us_or_none,
)
from cronpy.store.sqlite.schema import configure, migrate, schema_version


class SqliteStore(Store):
    def __init__(
        self, path: Path, *, readonly: bool = False, busy_timeout: float | None = None
    ) -> None:
        self.path = path
        self.readonly = readonly
        self.busy_timeout = BUSY_TIMEOUT if busy_timeout is None else busy_timeout
        self._db = connect(path, readonly=readonly)
        try:
            configure(self._db, path, busy_timeout=self.busy_timeout, readonly=readonly)
            migrate(self._db, path, readonly=readonly)
        except BaseException:
            self._db.close()
            raise

    def schema_version(self) -> int:
        return schema_version(self._db, self.path)

    # -- transactions --------------------------------------------------------------------------
    def atomic(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction; joins the enclosing one when nested."""
        return transaction(self._db, self.path)

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with guard(self.path):
            return self._db.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with guard(self.path):
            return self._db.execute(sql, params).fetchone()

    # -- runners -------------------------------------------------------------------------------
    def register_runner(
        self,
        host: str,
        pid: int,
        at: datetime,
        *,
        file_hash: str | None = None,
        version: str | None = None,
    ) -> int:
        with self.atomic() as db:
            row = db.execute(
                "INSERT INTO runners (host, pid, started_at, heartbeat_at, file_hash, version)"
                " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (host, pid, to_us(at), to_us(at), file_hash, version),
            ).fetchone()
        return int(row[0])

    def heartbeat(self, runner_id: int, at: datetime, note: str | None = None) -> None:
        with self.atomic() as db:
            db.execute(
                "UPDATE runners SET heartbeat_at = ?, note = ? WHERE id = ?",
                (to_us(at), note, runner_id),
            )

    def unregister_runner(self, runner_id: int, at: datetime) -> None:
        with self.atomic() as db:
            db.execute(
                "UPDATE runners SET stopped_at = ?, heartbeat_at = ? WHERE id = ?",
                (to_us(at), to_us(at), runner_id),
            )

    def live_runners(self) -> list[RunnerInfo]:
        rows = self._all(
            f"SELECT {RUNNER_COLUMNS} FROM runners WHERE stopped_at IS NULL ORDER BY id"
        )
        return [runner_from_row(r) for r in rows]

    # -- jobs ----------------------------------------------------------------------------------
    def job_states(self) -> dict[str, JobState]:
        rows = self._all(f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY name")
        return retries.overlay({r[0]: job_from_row(r) for r in rows}, self.pending_retries())

    def job_state(self, name: str) -> JobState | None:
        row = self._one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE name = ?", (name,))
        if row is None:
            return None
        return retries.overlay(
            {name: job_from_row(row)}, shared.pending_retries(self._db, self.path, name)
        )[name]

    def job_page(self, limit: int) -> tuple[list[JobState], bool]:
        rows = self._all(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE present ORDER BY name LIMIT ?", (limit + 1,)
        )
        return [job_from_row(r) for r in rows[:limit]], len(rows) > limit

    def save_job_states(self, states: Iterable[JobState]) -> None:
        # first_seen, run_count, last_run_id and the pause columns are written when the row is
        # created and never overwritten here: claim_run/record and set_paused own them, and a
        # runner's in-memory copy may be older than what a command or a claim wrote since.
        rows = map(job_to_row, states)  # one row at a time: 100,000 rows as a list are ~25 MiB
        with self.atomic() as db:
            db.executemany(
                f"INSERT INTO jobs ({JOB_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET"
                # the cursor only moves forward: a claim may have advanced it already
                f" {ADVANCE_CURSOR}, next_run_at = excluded.next_run_at,"
                " boot_id = excluded.boot_id, retries = excluded.retries,"
                " schedule = excluded.schedule, timezone = excluded.timezone,"
                " command = excluded.command, present = excluded.present,"
                " late = excluded.late, enabled = excluded.enabled",
                rows,
            )

    # -- pending retries and `after` counts (shared.py) ----------------------------------------
    def plan_retry(self, job: str, retry: RetryDue) -> None:
        shared.plan_retry(self._db, self.path, job, retry)

    def drop_retry(self, job: str, scheduled_at: datetime, attempt: int | None = None) -> None:
        shared.drop_retry(self._db, self.path, job, scheduled_at, attempt)

    def pending_retries(self) -> dict[str, tuple[RetryDue, ...]]:
        return shared.pending_retries(self._db, self.path)

    def upstream_succeeded(self, job: str, upstream: str, needed: Sequence[str]) -> list[str]:
        return shared.upstream_succeeded(self._db, self.path, job, upstream, needed)

    # -- runs ----------------------------------------------------------------------------------
    def claim_run(
        self,
        *,
        job: str,
        scheduled_at: datetime | None,
        trigger: Trigger,
        attempt: int,
        started_at: datetime,
        host: str,
        runner_id: int,
        log_path: str | None = None,
        cursor: datetime | None = None,
        lease_until: datetime | None = None,
        max_runs: int | None = None,
        exclusive: bool = False,
    ) -> int | None:
        claim = Claim(
            job=job,
            scheduled_at=scheduled_at,
            trigger=trigger,
            attempt=attempt,
            started_at=started_at,
            host=host,
            runner_id=runner_id,
            cursor=cursor,
            lease_until=lease_until,
            max_runs=max_runs,
            exclusive=exclusive,
        )
        with durable_transaction(self._db, self.path) as db:
            return insert_claim(db, claim, log_path)

    def claim_runs(self, claims: Sequence[Claim]) -> list[int | None]:
        # One transaction: a burst of due jobs pays one commit, and one fsync (the claim must
        # survive a power cut, or the occurrence runs again after the reboot).
        with durable_transaction(self._db, self.path) as db:
            return [insert_claim(db, claim) for claim in claims]

    def set_pid(
        self,
        run_id: int,
        pid: int,
        log_path: str | None = None,
        started_at: datetime | None = None,
    ) -> None:
        self.set_pids([Spawned(run_id, pid, log_path, started_at)])

    def set_pids(self, spawned: Sequence[Spawned]) -> None:
        with self.atomic() as db:
            db.executemany(
                "UPDATE runs SET pid = ?, log_path = coalesce(?, log_path),"
                " started_at = coalesce(?, started_at) WHERE id = ?",
                [(s.pid, s.log_path, to_us_or_none(s.started_at), s.run_id) for s in spawned],
            )

    def finish_run(self, run_id: int, finish: Finish) -> Run:
        with self.atomic() as db:
            row = db.execute(
                "UPDATE runs SET status = ?, ended_at = ?, exit_code = ?, signal = ?,"
                " output_tail = ?, reason = ?, cpu_seconds = ?, max_rss_kib = ?"
                f" WHERE id = ? RETURNING {RUN_COLUMNS}",
                (
                    finish.status.value,
                    to_us(finish.ended_at),
                    finish.exit_code,
                    finish.signal,
                    finish.output_tail,
                    finish.reason,
                    finish.cpu_seconds,
                    finish.max_rss_kib,
                    run_id,
                ),
            ).fetchone()
            if row is None:
                raise RecordGoneError(f"state database {self.path}: no run {run_id} to finish")
        return run_from_row(row)

    def record(
        self,
        *,
        job: str,
        status: Status,
        trigger: Trigger,
        scheduled_at: datetime | None,
        at: datetime,
        host: str,
        runner_id: int | None,
        reason: str | None = None,
        missed_count: int | None = None,
        attempt: int = 1,
        cursor: datetime | None = None,
    ) -> int | None:
        with self.atomic() as db:
            return insert_run(
                db,
                job=job,
                scheduled_at=scheduled_at,
                attempt=attempt,
                status=status,
                trigger=trigger,
                host=host,
                runner_id=runner_id,
                at=at,
                started=False,
                cursor=cursor,
                reason=reason,
                missed_count=missed_count,
            )

    def mark_lost(
        self,
        at: datetime,
        *,
        runner_ids: Sequence[int] | None = None,
        expired_before: datetime | None = None,
        run_ids: Sequence[int] | None = None,
    ) -> list[Run]:
        where = "status = 'running'"
        params: list[Any] = [to_us(at)]
        if run_ids is not None:
            if not run_ids:
                return []
            where += f" AND id IN ({', '.join('?' * len(run_ids))})"
            params.extend(run_ids)
        if runner_ids is not None:
            if not runner_ids:
                return []
            where += f" AND runner_id IN ({', '.join('?' * len(runner_ids))})"
            params.extend(runner_ids)
        if expired_before is not None:
            where += " AND lease_until < ?"
            params.append(to_us(expired_before))
        with self.atomic() as db:
            rows = db.execute(
                "UPDATE runs SET status = 'lost', ended_at = ?, reason = 'runner gone' || coalesce("
                "(SELECT ' (pid ' || r.pid || ' on ' || r.host || ')' FROM runners r"
                " WHERE r.id = runs.runner_id), '')"
                f" WHERE {where} RETURNING {RUN_COLUMNS}",
                params,
            ).fetchall()
        return sorted((run_from_row(r) for r in rows), key=lambda run: run.id)

    def import_runs(self, runs: Sequence[Run]) -> int:
        with self.atomic() as db:
            return import_runs(db, runs)

    def renew_leases(self, runner_id: int, until: datetime) -> list[int]:
        with self.atomic() as db:
            rows = db.execute(
                "UPDATE runs SET lease_until = ? WHERE status = 'running' AND runner_id = ?"
                " RETURNING id",
                (to_us(until), runner_id),
            ).fetchall()
        return sorted(int(r[0]) for r in rows)

    def get_run(self, run_id: int) -> Run | None:
        row = self._one(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        return None if row is None else run_from_row(row)

    def get_runs(self, run_ids: Sequence[int]) -> dict[int, Run]:
        found: dict[int, Run] = {}
        ids = list(dict.fromkeys(run_ids))
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._all(f"SELECT {RUN_COLUMNS} FROM runs WHERE id IN ({marks})", chunk):
                run = run_from_row(row)
                found[run.id] = run
        return found

    def runs(
        self,
        job: str | None = None,
        *,
        limit: int = 20,
        status: Status | None = None,
        since: datetime | None = None,
    ) -> list[Run]:
        with guard(self.path):
            return select_runs(self._db, job, limit=limit, status=status, since=since)

    def running_runs(self) -> list[Run]:
        rows = self._all(f"SELECT {RUN_COLUMNS} FROM runs WHERE status = 'running' ORDER BY id")
        return [run_from_row(r) for r in rows]

    def prune(self, job: str, *, keep_runs: int | None, older_than: datetime | None) -> list[str]:
        with self.atomic() as db:
            return prune_runs(db, job, keep_runs=keep_runs, older_than=older_than)

    # -- pauses --------------------------------------------------------------------------------
    def set_paused(self, names: Sequence[str], paused: bool, until: datetime | None) -> None:
        until_us = to_us_or_none(until) if paused else None
        with self.atomic() as db:
            known = {
                n
                for (n,) in db.execute(
                    f"SELECT name FROM jobs WHERE name IN ({', '.join('?' * len(names))})",
                    list(names),
                )
            }
            unknown = [n for n in names if n not in known]
            if unknown:
                raise UsageError(
                    f"unknown job(s) {', '.join(map(repr, unknown))}: no runner has loaded them"
                    f" into the state at {self.path}"
                )
            db.executemany(
                "UPDATE jobs SET paused = ?, paused_until = ? WHERE name = ?",
                [(int(paused), until_us, n) for n in names],
            )

    # -- controls ------------------------------------------------------------------------------
    def push_control(
        self,
        kind: ControlKind,
        at: datetime,
        *,
        job: str | None = None,
        run_id: int | None = None,
    ) -> int:
        with self.atomic() as db:
            row = db.execute(
                "INSERT INTO controls (kind, requested_at, job, run_id) VALUES (?, ?, ?, ?)"
                " RETURNING id",
                (kind.value, to_us(at), job, run_id),
            ).fetchone()
        return int(row[0])

    def controls_since(self, after_id: int) -> list[Control]:
        rows = self._all(
            f"SELECT {CONTROL_COLUMNS} FROM controls WHERE id > ? ORDER BY id", (after_id,)
        )
        return [control_from_row(r) for r in rows]

    def last_control_id(self) -> int:
        row = self._one("SELECT coalesce(max(id), 0) FROM controls")
        return int(row[0])

    def pending_controls(self) -> list[Control]:
        rows = self._all(
            f"SELECT {CONTROL_COLUMNS} FROM controls"
            " WHERE taken_at IS NULL AND holder IS NULL ORDER BY id"
        )
        return [control_from_row(r) for r in rows]

    def take_controls(self, runner_id: int, at: datetime) -> list[Control]:
        # BEGIN IMMEDIATE holds the file's write lock: no other store takes the same rows.
        with self.atomic() as db:
            rows = db.execute(
                "UPDATE controls SET holder = ?, held_at = ?"
                f" WHERE taken_at IS NULL AND holder IS NULL RETURNING {CONTROL_COLUMNS}",
                (runner_id, to_us(at)),
            ).fetchall()
        return sorted((control_from_row(r) for r in rows), key=lambda c: c.id)

    def complete_control(
        self, control_id: int, at: datetime, *, run_id: int | None = None, result: str | None = None
    ) -> None:
        with self.atomic() as db:
            db.execute(
                "UPDATE controls SET taken_at = ?, run_id = coalesce(?, run_id), result = ?"
                " WHERE id = ?",
                (to_us(at), run_id, result, control_id),
            )

    def get_control(self, control_id: int) -> Control | None:
        row = self._one(f"SELECT {CONTROL_COLUMNS} FROM controls WHERE id = ?", (control_id,))
        return None if row is None else control_from_row(row)

    # -- meta ----------------------------------------------------------------------------------
    def maintain(self) -> None:
        if self.readonly:
            return
        with guard(self.path):
            # PASSIVE: copies what it can without waiting for readers (a `cronpy history`).
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
