"""The records the rest of cronpy passes around: policies as enums, jobs and runs as frozen classes.

Nothing here reads a clock, a file or a database. Times are aware datetimes in UTC;
durations are float seconds; sizes are int bytes.
"""

from cronpy.model.enums import (
    Backoff,
    Environment,
    MailOutput,
    Missed,
    Overlap,
    SkipReason,
    Status,
    Trigger,
)
from cronpy.model.job import Job, JobFile, Keep, Notify, Retry, RunnerSettings, Smtp, Window
from cronpy.model.run import (
    Claim,
    Control,
    ControlKind,
    Finish,
    HookOutcome,
    HookRequest,
    JobState,
    LaunchRequest,
    Outcome,
    RetryDue,
    Run,
    RunnerInfo,
    Spawned,
)

__all__ = [
    "Backoff",
    "Claim",
    "Control",
    "ControlKind",
    "Environment",
    "Finish",
    "HookOutcome",
    "HookRequest",
    "Job",
    "JobFile",
    "JobState",
    "Keep",
    "LaunchRequest",
    "MailOutput",
    "Missed",
    "Notify",
    "Outcome",
    "Overlap",
    "Retry",
    "RetryDue",
    "Run",
    "RunnerInfo",
    "RunnerSettings",
    "SkipReason",
    "Smtp",
    "Spawned",
    "Status",
    "Trigger",
    "Window",
]
