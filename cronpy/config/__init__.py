"""Load a TOML job file into frozen ``Job`` records, reporting every problem at once.

The file is parsed once (tomllib), every value is checked and converted to the
types of ``cronpy.model``, and anything wrong becomes a ``Problem`` naming the
file, line, column, job and key. Line numbers for semantic problems come from a
light, linear scan of the source that only runs when there is something to report.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import json
import os
import re
import stat
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronpy.errors import ConfigError, DurationError, Problem, ScheduleError, did_you_mean
from cronpy.interfaces import Schedule
from cronpy.model import (
    Backoff,
    Job,
    JobFile,
    Keep,
    Missed,
    Notify,
    Overlap,
    Retry,
    RunnerSettings,
    Window,
)
from cronpy.model.durations import parse_duration, parse_size
from cronpy.schedule import parse_at, parse_schedule

__all__ = ["load_job_file", "parse_job_file", "system_timezone"]

_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HOURS = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")
_MAX_SECONDS = 100 * 366 * 86400.0  # anything longer is a typo, and would overflow datetimes
_MAX_INT = 2**63 - 1  # what the history database can store


class _Bad(Exception):
    """A value is wrong; the message says what it is and what was expected."""


Convert = Callable[[Any], Any]
_P = TypeVar("_P")


# --- value converters: each returns the typed value or raises _Bad ------------------------


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


def _show(value: Any) -> str:
    """The offending value, short enough for one line even when the file is hostile."""
    text = repr(value) if isinstance(value, str) else f"{_kind(value)} {value!r}"
    return text if len(text) <= 80 else text[:77] + "..."


def _got(value: Any) -> str:
    return f"got {_show(value)}"


def _string(value: Any, what: str = "a non-empty string") -> str:
    if not isinstance(value, str) or not value:
        raise _Bad(f"expected {what}, {_got(value)}")
    if "\0" in value:  # the OS cannot pass it on: exec and open would fail at spawn time
        raise _Bad(f"expected {what} without NUL characters, {_got(value)}")
    return value


def _abs_path(value: Any) -> Path:
    what = "an absolute path string (existence is checked when the job starts, not here)"
    text = _string(value, what)
    if not text.startswith("/"):
        raise _Bad(f"expected {what}, {_got(value)}")
    return Path(text)


def _shell(value: Any) -> str:
    return str(_abs_path(value))


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, {_got(value)}")
    return value


def _int(minimum: int) -> Convert:
    def convert(value: Any) -> int:
        # bool is an int subclass in Python; `true` for a count is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"expected an integer >= {minimum}, {_got(value)}")
        if not minimum <= value <= _MAX_INT:
            raise _Bad(f"expected an integer >= {minimum}, {_got(value)}")
        return value

    return convert


def _duration(*, positive: bool) -> Convert:
    def convert(value: Any) -> float:
        if not isinstance(value, str):
            raise _Bad(
                f'expected a duration string like "90s", "15m", "1h30m" or "2d", {_got(value)}'
            )
        if len(value) > 40:  # keeps the message short; no real duration is this long
            raise _Bad(f'invalid duration {_show(value)}: expected something like "1h30m"')
        try:
            seconds = parse_duration(value)
        except DurationError as exc:
            raise _Bad(str(exc)) from None
        if positive and seconds <= 0:
            raise _Bad(f"expected a duration greater than zero, {_got(value)}")
        if seconds > _MAX_SECONDS:
            raise _Bad(f"expected a duration of at most 100 years, {_got(value)}")
        return seconds

    return convert


def _size(value: Any) -> int:
    if not isinstance(value, str):
        raise _Bad(f'expected a size string like "512KiB" or "10MiB", {_got(value)}')
    if len(value) > 40:
        raise _Bad(f'invalid size {_show(value)}: expected something like "10MiB"')
    try:
        size = parse_size(value)
    except DurationError as exc:
        raise _Bad(str(exc)) from None
    if size > _MAX_INT:
        raise _Bad(f"expected a size that fits in 63 bits, {_got(value)}")
    return size


def _enum(cls: type[StrEnum]) -> Convert:
    allowed = [m.value for m in cls]

    def convert(value: Any) -> StrEnum:
        if isinstance(value, str) and value in allowed:
            return cls(value)
        raise _Bad(
            f"expected one of {', '.join(allowed)}; {_got(value)}{did_you_mean(value, allowed)}"
        )

    return convert


def _zone(value: Any) -> ZoneInfo:
    name = _string(value, 'an IANA time zone name like "Europe/Berlin" or "UTC"')
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _Bad(
            f'unknown time zone {_show(value)}: expected an IANA name like "Europe/Berlin" or "UTC"'
        ) from None


def _command(value: Any) -> str | tuple[str, ...]:
    what = "a non-empty string (run by the shell) or a non-empty array of strings (an argv)"
    if isinstance(value, str):
        return _string(value, what)
    if isinstance(value, list) and value and all(isinstance(a, str) for a in value):
        if not value[0]:
            raise _Bad(f"expected {what}; the program name (first item) is empty")
        for arg in value:
            if "\0" in arg:
                raise _Bad(f"expected {what} without NUL characters, {_got(arg)}")
        return tuple(value)
    raise _Bad(f"expected {what}, {_got(value)}")


def _success_codes(value: Any) -> frozenset[int]:
    what = "a non-empty array of exit codes (integers 0-255)"
    if not isinstance(value, list) or not value:
        raise _Bad(f"expected {what}, {_got(value)}")
    for code in value:
        if isinstance(code, bool) or not isinstance(code, int) or not 0 <= code <= 255:
            raise _Bad(f"expected {what}, got {_show(code)} in the array")
    return frozenset(value)


def _after(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(f"expected an array of job names, {_got(value)}")
    return tuple(dict.fromkeys(value))  # a name listed twice means the same thing once


def _schedule_text(value: Any) -> str:
    what = 'a schedule string like "0 3 * * *", "@daily" or "every 10m"'
    text = _string(value, what)
    if len(text) > 1000:  # no real schedule is this long; keep the message readable
        raise _Bad(f"expected {what}, {_got(value)}")
    return text


def _at(value: Any) -> tuple[str, ...]:
    what = 'an array of ISO date-times like ["2026-12-24T18:00"]'
    items = value if isinstance(value, list) else [value]
    if not items:
        raise _Bad(f"expected {what}, got an empty array")
    out: list[str] = []
    for item in items:
        # A bare TOML date-time is what a user means too; hand it on in ISO form.
        if isinstance(item, datetime):
            out.append(item.isoformat())
        elif isinstance(item, str) and 0 < len(item) < 100 and "\0" not in item:
            out.append(item)
        else:
            raise _Bad(f"expected {what}, {_got(item)}")
    return tuple(out)


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _day(text: str) -> int:
    word = text.strip().lower()
    for names in (_DAYS, _FULL_DAYS):
        if word in names:
            return names.index(word)
    raise _Bad(
        f'unknown day {text.strip()!r}: expected day names like "mon-fri", "mon,wed,fri" '
        f'or ["sat", "sun"]{did_you_mean(word, _DAYS)}'
    )


def _days(value: Any) -> frozenset[int]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, str) for i in items):
        raise _Bad(f'expected days like "mon-fri" or ["mon", "wed-fri"], {_got(value)}')
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
            raise _Bad(f'expected time ranges like ["09:00-17:00"], {_got(item)}')
        start = time(h1, m1)
        end = time.max if h2 == 24 else time(h2, m2)
        if end > start:
            ranges.append((start, end))
        else:  # "22:00-06:00" runs over midnight: two ranges, one on each side
            ranges.append((start, time.max))
            if end != time(0, 0):
                ranges.append((time(0, 0), end))
    if not ranges:
        raise _Bad(f'expected time ranges like ["09:00-17:00"], {_got(value)}')
    return tuple(ranges)


# --- which keys exist where ----------------------------------------------------------------

_SCALARS: dict[str, Convert] = {
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
    "cwd": _abs_path,
    "user": _string,
    "max_runs": _int(1),
    "enabled": _bool,
    "after": _after,
    "on_failure": _string,
    "on_dead": _string,
    "on_recovery": _string,
    "on_success": _string,
}
_TABLES: dict[str, dict[str, Convert]] = {
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
_JOB_KEYS = frozenset([*_SCALARS, *_TABLES, "env"])
# Keys that identify one job; as defaults they would make every job the same one.
_PER_JOB_ONLY = ("schedule", "at", "command", "after")
_DEFAULT_KEYS = _JOB_KEYS - set(_PER_JOB_ONLY)
# A job's table overrides the same table in [defaults] key by key; a window is one rule.
_MERGED_TABLES = ("retry", "keep", "notify", "env")
_SETTINGS: dict[str, Convert] = {
    "store": lambda v: _string(v, 'a store URL like "postgresql://host/db"'),
    "shutdown_grace": _duration(positive=False),
}
_TOP_KEYS = ["defaults", "jobs", "cronpy"]


# --- the checker ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pending:
    """A problem whose line is looked up later, only if the file turns out to be invalid."""

    message: str
    job: str | None
    key: str | None
    where: tuple[str, ...]


class _Checker:
    def __init__(self) -> None:
        self.pending: list[_Pending] = []
        self.misspelt: set[str] = set()  # keys suggested by did-you-mean in the current job
        self.converted: dict[tuple[Any, ...], Any] = {}

    def convert(self, convert: Convert, value: Any) -> Any:
        """Jobs repeat the same values ("30s", "UTC"): convert each distinct scalar once."""
        if not isinstance(value, str | int | float):
            return convert(value)
        key = (convert, type(value), value)  # the type keeps True apart from 1
        try:
            return self.converted[key]
        except KeyError:
            result = self.converted[key] = convert(value)
            return result

    def report(self, message: str, where: tuple[str, ...], job: str | None = None) -> None:
        # The key shown to people is the path inside the job (or from the top of the file).
        inner = where[2:] if job is not None else where
        key = ".".join(inner) if inner else None
        self.pending.append(_Pending(message, job, key, where))

    def section(
        self, raw: Any, where: tuple[str, ...], job: str | None, allowed: frozenset[str]
    ) -> dict[str, Any]:
        """Typed values of a [defaults] or [jobs.NAME] table; bad keys are reported, left out."""
        if not isinstance(raw, dict):
            self.report(f"expected a table of job settings, {_got(raw)}", where, job)
            return {}
        out: dict[str, Any] = {}
        for key, value in raw.items():
            at = (*where, key)
            if key not in allowed:
                if job is None and key in _PER_JOB_ONLY:
                    self.report(f"{key!r} cannot be a default; set it in each job", at, job)
                else:
                    hint = did_you_mean(key, allowed)
                    self.report(f"unknown key {_show(key)}{hint}", at, job)
                    if hint:  # a misspelt 'schedule' explains a missing one: say it once
                        self.misspelt.add(hint.split("'")[1])
            elif key == "env":
                out[key] = self.env(value, at, job)
            elif key in _TABLES:
                out[key] = self.table(value, at, job, _TABLES[key])
            else:
                try:
                    out[key] = self.convert(_SCALARS[key], value)
                except _Bad as exc:
                    self.report(str(exc), at, job)
        return out

    def table(
        self, raw: Any, where: tuple[str, ...], job: str | None, fields: dict[str, Convert]
    ) -> dict[str, Any]:
        if not isinstance(raw, dict):
            keys = ", ".join(fields)
            self.report(f"expected a table with keys {keys}, {_got(raw)}", where, job)
            return {}
        out: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in fields:
                self.report(
                    f"unknown key {_show(key)}{did_you_mean(key, fields)}", (*where, key), job
                )
                continue
            try:
                out[key] = self.convert(fields[key], value)
            except _Bad as exc:
                self.report(str(exc), (*where, key), job)
        return out

    def env(self, raw: Any, where: tuple[str, ...], job: str | None) -> dict[str, str]:
        if not isinstance(raw, dict):
            self.report(f'expected a table of NAME = "value" strings, {_got(raw)}', where, job)
            return {}
        out: dict[str, str] = {}
        for name, value in raw.items():
            if not _ENV_NAME.fullmatch(name):
                self.report(
                    f"invalid environment variable name {_show(name)}: expected letters, digits "
                    "and '_', not starting with a digit",
                    (*where, name),
                    job,
                )
            elif not isinstance(value, str) or "\0" in value:
                self.report(f"expected a string value, {_got(value)}", (*where, name), job)
            else:
                out[name] = value
        return out


def _merge(defaults: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    merged = {**defaults, **own}
    for key in _MERGED_TABLES:
        if key in defaults and key in own:
            merged[key] = {**defaults[key], **own[key]}
    return merged


_NOT_COPIED = frozenset({"schedule", "at", "timezone"})  # given to Job in their final form


@functools.lru_cache(maxsize=1024)
def _policy(cls: type[_P], items: tuple[tuple[str, Any], ...]) -> _P:
    """Frozen policy records shared between jobs: 10,000 jobs often have a handful of them."""
    return cls(**dict(items))


def _build_job(name: str, fields: dict[str, Any], schedule: Schedule, tz: ZoneInfo) -> Job:
    values = {k: v for k, v in fields.items() if k in _SCALARS and k not in _NOT_COPIED}
    window = fields.get("window")
    notify = fields.get("notify")
    return Job(
        name=name,
        schedule=schedule,
        timezone=tz,
        retry=_policy(Retry, tuple(fields.get("retry", {}).items())),
        keep=_policy(Keep, tuple(fields.get("keep", {}).items())),
        window=_policy(Window, tuple(window.items())) if window else None,
        notify=_policy(Notify, tuple(notify.items())) if notify else None,
        env=MappingProxyType(fields.get("env", {})),
        **values,
    )


def _find_cycles(after: Mapping[str, tuple[str, ...]]) -> list[list[str]]:
    """Each cycle of the ``after`` graph once, found by one iterative depth-first walk."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []
    for root in after:
        if root in state:
            continue
        path: list[str] = [root]
        stack = [iter(after.get(root, ()))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state and nxt in after:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(after[nxt]))
    return cycles


