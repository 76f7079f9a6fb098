"""Helpers the commands share: opening the state, reading times and job names from the user."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from cronpy.errors import DurationError, NoRunnerError, StateError, UsageError, did_you_mean

if TYPE_CHECKING:
    from cronpy.interfaces import Store
    from cronpy.model import JobState
    from cronpy.runtime.statedir import Holder


def open_state(state_dir: Path, *, write: bool = False) -> Store:
    """The store of ``state_dir``. Never creates one: commands other than ``run`` only make
    sense against state a runner has made, and a fresh empty database would hide a wrong
    ``--state-dir`` behind "no jobs"."""
    from cronpy.runtime.statedir import db_path
    from cronpy.store import open_store

    if not db_path(state_dir).exists():
        raise StateError(
            f"no cronpy state in {state_dir}: no runner has used this state directory yet;"
            " start one with `cronpy run FILE`, or name the right one with --state-dir"
            " (or CRONPY_STATE_DIR)"
        )
    return open_store(state_dir, readonly=not write)


def require_runner(state_dir: Path, what: str) -> Holder:
    """The live runner's holder info, or NoRunnerError (exit 3) saying what could not be done."""
    from cronpy.runtime.statedir import runner_alive

    holder = runner_alive(state_dir)
    if holder is None:
        raise NoRunnerError(f"no runner is running on {state_dir}; {what}")
    return holder


def wake(store: Store, state_dir: Path, now: datetime) -> bool:
    """Tell the runner that pauses changed: a persisted WAKE control plus a nudge on its socket."""
    from cronpy.model import ControlKind
    from cronpy.runtime.statedir import send_wake

    store.push_control(ControlKind.WAKE, now)
    return send_wake(state_dir)


def check_jobs(names: Iterable[str], states: Mapping[str, JobState], where: Path) -> list[str]:
    """``names`` in order, without duplicates; any name the state does not know is a UsageError
    listing every unknown one with a did-you-mean hint."""
    wanted = list(dict.fromkeys(names))
    unknown = [n for n in wanted if n not in states]
    if unknown:
        parts = [f"{n!r}{did_you_mean(n, states)}" for n in unknown]
        known = ", ".join(sorted(n for n, s in states.items() if s.present)) or "none"
        raise UsageError(
            f"unknown job {', '.join(parts)}: the state in {where} has no such job"
            f" (known jobs: {known})"
        )
    return wanted


_ISO_EXAMPLES = '"2026-03-08T03:00", "2026-03-08T03:00:00+01:00" or "2026-03-08T02:00Z"'


def parse_instant(text: str, *, tz: tzinfo, option: str) -> datetime:
    """An ISO 8601 time as a UTC instant. A naive time is a wall time in ``tz``; a wall time
    the clock skips (spring forward) lands after the jump, as zoneinfo maps it."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"invalid {option} {text!r}: expected an ISO 8601 time, like {_ISO_EXAMPLES}"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.astimezone(UTC)


def parse_since(text: str, *, now: datetime, tz: tzinfo, option: str = "--since") -> datetime:
    """``2h`` (that long before ``now``) or an ISO 8601 time."""
    from cronpy.model.durations import parse_duration

    try:
        return now - timedelta(seconds=parse_duration(text.strip()))
    except DurationError:
        pass
    try:
        return parse_instant(text, tz=tz, option=option)
    except UsageError:
        raise UsageError(
            f'invalid {option} {text!r}: expected a duration before now, like "2h" or "3d",'
            f" or an ISO 8601 time, like {_ISO_EXAMPLES}"
        ) from None


def local_zone() -> tzinfo:
    """The zone naive times typed at the command line are read in, and shown in: the system's
    (a real zone, not today's fixed offset, so a time across a DST change is read right)."""
    from cronpy.config import system_timezone

    return system_timezone()
