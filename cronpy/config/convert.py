"""Value converters for the job file, and the schema saying which key takes which.

Each converter takes one raw TOML value and returns the typed value of ``cronpy.model``
(seconds, bytes, an enum member, a zone, a ``Window``'s days and hours, ...) or raises
``BadValue`` with a message that shows the offending value and what was expected. The tables
at the end (``SCALARS``, ``TABLES``, ``SETTINGS`` and the key sets built from them) are the
one list of the keys a job file may use; the checker (``cronpy.config.check``) walks them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronpy.errors import DurationError, did_you_mean
from cronpy.model import Backoff, Environment, MailOutput, Missed, Overlap, Smtp
from cronpy.model.durations import parse_duration, parse_size

_HOURS = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")
_MAX_SECONDS = 100 * 366 * 86400.0  # anything longer is a typo, and would overflow datetimes
_MAX_INT = 2**63 - 1  # what the history database can store


class BadValue(Exception):
    """A value is wrong; the message says what it is and what was expected."""


Convert = Callable[[Any], Any]


# --- value converters: each returns the typed value or raises BadValue ----------------------


def _kind(value: Any) -> str:
    for typ, name in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "float"),
        (str, "string"),
        (list, "array"),
        (dict, "table"),
        (datetime, "datetime"),
        (date, "date"),
        (time, "time"),
    ):
        if isinstance(value, typ):
            return name
    return type(value).__name__


def show(value: Any) -> str:
    """The offending value, short enough for one line even when the file is hostile."""
    text = repr(value) if isinstance(value, str) else f"{_kind(value)} {value!r}"
    return text if len(text) <= 80 else text[:77] + "..."


def got(value: Any) -> str:
    return f"got {show(value)}"


def _string(value: Any, what: str = "a non-empty string") -> str:
    if not isinstance(value, str) or not value:
        raise BadValue(f"expected {what}, {got(value)}")
    if "\0" in value:  # the OS cannot pass it on: exec and open would fail at spawn time
        raise BadValue(f"expected {what} without NUL characters, {got(value)}")
    return value


def _store_url(value: str) -> str:
    """A URL ``cronpy run`` can open: the same check (and message) as ``open_store``'s."""
    from cronpy.errors import UsageError
    from cronpy.model.storeurl import parse_store_url

    try:
        parse_store_url(value)
    except UsageError as exc:
        raise BadValue(str(exc)) from None
    return value


def _abs_path(value: Any) -> Path:
    what = "an absolute path string (existence is checked when the job starts, not here)"
    text = _string(value, what)
    if not text.startswith("/"):
        raise BadValue(f"expected {what}, {got(value)}")
    return Path(text)


def _shell(value: Any) -> str:
    return str(_abs_path(value))


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise BadValue(f"expected true or false, {got(value)}")
    return value


def _int(minimum: int) -> Convert:
    def convert(value: Any) -> int:
        # bool is an int subclass in Python; `true` for a count is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadValue(f"expected an integer >= {minimum}, {got(value)}")
        if not minimum <= value <= _MAX_INT:
            raise BadValue(f"expected an integer >= {minimum}, {got(value)}")
        return value

    return convert


def _at_most(convert: Convert, most: float, written: str) -> Convert:
    def checked(value: Any) -> Any:
        converted = convert(value)
        if converted > most:
            raise BadValue(f"expected a duration of at most {written}, {got(value)}")
        return converted

    return checked


def _duration(*, positive: bool, at_least: str | None = None) -> Convert:
    """Seconds from a duration string; ``at_least`` is a floor written as a duration ("1s")."""
    floor = parse_duration(at_least) if at_least else 0.0

    def convert(value: Any) -> float:
        if not isinstance(value, str):
            raise BadValue(
                f'expected a duration string like "90s", "15m", "1h30m" or "2d", {got(value)}'
            )
        if len(value) > 40:  # keeps the message short; no real duration is this long
            raise BadValue(f'invalid duration {show(value)}: expected something like "1h30m"')
        try:
            seconds = parse_duration(value)
        except DurationError as exc:
            raise BadValue(str(exc)) from None
        if seconds < floor:
            raise BadValue(f"expected a duration of at least {at_least}, {got(value)}")
        if positive and seconds <= 0:
            raise BadValue(f"expected a duration greater than zero, {got(value)}")
        if seconds > _MAX_SECONDS:
            raise BadValue(f"expected a duration of at most 100 years, {got(value)}")
        return seconds

    return convert


def _size(value: Any) -> int:
    if not isinstance(value, str):
        raise BadValue(f'expected a size string like "512KiB" or "10MiB", {got(value)}')
    if len(value) > 40:
        raise BadValue(f'invalid size {show(value)}: expected something like "10MiB"')
    try:
        size = parse_size(value)
    except DurationError as exc:
        raise BadValue(str(exc)) from None
    if size > _MAX_INT:
        raise BadValue(f"expected a size that fits in 63 bits, {got(value)}")
    return size


