"""Helpers the commands share: opening the state, reading times and job names from the user."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from cronpy.errors import DurationError, NoRunnerError, StateError, UsageError, did_you_mean

if TYPE_CHECKING:
    from cronpy.interfaces import Store
    from cronpy.model import JobState, RunnerInfo
    from cronpy.runtime.statedir import Holder


def open_state(state_dir: Path, *, write: bool = False, url: str | None = None) -> Store:
    """The store of ``state_dir``: ``url`` (--store, CRONPY_STORE), else the shared store its
    runner uses (it notes the URL in runner.json), else its SQLite file. Never creates one:
    commands other than ``run`` only make sense against state a runner has made, and a fresh
    empty database would hide a wrong ``--state-dir`` behind "no jobs"."""
    from cronpy.runtime.statedir import db_path, read_holder
    from cronpy.store import open_store

    if url is None:
        holder = read_holder(state_dir)
        url = holder.get("store") if holder is not None else None
    if url is not None:
        return open_store(state_dir, url, readonly=not write)

    if not db_path(state_dir).exists():
        raise StateError(
            f"no cronpy state in {state_dir}: no runner has used this state directory yet;"
            " start one with `cronpy run FILE`, or name the right one with --state-dir"
            " (or CRONPY_STATE_DIR)"
        )
    return open_store(state_dir, readonly=not write)


def require_runner(state_dir: Path, what: str, store: Store | None = None) -> Holder:
    """The live runner's holder info, or NoRunnerError (exit 3) saying what could not be done.
    With a shared store, any runner whose heartbeat is fresh will do, on any host."""
    from cronpy.runtime.statedir import Holder, runner_alive

    if store is not None and store.shared:
        live = shared_runners(store)
        if not live:
            raise NoRunnerError(f"no runner is heartbeating on the shared store; {what}")
        first = live[0]
        return Holder(pid=first.pid, host=first.host, started_at=first.started_at.isoformat())
    holder = runner_alive(state_dir)
    if holder is None:
        raise NoRunnerError(f"no runner is running on {state_dir}; {what}")
    return holder


def shared_runners(store: Store) -> list[RunnerInfo]:
    """The runners of a shared store whose heartbeat is fresh (within a lease)."""
    from cronpy.runtime.fleet import silent

    now = datetime.now(UTC)
    return [r for r in store.live_runners() if not silent(r, now)]


def runner_up(store: Store, state_dir: Path) -> bool:
    from cronpy.runtime.statedir import runner_alive

    if store.shared:
        return bool(shared_runners(store))
    return runner_alive(state_dir) is not None


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

# Instants typed at the command line must lie in this range: anything beyond is a typo, and
# near datetime's own limits (year 1 and 9999) adding a day or an offset overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
LONGEST = LATEST - EARLIEST  # the longest duration anything may span
MAX_ID = 2**63 - 1  # run ids are SQLite integers
MAX_COUNT = 1_000_000_000  # -n: more rows than any terminal or script wants at once


def parse_instant(text: str, *, tz: tzinfo, option: str) -> datetime:
    """An ISO 8601 time as a UTC instant. A naive time is a wall time in ``tz``; a wall time
    the clock skips (spring forward) lands after the jump, as zoneinfo maps it."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(
            f"invalid {option} {text!r}: expected an ISO 8601 time, like {_ISO_EXAMPLES}"
        ) from None
    # the year first: converting a wall time next to year 1 or 9999 to UTC overflows
    if EARLIEST.year <= when.year < LATEST.year:
        if when.tzinfo is None:
            when = when.replace(tzinfo=tz)
        when = when.astimezone(UTC)
    if not EARLIEST <= when.replace(tzinfo=when.tzinfo or UTC) < LATEST:
        raise UsageError(
            f"invalid {option} {text!r}: expected a time between {EARLIEST.year} and"
            f" {LATEST.year - 1}"
        )
    return when


def parse_span(text: str, *, option: str) -> timedelta:
    """A duration typed at the command line (``--for 2h``), at most ``LONGEST``."""
    from cronpy.model.durations import parse_duration

    try:
        seconds = parse_duration(text.strip())
    except DurationError as exc:
        raise UsageError(f"invalid {option}: {exc}") from None
    if seconds > LONGEST.total_seconds():
        raise UsageError(
            f"invalid {option} {text!r}: expected at most {LONGEST.days}d (until {LATEST.year})"
        )
    return timedelta(seconds=seconds)


def parse_since(text: str, *, now: datetime, tz: tzinfo, option: str = "--since") -> datetime:
    """``2h`` (that long before ``now``) or an ISO 8601 time."""
    from cronpy.model.durations import parse_duration

    try:
        seconds = parse_duration(text.strip())
    except DurationError:
        pass
    else:
        if seconds > (now - EARLIEST).total_seconds():
            raise UsageError(
                f"invalid {option} {text!r}: that is before {EARLIEST.year}; nothing was recorded"
                " then"
            )
        return now - timedelta(seconds=seconds)
    try:
        return parse_instant(text, tz=tz, option=option)
    except UsageError as exc:
        if "between" in str(exc):
            raise
        raise UsageError(
            f'invalid {option} {text!r}: expected a duration before now, like "2h" or "3d",'
            f" or an ISO 8601 time, like {_ISO_EXAMPLES}"
        ) from None


def check_run_id(number: int, option: str = "RUN") -> int:
    if not 1 <= number <= MAX_ID:
        raise UsageError(f"invalid {option} {number}: expected a run id from 1 to {MAX_ID}")
    return number


def check_count(number: int, option: str = "-n") -> int:
    if not 1 <= number <= MAX_COUNT:
        raise UsageError(f"invalid {option} {number}: expected a number from 1 to {MAX_COUNT:,}")
    return number


def local_zone() -> tzinfo:
    """The zone naive times typed at the command line are read in, and shown in: the system's
    (a real zone, not today's fixed offset, so a time across a DST change is read right)."""
    from cronpy.config import system_timezone

    return system_timezone()


def shown_zone(utc: bool) -> tzinfo:
    """The one zone a command shows times in and reads naive times in (README: "Times"):
    the viewer's local zone, or UTC with ``--utc``."""
    return UTC if utc else local_zone()
