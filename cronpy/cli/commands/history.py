"""``cronpy history``: past runs, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cronpy.cli.commands.common import check_count, check_jobs
from cronpy.errors import UsageError
from cronpy.model import Run, Status

if TYPE_CHECKING:
    from cronpy.interfaces import Store


@dataclass(frozen=True)
class HistoryResult:
    job: str | None
    runs: tuple[Run, ...]  # newest first
    filtered: bool = False  # --status or --since narrowed the runs
    zone: tzinfo | None = None  # the zone times are shown in (None: local)

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job, "runs": [r.to_json() for r in self.runs]}


def parse_status(text: str) -> Status:
    try:
        return Status(text)
    except ValueError:
        choices = ", ".join(s.value for s in Status)
        raise UsageError(f"invalid --status {text!r}: expected one of {choices}") from None


def history(
    store: Store,
    *,
    state_dir: Path,
    job: str | None,
    limit: int,
    status: Status | None,
    since: datetime | None,
    zone: tzinfo | None = None,
) -> HistoryResult:
    check_count(limit)
    if job is not None and store.job_state(job) is None:
        # Only an unknown name pays for loading every job (for the did-you-mean); removed jobs
        # keep their state, and so their history.
        check_jobs([job], store.job_states(), state_dir)
    runs = store.runs(job, limit=limit, status=status, since=since)
    filtered = status is not None or since is not None
    return HistoryResult(job=job, runs=tuple(runs), filtered=filtered, zone=zone)
