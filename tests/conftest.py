"""What every test starts from: one known environment, whatever the caller's shell holds,
and a PostgreSQL server of our own for the tests that need one.

Output (colour, widths), times shown in the local zone and the state directory chosen all
read the environment; a test that passes in one terminal and fails under ``TERM=dumb`` or
``TZ=Asia/Kolkata`` tests the shell, not cronpy. Tests that care set what they need
themselves, over this.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.pgserver import REQUIRE_ENV, PgServer, pg_server, unavailable

UNSET = (
    # colour and terminal size, read by color_wanted, rich and click
    "NO_COLOR",
    "FORCE_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "COLORTERM",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "COLUMNS",
    "LINES",
    # where cronpy finds its state, and a fault-injection hook
    "CRONPY_STATE_DIR",
    "CRONPY_FAULT",
    # locale: LANG below is then the only setting
    "LC_ALL",
    "LC_CTYPE",
    "LC_TIME",
    "LANGUAGE",
)

PINNED = {
    "TERM": "xterm-256color",
    "TZ": "UTC",
    "LANG": "C.UTF-8",
}


@pytest.fixture(autouse=True)
def known_environment() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        for name in UNSET:
            patch.delenv(name, raising=False)
        for name, value in PINNED.items():
            patch.setenv(name, value)
        time.tzset()  # the C library reads TZ only when told to
        yield
    time.tzset()  # back to the caller's zone, as the context restored TZ


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
