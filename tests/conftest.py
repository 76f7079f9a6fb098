"""Fixtures shared by the unit and contract suites."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.pgserver import REQUIRE_ENV, PgServer, pg_server, unavailable


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PgServer]:
    """A PostgreSQL server of our own for the session, started on first use. Where none can
    start, the tests that need it skip, saying why, unless CRONPY_REQUIRE_POSTGRES is set
    (CI): then they fail."""
    reason = unavailable()
    if reason is not None:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{REQUIRE_ENV} is set, but the PostgreSQL tests cannot run: {reason}")
        pytest.skip(f"PostgreSQL store NOT TESTED: {reason}")
    with pg_server() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PgServer) -> Iterator[str]:
    """The URL of a fresh, empty database (a schema of its own), dropped after the test."""
    url = postgres_server.fresh_url()
    yield url
    postgres_server.drop(url)
