"""What is particular to the SQLite store: its file (private, created or not, corrupt), WAL
and busy-timeout pragmas, numbered migrations, read-only opens, and open_store's URLs. What
every store does is in tests/contract/test_store_contract.py."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cronpy.errors import StateError, UsageError
from cronpy.model import JobState, RetryDue, Status, Trigger
from cronpy.store import open_store
from cronpy.store.sqlite import SqliteStore, schema
from cronpy.store.sqlite.schema import MIGRATIONS

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
T_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOST = "host-a"


# -- the file, its schema and its pragmas --------------------------------------------------------


def _versions(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT version, name FROM migrations ORDER BY version").fetchall()


def test_migrations_apply_once(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStore(path) as store:
        store.save_job_states([JobState(name="backup", first_seen=T0)])
    with SqliteStore(path) as store:
        assert store.schema_version() == len(MIGRATIONS)
        assert list(store.job_states()) == ["backup"]
    assert [v for v, _ in _versions(path)] == list(range(1, len(MIGRATIONS) + 1))


def test_a_state_file_of_schema_1_upgrades_keeping_runs_and_controls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a state file written before leases and control holders (migration 2)
    path = tmp_path / "state.db"
    monkeypatch.setattr(schema, "MIGRATIONS", MIGRATIONS[:1])
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:  # rows as that version's store wrote them
        db.execute(
            "INSERT INTO jobs (name, first_seen, retry_at, retry_attempt, retry_scheduled_at)"
            " VALUES ('backup', 0, 90000000, 2, 60000000)"
        )
        runner = db.execute(
            "INSERT INTO runners (host, pid, started_at, heartbeat_at) VALUES ('h', 1, 0, 0)"
        ).lastrowid
        run_id = db.execute(
            "INSERT INTO runs (job, scheduled_at, created_at, started_at, status, attempt,"
            " trigger, host, runner_id) VALUES ('backup', 0, 0, 0, 'running', 1, 'schedule',"
            " 'h', ?)",
            (runner,),
        ).lastrowid
        control = db.execute(
            "INSERT INTO controls (kind, requested_at) VALUES ('reload', 0)"
        ).lastrowid
    monkeypatch.setattr(schema, "MIGRATIONS", MIGRATIONS)
    assert runner is not None
    with SqliteStore(path) as store:
        assert store.schema_version() == len(MIGRATIONS)
        # the one retry slot of schema 1 became the job's first retry chain
        assert store.job_state("backup").retries == (  # type: ignore[union-attr]
            RetryDue(T_EPOCH + timedelta(seconds=60), 2, T_EPOCH + timedelta(seconds=90)),
        )
        assert [c.id for c in store.pending_controls()] == [control]
        assert store.renew_leases(runner, T0) == [run_id]
        assert [c.id for c in store.take_controls(runner, T0)] == [control]
    assert _versions(path)[1:] == [
        (2, "v2_leases_and_holders"),
        (3, "v3_retry_chains"),
        (4, "v4_late_flag"),
        (5, "v5_runner_identity"),
        (6, "v6_enabled_flag"),
        (7, "v7_run_cost"),
        (8, "v8_shared_retries_and_after"),
    ]


def test_a_new_migration_is_applied_and_recorded_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    SqliteStore(path).close()

    def _v99_add_notes(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE jobs ADD COLUMN notes TEXT")

    monkeypatch.setattr(schema, "MIGRATIONS", [*MIGRATIONS, _v99_add_notes])
    with pytest.raises(StateError, match="start `cronpy run` once to upgrade"):
        SqliteStore(path, readonly=True)
    with SqliteStore(path) as store:
        assert store.schema_version() == len(MIGRATIONS) + 1
    assert _versions(path)[-1] == (len(MIGRATIONS) + 1, "v99_add_notes")


def test_a_failing_migration_leaves_the_schema_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.db"
    SqliteStore(path).close()

    def _v2_broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        db.execute("THIS IS NOT SQL")

    monkeypatch.setattr(schema, "MIGRATIONS", [*MIGRATIONS, _v2_broken])
    with pytest.raises(StateError, match="syntax error"):
        SqliteStore(path)
    with sqlite3.connect(path) as db:
        tables = {n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half_done" not in tables
    assert len(_versions(path)) == len(MIGRATIONS)


def test_a_database_from_a_newer_cronpy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO migrations VALUES (1000, 'future')")
    with pytest.raises(StateError, match="newer cronpy"):
        SqliteStore(path)


def test_readonly_open_of_a_missing_database(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with pytest.raises(StateError, match=r"no state at .*state\.db: has `cronpy run` been"):
        SqliteStore(path, readonly=True)
    assert not path.exists()
    assert StateError.exit_code == 3


def test_readonly_store_reads_but_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStore(path) as writer:
        writer.save_job_states([JobState(name="backup", first_seen=T0)])
        with SqliteStore(path, readonly=True) as reader:
            assert list(reader.job_states()) == ["backup"]
            with pytest.raises(StateError, match="readonly"):
                reader.set_paused(["backup"], True, None)
            reader.maintain()  # a no-op, not an error
        assert writer.job_state("backup").paused is False  # type: ignore[union-attr]


def test_an_empty_file_is_not_yet_state(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch()  # what a runner leaves for an instant while it creates the database
    with pytest.raises(StateError, match="no state at"):
        SqliteStore(path, readonly=True)


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"definitely not sqlite" * 100)
    with pytest.raises(StateError, match=r"state\.db"):
        SqliteStore(path)


def test_database_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStore(path) as store:
        store.save_job_states([JobState(name="backup", first_seen=T0)])
        files = [path, path.with_name("state.db-wal"), path.with_name("state.db-shm")]
        for f in files:
            assert f.exists(), f
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_maintain_folds_the_wal_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SqliteStore(path) as store:
        runner = store.register_runner(HOST, 1, T0)
        store.save_job_states([JobState(name="backup", first_seen=T0)])
        store.claim_run(
            job="backup",
            scheduled_at=T0,
            trigger=Trigger.SCHEDULE,
            attempt=1,
            started_at=T0,
            host=HOST,
            runner_id=runner,
        )
        size_before = path.stat().st_size
        store.maintain()
        # the pages the claim wrote are in the database file now, not only in the WAL
        assert path.stat().st_size > size_before


def test_a_claim_commits_with_synchronous_full_and_the_rest_stays_normal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A claim lost to a power cut would run its occurrence again after the reboot: the claim
    transaction fsyncs its commit (FULL); other writes keep NORMAL (fsync at checkpoints)."""
    from cronpy.model import Claim
    from cronpy.store.sqlite import store as store_module

    seen: list[int] = []
    real_insert = store_module.insert_claim

    def spying_insert(db: sqlite3.Connection, claim: Claim, log_path: str | None = None) -> Any:
        seen.append(db.execute("PRAGMA synchronous").fetchone()[0])
        assert db.in_transaction
        return real_insert(db, claim, log_path)

    monkeypatch.setattr(store_module, "insert_claim", spying_insert)
    with SqliteStore(tmp_path / "state.db") as store:
        runner = store.register_runner(HOST, 1, T0)
        store.save_job_states([JobState(name="backup", first_seen=T0)])
        claim = Claim(
            job="backup",
            scheduled_at=T0,
            trigger=Trigger.SCHEDULE,
            attempt=1,
            started_at=T0,
            host=HOST,
            runner_id=runner,
        )
        store.claim_runs([claim])
        store.claim_run(**{**vars(claim), "scheduled_at": T0.replace(hour=13)})
        assert seen == [2, 2]  # FULL inside both claim transactions
        statements: list[str] = []
        store._db.set_trace_callback(statements.append)
        store.record(
            job="backup",
            status=Status.MISSED,
            trigger=Trigger.SCHEDULE,
            scheduled_at=T0.replace(hour=14),
            at=T0,
            host=HOST,
            runner_id=runner,
        )
        assert not any("synchronous" in s for s in statements)
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL again


