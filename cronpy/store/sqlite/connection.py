"""Opening the state file and running transactions on it: a private file from its first
instant, a read-only open that never creates one, every SQLite failure turned into a StateError
naming the file, and BEGIN IMMEDIATE so a writer waits for the file lock up front instead of
failing half-way through."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cronpy.errors import StateError

MIN_SQLITE = (3, 35, 0)  # RETURNING and ON CONFLICT ... DO NOTHING with RETURNING
BUSY_TIMEOUT = 5.0  # seconds a connection waits for another's write lock, unless told


def connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """A connection to the database at ``path``; created (empty) unless ``readonly``."""
    if sqlite3.sqlite_version_info < MIN_SQLITE:
        raise StateError(
            f"SQLite {sqlite3.sqlite_version} is too old for the state database:"
            f" cronpy needs {'.'.join(map(str, MIN_SQLITE))} or newer"
        )
    if readonly:
        if not path.exists():
            raise StateError(
                f"no state at {path}: has `cronpy run` been started with this state directory?"
            )
        # mode=rw never creates the database file (SQLite opens a write-protected file read-only
        # instead); it may create -wal/-shm, which SQLite gives the database file's permissions.
        # The query_only pragma (schema.configure) keeps this connection from ever writing.
    else:
        _create_private(path)
    try:
        return sqlite3.connect(
            f"{path.absolute().as_uri()}?mode=rw",
            uri=True,
            isolation_level=None,  # transactions are ours, see transaction()
            check_same_thread=False,
            timeout=BUSY_TIMEOUT,  # schema.configure sets the one asked for
        )
    except sqlite3.Error as exc:
        raise StateError(f"cannot open the state database {path}: {exc}") from exc


def _create_private(path: Path) -> None:
    # Create the file ourselves so it is 0600 from its first instant (an empty file is an
    # empty database); the -wal and -shm files then inherit that mode from it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StateError(f"cannot create the state database {path}: {exc.strerror}") from exc
    os.close(fd)


@contextmanager
def guard(path: Path) -> Iterator[None]:
    """Turn database failures (locked, disk full, corrupt) into a StateError naming the file."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StateError(f"state database {path}: {exc}") from exc


@contextmanager
def transaction(db: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction; joins the enclosing one when nested."""
    if db.in_transaction:
        yield db
        return
    with guard(path):
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")


@contextmanager
def durable_transaction(db: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """A write transaction whose COMMIT is on the disk when it returns.

    The connection runs with synchronous=NORMAL, where a WAL commit is only fsynced at the next
    checkpoint: a power cut may take the last commits with it. That is fine for history, not for
    a claim, whose loss makes the occurrence run a second time after the reboot. FULL fsyncs the
    WAL at this commit; the pragma cannot change inside a transaction, so it brackets it.
    """
    if db.in_transaction:  # an enclosing transaction decides (and commits) for us
        yield db
        return
    with guard(path):
        db.execute("PRAGMA synchronous = FULL")
    try:
        with transaction(db, path) as joined:
            yield joined
    finally:
        with guard(path):
            db.execute("PRAGMA synchronous = NORMAL")
