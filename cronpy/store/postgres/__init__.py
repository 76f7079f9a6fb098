"""The shared store: one PostgreSQL database that any number of runners, on any hosts, use at
once (DESIGN §9). PostgresStore (store.py) is what the rest of cronpy imports, from here; it
needs psycopg 3 (the ``postgres`` extra), imported only when a postgresql:// URL is opened."""

from __future__ import annotations

from cronpy.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
