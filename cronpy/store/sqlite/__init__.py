"""The single-host store: one SQLite file in the state directory.

Timestamps are INTEGER microseconds since the epoch (UTC): exact round trips, cheap comparisons.
One connection per store object; ``atomic()`` owns every write transaction (BEGIN IMMEDIATE,
so a writer waits for the file lock up front instead of failing half-way through).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cronpy.errors import StateError, UsageError
from cronpy.interfaces import Store
from cronpy.model import (
    Claim,
    Control,
    ControlKind,
    Finish,
    JobState,
    Run,
    RunnerInfo,
    Spawned,
    Status,
    Trigger,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MIN_SQLITE = (3, 35, 0)  # RETURNING and ON CONFLICT ... DO NOTHING with RETURNING
BUSY_TIMEOUT = 5.0  # seconds a connection waits for another's write lock, unless told
# SQLite checkpoints the WAL inside the commit that crosses this many pages, fsync and all
# (~5 ms here, 25x a commit). The default, 1000 pages, lands that on ~2% of recorded runs;
# 10000 makes it a backstop, and the runner checkpoints when idle (maintain()).
_WAL_AUTOCHECKPOINT_PAGES = 10_000
_WAL_SIZE_LIMIT = 16 * 1024 * 1024  # a checkpointed WAL shrinks back to this


def _us(when: datetime) -> int:
    if when.utcoffset() is None:
        raise ValueError(f"naive datetime {when.isoformat()}: the store takes aware datetimes")
    return (when - _EPOCH) // _MICROSECOND


def _us_or_none(when: datetime | None) -> int | None:
    return None if when is None else _us(when)


def _dt(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + timedelta(microseconds=us)


def _dt_required(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


# -- schema ------------------------------------------------------------------------------------
# Append new migrations; never edit one that has shipped. Each runs in its own transaction
# together with the row that records it, so a crash leaves the schema at a known version.


def _v1_initial(db: sqlite3.Connection) -> None:
    statements = [
        """CREATE TABLE jobs (
            name TEXT PRIMARY KEY,
            first_seen INTEGER NOT NULL,
            cursor INTEGER,
            next_run_at INTEGER,
            run_count INTEGER NOT NULL DEFAULT 0,
            paused INTEGER NOT NULL DEFAULT 0,
            paused_until INTEGER,
            last_run_id INTEGER,
            boot_id TEXT,
            retry_at INTEGER,
            retry_attempt INTEGER NOT NULL DEFAULT 0,
            retry_scheduled_at INTEGER,
            schedule TEXT NOT NULL DEFAULT '',
            timezone TEXT NOT NULL DEFAULT '',
            command TEXT NOT NULL DEFAULT '',
            present INTEGER NOT NULL DEFAULT 1
        )""",
        # AUTOINCREMENT: a run id names a log file and appears in `cronpy logs JOB RUN`;
        # it must never be handed out twice, even after the newest rows are pruned.
        # created_at is started_at for a start and the recording time otherwise: one non-null
        # column for `history --since` and pruning by age.
        """CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            job TEXT NOT NULL REFERENCES jobs (name) DEFERRABLE INITIALLY DEFERRED,
            scheduled_at INTEGER,
            created_at INTEGER NOT NULL,
            started_at INTEGER,
            ended_at INTEGER,
            status TEXT NOT NULL,
            exit_code INTEGER,
            signal INTEGER,
            attempt INTEGER NOT NULL,
            trigger TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER,
            runner_id INTEGER,
            reason TEXT,
            missed_count INTEGER,
            output_tail TEXT NOT NULL DEFAULT '',
            log_path TEXT,
            UNIQUE (job, scheduled_at, attempt)
        )""",
        # history of a job, newest first, optionally by status; pruning by count
        "CREATE INDEX runs_job_id ON runs (job, id)",
        "CREATE INDEX runs_job_status_id ON runs (job, status, id)",
        # history --since, pruning by age
        "CREATE INDEX runs_job_created ON runs (job, created_at)",
        # history --status across jobs
        "CREATE INDEX runs_status_id ON runs (status, id)",
        # running runs (at startup, mark_lost of given runners)
        "CREATE INDEX runs_running ON runs (runner_id) WHERE status = 'running'",
        """CREATE TABLE runners (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started_at INTEGER NOT NULL,
            heartbeat_at INTEGER NOT NULL,
            stopped_at INTEGER,
            note TEXT
        )""",
        "CREATE INDEX runners_live ON runners (id) WHERE stopped_at IS NULL",
        """CREATE TABLE controls (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL,
            requested_at INTEGER NOT NULL,
            job TEXT,
            run_id INTEGER,
            taken_at INTEGER,
            result TEXT
        )""",
        "CREATE INDEX controls_pending ON controls (id) WHERE taken_at IS NULL",
    ]
    for sql in statements:
        db.execute(sql)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1_initial]

_RUN_COLUMNS = (
    "id, job, status, trigger, scheduled_at, started_at, ended_at, exit_code, signal, attempt,"
    " host, pid, reason, missed_count, output_tail, log_path"
)
_JOB_COLUMNS = (
    "name, first_seen, cursor, next_run_at, run_count, paused, paused_until, last_run_id,"
    " boot_id, retry_at, retry_attempt, retry_scheduled_at, schedule, timezone, command, present"
)
_RUNNER_COLUMNS = "id, host, pid, started_at, heartbeat_at, stopped_at, note"
_CONTROL_COLUMNS = "id, kind, requested_at, job, run_id, taken_at, result"


def _run(row: Sequence[Any]) -> Run:
    return Run(
        id=row[0],
        job=row[1],
        status=Status(row[2]),
        trigger=Trigger(row[3]),
        scheduled_at=_dt(row[4]),
        started_at=_dt(row[5]),
        ended_at=_dt(row[6]),
        exit_code=row[7],
        signal=row[8],
        attempt=row[9],
        host=row[10],
        pid=row[11],
        reason=row[12],
        missed_count=row[13],
        output_tail=row[14],
        log_path=row[15],
    )


def _job(row: Sequence[Any]) -> JobState:
    return JobState(
        name=row[0],
        first_seen=_dt_required(row[1]),
        cursor=_dt(row[2]),
        next_run_at=_dt(row[3]),
        run_count=row[4],
        paused=bool(row[5]),
        paused_until=_dt(row[6]),
        last_run_id=row[7],
        boot_id=row[8],
        retry_at=_dt(row[9]),
        retry_attempt=row[10],
        retry_scheduled_at=_dt(row[11]),
        schedule=row[12],
        timezone=row[13],
        command=row[14],
        present=bool(row[15]),
    )


def _runner(row: Sequence[Any]) -> RunnerInfo:
    return RunnerInfo(
        id=row[0],
        host=row[1],
        pid=row[2],
        started_at=_dt_required(row[3]),
        heartbeat_at=_dt_required(row[4]),
        stopped_at=_dt(row[5]),
        note=row[6],
    )


def _control(row: Sequence[Any]) -> Control:
    return Control(
        id=row[0],
        kind=ControlKind(row[1]),
        requested_at=_dt_required(row[2]),
        job=row[3],
        run_id=row[4],
        taken_at=_dt(row[5]),
        result=row[6],
    )


# In an upsert: move the job's cursor forward to the one given (excluded.cursor), never back.
_ADVANCE_CURSOR = (
    "cursor = CASE WHEN excluded.cursor IS NULL THEN cursor"
    " ELSE max(coalesce(cursor, excluded.cursor), excluded.cursor) END"
)


class SqliteStore(Store):
    def __init__(
        self, path: Path, *, readonly: bool = False, busy_timeout: float | None = None
    ) -> None:
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise StateError(
                f"SQLite {sqlite3.sqlite_version} is too old for the state database:"
                f" cronpy needs {'.'.join(map(str, _MIN_SQLITE))} or newer"
            )
        self.path = path
        self.readonly = readonly
        self.busy_timeout = BUSY_TIMEOUT if busy_timeout is None else busy_timeout
        if readonly:
            self._db = self._open_existing(path)
        else:
            self._db = self._open_or_create(path)
        try:
            self._configure()
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    # -- opening -------------------------------------------------------------------------------
    @staticmethod
    def _connect(uri: str, path: Path) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                uri,
                uri=True,
                isolation_level=None,  # transactions are ours, see atomic()
                check_same_thread=False,
                timeout=BUSY_TIMEOUT,  # the PRAGMA in _configure sets the one asked for
            )
        except sqlite3.Error as exc:
            raise StateError(f"cannot open the state database {path}: {exc}") from exc

    @classmethod
    def _open_existing(cls, path: Path) -> sqlite3.Connection:
        if not path.exists():
            raise StateError(
                f"no state at {path}: has `cronpy run` been started with this state directory?"
            )
        # mode=rw never creates the database file (SQLite opens a write-protected file read-only
        # instead); it may create -wal/-shm, which SQLite gives the database file's permissions.
        # query_only (see _configure) keeps this connection from ever writing.
        return cls._connect(f"{path.absolute().as_uri()}?mode=rw", path)

    @classmethod
    def _open_or_create(cls, path: Path) -> sqlite3.Connection:
        # Create the file ourselves so it is 0600 from its first instant (an empty file is an
        # empty database); the -wal and -shm files then inherit that mode from it.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        except OSError as exc:
            raise StateError(f"cannot create the state database {path}: {exc.strerror}") from exc
        else:
            os.close(fd)
        return cls._connect(f"{path.absolute().as_uri()}?mode=rw", path)

    def _configure(self) -> None:
        with self._guard():
            self._db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._db.execute("PRAGMA foreign_keys = ON")
            if self.readonly:
                self._db.execute("PRAGMA query_only = ON")
            else:
                # WAL: readers (status, history) never block the runner's writes. NORMAL
                # only fsyncs at checkpoints, which is durable enough for history.
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
                self._db.execute(f"PRAGMA wal_autocheckpoint = {_WAL_AUTOCHECKPOINT_PAGES}")
                self._db.execute(f"PRAGMA journal_size_limit = {_WAL_SIZE_LIMIT}")

    def schema_version(self) -> int:
        with self._guard():
            has_table = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
            ).fetchone()
            if has_table is None:
                return 0
            row = self._db.execute("SELECT max(version) FROM migrations").fetchone()
        return int(row[0] or 0)

    def _migrate(self) -> None:
        current = self.schema_version()
        latest = len(MIGRATIONS)
        if current > latest:
            raise StateError(
                f"the state database {self.path} has schema version {current}, written by a newer"
                f" cronpy; this one knows versions up to {latest}"
            )
        if current == latest:
            return
        if self.readonly:
            if current == 0:
                raise StateError(
                    f"no state at {self.path}: has `cronpy run` been started with this state"
                    " directory?"
                )
            raise StateError(
                f"the state database {self.path} has schema version {current}, this cronpy needs"
                f" {latest}: start `cronpy run` once to upgrade it"
            )
        for version, migration in enumerate(MIGRATIONS, start=1):
            with self.atomic() as db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS migrations"
                    " (version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
                )
                # Re-read inside the write lock: another process may have migrated meanwhile.
                done = db.execute("SELECT 1 FROM migrations WHERE version = ?", (version,))
                if done.fetchone() is not None:
                    continue
                migration(db)
                db.execute(
                    "INSERT INTO migrations (version, name) VALUES (?, ?)",
                    (version, migration.__name__.lstrip("_")),
                )

    # -- transactions --------------------------------------------------------------------------
    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn database failures (locked, disk full, corrupt) into a StateError naming the file."""
        try:
            yield
        except sqlite3.Error as exc:
            raise StateError(f"state database {self.path}: {exc}") from exc

    @contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; joins the enclosing one when nested."""
        if self._db.in_transaction:
            yield self._db
            return
        with self._guard():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._guard():
            return self._db.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._guard():
            return self._db.execute(sql, params).fetchone()

    # -- runners -------------------------------------------------------------------------------
    def register_runner(self, host: str, pid: int, at: datetime) -> int:
        with self.atomic() as db:
            row = db.execute(
                "INSERT INTO runners (host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?)"
                " RETURNING id",
                (host, pid, _us(at), _us(at)),
            ).fetchone()
        return int(row[0])

    def heartbeat(self, runner_id: int, at: datetime, note: str | None = None) -> None:
        with self.atomic() as db:
            db.execute(
                "UPDATE runners SET heartbeat_at = ?, note = ? WHERE id = ?",
                (_us(at), note, runner_id),
            )

    def unregister_runner(self, runner_id: int, at: datetime) -> None:
        with self.atomic() as db:
            db.execute(
                "UPDATE runners SET stopped_at = ?, heartbeat_at = ? WHERE id = ?",
                (_us(at), _us(at), runner_id),
            )

    def live_runners(self) -> list[RunnerInfo]:
        rows = self._all(
            f"SELECT {_RUNNER_COLUMNS} FROM runners WHERE stopped_at IS NULL ORDER BY id"
        )
        return [_runner(r) for r in rows]

    # -- jobs ----------------------------------------------------------------------------------
    def job_states(self) -> dict[str, JobState]:
        rows = self._all(f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY name")
        return {r[0]: _job(r) for r in rows}

    def job_state(self, name: str) -> JobState | None:
        row = self._one(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE name = ?", (name,))
        return None if row is None else _job(row)

    def save_job_states(self, states: Iterable[JobState]) -> None:
        # first_seen, run_count, last_run_id and the pause columns are written when the row is
        # created and never overwritten here: claim_run/record and set_paused own them, and a
        # runner's in-memory copy may be older than what a command or a claim wrote since.
        rows = [
            (
                s.name,
                _us(s.first_seen),
                _us_or_none(s.cursor),
                _us_or_none(s.next_run_at),
                s.run_count,
                int(s.paused),
                _us_or_none(s.paused_until),
                s.last_run_id,
                s.boot_id,
                _us_or_none(s.retry_at),
                s.retry_attempt,
                _us_or_none(s.retry_scheduled_at),
                s.schedule,
                s.timezone,
                s.command,
                int(s.present),
            )
            for s in states
        ]
        with self.atomic() as db:
            db.executemany(
                f"INSERT INTO jobs ({_JOB_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET"
                # the cursor only moves forward: a claim may have advanced it already
                f" {_ADVANCE_CURSOR}, next_run_at = excluded.next_run_at,"
                " boot_id = excluded.boot_id, retry_at = excluded.retry_at,"
                " retry_attempt = excluded.retry_attempt,"
                " retry_scheduled_at = excluded.retry_scheduled_at,"
                " schedule = excluded.schedule, timezone = excluded.timezone,"
                " command = excluded.command, present = excluded.present",
                rows,
            )

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
    ) -> int | None:
        started = _us(started_at)
        moved = _us_or_none(cursor)
        with self.atomic() as db:
            row = db.execute(
                "INSERT INTO runs (job, scheduled_at, created_at, started_at, status, attempt,"
                " trigger, host, runner_id, log_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (job, scheduled_at, attempt) DO NOTHING RETURNING id",
                (
                    job,
                    _us_or_none(scheduled_at),
                    started,
                    started,
                    Status.RUNNING.value,
                    attempt,
                    trigger.value,
                    host,
                    runner_id,
                    log_path,
                ),
            ).fetchone()
            if row is None:
                return None
            run_id = int(row[0])
            # The runner saves job states before claiming; the upsert only keeps a claim for a
            # job it has not saved yet from failing on the foreign key.
            db.execute(
                "INSERT INTO jobs (name, first_seen, cursor, run_count, last_run_id)"
                " VALUES (?, ?, ?, 1, ?) ON CONFLICT (name) DO UPDATE SET"
                " run_count = run_count + 1, last_run_id = excluded.last_run_id,"
                f" {_ADVANCE_CURSOR}",
                (job, started, moved, run_id),
            )
        return run_id

    def claim_runs(self, claims: Sequence[Claim]) -> list[int | None]:
        with self.atomic():  # each claim_run of the default joins this one transaction
            return super().claim_runs(claims)

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
                [(s.pid, s.log_path, _us_or_none(s.started_at), s.run_id) for s in spawned],
            )

    def finish_run(self, run_id: int, finish: Finish) -> Run:
        with self.atomic() as db:
            row = db.execute(
                "UPDATE runs SET status = ?, ended_at = ?, exit_code = ?, signal = ?,"
                f" output_tail = ?, reason = ? WHERE id = ? RETURNING {_RUN_COLUMNS}",
                (
                    finish.status.value,
                    _us(finish.ended_at),
                    finish.exit_code,
                    finish.signal,
                    finish.output_tail,
                    finish.reason,
                    run_id,
                ),
            ).fetchone()
            if row is None:
                raise StateError(f"state database {self.path}: no run {run_id} to finish")
        return _run(row)

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
        when = _us(at)
        moved = _us_or_none(cursor)
        with self.atomic() as db:
            row = db.execute(
                "INSERT INTO runs (job, scheduled_at, created_at, ended_at, status, attempt,"
                " trigger, host, runner_id, reason, missed_count)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (job, scheduled_at, attempt) DO NOTHING RETURNING id",
                (
                    job,
                    _us_or_none(scheduled_at),
                    when,
                    when,
                    status.value,
                    attempt,
                    trigger.value,
                    host,
                    runner_id,
                    reason,
                    missed_count,
                ),
            ).fetchone()
            if row is None:
                return None
            run_id = int(row[0])
            db.execute(
                "INSERT INTO jobs (name, first_seen, cursor, last_run_id) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET last_run_id = excluded.last_run_id,"
                f" {_ADVANCE_CURSOR}",
                (job, when, moved, run_id),
            )
        return run_id

    def mark_lost(self, at: datetime, *, runner_ids: Sequence[int] | None = None) -> list[Run]:
        where = "status = 'running'"
        params: list[Any] = [_us(at)]
        if runner_ids is not None:
            if not runner_ids:
                return []
            where += f" AND runner_id IN ({', '.join('?' * len(runner_ids))})"
            params.extend(runner_ids)
        with self.atomic() as db:
            rows = db.execute(
                "UPDATE runs SET status = 'lost', ended_at = ?, reason = 'runner gone' || coalesce("
                "(SELECT ' (pid ' || r.pid || ' on ' || r.host || ')' FROM runners r"
                " WHERE r.id = runs.runner_id), '')"
                f" WHERE {where} RETURNING {_RUN_COLUMNS}",
                params,
            ).fetchall()
        return sorted((_run(r) for r in rows), key=lambda run: run.id)

    def get_run(self, run_id: int) -> Run | None:
        row = self._one(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        return None if row is None else _run(row)

    def get_runs(self, run_ids: Sequence[int]) -> dict[int, Run]:
        found: dict[int, Run] = {}
        ids = list(dict.fromkeys(run_ids))
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._all(f"SELECT {_RUN_COLUMNS} FROM runs WHERE id IN ({marks})", chunk):
                run = _run(row)
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
            params.extend([_us(since), job, _us(since)])
        elif since is not None:
            clauses.append("created_at >= ?")
            params.append(_us(since))
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        params.append(limit)
        rows = self._all(f"SELECT {_RUN_COLUMNS} FROM runs{where} ORDER BY id DESC LIMIT ?", params)
        return [_run(r) for r in rows]

    def running_runs(self) -> list[Run]:
        rows = self._all(f"SELECT {_RUN_COLUMNS} FROM runs WHERE status = 'running' ORDER BY id")
        return [_run(r) for r in rows]

    def prune(self, job: str, *, keep_runs: int | None, older_than: datetime | None) -> list[str]:
        # Called after every finished run, so both deletes are index range scans that find
        # nothing in the common case. Running runs and the job's last run are never deleted:
        # the first are not history yet, the second is what `status` shows.
        keep = "status != 'running' AND id IS NOT (SELECT last_run_id FROM jobs WHERE name = ?)"
        paths: list[str] = []
        with self.atomic() as db:
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
                    f"DELETE FROM runs WHERE job = ? AND created_at < ? AND {keep}"
                    " RETURNING log_path",
                    (job, _us(older_than), job),
                ).fetchall()
                paths.extend(p for (p,) in deleted if p is not None)
        return paths

    # -- pauses --------------------------------------------------------------------------------
    def set_paused(self, names: Sequence[str], paused: bool, until: datetime | None) -> None:
        until_us = _us_or_none(until) if paused else None
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
                (kind.value, _us(at), job, run_id),
            ).fetchone()
        return int(row[0])

    def pending_controls(self) -> list[Control]:
        rows = self._all(
            f"SELECT {_CONTROL_COLUMNS} FROM controls WHERE taken_at IS NULL ORDER BY id"
        )
        return [_control(r) for r in rows]

    def complete_control(
        self, control_id: int, at: datetime, *, run_id: int | None = None, result: str | None = None
    ) -> None:
        with self.atomic() as db:
            db.execute(
                "UPDATE controls SET taken_at = ?, run_id = coalesce(?, run_id), result = ?"
                " WHERE id = ?",
                (_us(at), run_id, result, control_id),
            )

    def get_control(self, control_id: int) -> Control | None:
        row = self._one(f"SELECT {_CONTROL_COLUMNS} FROM controls WHERE id = ?", (control_id,))
        return None if row is None else _control(row)

    # -- meta ----------------------------------------------------------------------------------
    def maintain(self) -> None:
        if self.readonly:
            return
        with self._guard():
            # PASSIVE: copies what it can without waiting for readers (a `cronpy history`).
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
