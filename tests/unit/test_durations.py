"""Durations and sizes are parsed strictly: one spelling per value, nothing guessed."""

from __future__ import annotations

import pytest

from cronpy.errors import DurationError
from cronpy.model.durations import format_duration, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("15m", 900.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("2d", 172_800.0),
        ("1w", 604_800.0),
        ("1d2h3m4s", 93_784.0),
        ("250ms", 0.25),
        ("1s500ms", 1.5),
        ("0s", 0.0),
        ("36h", 129_600.0),  # a unit may exceed the next one up
    ],
)
def test_valid_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text",
    [
        "1.5h",  # no fractions
        "h",  # no number
        "30",  # no unit
        "1m1h",  # largest unit first
        "1h1h",  # each unit once
        "1h 30m",  # no inner space
        " 5s",  # no surrounding space
        "5s ",
        "",
        "-5s",
        "5S",  # units are lower case
        "5 s",
        "5sec",
        "1y",
        "+5s",
    ],
)
def test_invalid_durations_are_rejected(text: str) -> None:
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert repr(text) in str(info.value)


def test_duration_error_says_what_is_expected() -> None:
    with pytest.raises(DurationError, match=r'like "90s", "15m", "1h30m" or "2d"'):
        parse_duration("ninety seconds")
    with pytest.raises(DurationError, match="largest first"):
        parse_duration("30m1h")


def test_non_string_duration_is_rejected() -> None:
    with pytest.raises(DurationError):
        parse_duration(90)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512KiB", 524_288),
        ("10MiB", 10_485_760),
        ("1GiB", 1_073_741_824),
        ("1GB", 1_000_000_000),
        ("4096B", 4096),
        ("2KB", 2000),
    ],
)
def test_valid_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["512", "1.5MiB", "10mib", "KiB", "10 TiB", "-1B", "1MiB1KiB", ""])
def test_invalid_sizes_are_rejected(text: str) -> None:
    with pytest.raises(DurationError, match=r"invalid size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "0.25s"),
        (3, "3s"),
        (42, "42s"),
        (185, "3m05s"),
        (3720, "1h02m"),
        (183_600, "2d03h"),
        (-42, "-42s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