def _enum(cls: type[StrEnum]) -> Convert:
    allowed = [m.value for m in cls]

    def convert(value: Any) -> StrEnum:
        if isinstance(value, str) and value in allowed:
            return cls(value)
        raise BadValue(
            f"expected one of {', '.join(allowed)}; {got(value)}{did_you_mean(value, allowed)}"
        )

    return convert


def _zone(value: Any) -> ZoneInfo:
    name = _string(value, 'an IANA time zone name like "Europe/Berlin" or "UTC"')
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadValue(
            f'unknown time zone {show(value)}: expected an IANA name like "Europe/Berlin" or "UTC"'
        ) from None


def _command(value: Any) -> str | tuple[str, ...]:
    what = "a non-empty string (run by the shell) or a non-empty array of strings (an argv)"
    if isinstance(value, str):
        return _string(value, what)
    if isinstance(value, list) and value and all(isinstance(a, str) for a in value):
        if not value[0]:
            raise BadValue(f"expected {what}; the program name (first item) is empty")
        for arg in value:
            if "\0" in arg:
                raise BadValue(f"expected {what} without NUL characters, {got(arg)}")
        return tuple(value)
    raise BadValue(f"expected {what}, {got(value)}")


def _success_codes(value: Any) -> frozenset[int]:
    what = "a non-empty array of exit codes (integers 0-255)"
    if not isinstance(value, list) or not value:
        raise BadValue(f"expected {what}, {got(value)}")
    for code in value:
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
            raise BadValue(f"expected {what}, got {show(code)} in the array")
    return frozenset(value)


def _after(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadValue(f"expected an array of job names, {got(value)}")
    return tuple(dict.fromkeys(value))  # a name listed twice means the same thing once


def _schedule_text(value: Any) -> str:
    what = 'a schedule string like "0 3 * * *", "@daily" or "every 10m"'
    text = _string(value, what)
    if len(text) > 1000:  # no real schedule is this long; keep the message readable
        raise BadValue(f"expected {what}, {got(value)}")
    return text


def _at(value: Any) -> tuple[str, ...]:
    what = 'an array of ISO date-times like ["2026-12-24T18:00"]'
    items = value if isinstance(value, list) else [value]
    if not items:
        raise BadValue(f"expected {what}, got an empty array")
    out: list[str] = []
    for item in items:
        # A bare TOML date-time is what a user means too; hand it on in ISO form.
        if isinstance(item, datetime):
            out.append(item.isoformat())
        elif isinstance(item, str) and 0 < len(item) < 100 and "\0" not in item:
            out.append(item)
        else:
            raise BadValue(f"expected {what}, {got(item)}")
    return tuple(out)


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day(text: str) -> int:
    word = text.strip().lower()
    for names in (_DAYS, _FULL_DAYS):
        if word in names:
            return names.index(word)
    raise BadValue(
        f'unknown day {text.strip()!r}: expected day names like "mon-fri", "mon,wed,fri" '
        f'or ["sat", "sun"]{did_you_mean(word, _DAYS)}'
    )


def _days(value: Any) -> frozenset[int]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) for i in items):
        raise BadValue(f'expected days like "mon-fri" or ["mon", "wed-fri"], {got(value)}')
    days: set[int] = set()
    for item in items:
        for part in item.split(","):
            first, sep, last = part.partition("-")
            start = _day(first)
            end = _day(last) if sep else start
            # "fri-mon" wraps around the weekend, as people say it.
            days.update((start + i) % 7 for i in range((end - start) % 7 + 1))
    return frozenset(days)


def _hours(value: Any) -> tuple[tuple[time, time], ...]:
    items = value if isinstance(value, list) else [value]
    ranges: list[tuple[time, time]] = []
    for item in items:
        match = _HOURS.fullmatch(item.replace(" ", "")) if isinstance(item, str) else None
        h1, m1, h2, m2 = (int(g) for g in match.groups()) if match else (99, 0, 0, 0)
        if not match or h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
            raise BadValue(f'expected time ranges like ["09:00-17:00"], {got(item)}')
        start = time(h1, m1)
        end = time.max if h2 == 24 else time(h2, m2)
        if end > start:
            ranges.append((start, end))
        else:  # "22:00-06:00" runs over midnight: two ranges, one on each side
            ranges.append((start, time.max))
            if end != time(0, 0):
                ranges.append((time(0, 0), end))
    if not ranges:
        raise BadValue(f'expected time ranges like ["09:00-17:00"], {got(value)}')
    return tuple(ranges)


