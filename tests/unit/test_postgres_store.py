"""What only the PostgreSQL store does, beside the contract suite: opening it from a URL, the
errors of a wrong URL, password or server (exit 3, the server's words, never the password),
numbered migrations that several runners may race to apply, read-only opens, and getting
through once a dropped connection comes back. Runs on the session's own server
(tests/conftest.py: postgres_server)."""

from __future__ import annotations

import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cronpy.errors import StateError
from cronpy.store import open_store
from tests.pgserver import PASSWORD, PgServer

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_postgresql_and_postgres_urls_open_the_postgres_store(
    tmp_path: object, postgres_url: str
) -> None:
    from cronpy.store.postgres import PostgresStore
    from cronpy.store.postgres.schema import MIGRATIONS

    for url in (postgres_url, postgres_url.replace("postgresql://", "postgres://", 1)):
        store = open_store(tmp_path, url)  # type: ignore[arg-type]
        try:
            assert isinstance(store, PostgresStore)
            assert store.schema_version() == len(MIGRATIONS)
            assert store.register_runner("h", 1, T0) > 0
        finally:
            store.close()


def test_migrations_are_numbered_recorded_and_applied_once_by_racing_runners(
    postgres_url: str,
) -> None:
    import threading

    from cronpy.store.postgres import PostgresStore
    from cronpy.store.postgres.schema import MIGRATIONS

    opened: list[PostgresStore] = []
    errors: list[BaseException] = []
    gate = threading.Barrier(4)

    def open_one() -> None:
        try:
            gate.wait(timeout=10)
            opened.append(PostgresStore(postgres_url))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == [] and len(opened) == 4
        rows = opened[0]._conn().execute("SELECT version, name FROM migrations ORDER BY version")
        names = [m.__name__.lstrip("_") for m in MIGRATIONS]
        assert rows.fetchall() == list(enumerate(names, start=1))
    finally:
        for store in opened:
            store.close()


def test_a_read_only_open_creates_nothing_and_writes_nothing(postgres_url: str) -> None:
    with pytest.raises(StateError, match=r"schema version 0.*start `cronpy run`"):
        open_store(None, postgres_url, readonly=True)  # type: ignore[arg-type]
    open_store(None, postgres_url).close()  # type: ignore[arg-type]
    store = open_store(None, postgres_url, readonly=True)  # type: ignore[arg-type]
    try:
        assert store.job_states() == {}
        with pytest.raises(StateError, match="read-only transaction"):
            store.register_runner("h", 1, T0)
    finally:
        store.close()


def test_a_database_of_a_newer_cronpy_is_refused(postgres_url: str) -> None:
    store = open_store(None, postgres_url)  # type: ignore[arg-type]
    store._conn().execute("INSERT INTO migrations VALUES (99, 'from the future')")  # type: ignore[attr-defined]
    store.close()
    with pytest.raises(StateError, match="schema version 99, written by a newer cronpy"):
        open_store(None, postgres_url)  # type: ignore[arg-type]


def test_a_refused_password_is_one_line_naming_the_server_not_the_password(
    postgres_server: PgServer,
) -> None:
    url = postgres_server.url(password="hunter2-wrong")
    with pytest.raises(StateError) as info:
        open_store(None, url)  # type: ignore[arg-type]
    message = str(info.value)
    assert info.value.exit_code == 3
    assert f"127.0.0.1:{postgres_server.port}" in message
    assert 'password authentication failed for user "cronpy"' in message
    assert "hunter2" not in message and PASSWORD not in message and "\n" not in message


def test_an_unreachable_server_is_a_state_error_naming_it() -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StateError) as info:
        open_store(None, f"postgresql://u:topsecret@127.0.0.1:{port}/db")  # type: ignore[arg-type]
    message = str(info.value)
    assert f"cannot reach the PostgreSQL store u@127.0.0.1:{port}/db" in message
    assert "refused" in message and "topsecret" not in message and "\n" not in message


@pytest.mark.parametrize(
    "url",
    ["postgresql://u:topsecret@host:notaport/db", "postgresql://u:topsecret@h/db?nosuchoption=1"],
)
def test_a_malformed_url_is_a_state_error_without_the_password(url: str) -> None:
    with pytest.raises(StateError, match="PostgreSQL store") as info:
        open_store(None, url)  # type: ignore[arg-type]
    assert "topsecret" not in str(info.value)


def test_without_psycopg_the_url_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m.startswith(("psycopg", "cronpy.store.postgres"))]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg raises ImportError
    with pytest.raises(StateError, match=r"needs psycopg 3.*cronpy\[postgres\]"):
        open_store(None, "postgresql://db/cronpy")  # type: ignore[arg-type]


def test_a_dropped_connection_is_replaced_at_the_next_call(
    postgres_url: str, postgres_server: PgServer
) -> None:
    import psycopg

    store = open_store(None, postgres_url)  # type: ignore[arg-type]
    try:
        pid = store._conn().info.backend_pid  # type: ignore[attr-defined]
        with psycopg.connect(postgres_server.url(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(StateError, match="PostgreSQL store"):
            store.register_runner("h", 1, T0)  # this one learns the connection is gone
        assert store.register_runner("h", 1, T0) > 0  # and this one gets through
    finally:
        store.close()


def test_cronpy_run_with_a_refused_store_exits_3_with_one_line(
    postgres_server: PgServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cronpy.cli.main import main

    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[jobs.a]\nschedule = "@daily"\ncommand = "true"\n')
    jobs.chmod(0o600)
    url = postgres_server.url(password="hunter2-wrong")
    code = main(["run", str(jobs), "--state-dir", str(tmp_path / "state"), "--store", url])
    err = capsys.readouterr().err
    assert code == 3
    assert err.count("\n") == 1 and "password authentication failed" in err
    assert "hunter2" not in err and "Traceback" not in err


def test_a_pushed_control_wakes_a_listening_runner_without_polling(postgres_url: str) -> None:
    import selectors

    from cronpy.model import ControlKind
    from cronpy.store.postgres import PostgresStore

    runner_side, command_side = PostgresStore(postgres_url), PostgresStore(postgres_url)
    listener = runner_side.listen()
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(listener, selectors.EVENT_READ)
            assert selector.select(0.2) == []  # nothing pushed: nothing to read
            command_side.push_control(ControlKind.WAKE, datetime.now(UTC))
            assert selector.select(5.0), "the NOTIFY did not arrive"
            assert listener.drain() is True
            assert listener.drain() is False  # drained: quiet again
    finally:
        listener.close()
        runner_side.close()
        command_side.close()
