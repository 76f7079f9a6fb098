"""The single-host store: one SQLite file in the state directory. SqliteStore (store.py) is
what the rest of cronpy imports, from here."""

from __future__ import annotations

from cronpy.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
