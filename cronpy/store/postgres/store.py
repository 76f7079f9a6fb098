"""PostgresStore: the Store that several runners share, on one PostgreSQL database.

One connection per store object, in autocommit: most writes are one statement, hence one
transaction and one round trip (a whole batch of claims included, history.py); the few that
need more open ``conn.transaction()``. The store is handed every timestamp it writes and never
reads the clock. What keeps runners apart is in the statements: the unique index on (job,
scheduled_at, attempt) for claims, ``FOR UPDATE SKIP LOCKED`` for controls, leases on runs.

Over the few hundred lines we aim for, as SqliteStore is and for its reason: one class is one
implementation of the thirty-odd Store methods.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import psycopg
import psycopg.errors

from cronpy.errors import RecordGoneError, StateError, UsageError
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
from cronpy.store.postgres import shared
from cronpy.store.postgres.connection import (
    WAKE_CHANNEL,
    PostgresListener,
    connect,
    describe,
    guard,
)
from cronpy.store.postgres.history import NewRun, import_runs, insert_runs, prune_runs, select_runs
from cronpy.store.postgres.rows import (
    CONTROL_COLUMNS,
    JOB_COLUMNS,
    RUN_COLUMNS,
    RUNNER_COLUMNS,
    SAVE_JOBS,
    aware,
    aware_or_none,
    control_from_row,
    job_from_row,
    job_to_row,
    run_from_row,
    runner_from_row,
)
from cronpy.store.postgres.schema import Conn, migrate, schema_version

_DEADLOCK_RETRIES = 3  # a job-state save that lost a deadlock to a claim is run again


class PostgresStore(Store):
    shared = True

    def __init__(self, url: str, *, readonly: bool = False) -> None:
        self.url = url
        self.where = describe(url)  # user@host:port/dbname: for messages, no password
        self.readonly = readonly
        self._closed = False
        self._db = connect(url, readonly=readonly)
        try:
            migrate(self._db, self.where, readonly=readonly)
        except BaseException:
            self._db.close()
            raise

    def schema_version(self) -> int:
        return schema_version(self._conn(), self.where)

    def _conn(self) -> Conn:
        # A connection the server dropped (restart, failover, network) is replaced here, so
        # the runner's backlog gets through once the server answers again.
        if self._db.broken and not self._closed:
            self._db.close()
            self._db = connect(self.url, readonly=self.readonly)
        return self._db

    def _all(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        with guard(self.where):
            return self._conn().execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        with guard(self.where):
            return self._conn().execute(sql, params).fetchone()

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
        row = self._one(
            "INSERT INTO runners (host, pid, started_at, heartbeat_at, file_hash, version)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (host, pid, aware(at), at, file_hash, version),
        )
        return int(row[0])

    def heartbeat(self, runner_id: int, at: datetime, note: str | None = None) -> None:
        self._all(
            "UPDATE runners SET heartbeat_at = %s, note = %s WHERE id = %s RETURNING id",
            (aware(at), note, runner_id),
        )

    def unregister_runner(self, runner_id: int, at: datetime) -> None:
        self._all(
            "UPDATE runners SET stopped_at = %s, heartbeat_at = %s WHERE id = %s RETURNING id",
            (aware(at), at, runner_id),
        )

    def live_runners(self) -> list[RunnerInfo]:
        rows = self._all(
            f"SELECT {RUNNER_COLUMNS} FROM runners WHERE stopped_at IS NULL ORDER BY id"
        )
        return [runner_from_row(r) for r in rows]

    # -- jobs ----------------------------------------------------------------------------------
    def job_states(self) -> dict[str, JobState]:
        # COLLATE "C": name order by code point, as SQLite sorts, whatever the database's locale
        rows = self._all(f'SELECT {JOB_COLUMNS} FROM jobs ORDER BY name COLLATE "C"')
        return retries.overlay({r[0]: job_from_row(r) for r in rows}, self.pending_retries())

    def job_state(self, name: str) -> JobState | None:
        row = self._one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE name = %s", (name,))
        if row is None:
            return None
        with guard(self.where):
            pending = shared.pending_retries(self._conn(), name)
        return retries.overlay({name: job_from_row(row)}, pending)[name]

    def job_page(self, limit: int) -> tuple[list[JobState], bool]:
        rows = self._all(
            f'SELECT {JOB_COLUMNS} FROM jobs WHERE present ORDER BY name COLLATE "C" LIMIT %s',
            (limit + 1,),
        )
        return [job_from_row(r) for r in rows[:limit]], len(rows) > limit

    def save_job_states(self, states: Iterable[JobState]) -> None:
        # In name order: runners saving overlapping sets then lock the rows in the same order
        # and wait for each other instead of deadlocking.
        rows = [job_to_row(s) for s in sorted(states, key=lambda s: s.name)]
        if not rows:
            return
        for attempt in range(_DEADLOCK_RETRIES):
            db = self._conn()
            try:
                with guard(self.where), db.transaction(), db.cursor() as cur:
                    cur.executemany(SAVE_JOBS, rows)  # pipelined: one round trip
                return
            except StateError as exc:
                # a claim of another runner locked jobs rows in another order: run it again
                deadlock = isinstance(exc.__cause__, psycopg.errors.DeadlockDetected)
                if not deadlock or attempt == _DEADLOCK_RETRIES - 1:
                    raise

    # -- pending retries and `after` counts (shared.py) ----------------------------------------
    def plan_retry(self, job: str, retry: RetryDue) -> None:
        with guard(self.where):
            shared.plan_retry(self._conn(), job, retry)

    def drop_retry(self, job: str, scheduled_at: datetime, attempt: int | None = None) -> None:
        with guard(self.where):
            shared.drop_retry(self._conn(), job, scheduled_at, attempt)

    def pending_retries(self) -> dict[str, tuple[RetryDue, ...]]:
        with guard(self.where):
            return shared.pending_retries(self._conn())

    def upstream_succeeded(self, job: str, upstream: str, needed: Sequence[str]) -> list[str]:
        with guard(self.where):
            return shared.upstream_succeeded(self._conn(), job, upstream, needed)

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
        with guard(self.where):
            return insert_runs(self._conn(), [NewRun.claim(claim, log_path)])[0]

    def claim_runs(self, claims: Sequence[Claim]) -> list[int | None]:
        # One statement for the whole batch: one round trip, however many jobs are due.
        with guard(self.where):
            return insert_runs(self._conn(), [NewRun.claim(c) for c in claims])

    def set_pid(
        self,
        run_id: int,
        pid: int,
        log_path: str | None = None,
        started_at: datetime | None = None,
    ) -> None:
        self.set_pids([Spawned(run_id, pid, log_path, started_at)])

    def set_pids(self, spawned: Sequence[Spawned]) -> None:
        if not spawned:
            return
        self._all(
            "UPDATE runs SET pid = u.pid, log_path = coalesce(u.log_path, runs.log_path),"
            " started_at = coalesce(u.started_at, runs.started_at)"
            " FROM unnest(%s::bigint[], %s::integer[], %s::text[], %s::timestamptz[])"
            " AS u(id, pid, log_path, started_at) WHERE runs.id = u.id RETURNING runs.id",
            (
                [s.run_id for s in spawned],
                [s.pid for s in spawned],
                [s.log_path for s in spawned],
                [aware_or_none(s.started_at) for s in spawned],
            ),
        )

    def finish_run(self, run_id: int, finish: Finish) -> Run:
        row = self._one(
            "UPDATE runs SET status = %s, ended_at = %s, exit_code = %s, signal = %s,"
            " output_tail = %s, reason = %s, cpu_seconds = %s, max_rss_kib = %s"
            f" WHERE id = %s RETURNING {RUN_COLUMNS}",
            (
                finish.status.value,
                aware(finish.ended_at),
                finish.exit_code,
                finish.signal,
                finish.output_tail,
                finish.reason,
                finish.cpu_seconds,
                finish.max_rss_kib,
                run_id,
            ),
        )
        if row is None:
            raise RecordGoneError(f"PostgreSQL store {self.where}: no run {run_id} to finish")
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
        new = NewRun(
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
        with guard(self.where):
            return insert_runs(self._conn(), [new])[0]

    def mark_lost(
        self,
        at: datetime,
        *,
        runner_ids: Sequence[int] | None = None,
        expired_before: datetime | None = None,
        run_ids: Sequence[int] | None = None,
    ) -> list[Run]:
        if (runner_ids is not None and not runner_ids) or (run_ids is not None and not run_ids):
            return []
        rows = self._all(
            "UPDATE runs SET status = 'lost', ended_at = %(at)s, reason = 'runner gone'"
            " || coalesce((SELECT ' (pid ' || r.pid || ' on ' || r.host || ')' FROM runners r"
            " WHERE r.id = runs.runner_id), '')"
            " WHERE status = 'running'"
            " AND (%(ids)s::bigint[] IS NULL OR runner_id = ANY(%(ids)s::bigint[]))"
            " AND (%(before)s::timestamptz IS NULL OR lease_until < %(before)s::timestamptz)"
            " AND (%(runs)s::bigint[] IS NULL OR id = ANY(%(runs)s::bigint[]))"
            f" RETURNING {RUN_COLUMNS}",
            {
                "at": aware(at),
                "ids": None if runner_ids is None else list(runner_ids),
                "before": aware_or_none(expired_before),
                "runs": None if run_ids is None else list(run_ids),
            },
        )
        return sorted((run_from_row(r) for r in rows), key=lambda run: run.id)

    def import_runs(self, runs: Sequence[Run]) -> int:
        db = self._conn()
        with guard(self.where), db.transaction():
            return import_runs(db, runs)

    def renew_leases(self, runner_id: int, until: datetime) -> list[int]:
        rows = self._all(
            "UPDATE runs SET lease_until = %s WHERE status = 'running' AND runner_id = %s"
            " RETURNING id",
            (aware(until), runner_id),
        )
        return sorted(int(r[0]) for r in rows)

    def get_run(self, run_id: int) -> Run | None:
        row = self._one(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = %s", (run_id,))
        return None if row is None else run_from_row(row)

    def get_runs(self, run_ids: Sequence[int]) -> dict[int, Run]:
        if not run_ids:
            return {}
        rows = self._all(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ANY(%s::bigint[])", (list(run_ids),)
        )
        return {r[0]: run_from_row(r) for r in rows}

    def runs(
        self,
        job: str | None = None,
        *,
        limit: int = 20,
        status: Status | None = None,
        since: datetime | None = None,
    ) -> list[Run]:
        with guard(self.where):
            return select_runs(self._conn(), job, limit=limit, status=status, since=since)

    def running_runs(self) -> list[Run]:
        rows = self._all(f"SELECT {RUN_COLUMNS} FROM runs WHERE status = 'running' ORDER BY id")
        return [run_from_row(r) for r in rows]

    def prune(self, job: str, *, keep_runs: int | None, older_than: datetime | None) -> list[str]:
        db = self._conn()
        with guard(self.where), db.transaction():
            return prune_runs(db, job, keep_runs=keep_runs, older_than=older_than)

    # -- pauses --------------------------------------------------------------------------------
    def set_paused(self, names: Sequence[str], paused: bool, until: datetime | None) -> None:
        until = aware_or_none(until) if paused else None
        db = self._conn()
        with guard(self.where), db.transaction():
            # One statement: the unknown names are found under the same snapshot that updates
            # the others, and an unknown one rolls the whole change back.
            unknown = [
                row[0]
                for row in db.execute(
                    "WITH updated AS (UPDATE jobs SET paused = %s, paused_until = %s"
                    " WHERE name = ANY(%s::text[]) RETURNING name)"
                    " SELECT n FROM unnest(%s::text[]) AS n"
                    " WHERE n NOT IN (SELECT name FROM updated)",
                    (paused, until, list(names), list(names)),
                )
            ]
            if unknown:
                raise UsageError(
                    f"unknown job(s) {', '.join(map(repr, unknown))}: no runner has loaded them"
                    f" into the store {self.where}"
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
        # the NOTIFY goes out with the insert's commit: every listening runner wakes
        row = self._one(
            "WITH c AS (INSERT INTO controls (kind, requested_at, job, run_id)"
            " VALUES (%s, %s, %s, %s) RETURNING id)"
            f" SELECT id, pg_notify('{WAKE_CHANNEL}', %s) FROM c",
            (kind.value, aware(at), job, run_id, kind.value),
        )
        return int(row[0])

    def controls_since(self, after_id: int) -> list[Control]:
        rows = self._all(
            f"SELECT {CONTROL_COLUMNS} FROM controls WHERE id > %s ORDER BY id", (after_id,)
        )
        return [control_from_row(r) for r in rows]

    def listen(self) -> PostgresListener:
        return PostgresListener(self.url, self.where)

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
        # SKIP LOCKED: a row another runner is taking right now is its; the re-check of the
        # WHERE after locking drops a row another runner took since this one's snapshot.
        rows = self._all(
            "UPDATE controls SET holder = %s, held_at = %s WHERE id IN (SELECT id FROM controls"
            " WHERE taken_at IS NULL AND holder IS NULL ORDER BY id FOR UPDATE SKIP LOCKED)"
            f" AND taken_at IS NULL AND holder IS NULL RETURNING {CONTROL_COLUMNS}",
            (runner_id, aware(at)),
        )
        return sorted((control_from_row(r) for r in rows), key=lambda c: c.id)

    def complete_control(
        self, control_id: int, at: datetime, *, run_id: int | None = None, result: str | None = None
    ) -> None:
        self._all(
            "UPDATE controls SET taken_at = %s, run_id = coalesce(%s, run_id), result = %s"
            " WHERE id = %s RETURNING id",
            (aware(at), run_id, result, control_id),
        )

    def get_control(self, control_id: int) -> Control | None:
        row = self._one(f"SELECT {CONTROL_COLUMNS} FROM controls WHERE id = %s", (control_id,))
        return None if row is None else control_from_row(row)

    # -- meta ----------------------------------------------------------------------------------
    def close(self) -> None:
        self._closed = True
        self._db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
