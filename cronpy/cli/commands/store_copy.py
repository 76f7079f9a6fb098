"""``cronpy store copy --to URL``: move a state (job states, pauses, history) into another
store, e.g. from the state directory's SQLite file into the PostgreSQL store several runners
will share. Copying twice adds nothing: job states are upserted, pauses set, and a record
whose occurrence is already there is skipped."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cronpy.model import Status

if TYPE_CHECKING:
    from cronpy.interfaces import Store


@dataclass(frozen=True)
class CopyResult:
    target: str
    jobs: int
    paused: int
    runs: int  # finished records read from the source
    added: int  # of them, new in the target

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "jobs": self.jobs,
            "paused": self.paused,
            "runs": self.runs,
            "added": self.added,
        }


def copy_store(source: Store, target: Store, *, where: str) -> CopyResult:
    """Copy; a run still ``running`` in the source is left out (its runner finishes it there)."""
    states = source.job_states()
    target.save_job_states(states.values())
    paused = [s for s in states.values() if s.paused]
    for state in paused:
        target.set_paused([state.name], True, state.paused_until)
    for state in states.values():  # pending retries are rows of their own (idempotent upsert)
        for retry in state.retries:
            target.plan_retry(state.name, retry)
    read = added = 0
    for name in states:
        runs = [r for r in source.runs(name, limit=2**62) if r.status is not Status.RUNNING]
        read += len(runs)
        added += target.import_runs(list(reversed(runs)))  # oldest first: ids keep the order
    return CopyResult(where, len(states), len(paused), read, added)
