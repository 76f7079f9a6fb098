"""Reaching the server: connecting from a URL, naming the server in errors without ever
showing the password, and turning every psycopg failure into a StateError (exit 3).

A connection that breaks (server restarted, network cut) is replaced at the next call, so a
runner whose writes are queued in its backlog gets through once the server is back.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from cronpy.errors import StateError

CONNECT_TIMEOUT = 10  # seconds, unless the URL says otherwise: an unreachable host fails fast


def describe(url: str) -> str:
    """``user@host:port/dbname`` of a URL, for messages: never the password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return redact(url)
    host = str(params.get("host") or "localhost")
    where = f"{host}:{params.get('port') or 5432}/{params.get('dbname') or ''}"
    user = params.get("user")
    return f"{user}@{where}" if user else where


def redact(text: str, url: str | None = None) -> str:
    """``text`` with the URL's password (and any ``user:password@``) replaced by ***."""
    secret = _password(url) if url else None
    if secret:
        text = text.replace(secret, "***")
    return re.sub(r"(://[^:/@\s]*):[^@\s]*@", r"\1:***@", text)


def _password(url: str) -> str | None:
    try:
        value = conninfo_to_dict(url).get("password")
    except psycopg.Error:
        match = re.search(r"://[^:/@\s]*:([^@\s]*)@", url)
        return match.group(1) if match else None
    return None if value is None else str(value)


def one_line(exc: BaseException) -> str:
    """psycopg's message (the server's words) on one line."""
    return " ".join(str(exc).split()) or type(exc).__name__


def connect(url: str, *, readonly: bool) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection in UTC: one statement is one transaction unless a caller
    opens one (``conn.transaction()``)."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise StateError(
            f"bad PostgreSQL store URL {redact(url, url)!r}: {redact(one_line(exc), url)};"
            " expected postgresql://user:password@host:port/dbname"
        ) from exc
    extra: dict[str, Any] = {}
    if "connect_timeout" not in params:
        extra["connect_timeout"] = CONNECT_TIMEOUT
    try:
        conn = psycopg.connect(url, autocommit=True, **extra)
    except psycopg.Error as exc:
        raise StateError(
            f"cannot reach the PostgreSQL store {describe(url)}: {redact(one_line(exc), url)}"
        ) from exc
    try:
        # Timestamps come back in UTC, as the SQLite store's do. Read-only sessions (read
        # commands) cannot write by accident.
        conn.execute("SET TIME ZONE 'UTC'")
        if readonly:
            conn.execute("SET default_transaction_read_only = on")
    except psycopg.Error as exc:
        conn.close()
        raise StateError(f"PostgreSQL store {describe(url)}: {one_line(exc)}") from exc
    return conn


@contextmanager
def guard(where: str) -> Iterator[None]:
    """Turn database failures (server gone, constraint, disk full) into a StateError naming
    the server."""
    try:
        yield
    except psycopg.Error as exc:
        raise StateError(f"PostgreSQL store {where}: {one_line(exc)}") from exc


WAKE_CHANNEL = "cronpy"  # NOTIFY'd with every control a command pushes


class PostgresListener:
    """A second connection that LISTENs for controls, for the runner's selector."""

    def __init__(self, url: str, where: str) -> None:
        self.where = where
        self._db = connect(url, readonly=True)
        with guard(where):
            self._db.execute(f"LISTEN {WAKE_CHANNEL}")
        # kept: once the server is gone psycopg refuses even to say which socket it was,
        # and the runner's selector needs it to unregister
        self._fd = self._db.fileno()

    def fileno(self) -> int:
        return self._fd

    def drain(self) -> bool:
        with guard(self.where):
            return any(True for _ in self._db.notifies(timeout=0))

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self._db.close()
