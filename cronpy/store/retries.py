"""Pending retries as both stores keep them: one text column per job holding a JSON list of
[scheduled_at, attempt, due_at], times in microseconds since the epoch (UTC)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from cronpy.model import RetryDue

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
