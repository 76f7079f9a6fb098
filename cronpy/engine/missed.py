"""What to do with occurrences nobody could run: the ``missed`` policy as a pure function.

Given a job, the range of occurrences that passed while no runner was up (or the machine
slept, or the job was paused), and the current time, ``plan`` says which ``missed`` records to
write and which catch-up starts to make. It touches no store and reads no clock, so the
policies are tested as plain data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cronpy.digest import blake2b
from cronpy.model import Job, Missed

REPLAY_LIMIT = 100
_TINY = timedelta(microseconds=1)


@dataclass(frozen=True)
class MissedRecord:
    scheduled_at: datetime  # the occurrence the record is filed under
    count: int  # how many occurrences it stands for
    reason: str
    cursor: datetime | None  # saved with the record: what it accounts for (None: not moved)


@dataclass(frozen=True)
class CatchUp:
    scheduled_at: datetime
    not_before: datetime  # spread by the job's jitter


@dataclass(frozen=True)
class MissedPlan:
    records: tuple[MissedRecord, ...]
    starts: tuple[CatchUp, ...]
    cursor: datetime  # every occurrence up to here is handled by this plan


def jitter_offset(job: Job, occurrence: datetime) -> timedelta:
    """A delay in [0, job.jitter) fixed per occurrence, so a restart does not re-draw it."""
    if job.jitter <= 0:
        return timedelta(0)
    digest = blake2b(f"{job.name}@{occurrence.isoformat()}".encode(), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / 2**64
    return timedelta(seconds=fraction * job.jitter)


def missed_range(
    job: Job, *, first_seen: datetime, start: datetime, end: datetime, reason: str
) -> MissedRecord | None:
    """One record for every occurrence in (start, end], filed under the latest; None if none."""
    _, total = job.schedule.count_between(start, end, anchor=first_seen, limit=0)
    if not total:
        return None
    latest = job.schedule.previous_fire(end, not_before=start + _TINY, anchor=first_seen)
    return MissedRecord(latest or end, total, reason, end)


def plan(
    job: Job, *, first_seen: datetime, start: datetime, end: datetime, now: datetime, reason: str
) -> MissedPlan:
    """Apply ``job.missed`` to the occurrences in (start, end]."""
    eligible_from = start
    if job.missed is not Missed.SKIP and job.missed_deadline is not None:
        eligible_from = max(start, now - timedelta(seconds=job.missed_deadline))
    records: list[MissedRecord] = []

    def add_range(low: datetime, high: datetime, why: str) -> None:
        record = missed_range(job, first_seen=first_seen, start=low, end=high, reason=why)
        if record is not None:
            records.append(record)

    if job.missed is Missed.SKIP or eligible_from >= end:
        add_range(start, end, reason)
        return MissedPlan(tuple(records), (), end)
    if eligible_from > start:
        add_range(start, eligible_from, reason + ", past missed_deadline")
    if job.missed is Missed.CATCH_UP_ONCE:
        latest = job.schedule.previous_fire(
            end, not_before=eligible_from + _TINY, anchor=first_seen
        )
        if latest is None:
            return MissedPlan(tuple(records), (), end)
        first, total = job.schedule.count_between(
            eligible_from, latest - _TINY, anchor=first_seen, limit=1
        )
        if total:  # the others, coalesced into the one catch-up run
            records.append(MissedRecord(first[0], total, f"{reason}; caught up once", None))
        start_at = CatchUp(latest, now + jitter_offset(job, latest))
        return MissedPlan(tuple(records), (start_at,), latest)
    occurrences, total = job.schedule.count_between(
        eligible_from, end, anchor=first_seen, limit=REPLAY_LIMIT
    )
    starts = tuple(CatchUp(o, now + jitter_offset(job, o)) for o in occurrences)
    if total > len(occurrences):
        add_range(occurrences[-1], end, f"{reason}; more than {REPLAY_LIMIT} to replay")
    return MissedPlan(tuple(records), starts, end)
