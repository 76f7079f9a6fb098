"""The shape of the state database: the pragmas every connection gets, and the numbered
migrations that build the tables.

Append new migrations to MIGRATIONS; never edit one that has shipped. Each runs in its own
transaction together with the row that records it, so a crash leaves the schema at a known
version.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from cronpy.errors import StateError
from cronpy.store.sqlite.connection import guard, transaction

# SQLite checkpoints the WAL inside the commit that crosses this many pages, fsync and all
# (~5 ms here, 25x a commit). The default, 1000 pages, lands that on ~2% of recorded runs;
# 10000 makes it a backstop, and the runner checkpoints when idle (SqliteStore.maintain()).
_WAL_AUTOCHECKPOINT_PAGES = 10_000
_WAL_SIZE_LIMIT = 16 * 1024 * 1024  # a checkpointed WAL shrinks back to this


def configure(db: sqlite3.Connection, path: Path, *, busy_timeout: float, readonly: bool) -> None:
    """The pragmas of one connection (they are not stored in the file)."""
    with guard(path):
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        db.execute("PRAGMA foreign_keys = ON")
        if readonly:
            db.execute("PRAGMA query_only = ON")
        else:
            # WAL: readers (status, history) never block the runner's writes. NORMAL
            # only fsyncs at checkpoints, which is durable enough for history; claims are
            # made durable one by one (connection.durable_transaction).
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute(f"PRAGMA wal_autocheckpoint = {_WAL_AUTOCHECKPOINT_PAGES}")
            db.execute(f"PRAGMA journal_size_limit = {_WAL_SIZE_LIMIT}")


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


def _v2_leases_and_holders(db: sqlite3.Connection) -> None:
    # lease_until: when a run's lease ends unless its runner renews it (NULL: no lease).
    # holder/held_at: the runner that took a control (take_controls), before it answers.
    for sql in (
        "ALTER TABLE runs ADD COLUMN lease_until INTEGER",
        "ALTER TABLE controls ADD COLUMN holder INTEGER",
        "ALTER TABLE controls ADD COLUMN held_at INTEGER",
    ):
        db.execute(sql)


def _v3_retry_chains(db: sqlite3.Connection) -> None:
    """Each failed occurrence keeps its own retry: a list replaces the one retry slot, which a
    second failure overwrote."""
    db.execute("ALTER TABLE jobs ADD COLUMN retries TEXT NOT NULL DEFAULT '[]'")
    db.execute(
        "UPDATE jobs SET retries = json_array(json_array(retry_scheduled_at, retry_attempt,"
        " retry_at)) WHERE retry_at IS NOT NULL AND retry_scheduled_at IS NOT NULL"
    )


def _v4_late_flag(db: sqlite3.Connection) -> None:
    """Why a job is late (late_after, max_duration), for status, until it succeeds again."""
    db.execute("ALTER TABLE jobs ADD COLUMN late TEXT")


def _v5_runner_identity(db: sqlite3.Connection) -> None:
    """Which job file (by hash) and which cronpy each runner runs, for status."""
    db.execute("ALTER TABLE runners ADD COLUMN file_hash TEXT")
    db.execute("ALTER TABLE runners ADD COLUMN version TEXT")


def _v6_enabled_flag(db: sqlite3.Connection) -> None:
    """Whether the job file switches the job off, so status can say "disabled"."""
    db.execute("ALTER TABLE jobs ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1")


def _v7_run_cost(db: sqlite3.Connection) -> None:
    """What a run cost: CPU seconds (user + system) and peak RSS of its process tree."""
    db.execute("ALTER TABLE runs ADD COLUMN cpu_seconds REAL")
    db.execute("ALTER TABLE runs ADD COLUMN max_rss_kib INTEGER")


def _v8_shared_retries_and_after(db: sqlite3.Connection) -> None:
    """Pending retries become rows, written when planned and deleted when claimed, instead of
    a column every runner rewrote from memory; and the `after` jobs that succeeded since a
    job's last `after` start are counted in the store, by whichever runner saw them."""
    db.execute(
        """CREATE TABLE retries (
            job TEXT NOT NULL,
            scheduled_at INTEGER NOT NULL,
            attempt INTEGER NOT NULL,
            due_at INTEGER NOT NULL,
            PRIMARY KEY (job, scheduled_at)
        )"""
    )
    db.execute(
        "INSERT OR IGNORE INTO retries (job, scheduled_at, attempt, due_at)"
        " SELECT jobs.name, json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'),"
        " json_extract(r.value, '$[2]') FROM jobs, json_each(jobs.retries) AS r"
    )
    db.execute(
        "CREATE TABLE after_done (job TEXT NOT NULL, upstream TEXT NOT NULL,"
        " PRIMARY KEY (job, upstream))"
    )


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1_initial,
    _v2_leases_and_holders,
    _v3_retry_chains,
    _v4_late_flag,
    _v5_runner_identity,
    _v6_enabled_flag,
    _v7_run_cost,
    _v8_shared_retries_and_after,
]


def schema_version(db: sqlite3.Connection, path: Path) -> int:
    """The newest migration applied to the database; 0 for a new (empty) one."""
    with guard(path):
        has_table = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'"
        ).fetchone()
        if has_table is None:
            return 0
        row = db.execute("SELECT max(version) FROM migrations").fetchone()
    return int(row[0] or 0)


def migrate(db: sqlite3.Connection, path: Path, *, readonly: bool) -> None:
    """Bring the database to the newest schema; a read-only open only checks that it is there."""
    current = schema_version(db, path)
    latest = len(MIGRATIONS)
    if current > latest:
        raise StateError(
            f"the state database {path} has schema version {current}, written by a newer"
            f" cronpy; this one knows versions up to {latest}"
        )
    if current == latest:
        return
    if readonly:
        if current == 0:
            raise StateError(
                f"no state at {path}: has `cronpy run` been started with this state directory?"
            )
        raise StateError(
            f"the state database {path} has schema version {current}, this cronpy needs"
            f" {latest}: start `cronpy run` once to upgrade it"
        )
    for version, migration in enumerate(MIGRATIONS, start=1):
        with transaction(db, path):
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