def test_sqlite_waits_for_a_held_lock_only_as_long_as_asked(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db", busy_timeout=0.2)
    try:
        (ms,) = store._db.execute("PRAGMA busy_timeout").fetchone()
        assert ms == 200
        other = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StateError, match="locked"):
                store.register_runner(HOST, 1, T0)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.register_runner(HOST, 1, T0) > 0  # and works again once released
    finally:
        store.close()


# -- open_store --------------------------------------------------------------------------------


def test_open_store_defaults_to_sqlite_in_the_state_dir(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    try:
        assert isinstance(store, SqliteStore)
        assert store.path == tmp_path / "state.db"
    finally:
        store.close()
    with pytest.raises(StateError, match="no state at"):
        open_store(tmp_path / "elsewhere", readonly=True)


def test_open_store_sqlite_url(tmp_path: Path) -> None:
    target = tmp_path / "custom.db"
    store = open_store(tmp_path / "unused", f"sqlite://{target}")
    try:
        assert isinstance(store, SqliteStore) and store.path == target
    finally:
        store.close()
    assert target.exists()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://db/cronpy", "unknown store URL"),
        ("sqlite://", "names no file"),
    ],
)
def test_open_store_refuses_other_urls(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as info:
        open_store(tmp_path, url)
    assert "secret" not in str(info.value)
