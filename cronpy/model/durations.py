"""Strict parsing of durations ("90s", "1h30m", "2d") and sizes ("512KiB", "10MiB")."""

from __future__ import annotations

import re

from cronpy.errors import DurationError

_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_DURATION_WHOLE = re.compile(r"(?:\d+(?:ms|s|m|h|d|w))+")

_SIZE_UNITS = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}
_SIZE = re.compile(r"(\d+)(B|KB|MB|GB|KiB|MiB|GiB)")


def parse_duration(text: str) -> float:
    """Seconds in ``text``: one or more ``<int><unit>`` parts, units ms s m h d w, largest first."""
    if not isinstance(text, str) or not _DURATION_WHOLE.fullmatch(text):
        raise DurationError(
            f"invalid duration {text!r}: expected a number and a unit, "
            'like "90s", "15m", "1h30m" or "2d" (units: ms, s, m, h, d, w)'
        )
    parts = _DURATION_PART.findall(text)
    units = [u for _, u in parts]
    order = [_UNIT_SECONDS[u] for u in units]
    if len(set(units)) != len(units) or order != sorted(order, reverse=True):
        raise DurationError(
            f'invalid duration {text!r}: each unit may appear once, largest first (as in "1h30m")'
        )
    return float(sum(int(n) * _UNIT_SECONDS[u] for n, u in parts))


def parse_size(text: str) -> int:
    """Bytes in ``text``, e.g. "512KiB", "10MiB", "1GB", "4096B"."""
    match = _SIZE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise DurationError(
            f"invalid size {text!r}: expected a whole number and a unit, "
            'like "512KiB", "10MiB" or "1GB" (units: B, KB, MB, GB, KiB, MiB, GiB)'
        )
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def format_duration(seconds: float) -> str:
    """A short human form: 0.25s, 42s, 3m05s, 1h02m, 2d03h."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 10:
        return f"{seconds:.2f}s".replace(".00s", "s")
    if seconds < 60:
        return f"{seconds:.0f}s"
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours:02d}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"
