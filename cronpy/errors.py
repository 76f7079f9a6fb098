"""The error classes domain code raises; the CLI boundary turns them into exit codes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def did_you_mean(word: object, choices: Iterable[str]) -> str:
    """`` (did you mean 'schedule'?)`` when one of ``choices`` is close to ``word``; else ''."""
    if not isinstance(word, str):
        return ""
    import difflib  # here: every command imports this module, few ever suggest a name

    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class CronpyError(Exception):
    """Base of every error cronpy reports to a person. ``exit_code`` is what the CLI exits with."""

    exit_code = 2


class FailedError(CronpyError):
    """The thing asked about failed or does not exist: no running run to cancel, no output
    to show, a trigger the runner did not start (exit 1, DESIGN §8)."""

    exit_code = 1


class UsageError(CronpyError, ValueError):
    """A command-line argument is wrong (bad time, unknown job, ...)."""


class ScheduleError(CronpyError, ValueError):
    """A schedule expression cannot be parsed or can never fire."""


class DurationError(CronpyError, ValueError):
    """A duration or size string is malformed."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a job file, located as precisely as we can."""

    path: str
    message: str
    job: str | None = None
    key: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        subject = ""
        if self.job is not None:
            subject = f"job {self.job!r}"
            if self.key is not None:
                subject += f", key {self.key!r}"
        elif self.key is not None:
            subject = f"key {self.key!r}"
        return f"{where}: {subject + ': ' if subject else ''}{self.message}"


class ConfigError(CronpyError):
    """A job file is invalid. Carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class StateError(CronpyError):
    """The state (database, lock, directory) is unavailable."""

    exit_code = 3


class RecordGoneError(StateError):
    """The record a write is about is not in the store (a server that lost committed data in a
    crash): trying again cannot help, so a queued write is dropped instead of blocking the
    writes behind it."""


class LockHeldError(CronpyError):
    """Another runner holds the state directory's lock."""

    exit_code = 2


class NoRunnerError(StateError):
    """A command needs a live runner and there is none."""
