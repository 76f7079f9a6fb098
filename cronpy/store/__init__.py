"""Where runs, job states, pauses and controls persist. ``open_store`` picks the implementation."""

from __future__ import annotations

from pathlib import Path

from cronpy.errors import StateError
from cronpy.interfaces import Store
from cronpy.model import Control, ControlKind, Finish, JobState, RunnerInfo

__all__ = [
    "Control",
    "ControlKind",
    "Finish",
    "JobState",
    "RunnerInfo",
    "Store",
    "open_store",
]


def open_store(
    state_dir: Path,
    url: str | None = None,
    *,
    readonly: bool = False,
    busy_timeout: float | None = None,  # None: the store's own default
) -> Store:
    """The store named by ``url``; by default the SQLite file in ``state_dir``.

    ``readonly`` is for read commands: nothing is created or migrated, and a missing
    database raises StateError (exit 3). A postgresql:// URL that is malformed, refused or
    unreachable raises StateError too, naming the server but never the password.
    """
    # Imported here, not at the top: `import cronpy.store` stays cheap for code that only
    # needs the records, and each backend loads only when chosen.
    if url is None:
        from cronpy.runtime.statedir import db_path
        from cronpy.store.sqlite import SqliteStore

        return SqliteStore(db_path(state_dir), readonly=readonly, busy_timeout=busy_timeout)
    from cronpy.model.storeurl import parse_store_url

    parsed = parse_store_url(url)  # refuses what this build cannot open, as validate does
    if parsed.scheme == "postgresql":
        return _open_postgres(url, readonly=readonly)
    from cronpy.store.sqlite import SqliteStore

    assert parsed.path is not None
    return SqliteStore(parsed.path, readonly=readonly, busy_timeout=busy_timeout)


def _open_postgres(url: str, *, readonly: bool) -> Store:
    try:
        # psycopg takes ~0.1 s to import: only what is given such a URL pays for it.
        from cronpy.store.postgres import PostgresStore
    except ImportError as exc:
        raise StateError(
            f"the PostgreSQL store needs psycopg 3, which is not installed ({exc}):"
            " pip install 'cronpy[postgres]'"
        ) from exc
    return PostgresStore(url, readonly=readonly)
