"""The store's upkeep on a schedule that busy periods cannot postpone forever, and that no
store error turns into a runner exit.

SQLite's WAL only shrinks back when it is checkpointed. Done only when nothing was due within
a second, three one-second jobs kept it growing (~80 KB/s) until the disk was full; and a
checkpoint that failed (disk full) raised out of the loop and stopped the runner, dropping the
writes it had queued. Now: every ``interval`` seconds, in the first gap of 0.25 s, and at the
latest one interval later whatever is due; a failure is logged once and tried again later.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from cronpy.errors import StateError
from cronpy.interfaces import Store

ENV_INTERVAL = "CRONPY_CHECKPOINT_INTERVAL"  # seconds; tests set it low
DEFAULT_INTERVAL = 30.0
ROOM = 0.25  # seconds free before the next deadline that a checkpoint may take


def interval_from_env() -> float:
    try:
        value = float(os.environ.get(ENV_INTERVAL, ""))
    except ValueError:
        return DEFAULT_INTERVAL
    return value if value > 0 else DEFAULT_INTERVAL


class Maintenance:
    def __init__(
        self, store: Store, log: Callable[..., None], start: float, interval: float
    ) -> None:
        self.store = store
        self.log = log
        self.interval = interval
        self.due_at = start + interval
        self.failing: str | None = None

    def run_if_due(self, mono: float, room: float | None) -> bool:
        """Checkpoint when it is time and there is ``ROOM`` before the next deadline (``room``
        None: nothing is due), or regardless once it is an interval late. True if it ran."""
        if mono < self.due_at:
            return False
        if room is not None and room < ROOM and mono < self.due_at + self.interval:
            return False
        self.due_at = mono + self.interval
        try:
            self.store.maintain()
        except StateError as exc:
            if str(exc) != self.failing:
                self.failing = str(exc)
                self.log("checkpoint-failed", reason=str(exc), retry_in=self.interval)
            return True
        if self.failing is not None:
            self.failing = None
            self.log("checkpoint-recovered")
        return True
