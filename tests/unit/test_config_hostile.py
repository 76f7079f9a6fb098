"""Hostile job files: the loader returns jobs or raises ConfigError, never anything else."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cronpy.config import parse_job_file
from cronpy.config.convert import JOB_KEYS as ALL_JOB_KEYS
from cronpy.errors import ConfigError
from cronpy.model import JobFile

HOSTILE = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

JOB_KEYS = sorted(ALL_JOB_KEYS)
SUB_KEYS = ["attempts", "backoff", "delay", "max_delay", "jitter", "runs", "age", "output"]
SUB_KEYS += ["days", "hours", "webhook", "email", "ping", "PATH", "1X"]

# Strings that are nearly right are where parsers break: real keywords, units, names.
NEARLY = st.sampled_from(
    [
        "",
        "0",
        "-1s",
        "1h30m",
        "90s",
        "10MiB",
        "1e99d",
        "mon-fri",
        "fri-mon",
        "sun-sun",
        "09:00-17:00",
        "24:00-00:00",
        "23:59-24:00",
        "@daily",
        "@reboot",
        "every 0s",
        "every 10s",
        "H H * * *",
        "0 3 * * *",
        "*/0 * * * *",
        "61 * * * *",
        "0 0 30 2 *",
        "* * * * * * *",
        "2026-12-24T18:00",
        "2026-02-30T00:00",
        "Europe/Berlin",
        "Mars/Olympus",
        "../../etc/passwd",
        "/bin/sh",
        "skip",
        "forbid",
        "exponential",
        "\x00",
        "\u202e",
        "a" * 10_000,
    ]
)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    NEARLY,
    st.datetimes(timezones=st.none() | st.just(UTC)),
    st.dates(),
    st.times(),
)
VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(SUB_KEYS) | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
JOB_NAMES = st.one_of(
    st.sampled_from(["a", "backup", "db-dump", "x.y", "-bad", "9", "caf\u00e9", " ", ""]),
    st.text(max_size=12),
)


# Values each key accepts: documents built from these mostly load, so the success path
# (building Job records) meets the same hostile neighbours as the error path.
GOOD: dict[str, list[Any]] = {
    "schedule": ["@daily", "every 10s", "H 3 * * *", "*/15 * * * * *", "@reboot"],
    "command": ["true", ["ls", "-l"]],
    "timezone": ["UTC", "Europe/Berlin", "Asia/Kolkata"],
    "shell": ["/bin/sh"],
    "missed": ["skip", "catch-up-once", "replay-all"],
    "missed_deadline": ["6h"],
    "overlap": ["forbid", "queue", "allow", "replace"],
    "timeout": ["1h", "90s"],
    "kill_grace": ["0s", "30s"],
    "retry": [{"attempts": 3, "backoff": "linear", "jitter": True}, {}],
    "jitter": ["2m", "0s"],
    "success_codes": [[0, 3]],
    "env": [{"A": "b", "_X": ""}],
    "env_file": ["/etc/cronpy/x.env"],
    "cwd": ["/tmp"],
    "user": ["nobody"],
    "window": [{"days": "fri-mon", "hours": ["22:00-06:00"]}, {"days": ["sat"]}],
    "max_runs": [5],
    "enabled": [False, True],
    "keep": [{"runs": 5, "age": "1d", "output": "1KiB"}],
    "on_failure": ["echo failed"],
    "on_success": ["echo ok"],
    "notify": [{"ping": "https://hc-ping.com/x", "email": "ops@example.com"}],
    "after": [[]],
}
GOOD_NAMES = st.text(st.sampled_from("abz09_.-"), min_size=1, max_size=8).filter(
    lambda n: n[0].isalnum()
)


def good_job() -> st.SearchStrategy[dict[str, Any]]:
    keys = st.lists(st.sampled_from(sorted(GOOD)), unique=True, max_size=8)
    pick = keys.flatmap(lambda ks: st.fixed_dictionaries({k: st.sampled_from(GOOD[k]) for k in ks}))
    return st.builds(lambda extra: {"schedule": "@daily", "command": "true", **extra}, pick)


def job_tables() -> st.SearchStrategy[dict[str, Any]]:
    """Mostly-valid jobs with some keys replaced by anything at all."""
    base = st.fixed_dictionaries(
        {},
        optional={
            "schedule": NEARLY | st.just("every 5m"),
            "command": st.just("true") | st.lists(st.text(max_size=5), max_size=3),
        },
    )
    wild = st.dictionaries(st.sampled_from(JOB_KEYS) | st.text(max_size=10), VALUES, max_size=5)
    return st.builds(lambda b, w: {**b, **w}, base, wild)


DOCUMENTS = st.fixed_dictionaries(
    {"jobs": st.dictionaries(JOB_NAMES, job_tables(), max_size=4) | VALUES},
    optional={
        "defaults": st.dictionaries(st.sampled_from(JOB_KEYS), VALUES, max_size=4) | VALUES,
        "cronpy": st.dictionaries(st.sampled_from(["store", "shutdown_grace"]), VALUES) | VALUES,
        "extra": VALUES,
    },
)
MOSTLY_GOOD = st.builds(
    lambda jobs, wild: {"jobs": {**jobs, **wild}},
    st.dictionaries(GOOD_NAMES, good_job(), min_size=1, max_size=5),
    st.dictionaries(JOB_NAMES, job_tables(), max_size=1),
)


def outcome(source: str | bytes) -> JobFile | ConfigError:
    try:
        return parse_job_file(source, "hostile.toml")
    except ConfigError as exc:
        assert exc.problems, "a ConfigError must say what is wrong"
        for problem in exc.problems:
            assert problem.message and problem.path == "hostile.toml"
            assert problem.line is None or problem.line >= 1
            str(problem)
        return exc


@HOSTILE
@given(DOCUMENTS)
def test_generated_documents_load_or_raise_config_error(doc: dict[str, Any]) -> None:
    text = tomli_w.dumps(doc)
    result = outcome(text)
    if isinstance(result, JobFile):
        assert list(result.jobs) == list(doc["jobs"])  # every job kept, in the file's order


@HOSTILE
@given(MOSTLY_GOOD)
def test_mostly_good_documents(doc: dict[str, Any]) -> None:
    result = outcome(tomli_w.dumps(doc))
    if isinstance(result, JobFile):
        assert list(result.jobs) == list(doc["jobs"])
        for name, job in result.jobs.items():
            command = doc["jobs"][name]["command"]
            assert job.name == name
            assert job.command == (tuple(command) if isinstance(command, list) else command)


@HOSTILE
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    outcome(data)


# Text made of TOML's own punctuation and keywords reaches deeper into the parser than noise.
TOML_ISH = st.lists(
    st.sampled_from(
        [
            *["[jobs.a]", "[defaults]", "[[jobs]]", "\n", "=", '"', "'''", "{", "}", "[", "]"],
            *["schedule", "command", "at", "after", "retry", "env", ".", " ", "#", "1", "true"],
            *['"@daily"', '"true"', "\\u0000", "\r\n", "\ufeff", "\u2028", "jobs.b.command", ","],
        ]
    )
    | st.text(max_size=3),
    max_size=60,
).map("".join)


@HOSTILE
@given(TOML_ISH)
def test_random_toml_like_text(text: str) -> None:
    outcome(text)


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=3000), st.sampled_from(["[", "{ a = "]))
def test_deep_nesting(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    outcome("x = " + opener * depth + "1" + closer * depth + "\n")


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_unicode_job_name(name: str) -> None:
    doc = {"jobs": {name: {"schedule": "@daily", "command": "true", "timezone": "UTC"}}}
    result = outcome(tomli_w.dumps(doc))
    if isinstance(result, ConfigError):
        assert any(p.job == name for p in result.problems)
    else:
        assert list(result.jobs) == [name]


def test_huge_strings() -> None:
    big = "x" * 2_000_000
    doc = {"jobs": {"a": {"schedule": big, "command": big, "timezone": big, "user": big}}}
    result = outcome(tomli_w.dumps(doc))
    assert isinstance(result, ConfigError)
    assert all(len(p.message) < 500 for p in result.problems)


def test_toml_value_kinds_for_every_key() -> None:
    """Every key given every TOML type: all wrong ones are reported, none crashes."""
    kinds: list[Any] = [True, 7, 1.5, "x", [1], {"k": 1}, datetime(2030, 1, 1), date(2030, 1, 1)]
    kinds.append(time(1, 2))
    for key in JOB_KEYS:
        for value in kinds:
            job = {"schedule": "@daily", "command": "true", key: value}
            outcome(tomli_w.dumps({"jobs": {"j": job}}))
