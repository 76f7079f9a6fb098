"""The stores the contract suite (test_store_contract.py) runs against.

A backend is a context manager that, given the test's request and temporary directory, sets
up an empty database and yields a function opening one more store on it: several may be open at
once, as a runner and a command are (or, with PostgreSQL, runners on several hosts). A new
store joins the suite with one entry in BACKENDS; one that needs a server skips when none can
start (tests/conftest.py: postgres_server), and fails instead under CRONPY_REQUIRE_POSTGRES.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from cronpy.interfaces import Store
from cronpy.store.sqlite import SqliteStore

Opener = Callable[[], Store]
Backend = Callable[[pytest.FixtureRequest, Path], AbstractContextManager[Opener]]


@contextmanager
def sqlite_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    path = tmp_path / "state.db"
    yield lambda: SqliteStore(path)


@contextmanager
def postgres_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    # Imported here: psycopg is only needed once a postgres test runs.
    from cronpy.store.postgres import PostgresStore

    url = request.getfixturevalue("postgres_url")  # a fresh database on the session's server
    yield lambda: PostgresStore(url)


BACKENDS: dict[str, Backend] = {
    "sqlite": sqlite_backend,
    "postgres": postgres_backend,
}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens stores on one fresh database of the backend; closes them all at the end."""
    opened: list[Store] = []
    with BACKENDS[request.param](request, tmp_path) as open_one:

        def open_store() -> Store:
            opened.append(open_one())
            return opened[-1]

        yield open_store
        for store in opened:
            store.close()


@pytest.fixture
def store(backend: Opener) -> Store:
    return backend()
