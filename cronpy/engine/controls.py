"""Decisions on requests from commands: trigger, cancel, reload, and pause changes (wake).

Commands persist a control in the store and wake the runner; the runner reads pending controls
only when woken (never on a timer) and answers each with a result in words.
"""

from __future__ import annotations

from datetime import datetime

from cronpy.engine.actions import Reload, Stop
from cronpy.engine.board import Board
from cronpy.engine.jobs import Pending
from cronpy.engine.occurrences import Occurrences
from cronpy.model import Control, ControlKind, Trigger


class Controls:
    def __init__(self, board: Board, occurrences: Occurrences) -> None:
        self.board = board
        self.occurrences = occurrences

    def handle(self, control: Control, now: datetime) -> None:
        kind = control.kind
        answered = control.taken_at is not None  # by another runner sharing the store
        if kind is ControlKind.TRIGGER:
            if not answered:
                self._trigger(control, now)
        elif kind is ControlKind.CANCEL:
            targets = self._cancel_targets(control)
            for run_id in targets:
                self.board.emit(Stop(run_id, "cancelled"))
            if answered or (self.board.shared and not targets):
                return  # a run this runner does not hold: its own runner answers
            self.board.complete(
                control.id,
                now,
                run_id=targets[0] if len(targets) == 1 else None,
                result=f"cancelling {len(targets)} run(s)" if targets else "not running",
            )
        elif kind is ControlKind.RELOAD:  # every runner rereads its own file; one answers
            self.board.emit(Reload(control.id, now, answer=not answered))
        elif not answered:  # WAKE: the engine applies the pauses read with it
            self.board.complete(control.id, now, result="ok")

    def _trigger(self, control: Control, now: datetime) -> None:
        board = self.board
        rt = board.jobs.get(control.job or "")
        if rt is not None:
            board.touched.add(rt.name)
        if rt is None or not board.current(rt.name):
            board.complete(control.id, now, result=f"unknown job {control.job!r}")
            return
        pending = Pending(control.requested_at, Trigger.MANUAL, control_id=control.id)
        accepted = self.occurrences.start_or_overlap(rt, pending, now)
        if not accepted and pending not in rt.pending:
            board.complete(control.id, now, result=f"skipped: {rt.name} is already running")

    def _cancel_targets(self, control: Control) -> list[int]:
        if control.run_id is not None:
            return [control.run_id] if control.run_id in self.board.by_run else []
        rt = self.board.jobs.get(control.job or "")
        return list(rt.running) if rt is not None else []
