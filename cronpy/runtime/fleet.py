"""Several runners on one shared store (PostgreSQL): leases, heartbeats, who claims what first,
and the controls every runner must see.

- Each runner registers itself and renews, every HEARTBEAT seconds, its heartbeat and the
  lease of every run it supervises (LEASE seconds ahead). A run whose lease ran out belongs to
  a runner that died or was cut off: any live runner's sweep marks it ``lost`` and its retry
  policy applies there. A runner whose own renewal fails for a whole lease stops its runs
  rather than finish them unseen, and kills a run another runner already marked lost.
- Work spreads by a head start: each occurrence has one preferred runner among the live ones
  (a hash of job, due time and attempt), which claims it at once; the others wait HANDOFF
  seconds and claim it only if nobody has (a dead or slow peer's share still runs). The claim
  stays the one atomic write that decides, so an occurrence never starts twice.
- Commands push controls; PostgreSQL NOTIFYs every runner, and each reads the controls it has
  not seen (``controls_since``): a reload or a pause change reaches all of them, a trigger is
  claimed by one, a cancel is answered by the runner that holds the run.
This module reads and writes the store; it decides nothing about jobs.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from cronpy.digest import sha256
from cronpy.engine.actions import Start
from cronpy.errors import StateError
from cronpy.interfaces import Store
from cronpy.model import Control, Run, RunnerInfo, Trigger

LEASE = float(os.environ.get("CRONPY_LEASE_SECONDS", "15"))
HEARTBEAT = LEASE / 3
HANDOFF = timedelta(seconds=0.3)
# starts any runner may claim at once: a request or an event seen by the runner that got it
_FIRST_COME = (Trigger.MANUAL, Trigger.AFTER, Trigger.REBOOT)


def silent(runner: RunnerInfo, now: datetime) -> bool:
    """No heartbeat for a whole lease: the runner is dead or cut off from the store."""
    return (now - runner.heartbeat_at).total_seconds() >= LEASE


def file_hash(path: Path) -> str | None:
    """A short digest of the job file, so runners sharing a store can tell they differ."""
    try:
        return sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return None


class Fleet:
    def __init__(
        self,
        store: Store,
        runner_id: int,
        *,
        file_digest: str | None,
        log: Callable[..., None],
    ) -> None:
        self.store = store
        self.runner_id = runner_id
        self.file_digest = file_digest
        self.log = log
        self.peers: list[int] = [runner_id]  # live runners, by id: who is preferred for what
        self._seen_control = 0
        self._renewed_at: datetime | None = None
        self._mismatch: tuple[int, ...] = ()

    def start(self, now: datetime) -> None:
        """Begin with the controls still unanswered; the older ones were for other runners."""
        self._renewed_at = now
        pending = self.store.pending_controls()
        self._seen_control = pending[0].id - 1 if pending else self.store.last_control_id()
        self._refresh_peers(now)

    def others_up(self) -> bool:
        """Another runner heartbeats on the store (as of the last look)."""
        return any(peer != self.runner_id for peer in self.peers)

    def lease_until(self, now: datetime) -> datetime:
        return now + timedelta(seconds=LEASE)

    def preferred(self, start: Start) -> bool:
        """Whether this runner claims ``start`` at once (else after HANDOFF, if still free)."""
        if start.handed or start.trigger in _FIRST_COME or len(self.peers) < 2:
            return True
        key = f"{start.job.name}|{start.scheduled_at.isoformat()}|{start.attempt}"
        return self.peers[zlib.crc32(key.encode()) % len(self.peers)] == self.runner_id

    def new_controls(self) -> list[Control]:
        """Controls pushed since the last read, answered or not (see the module's docstring)."""
        controls = self.store.controls_since(self._seen_control)
        if controls:
            self._seen_control = controls[-1].id
        return controls

    def beat(self, now: datetime, note: str | None) -> tuple[set[int], list[Run]]:
        """Heartbeat and lease renewal, then the sweep: the runs this runner still holds, and
        the runs of dead runners that this sweep marked lost. Raises StateError when the store
        cannot be reached (see ``lease_expired``)."""
        self.store.heartbeat(self.runner_id, now, note)
        held = set(self.store.renew_leases(self.runner_id, self.lease_until(now)))
        self._renewed_at = now
        lost = self.store.mark_lost(now, expired_before=now)
        self._refresh_peers(now)
        return held, lost

    def lease_expired(self, now: datetime) -> bool:
        """This runner has not renewed its leases for a whole lease: its runs may be marked lost
        and retried elsewhere at any moment."""
        renewed = self._renewed_at
        return renewed is not None and (now - renewed).total_seconds() >= LEASE

    def _refresh_peers(self, now: datetime) -> None:
        try:
            runners = self.store.live_runners()
        except StateError:
            return
        alive = [r for r in runners if not silent(r, now)]
        self.peers = sorted({r.id for r in alive} | {self.runner_id})
        self._check_files(alive)

    def _check_files(self, runners: Sequence[RunnerInfo]) -> None:
        others = tuple(
            r.id
            for r in runners
            if r.id != self.runner_id and r.file_hash and r.file_hash != self.file_digest
        )
        if others != self._mismatch:
            self._mismatch = others
            if others:
                self.log(
                    "job-file-mismatch",
                    runners=list(others),
                    ours=self.file_digest,
                    rule="each runner schedules from its own file; claims, pauses and history"
                    " are shared",
                )
