"""``cronpy pause`` and ``cronpy resume``: kept in the state, so they work with no runner up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cronpy.cli.commands.common import check_jobs, wake
from cronpy.errors import UsageError
from cronpy.model.run import iso

if TYPE_CHECKING:
    from cronpy.interfaces import Store
    from cronpy.model import JobState


@dataclass(frozen=True)
class PauseChange:
    name: str
    was_paused: bool
    was_until: datetime | None
    paused: bool
    until: datetime | None

    @property
    def changed(self) -> bool:
        return (self.was_paused, self.was_until) != (self.paused, self.until)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "paused": self.paused,
            "paused_until": iso(self.until),
            "changed": self.changed,
        }


@dataclass(frozen=True)
class PauseResult:
    changes: tuple[PauseChange, ...]
    runner_woken: bool  # False: no runner listening; it reads the pause when it starts
    zone: tzinfo | None = None  # the zone times are shown in (None: local)

    def to_json(self) -> dict[str, Any]:
        return {"jobs": [c.to_json() for c in self.changes], "runner_notified": self.runner_woken}


def select(
    states: dict[str, JobState], names: list[str], *, all_jobs: bool, state_dir: Path, verb: str
) -> list[str]:
    if all_jobs and names:
        raise UsageError(f"give job names or --all to {verb}, not both")
    if all_jobs:
        return [n for n, s in states.items() if s.present]
    if not names:
        raise UsageError(f"name the jobs to {verb}, or use --all")
    return check_jobs(names, states, state_dir)


def set_paused(
    store: Store,
    *,
    state_dir: Path,
    names: list[str],
    all_jobs: bool,
    paused: bool,
    until: datetime | None,
    now: datetime,
    zone: tzinfo | None = None,
) -> PauseResult:
    """Pause (until ``until``, or until resumed) or resume jobs, and tell the runner."""
    if until is not None and until <= now:
        raise UsageError(
            f"the pause would end at {until.isoformat(timespec='seconds')}, which is not in the"
            " future"
        )
    states = store.job_states()
    chosen = select(
        states, names, all_jobs=all_jobs, state_dir=state_dir, verb="pause" if paused else "resume"
    )
    if chosen:
        store.set_paused(chosen, paused, until if paused else None)
    changes = tuple(
        PauseChange(
            name=n,
            was_paused=states[n].is_paused(now),
            was_until=states[n].paused_until if states[n].is_paused(now) else None,
            paused=paused,
            until=until if paused else None,
        )
        for n in chosen
    )
    woken = wake(store, state_dir, now) if any(c.changed for c in changes) else False
    return PauseResult(changes=changes, runner_woken=woken, zone=zone)