def _listen_address(value: Any) -> str:
    """``HOST:PORT``, ``[IPv6]:PORT`` or a port; whether it can be bound is seen at start."""
    what = 'an address like "127.0.0.1:9464", "[::1]:9464" or "9464"'
    text = _string(value, what)
    host, _, port = text.rpartition(":")
    bad_host = host.startswith("[") != host.endswith("]") or any(c.isspace() for c in host)
    if bad_host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadValue(f"expected {what}, {got(value)}")
    return text


def _env_name(value: Any) -> str:
    text = _string(value, "an environment variable name")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise BadValue(f"expected an environment variable name, {got(value)}")
    return text


_SMTP_KEYS: dict[str, tuple[str, Convert]] = {  # key in the file -> (Smtp field, converter)
    "host": ("host", _string),
    "port": ("port", lambda v: _port(v)),
    "starttls": ("starttls", _bool),
    "user": ("user", _string),
    "password_file": ("password_file", _abs_path),
    "password_env": ("password_env", _env_name),
    "from": ("sender", _string),
}


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise BadValue(f"expected a port number 1-65535, {got(value)}")
    return value


def _smtp(value: Any) -> Smtp:
    """The SMTP server of notify.email: ``{ host, port, starttls, user, password_file or
    password_env, from }``."""
    if not isinstance(value, dict):
        raise BadValue(f"expected a table with keys {', '.join(_SMTP_KEYS)}, {got(value)}")
    fields: dict[str, Any] = {}
    for key, raw in value.items():
        if key not in _SMTP_KEYS:
            raise BadValue(f"unknown key {show(key)} in smtp{did_you_mean(key, _SMTP_KEYS)}")
        name, convert = _SMTP_KEYS[key]
        try:
            fields[name] = convert(raw)
        except BadValue as exc:
            raise BadValue(f"smtp.{key}: {exc}") from None
    if "password_file" in fields and "password_env" in fields:
        raise BadValue("set smtp.password_file or smtp.password_env, not both")
    if ("password_file" in fields or "password_env" in fields) and "user" not in fields:
        raise BadValue("a password needs smtp.user: the login to send it with")
    return Smtp(**fields)


# --- which keys exist where, and the converter of each --------------------------------------

SCALARS: dict[str, Convert] = {
    "schedule": _schedule_text,
    "at": _at,
    "command": _command,
    "timezone": _zone,
    "shell": _shell,
    "missed": _enum(Missed),
    "missed_deadline": _duration(positive=True),
    "overlap": _enum(Overlap),
    "timeout": _duration(positive=True),
    "kill_grace": _duration(positive=False),
    "jitter": _duration(positive=False),
    "success_codes": _success_codes,
    "env_file": _abs_path,
    "environment": _enum(Environment),
    "cwd": _abs_path,
    "user": _string,
    "description": lambda v: _string(v, "a string saying what the job is for"),
    "max_runs": _int(1),
    "enabled": _bool,
    "after": _after,
    "on_failure": _string,
    "on_dead": _string,
    "on_recovery": _string,
    "on_success": _string,
    "on_late": _string,
    "late_after": _duration(positive=True),
    "max_duration": _duration(positive=True),
    # A floor: a hook stopped in under a second could hardly have done its work.
    "hook_timeout": _duration(positive=True, at_least="1s"),
    "mail_output": _enum(MailOutput),
}
TABLES: dict[str, dict[str, Convert]] = {
    "retry": {
        "attempts": _int(1),
        "backoff": _enum(Backoff),
        "delay": _duration(positive=False),
        "max_delay": _duration(positive=False),
        "jitter": _bool,
    },
    "keep": {"runs": _int(1), "age": _duration(positive=True), "output": _size},
    "window": {"days": _days, "hours": _hours},
    "notify": {"webhook": _string, "email": _string, "ping": _string},
}
JOB_KEYS = frozenset([*SCALARS, *TABLES, "env"])
# Keys that identify one job; as defaults they would make every job the same one.
PER_JOB_ONLY = ("schedule", "at", "command", "after")
DEFAULT_KEYS = JOB_KEYS - set(PER_JOB_ONLY)
# A job's table overrides the same table in [defaults] key by key; a window is one rule.
MERGED_TABLES = ("retry", "keep", "notify", "env")
SETTINGS: dict[str, Convert] = {
    "store": lambda v: _store_url(_string(v, 'a store URL like "postgresql://host/db"')),
    "shutdown_grace": _duration(positive=False),
    "metrics": _listen_address,
    "smtp": _smtp,
    "cgroups": _bool,
    # more would hold a process per occurrence for longer and gain nothing
    "prearm": _at_most(_duration(positive=False), 60.0, "1m"),
}
TOP_KEYS = ["defaults", "jobs", "cronpy"]
