"""``cronpy next``: the next fire times of a schedule, with the daylight-saving rule applied."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronpy.cli.commands.common import parse_instant
from cronpy.errors import UsageError
from cronpy.model.run import iso


@dataclass(frozen=True)
class NextResult:
    schedule: str
    timezone: str
    after: datetime  # UTC
    times: tuple[datetime, ...]  # aware, in ``zone``
    zone: ZoneInfo
    reboot: bool = False  # @reboot: once per boot, never at a clock time

    def to_json(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "timezone": self.timezone,
            "next": [iso(t) for t in self.times],
        }


def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f'unknown time zone {name!r}: expected an IANA name like "Europe/Berlin",'
            ' "America/New_York" or "UTC"'
        ) from None


def next_fire_times(
    schedule: str,
    *,
    tz: str | None,
    after: str | None,
    count: int,
    job: str,
    now: datetime,
) -> NextResult:
    """Fire times strictly after ``after`` (default ``now``); ``every`` schedules count their
    cadence from ``after``, as if the job first appeared then."""
    from cronpy.config import system_timezone
    from cronpy.schedule import parse_schedule

    if count < 1:
        raise UsageError(f"invalid -n {count}: expected how many times to show, 1 or more")
    zone = zone_named(tz) if tz is not None else system_timezone()
    start = (
        now.astimezone(UTC) if after is None else parse_instant(after, tz=zone, option="--after")
    )
    parsed = parse_schedule(schedule, tz=zone, job_name=job)
    times = parsed.next_times(start, count, anchor=start)
    return NextResult(
        schedule=schedule,
        timezone=zone.key,
        after=start,
        times=tuple(t.astimezone(zone) for t in times),
        zone=zone,
        reboot=parsed.is_reboot,
    )