def _check_document(
    doc: dict[str, Any], checker: _Checker
) -> tuple[dict[str, Job], RunnerSettings]:
    for key in doc:
        if key not in _TOP_KEYS:
            checker.report(
                f"unknown top-level key {_show(key)}{did_you_mean(key, _TOP_KEYS)}", (key,)
            )
    defaults = checker.section(doc.get("defaults", {}), ("defaults",), None, _DEFAULT_KEYS)
    settings = checker.table(doc.get("cronpy", {}), ("cronpy",), None, _SETTINGS)

    raw_jobs = doc.get("jobs", {})
    if not isinstance(raw_jobs, dict):
        checker.report(f"expected [jobs.NAME] tables, {_got(raw_jobs)}", ("jobs",))
        raw_jobs = {}
    if not raw_jobs:
        checker.report("no jobs defined; expected at least one [jobs.NAME] table", ())

    system_tz: ZoneInfo | None = None
    jobs: dict[str, Job] = {}
    graph: dict[str, tuple[str, ...]] = {}
    for name, raw in raw_jobs.items():
        where = ("jobs", name)
        before = len(checker.pending)
        if not _JOB_NAME.fullmatch(name):
            checker.report(
                f"invalid job name {_show(name)}: expected letters, digits, '_', '.' and '-', "
                "starting with a letter or digit",
                where,
                name,
            )
        checker.misspelt.clear()
        fields = _merge(defaults, checker.section(raw, where, name, _JOB_KEYS))
        tz: ZoneInfo | None = fields.get("timezone")
        if tz is None:
            system_tz = system_tz or system_timezone()  # looked up once, and only if needed
            tz = system_tz
        schedule = _job_schedule(name, raw, fields, tz, checker)
        if isinstance(raw, dict) and "command" not in raw and "command" not in checker.misspelt:
            checker.report(
                "missing 'command': expected a string or an array of strings", where, name
            )
        graph[name] = tuple(a for a in fields.get("after", ()) if a != name)
        for other in fields.get("after", ()):
            if other == name:
                checker.report("a job cannot run after itself", (*where, "after"), name)
            elif other not in raw_jobs:
                checker.report(
                    f"unknown job {_show(other)}{did_you_mean(other, raw_jobs)}",
                    (*where, "after"),
                    name,
                )
        if schedule is not None and len(checker.pending) == before:
            jobs[name] = _build_job(name, fields, schedule, tz)

    for cycle in _find_cycles(graph):
        checker.report(
            f"'after' forms a cycle: {' -> '.join(cycle)}", ("jobs", cycle[0], "after"), cycle[0]
        )
    return jobs, RunnerSettings(**settings)


