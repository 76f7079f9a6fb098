"""The checker: walks a parsed job file and collects every problem, never stopping at one.

It checks keys against the schema of ``cronpy.config.convert`` (unknown keys, with a
did-you-mean), merges ``[defaults]`` into each job, parses schedules (a schedule that can
never fire is a ``ScheduleError`` from ``cronpy.schedule``, reported here), checks ``after``
names and cycles, and builds a frozen ``Job`` for each job without problems. A problem is
kept with its key path; ``cronpy.config.load`` turns paths into lines only if there are any.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from cronpy.config.convert import (
    DEFAULT_KEYS,
    JOB_KEYS,
    MERGED_TABLES,
    PER_JOB_ONLY,
    SCALARS,
    SETTINGS,
    TABLES,
    TOP_KEYS,
    BadValue,
    Convert,
    got,
    show,
)
from cronpy.errors import ScheduleError, did_you_mean
from cronpy.interfaces import Schedule
from cronpy.model import Job, Keep, Notify, Retry, RunnerSettings, Window
from cronpy.schedule import parse_at, parse_schedule
from cronpy.schedule.kinds import AfterOnlySchedule

_JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_JOB_NAME = 200  # a log directory is named after the job; most file systems allow 255 bytes
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_P = TypeVar("_P")


@dataclass(frozen=True)
class Pending:
    """A problem whose line is looked up later, only if the file turns out to be invalid."""

    message: str
    job: str | None
    key: str | None
    where: tuple[str, ...]


class Checker:
    """Collects problems as key paths, and converts values to their typed form on the way."""

    def __init__(self) -> None:
        self.pending: list[Pending] = []
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
        self.pending.append(Pending(message, job, key, where))

    def section(
        self, raw: Any, where: tuple[str, ...], job: str | None, allowed: frozenset[str]
    ) -> dict[str, Any]:
        """Typed values of a [defaults] or [jobs.NAME] table; bad keys are reported, left out."""
        if not isinstance(raw, dict):
            self.report(f"expected a table of job settings, {got(raw)}", where, job)
            return {}
        out: dict[str, Any] = {}
        for key, value in raw.items():
            at = (*where, key)
            if key not in allowed:
                if job is None and key in PER_JOB_ONLY:
                    self.report(f"{key!r} cannot be a default; set it in each job", at, job)
                else:
                    hint = did_you_mean(key, allowed)
                    self.report(f"unknown key {show(key)}{hint}", at, job)
                    if hint:  # a misspelt 'schedule' explains a missing one: say it once
                        self.misspelt.add(hint.split("'")[1])
            elif key == "env":
                out[key] = self.env(value, at, job)
            elif key in TABLES:
                out[key] = self.table(value, at, job, TABLES[key])
            else:
                try:
                    out[key] = self.convert(SCALARS[key], value)
                except BadValue as exc:
                    self.report(str(exc), at, job)
        return out

    def table(
        self, raw: Any, where: tuple[str, ...], job: str | None, fields: dict[str, Convert]
    ) -> dict[str, Any]:
        if not isinstance(raw, dict):
            keys = ", ".join(fields)
            self.report(f"expected a table with keys {keys}, {got(raw)}", where, job)
            return {}
        out: dict[str, Any] = {}
        for key, value in raw.items():
            if key not in fields:
                self.report(
                    f"unknown key {show(key)}{did_you_mean(key, fields)}", (*where, key), job
                )
                continue
            try:
                out[key] = self.convert(fields[key], value)
            except BadValue as exc:
                self.report(str(exc), (*where, key), job)
        return out

    def env(self, raw: Any, where: tuple[str, ...], job: str | None) -> dict[str, str]:
        if not isinstance(raw, dict):
            self.report(f'expected a table of NAME = "value" strings, {got(raw)}', where, job)
            return {}
        out: dict[str, str] = {}
        for name, value in raw.items():
            if not _ENV_NAME.fullmatch(name):
                self.report(
                    f"invalid environment variable name {show(name)}: expected letters, digits "
                    "and '_', not starting with a digit",
                    (*where, name),
                    job,
                )
            elif not isinstance(value, str) or "\0" in value:
                self.report(f"expected a string value, {got(value)}", (*where, name), job)
            else:
                out[name] = value
        return out


def check_document(
    doc: dict[str, Any], checker: Checker, system_zone: Callable[[], ZoneInfo]
) -> tuple[dict[str, Job], RunnerSettings]:
    """The jobs without problems and the runner settings; every problem goes to ``checker``.

    ``system_zone`` is called at most once, and only if some job has no ``timezone``.
    """
    for key in doc:
        if key not in TOP_KEYS:
            checker.report(
                f"unknown top-level key {show(key)}{did_you_mean(key, TOP_KEYS)}", (key,)
            )
    defaults = checker.section(doc.get("defaults", {}), ("defaults",), None, DEFAULT_KEYS)
    settings = checker.table(doc.get("cronpy", {}), ("cronpy",), None, SETTINGS)

    raw_jobs = doc.get("jobs", {})
    if not isinstance(raw_jobs, dict):
        checker.report(f"expected [jobs.NAME] tables, {got(raw_jobs)}", ("jobs",))
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
                f"invalid job name {show(name)}: expected letters, digits, '_', '.' and '-', "
                "starting with a letter or digit",
                where,
                name,
            )
        elif len(name) > MAX_JOB_NAME:
            checker.report(
                f"invalid job name {show(name[:40] + '...')} ({len(name)} characters): expected at"
                f" most {MAX_JOB_NAME} (the name is a directory of run logs, and file names are"
                " limited)",
                where,
                name,
            )
        checker.misspelt.clear()
        fields = _merge(defaults, checker.section(raw, where, name, JOB_KEYS))
        tz: ZoneInfo | None = fields.get("timezone")
        if tz is None:
            system_tz = system_tz or system_zone()
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
                    f"unknown job {show(other)}{did_you_mean(other, raw_jobs)}",
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
    name: str, raw: Any, fields: dict[str, Any], tz: ZoneInfo, checker: Checker
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
        upstream = fields.get("after")
        if upstream:  # runs only when its upstream jobs succeed
            return AfterOnlySchedule(tuple(upstream))
        if "after" in raw and "after" not in fields:  # its type was wrong: reported already
            return None
        checker.report(
            "missing 'schedule': expected a schedule string, 'at' with one-shot times,"
            " or 'after' with the jobs it runs after",
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


def _merge(defaults: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    merged = {**defaults, **own}
    for key in MERGED_TABLES:
        if key in defaults and key in own:
            merged[key] = {**defaults[key], **own[key]}
    return merged


_NOT_COPIED = frozenset({"schedule", "at", "timezone"})  # given to Job in their final form
_NO_ENV: Mapping[str, str] = MappingProxyType({})  # one for every job without env (~100 B each)


@functools.lru_cache(maxsize=1024)
def _policy(cls: type[_P], items: tuple[tuple[str, Any], ...]) -> _P:
    """Frozen policy records shared between jobs: 10,000 jobs often have a handful of them."""
    return cls(**dict(items))


def _build_job(name: str, fields: dict[str, Any], schedule: Schedule, tz: ZoneInfo) -> Job:
    values = {k: v for k, v in fields.items() if k in SCALARS and k not in _NOT_COPIED}
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
        env=MappingProxyType(fields["env"]) if "env" in fields else _NO_ENV,
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
