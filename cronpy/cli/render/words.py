"""How views put times, durations and run outcomes into words, and which colour each status
wears. Shared by every view, and by ``cronpy trigger --wait`` for its closing line."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, tzinfo

from cronpy.model import Run, Status
from cronpy.model.durations import format_duration


def when(moment: datetime | None, zone: tzinfo | None = None, *, short: bool = False) -> str:
    """An instant in ``zone``: the one zone the command shows times in (the viewer's local
    zone, or UTC with --utc; see ``shown_zone``). JSON carries exact offsets instead.

    The long form names the zone (``2026-03-02 03:00:00 CET``), as ``systemctl list-timers``
    does. ``short`` is for table cells, which a caption under the table labels (``zone_note``):
    the time alone for today, month and day for this year, the full date otherwise."""
    if moment is None:
        return "-"
    local = moment.astimezone(zone)
    if not short:
        return local.strftime("%Y-%m-%d %H:%M:%S %Z")
    # The short forms without strftime: a table of 1,000 rows formats 2,000 of them, and
    # strftime costs three times as much. Python never sets LC_TIME, so strftime's
    # %b is the C locale's English month too.
    today = _today(local.tzinfo)
    if local.date() == today:
        return f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    if local.year == today.year:
        return f"{_MONTHS[local.month - 1]} {local.day:02d} {local.hour:02d}:{local.minute:02d}"
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d} {local.hour:02d}:{local.minute:02d}"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


_TODAY: dict[tzinfo | None, tuple[float, date]] = {}


def _today(zone: tzinfo | None) -> date:
    """Today's date in ``zone``, read from the clock at most once a second: a table of a
    thousand rows asks for it two thousand times."""
    now = time.monotonic()
    known = _TODAY.get(zone)
    if known is None or now - known[0] >= 1.0:
        known = _TODAY[zone] = (now, datetime.now(zone).date())
    return known[1]


def zone_name(zone: tzinfo | None) -> str:
    key = getattr(zone, "key", None)
    return str(key) if key else datetime.now(zone).astimezone(zone).strftime("%Z")


def zone_note(zone: tzinfo | None) -> str:
    """The caption that labels a table's times."""
    if zone_name(zone) in ("UTC", "Etc/UTC"):
        return "Times in UTC."
    return f"Times in {zone_name(zone)} (local); --utc for UTC."


def relative(moment: datetime, now: datetime) -> str:
    seconds = (moment - now).total_seconds()
    if seconds >= 0:
        return f"in {format_duration(seconds)}"
    return f"{format_duration(-seconds)} ago"


def duration(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


def utc_offset(delta: timedelta | None) -> str:
    """``+05:30``, ``-04:00``; ``?`` for a time without one."""
    if delta is None:
        return "?"
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


STATUS_STYLE = {
    Status.RUNNING: "cyan",
    Status.SUCCEEDED: "green",
    Status.FAILED: "red",
    Status.TIMED_OUT: "red",
    Status.KILLED: "red",
    Status.SPAWN_ERROR: "red",
    Status.LOST: "red",
    Status.SKIPPED: "yellow",
    Status.MISSED: "yellow",
    Status.CANCELLED: "magenta",
}

STRIP_LETTER = {
    Status.SUCCEEDED: "S",
    Status.FAILED: "F",
    Status.TIMED_OUT: "T",
    Status.KILLED: "K",
    Status.SPAWN_ERROR: "E",
    Status.LOST: "L",
    Status.SKIPPED: "-",
    Status.MISSED: "M",
    Status.CANCELLED: "C",
    Status.RUNNING: "R",
}


def exit_text(run: Run) -> str:
    if run.signal is not None:
        return _signal_name(run.signal)
    return "-" if run.exit_code is None else str(run.exit_code)


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def outcome(run: Run) -> str:
    """``failed (exit 3)``, ``killed (SIGKILL)``, ``skipped (paused)``..."""
    detail = None
    if run.status in (Status.FAILED, Status.SUCCEEDED) and run.exit_code is not None:
        detail = f"exit {run.exit_code}" if run.status is Status.FAILED else None
    elif run.signal is not None:
        detail = _signal_name(run.signal)
    elif run.status is Status.MISSED and run.missed_count:
        detail = f"{run.missed_count}x"
    elif run.reason and run.status is Status.SKIPPED:
        detail = run.reason
    return run.status.value + (f" ({detail})" if detail else "")


def end_marker(run: Run) -> str:
    """The last line of a followed run: ``[cronpy: run 12 succeeded, exit 0, 1.2s]``."""
    parts = [f"run {run.id} {outcome(run)}"]
    if run.exit_code is not None and run.status is not Status.FAILED:  # failed says it already
        parts.append(f"exit {run.exit_code}")
    if run.duration is not None:
        parts.append(format_duration(run.duration))
    return f"[cronpy: {', '.join(parts)}]"
