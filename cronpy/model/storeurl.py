"""Store URLs: which ones this build can open, and what each names.

One function reads a URL for both ``open_store`` (``--store``, ``[cronpy] store``) and the
job file's check, so ``cronpy validate`` refuses exactly the URLs ``cronpy run`` would, with the
same message. Here, not in ``store``, because ``config`` may not import ``store``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cronpy.errors import UsageError

EXPECTED = "expected sqlite:///path/to/state.db or postgresql://..."


@dataclass(frozen=True)
class StoreUrl:
    scheme: str  # "sqlite" or "postgresql"; a backend added to this build adds its scheme here
    url: str
    path: Path | None = None  # the database file of a sqlite URL


def parse_store_url(url: str) -> StoreUrl:
    """What ``url`` names, or UsageError when it is malformed or names a store this build
    cannot use."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise UsageError(f"unknown store URL {url!r}: {EXPECTED}")
    if scheme == "sqlite":
        # sqlite:///var/lib/cronpy/state.db is the absolute path /var/lib/cronpy/state.db
        if not rest:
            raise UsageError(
                f"store URL {url!r} names no file: expected sqlite:///path/to/state.db"
            )
        return StoreUrl("sqlite", url, Path(rest))
    if scheme in ("postgresql", "postgres"):
        if not rest:
            raise UsageError(f"store URL {url!r} names no server: expected postgresql://...")
        return StoreUrl("postgresql", url)
    raise UsageError(f"unknown store URL {url!r}: {EXPECTED}")
