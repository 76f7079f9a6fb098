"""Load a TOML job file into frozen ``Job`` records, reporting every problem at once.

Read in this order: ``load`` (reading the file, the entry points), ``check`` (the checker
that collects problems and builds jobs), ``convert`` (each value's converter and which
keys exist), ``locate`` (the line and column of a key, for messages); ``zone`` is the
machine's time zone.

The names below are imported when first asked for: ``cronpy status`` wants the machine's zone,
not the checker and the schedule code behind ``load``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cronpy.config.load import load_job_file, parse_job_file
    from cronpy.config.zone import system_timezone

__all__ = ["load_job_file", "parse_job_file", "system_timezone"]

_HOMES = {
    "load_job_file": "cronpy.config.load",
    "parse_job_file": "cronpy.config.load",
    "system_timezone": "cronpy.config.zone",
}


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
