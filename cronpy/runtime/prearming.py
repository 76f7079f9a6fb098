"""When the runner starts due processes ahead of time, held before their commands
(``[cronpy] prearm``; the held processes themselves: ``cronpy.launch.prearm``).

After every batch the engine is asked for a forecast of the starts due within the window
(``Engine.due_within``: a read of its plan, no decision, no clock). Each forecast occurrence
not yet held is armed; each held one no longer forecast (paused, reloaded away, stopping, or
its instant passed unclaimed) is dropped. Nothing is claimed here: at the due instant the
engine decides and the scheduler claims as always, then releases the claimed runs' held
processes (``Scheduler._start``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from cronpy.engine.actions import Start
from cronpy.engine.board import Log
from cronpy.engine.engine import Engine
from cronpy.interfaces import Clock, Prearmer
from cronpy.model import Trigger
from cronpy.model.launch import ArmRequest
from cronpy.runtime.clock import STALL_AFTER
from cronpy.runtime.fleet import Fleet

# How long before a held instant the engine decides it and the starts are claimed: the
# claim of 200 starts took 8-12 ms on SQLite and 7-18 ms on PostgreSQL on a 2-core machine.
LEAD = timedelta(milliseconds=50)
# Arming stops at the decision: 200 arms took 0.5-0.9 s on a loaded 2-core machine, and
# arming past it would hold up the claims of all of them.
ARM_MARGIN = LEAD


class Prearming:
    def __init__(
        self,
        prearmer: Prearmer,
        engine: Engine,
        clock: Clock,
        log: Log,
        run_env: Mapping[str, str] | None,
        fleet: Fleet | None,
        on_stall: Callable[[float], None] = lambda seconds: None,
    ) -> None:
        self.prearmer = prearmer
        self.engine = engine
        self.clock = clock
        self.log = log
        self.env = {**(run_env or {}), "CRONPY_TRIGGER": str(Trigger.SCHEDULE)}
        self.fleet = fleet
        self._armed_until: datetime | None = None
        self.on_stall = on_stall  # it was stopped while arming: what fell due then is missed

    @property
    def window(self) -> timedelta:
        """The job file's, as reloaded: 0 turns pre-arming off."""
        return timedelta(seconds=self.engine.job_file.settings.prearm)

    def next_arm(self) -> datetime | None:
        """When to wake to arm the next due instant's starts (None: nothing to arm)."""
        wake = self.engine.next_wakeup()
        if wake is None or not self.window:
            return None
        if self._armed_until is not None and wake <= self._armed_until:
            return None
        return wake - self.window

    def held_instant(self, now: datetime) -> datetime | None:
        """The next due instant after ``now`` with a process held for it (one whose claim
        was refused stays held past its instant, and is released when the claim is taken)."""
        return min((at for _, at in self.prearmer.armed if at > now), default=None)

    def _decided_ahead(self, now: datetime) -> datetime | None:
        """The next held instant, if it may be decided ahead: not when a start due by then
        waits on a run's end (forbid, queue), which may come within ``LEAD``."""
        held = self.held_instant(now)
        if held is None or self.engine.waits_on_a_run(held):
            return None
        return held

    def decide_at(self) -> datetime | None:
        """When to wake to decide and claim the next held instant."""
        held = self._decided_ahead(self.clock.now())
        return None if held is None else held - LEAD

    def ahead(self, now: datetime) -> timedelta:
        """How far ahead of ``now`` to decide: up to the next held instant once within
        ``LEAD`` of it, else not at all."""
        held = self._decided_ahead(now)
        return timedelta(0) if held is None or held - LEAD > now else held - now

    def after_batch(self, now: datetime) -> None:
        """Hold a process for each start forecast within the window, and drop the held ones
        no longer forecast. Every batch within the window looks again: a run that ended may
        free its job's next occurrence (overlap)."""
        window, prearmer = self.window, self.prearmer
        wake = self.engine.next_wakeup()
        if not prearmer.armed and (not window or wake is None or wake - window > now):
            return
        until = now + window
        fleet = self.fleet
        wanted = {
            (job.name, at): job
            for job, at in (self.engine.due_within(until) if window else [])
            # another runner is preferred for it: it would only wait here to be dropped
            if fleet is None or fleet.preferred(Start(job, at, Trigger.SCHEDULE, 1))
        }
        if dropped := prearmer.disarm(wanted):
            self.log("prearm-dropped", runs=dropped)
        armed = prearmer.armed
        new: list[datetime] = []
        for (name, at), job in sorted(wanted.items(), key=lambda item: item[0][1]):
            if (name, at) in armed:
                continue
            if self.clock.now() >= at - ARM_MARGIN:
                break  # the rest start at the due instant, unheld
            before = self.clock.monotonic()
            if prearmer.arm(ArmRequest(job, at, self.env)):
                new.append(at)
            if (took := self.clock.monotonic() - before) > STALL_AFTER:  # it takes ms
                self.on_stall(took)
        if new:
            took = (self.clock.now() - now).total_seconds()
            self.log("prearmed", runs=len(new), due=min(new).isoformat(), took=round(took, 3))
        self._armed_until = until
