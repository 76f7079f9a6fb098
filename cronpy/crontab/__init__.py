"""Moving in from cron: a crontab (a user's, or a system file with a user column) read by
Debian cron's rules and written out as a cronpy job file. ``read`` knows the line syntax,
``convert`` what each line becomes."""

from cronpy.crontab.convert import Conversion, Skipped, convert_crontab, is_system_file

__all__ = ["Conversion", "Skipped", "convert_crontab", "is_system_file"]
