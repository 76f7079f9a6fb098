"""Pending retries in the jobs table's text column: a JSON list of [scheduled_at, attempt,
due_at], times in microseconds since the epoch (UTC). Since the retries table (SQLite v8,
PostgreSQL v6) the column is only written; reads take the table's rows (``overlay``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cronpy.model import JobState, RetryDue

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _us(when: datetime) -> int:
    if when.utcoffset() is None:
        raise ValueError(f"naive datetime {when.isoformat()}: the store takes aware datetimes")
    return (when - _EPOCH) // _MICROSECOND


def encode(retries: Sequence[RetryDue]) -> str:
    if not retries:  # nearly every job: no json.dumps per saved row
        return "[]"
    import json  # here and below: `cronpy status` reads "[]" for almost every job

    return json.dumps([[_us(r.scheduled_at), r.attempt, _us(r.due_at)] for r in retries])


def decode(text: str | None) -> tuple[RetryDue, ...]:
    if not text or text == "[]":  # most jobs: no json.loads per row (status reads them all)
        return ()
    import json

    return tuple(
        RetryDue(_EPOCH + s * _MICROSECOND, int(a), _EPOCH + d * _MICROSECOND)
        for s, a, d in json.loads(text)
    )


def overlay(
    states: dict[str, JobState], rows: Mapping[str, tuple[RetryDue, ...]]
) -> dict[str, JobState]:
    """The job states with their pending retries as the retries table holds them: the column
    is what one runner last saved from memory, which another runner's plan may have outrun."""
    # nearly every job has neither: one cheap pass (status reads 100,000 jobs)
    stale = [name for name, state in states.items() if state.retries and name not in rows]
    for name in stale:
        states[name] = replace(states[name], retries=())
    for name, kept in rows.items():
        state = states.get(name)
        if state is not None and state.retries != kept:
            states[name] = replace(state, retries=kept)
    return states
