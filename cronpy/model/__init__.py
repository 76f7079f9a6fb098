"""The records the rest of cronpy passes around: policies as enums, jobs and runs as frozen classes.

Nothing here reads a clock, a file or a database. Times are aware datetimes in UTC;
durations are float seconds; sizes are int bytes.

The job file's records (``cronpy.model.job``) and the launcher's (``cronpy.model.launch``)
load when first asked for: the read commands handle runs and job states only, and
``cronpy status`` should not pay for building the other classes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

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
from cronpy.model.run import (
    Claim,
    Control,
    ControlKind,
    Finish,
    JobState,
    RetryDue,
    Run,
    RunnerInfo,
    Spawned,
)

if TYPE_CHECKING:
    from cronpy.model.job import (
        Job,
        JobFile,
        Keep,
        Notify,
        Retry,
        RunnerSettings,
        Smtp,
        Window,
    )
    from cronpy.model.launch import HookOutcome, HookRequest, LaunchRequest, Outcome

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

_LAZY = {
    **dict.fromkeys(
        ["Job", "JobFile", "Keep", "Notify", "Retry", "RunnerSettings", "Smtp", "Window"],
        "cronpy.model.job",
    ),
    **dict.fromkeys(
        ["HookOutcome", "HookRequest", "LaunchRequest", "Outcome"], "cronpy.model.launch"
    ),
}


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)
