"""The schedule of a job that has ``after`` and neither ``schedule`` nor ``at``: it has no fire
time of its own and runs only when its upstream jobs succeed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AfterOnlySchedule:
    upstream: tuple[str, ...]

    @property
    def text(self) -> str:
        return "after " + ", ".join(self.upstream)

    @property
    def fixed_time(self) -> bool:
        return False

    @property
    def is_reboot(self) -> bool:
        return False

    def next_after(self, after: datetime, *, anchor: datetime | None = None) -> datetime | None:
        return None
