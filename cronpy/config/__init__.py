"""Load a TOML job file into frozen ``Job`` records, reporting every problem at once.

Read in this order: ``load`` (reading the file, the entry points), ``check`` (the checker
that collects problems and builds jobs), ``convert`` (each value's converter and which
keys exist), ``locate`` (the line and column of a key, for messages).
"""

from cronpy.config.load import load_job_file, parse_job_file, system_timezone

__all__ = ["load_job_file", "parse_job_file", "system_timezone"]
