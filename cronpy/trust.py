"""Whether root may trust a file: what it says gets executed (a job file) or handed to a
root job (an env_file), so nobody but root may be able to change it.

As sudo and OpenSSH do, the check is made on the file's real path (symlinks resolved) and on
every directory from its own up to ``/``: a safe-looking symlink to a file in a world-writable
directory is a file anyone can replace. Imports nothing of ours, so both ``config`` and
``launch`` may use it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection
from pathlib import Path

_OTHERS_WRITE = stat.S_IWGRP | stat.S_IWOTH


def untrusted_reason(
    path: str | Path, opened: os.stat_result | None = None, owners: Collection[int] = (0,)
) -> str | None:
    """Why ``path`` cannot be trusted, or None when only ``owners`` can change it.

    ``opened`` is the fstat of the descriptor the caller read, so the file checked is the one
    read. Rules: the file and every directory up to ``/`` are owned by one of ``owners`` and
    not writable by group or others; a sticky directory (``/tmp``) is fine as an ancestor,
    since others cannot rename or delete root's entries in it, but not as the file's own
    directory, where anyone may create the names the file's neighbours would take.
    Raises OSError when a part of the path cannot be examined.
    """
    real = Path(os.path.realpath(path))
    info = os.stat(real)
    if opened is not None and (info.st_dev, info.st_ino) != (opened.st_dev, opened.st_ino):
        return f"{real} was replaced while it was being read"
    if info.st_uid not in owners:
        return f"{real} is owned by uid {info.st_uid}, not {_names(owners)}"
    if info.st_mode & _OTHERS_WRITE:
        return f"{real} is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    for directory in (real.parent, *real.parent.parents):
        dinfo = os.stat(directory)
        if dinfo.st_uid not in owners:
            return (
                f"its directory {directory} is owned by uid {dinfo.st_uid}, not "
                f"{_names(owners)}, so the file can be replaced"
            )
        sticky_ancestor = directory != real.parent and dinfo.st_mode & stat.S_ISVTX
        if dinfo.st_mode & _OTHERS_WRITE and not sticky_ancestor:
            return (
                f"its directory {directory} is writable by group or others (mode "
                f"{stat.S_IMODE(dinfo.st_mode):04o}), so the file can be replaced"
            )
    return None


def _names(owners: Collection[int]) -> str:
    return " or ".join("root" if uid == 0 else f"uid {uid}" for uid in sorted(set(owners)))
