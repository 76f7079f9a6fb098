"""Policies, statuses and triggers: every choice the job file or a run can name, as an enum."""

from __future__ import annotations

from enum import StrEnum


class Missed(StrEnum):
    SKIP = "skip"
    CATCH_UP_ONCE = "catch-up-once"
    REPLAY_ALL = "replay-all"


class Overlap(StrEnum):
    FORBID = "forbid"
    QUEUE = "queue"
    ALLOW = "allow"
    REPLACE = "replace"


class Environment(StrEnum):
    """What a job's process starts with besides its own ``env``/``env_file`` and CRONPY_*."""

    INHERIT = "inherit"  # the runner's environment
    MINIMAL = "minimal"  # cron's: HOME, LOGNAME, USER, SHELL, PATH=/usr/bin:/bin


class Backoff(StrEnum):
    CONSTANT = "constant"
    LINEAR = "linear"
    EXPONENTIAL = "exponential"


class MailOutput(StrEnum):
    """Which runs' output ``notify.email`` receives, as cron's MAILTO does."""

    ALWAYS = "always"  # every run that printed something (cron's rule)
    ON_FAILURE = "on_failure"  # failed runs, printed or not
    NEVER = "never"


class Status(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    KILLED = "killed"
    SPAWN_ERROR = "spawn_error"
    SKIPPED = "skipped"
    MISSED = "missed"
    CANCELLED = "cancelled"
    LOST = "lost"

    @property
    def is_failure(self) -> bool:
        return self in _FAILURES

    @property
    def retryable(self) -> bool:
        return self in _RETRYABLE


_FAILURES = frozenset(
    {Status.FAILED, Status.TIMED_OUT, Status.KILLED, Status.SPAWN_ERROR, Status.LOST}
)
_RETRYABLE = _FAILURES  # every failure is worth another attempt; cancelled runs are not


class Trigger(StrEnum):
    SCHEDULE = "schedule"
    CATCH_UP = "catch-up"
    RETRY = "retry"
    MANUAL = "manual"
    AFTER = "after"
    REBOOT = "reboot"


class SkipReason(StrEnum):
    OVERLAP = "overlap"
    PAUSED = "paused"
    WINDOW = "window"