def _job_schedule(
    name: str, raw: Any, fields: dict[str, Any], tz: ZoneInfo, checker: _Checker
) -> Schedule | None:
    where = ("jobs", name)
    if not isinstance(raw, dict):
        return None
    if "schedule" in raw and "at" in raw:
        checker.report("set either 'schedule' or 'at', not both", (*where, "at"), name)
        return None
    if "schedule" not in raw and "at" not in raw:
        if checker.misspelt & {"schedule", "at"}:
            return None
        checker.report(
            "missing 'schedule': expected a schedule string, or 'at' with one-shot times",
            where,
            name,
        )
        return None
    key = "schedule" if "schedule" in raw else "at"
    if key not in fields:  # its type was wrong, and that is reported already
        return None
    try:
        if key == "schedule":
            return parse_schedule(fields[key], tz=tz, job_name=name)
        return parse_at(fields[key], tz=tz)
    except ScheduleError as exc:
        checker.report(str(exc), (*where, key), name)
        return None


# --- finding lines for problems ------------------------------------------------------------

_HEADER = re.compile(r"\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY_PART = re.compile(r"\s*([A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\"|'[^']*')\s*")
_INLINE_KEY = re.compile(r"[{,]\s*([A-Za-z0-9_-]+|\"(?:[^\"\\]|\\.)*\")\s*=")


def _unquote(part: str) -> str:
    if part.startswith('"'):
        try:
            return str(json.loads(part))
        except ValueError:
            return part[1:-1]
    if part.startswith("'"):
        return part[1:-1]
    return part


def _dotted_key(text: str, start: int) -> tuple[list[str], int] | None:
    """The key parts of ``a."b".c`` at ``start`` and the index just past them."""
    parts: list[str] = []
    pos = start
    while True:
        match = _KEY_PART.match(text, pos)
        if match is None:
            return None
        parts.append(_unquote(match.group(1)))
        pos = match.end()
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return parts, pos


class _Locator:
    """Where tables and keys start: one pass over the lines, good for the usual layouts.

    Only the tables named in ``wanted`` (the places of the problems found) are looked into,
    so a file with 10,000 jobs and one mistake costs one cheap pass.
    """

    def __init__(self, text: str, wanted: Iterable[tuple[str, ...]]) -> None:
        self.places: dict[tuple[str, ...], tuple[int, int]] = {}
        tables = {path[:end] for path in wanted for end in range(len(path) + 1)}
        table: tuple[str, ...] = ()
        relevant = True
        closing: str | None = None  # inside a multi-line string: its closing quotes
        # TOML counts lines by "\n" only; str.splitlines would also split on \x0c, \u2028, ...
        for number, raw_line in enumerate(text.split("\n"), start=1):
            line = raw_line.rstrip("\r")
            if closing is not None:
                if closing in line:
                    closing = None
                continue
            body = line.lstrip()
            indent = len(line) - len(body)
            if body.startswith("["):
                header = _HEADER.match(body)
                parsed = _dotted_key(header.group(1), 0) if header else None
                if parsed is not None:
                    table = tuple(parsed[0])
                    relevant = table in tables
                    self._mark(table, (), number, indent + 1)
                continue
            if not relevant and '"""' not in body and "'''" not in body:
                continue  # cannot hide a header inside a string, and nothing wanted is here
            parsed = _dotted_key(body, 0)
            if parsed is None or not body[parsed[1] :].startswith("="):
                continue
            value = body[parsed[1] + 1 :].lstrip()
            for quotes in ('"""', "'''"):
                if value.startswith(quotes) and quotes not in value[3:]:
                    closing = quotes
            if not relevant:
                continue
            key = (*table, *parsed[0])
            self._mark(key, table, number, indent + 1)
            if value.startswith("{"):
                offset = indent + len(body) - len(value)
                for inner in _INLINE_KEY.finditer(value):
                    self._mark(
                        (*key, _unquote(inner.group(1))), key, number, offset + inner.start(1) + 1
                    )

    def _mark(self, key: tuple[str, ...], table: tuple[str, ...], line: int, column: int) -> None:
        # Every prefix below the current table is defined here too (dotted keys).
        for end in range(len(table) + 1, len(key) + 1):
            self.places.setdefault(key[:end], (line, column))

    def find(self, where: tuple[str, ...]) -> tuple[int | None, int | None]:
        for end in range(len(where), 0, -1):
            place = self.places.get(where[:end])
            if place is not None:
                return place
        return None, None


# --- entry points --------------------------------------------------------------------------

_TOML_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)$")


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8-sig")  # tolerate the BOM some editors write
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise ConfigError(
            [
                Problem(
                    path,
                    f"not valid UTF-8: byte 0x{bad} at offset {exc.start}; "
                    "the job file must be encoded as UTF-8",
                    line=line,
                    column=column,
                )
            ]
        ) from None


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cycle collector: parsing 10,000 jobs makes ~10^5 containers and no cycles,
    and the collector would walk them again and again (about 15% of the load time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_job_file(text: str | bytes, path: str = "<string>") -> JobFile:
    """The jobs in ``text``; raises ConfigError listing every problem found."""
    source = _decode(text, path) if isinstance(text, bytes) else text.removeprefix("\ufeff")
    with _no_cyclic_gc():
        return _parse(source, path)


def _parse(source: str, path: str) -> JobFile:
    try:
        doc = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_AT.search(message)
        line = column = None
        if match:
            message = message[: match.start()]
            if match.group(1):
                line, column = int(match.group(1)), int(match.group(2))
            else:
                line = source.count("\n") + 1
        raise ConfigError(
            [Problem(path, f"invalid TOML: {message}", line=line, column=column)]
        ) from None
    except ValueError as exc:  # tomllib lets int() refuse numbers over 4300 digits
        raise ConfigError([Problem(path, f"invalid TOML: {exc}")]) from None
    except RecursionError:
        raise ConfigError(
            [Problem(path, "invalid TOML: arrays or tables nested too deeply")]
        ) from None

    checker = _Checker()
    jobs, settings = _check_document(doc, checker)
    if checker.pending:
        locator = _Locator(source, (p.where for p in checker.pending))
        problems = []
        for p in checker.pending:
            line, column = locator.find(p.where)
            problems.append(Problem(path, p.message, p.job, p.key, line, column))
        # In file order, as an editor would walk them; problems without a line come first.
        problems.sort(key=lambda p: (p.line or 0, p.column or 0))
        raise ConfigError(problems)
    return JobFile(path=Path(path), jobs=jobs, settings=settings)


def load_job_file(path: str | Path) -> JobFile:
    """Read and check the job file at ``path``; raises ConfigError listing every problem."""
    name = str(path)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
            # a FIFO or a device would block the read or never end
            raise ConfigError([Problem(name, "is not a regular file, expected a TOML job file")])
        with open(path, "rb") as handle:
            if os.geteuid() == 0:
                _refuse_if_others_can_write(os.fstat(handle.fileno()), Path(path), name)
            data = handle.read()
    except FileNotFoundError:
        raise ConfigError([Problem(name, "no such file")]) from None
    except IsADirectoryError:
        raise ConfigError([Problem(name, "is a directory, expected a TOML job file")]) from None
    except PermissionError:
        raise ConfigError([Problem(name, "cannot read the file: permission denied")]) from None
    except OSError as exc:
        raise ConfigError([Problem(name, f"cannot read the file: {exc.strerror or exc}")]) from None
    job_file = parse_job_file(data, name)
    return JobFile(path=Path(path).absolute(), jobs=job_file.jobs, settings=job_file.settings)


def _refuse_if_others_can_write(info: os.stat_result, path: Path, name: str) -> None:
    """A root runner executes what the file says: only root may be able to change it."""
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(name)
    reason = None
    if info.st_uid != 0:
        reason = f"it is owned by uid {info.st_uid}, not root"
    elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        reason = f"it is writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    else:
        parent = os.stat(path.absolute().parent)
        sticky = parent.st_mode & stat.S_ISVTX
        if parent.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not sticky:
            reason = "its directory is writable by group or others, so the file can be replaced"
    if reason:
        raise ConfigError(
            [
                Problem(
                    name,
                    f"refusing to run this job file as root: {reason}; "
                    "make it owned by root and writable only by root (chmod go-w)",
                )
            ]
        )


def system_timezone() -> ZoneInfo:
    """The machine's zone: $TZ, else the /etc/localtime link, else /etc/timezone, else UTC."""
    candidates: list[str] = []
    tz_env = os.environ.get("TZ", "").lstrip(":")
    if tz_env:
        candidates.append(tz_env.split("zoneinfo/", 1)[-1])
    try:
        link = os.readlink("/etc/localtime")
        if "zoneinfo/" in link:
            candidates.append(link.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    with contextlib.suppress(OSError, UnicodeDecodeError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            continue
    return ZoneInfo("UTC")
