"""The job file: every key parsed and typed, defaults merged, every problem located and reported."""

from __future__ import annotations

import os
import stat
import textwrap
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from cronpy.config import load_job_file, parse_job_file, system_timezone
from cronpy.config.convert import JOB_KEYS
from cronpy.errors import ConfigError, Problem
from cronpy.model import (
    Backoff,
    Environment,
    JobFile,
    Keep,
    Missed,
    Notify,
    Overlap,
    Retry,
    RunnerSettings,
    Window,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "jobs.toml"


def parse(text: str) -> JobFile:
    return parse_job_file(textwrap.dedent(text), "jobs.toml")


def problems(text: str | bytes) -> list[Problem]:
    source = textwrap.dedent(text) if isinstance(text, str) else text
    with pytest.raises(ConfigError) as info:
        parse_job_file(source, "jobs.toml")
    return list(info.value.problems)


def only(text: str) -> Problem:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


FULL = """\
[cronpy]
store = "sqlite:///var/lib/cronpy/shared.db"
shutdown_grace = "45s"

[jobs.backup]
schedule = "0 3 * * *"
command = "restic backup /home"
timezone = "Europe/Berlin"
shell = "/bin/bash"
missed = "catch-up-once"
missed_deadline = "6h"
overlap = "queue"
timeout = "2h"
kill_grace = "30s"
retry = { attempts = 3, backoff = "linear", delay = "30s", max_delay = "10m", jitter = true }
jitter = "2m"
success_codes = [0, 3]
env = { RESTIC_REPOSITORY = "/mnt/backup" }
env_file = "/etc/cronpy/backup.env"
environment = "minimal"
cwd = "/srv"
user = "backup"
window = { days = "mon-fri", hours = ["09:00-12:00", "13:00-17:00"] }
max_runs = 10
enabled = false
after = ["db-dump"]
keep = { runs = 500, age = "90d", output = "1MiB" }
on_failure = "notify-send failed"
on_dead = "echo dead"
on_recovery = "echo recovered"
on_success = "echo ok"
hook_timeout = "2m"
notify = { webhook = "https://hook", email = "ops@example.com", ping = "https://ping" }

[jobs.db-dump]
at = ["2030-12-24T18:00"]
command = ["pg_dump", "-f", "/tmp/x"]
"""


def test_every_key_is_accepted_and_typed() -> None:
    job_file = parse_job_file(FULL, "jobs.toml")
    assert list(job_file.jobs) == ["backup", "db-dump"]
    assert job_file.settings == RunnerSettings(
        store="sqlite:///var/lib/cronpy/shared.db", shutdown_grace=45.0
    )
    job = job_file.jobs["backup"]
    assert job.name == "backup"
    assert job.schedule.text == "0 3 * * *"
    assert job.command == "restic backup /home"
    assert job.timezone == ZoneInfo("Europe/Berlin")
    assert job.shell == "/bin/bash"
    assert job.argv == ["/bin/bash", "-c", "restic backup /home"]
    assert job.missed is Missed.CATCH_UP_ONCE
    assert job.missed_deadline == 6 * 3600
    assert job.overlap is Overlap.QUEUE
    assert job.timeout == 7200
    assert job.kill_grace == 30
    assert job.retry == Retry(
        attempts=3, backoff=Backoff.LINEAR, delay=30, max_delay=600, jitter=True
    )
    assert job.jitter == 120
    assert job.success_codes == frozenset({0, 3})
    assert dict(job.env) == {"RESTIC_REPOSITORY": "/mnt/backup"}
    assert job.env_file == Path("/etc/cronpy/backup.env")
    assert job.environment is Environment.MINIMAL
    assert job.cwd == Path("/srv")
    assert job.user == "backup"
    assert job.window == Window(
        days=frozenset(range(5)), hours=((time(9), time(12)), (time(13), time(17)))
    )
    assert job.max_runs == 10
    assert job.enabled is False
    assert job.after == ("db-dump",)
    assert job.keep == Keep(runs=500, age=90 * 86400, output=1024 * 1024)
    assert (job.on_failure, job.on_dead, job.on_recovery, job.on_success) == (
        "notify-send failed",
        "echo dead",
        "echo recovered",
        "echo ok",
    )
    assert job.hook_timeout == 120
    assert job.notify == Notify(
        webhook="https://hook", email="ops@example.com", ping="https://ping"
    )

    dump = job_file.jobs["db-dump"]
    assert dump.command == ("pg_dump", "-f", "/tmp/x")
    assert dump.argv == ["pg_dump", "-f", "/tmp/x"]


def test_unset_keys_take_the_model_defaults() -> None:
    job = parse(
        """
        [jobs.a]
        schedule = "@daily"
        command = "true"
        timezone = "UTC"
        """
    ).jobs["a"]
    assert (job.missed, job.overlap, job.retry, job.keep) == (
        Missed.SKIP,
        Overlap.FORBID,
        Retry(),
        Keep(),
    )
    assert job.window is None and job.notify is None and job.timeout is None
    assert job.hook_timeout == 60
    assert job.enabled is True and job.after == () and dict(job.env) == {}
    assert job.environment is Environment.INHERIT


def test_environment_is_a_job_or_defaults_key_with_two_values() -> None:
    job_file = parse(
        """
        [defaults]
        environment = "minimal"
        [jobs.a]
        schedule = "@daily"
        command = "true"
        [jobs.b]
        schedule = "@daily"
        command = "true"
        environment = "inherit"
        """
    )
    assert job_file.jobs["a"].environment is Environment.MINIMAL
    assert job_file.jobs["b"].environment is Environment.INHERIT
    problem = only('[jobs.a]\nschedule = "@daily"\ncommand = "true"\nenvironment = "minimul"\n')
    assert problem.key == "environment"
    assert "expected one of inherit, minimal; got 'minimul'" in problem.message
    assert "did you mean 'minimal'" in problem.message


def test_env_is_read_only() -> None:
    job = parse_job_file(FULL).jobs["backup"]
    with pytest.raises(TypeError):
        job.env["X"] = "y"  # type: ignore[index]


def test_defaults_apply_and_jobs_override_them() -> None:
    job_file = parse(
        """
        [defaults]
        timezone = "Asia/Tokyo"
        timeout = "1h"
        overlap = "allow"
        env = { A = "default-a", B = "default-b" }
        retry = { attempts = 4, delay = "1m" }
        keep = { runs = 10 }
        notify = { email = "ops@example.com" }
        window = { days = "sat-sun" }
        hook_timeout = "30s"

        [jobs.plain]
        schedule = "@daily"
        command = "true"

        [jobs.own]
        schedule = "@daily"
        command = "true"
        timeout = "5m"
        timezone = "UTC"
        env = { B = "own-b", C = "own-c" }
        retry = { backoff = "constant" }
        keep = { output = "4KiB" }
        notify = { ping = "https://ping" }
        window = { hours = ["09:00-10:00"] }
        hook_timeout = "1m30s"
        """
    )
    plain, own = job_file.jobs["plain"], job_file.jobs["own"]
    assert plain.timezone == ZoneInfo("Asia/Tokyo") and plain.timeout == 3600
    assert plain.overlap is Overlap.ALLOW and own.overlap is Overlap.ALLOW
    assert dict(plain.env) == {"A": "default-a", "B": "default-b"}
    assert plain.retry == Retry(attempts=4, delay=60)
    assert plain.window == Window(days=frozenset({5, 6}))
    assert plain.hook_timeout == 30 and own.hook_timeout == 90

    assert own.timezone == ZoneInfo("UTC") and own.timeout == 300
    assert dict(own.env) == {"A": "default-a", "B": "own-b", "C": "own-c"}
    # Tables merge key by key: the default attempts and delay stay.
    assert own.retry == Retry(attempts=4, delay=60, backoff=Backoff.CONSTANT)
    assert own.keep == Keep(runs=10, output=4096)
    assert own.notify == Notify(email="ops@example.com", ping="https://ping")
    # A window is one rule: the job's replaces the default's entirely.
    assert own.window == Window(hours=((time(9), time(10)),))


def test_per_job_keys_cannot_be_defaults() -> None:
    problem = only(
        """
        [defaults]
        schedule = "@daily"

        [jobs.a]
        schedule = "@daily"
        command = "true"
        """
    )
    assert problem.key == "defaults.schedule" and problem.job is None
    assert "cannot be a default" in problem.message
    assert problem.line == 3


def test_missing_timezone_means_the_system_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    job = parse('[jobs.a]\nschedule = "@daily"\ncommand = "true"\n').jobs["a"]
    assert job.timezone == ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("tz_env", "expected"),
    [
        ("Europe/Paris", "Europe/Paris"),
        (":Europe/Paris", "Europe/Paris"),  # glibc's "read this file" form
        ("/usr/share/zoneinfo/Asia/Tokyo", "Asia/Tokyo"),
    ],
)
def test_system_timezone_reads_tz(
    monkeypatch: pytest.MonkeyPatch, tz_env: str, expected: str
) -> None:
    monkeypatch.setenv("TZ", tz_env)
    assert system_timezone() == ZoneInfo(expected)


def test_system_timezone_ignores_an_unknown_tz(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Mars/Olympus")
    zone = system_timezone()
    assert zone.key != "Mars/Olympus"
    monkeypatch.delenv("TZ")
    assert zone == system_timezone()


def test_window_days_and_hours_forms() -> None:
    job_file = parse(
        """
        [jobs.a]
        schedule = "@daily"
        command = "true"
        window = { days = ["mon,wed", "fri-mon"], hours = ["22:00-06:00", "12:00-24:00"] }

        [jobs.b]
        schedule = "@daily"
        command = "true"
        window = { days = "Tuesday" }
        """
    )
    window = job_file.jobs["a"].window
    assert window is not None
    assert window.days == frozenset({0, 2, 4, 5, 6})
    # Over midnight becomes two ranges; 24:00 is the end of the day.
    assert window.hours == (
        (time(22), time.max),
        (time(0), time(6)),
        (time(12), time.max),
    )
    assert job_file.jobs["b"].window == Window(days=frozenset({1}))


def test_at_accepts_toml_datetimes() -> None:
    job = parse(
        """
        [jobs.once]
        at = [2030-01-01T10:00:00, "2030-01-02T10:00"]
        command = "true"
        timezone = "UTC"
        """
    ).jobs["once"]
    assert job.schedule is not None


def test_dotted_keys_and_table_order() -> None:
    job_file = parse(
        """
        [jobs.zeta]
        schedule = "@daily"
        command = "true"

        [jobs]
        alpha.schedule = "@hourly"
        alpha.command = "true"
        """
    )
    assert list(job_file.jobs) == ["zeta", "alpha"]


def test_a_byte_order_mark_is_tolerated() -> None:
    data = '\ufeff[jobs.a]\nschedule = "@daily"\ncommand = "true"\n'.encode()
    assert list(parse_job_file(data).jobs) == ["a"]


# --- problems ------------------------------------------------------------------------------


def test_unknown_key_suggests_the_closest() -> None:
    problem = only(
        """
        [jobs.backup]
        schedual = "0 3 * * *"
        command = "true"
        """
    )
    # The missing schedule is not reported twice: 'schedual' is the explanation.
    assert problem.message == "unknown key 'schedual' (did you mean 'schedule'?)"
    assert (problem.job, problem.key, problem.line, problem.column) == (
        "backup",
        "schedual",
        3,
        1,
    )
    assert str(problem).startswith("jobs.toml:3:1: job 'backup', key 'schedual': unknown key")


def test_unknown_keys_in_inline_tables_and_top_level() -> None:
    found = problems(
        """
        [job.a]
        x = 1

        [jobs.b]
        schedule = "@daily"
        command = "true"
        retry = { attempts = 2, delya = "1m" }
        """
    )
    by_key = {p.key: p for p in found}
    assert "did you mean 'jobs'?" in by_key["job"].message and by_key["job"].line == 2
    delya = by_key["retry.delya"]
    assert delya.job == "b" and "did you mean 'delay'?" in delya.message
    assert (delya.line, delya.column) == (8, 25)


@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        ("max_runs = true", "max_runs", "expected an integer >= 1, got boolean True"),
        ("max_runs = 0", "max_runs", "expected an integer >= 1, got integer 0"),
        ("enabled = 1", "enabled", "expected true or false, got integer 1"),
        ('timeout = "soon"', "timeout", "invalid duration 'soon'"),
        ("timeout = 30", "timeout", "expected a duration string"),
        ('timeout = "0s"', "timeout", "greater than zero"),
        ('timeout = "999999999d"', "timeout", "at most 100 years"),
        ('kill_grace = "1m1h"', "kill_grace", "largest first"),
        ('hook_timeout = "500ms"', "hook_timeout", "at least 1s, got '500ms'"),
        ('hook_timeout = "0s"', "hook_timeout", "at least 1s, got '0s'"),
        ("hook_timeout = 60", "hook_timeout", "expected a duration string"),
        ('hook_timeout = "soon"', "hook_timeout", "invalid duration 'soon'"),
        ('keep = { output = "lots" }', "keep.output", "invalid size 'lots'"),
        ("keep = { runs = 1.5 }", "keep.runs", "expected an integer >= 1, got float 1.5"),
        ('keep = "forever"', "keep", "expected a table with keys runs, age, output"),
        ('missed = "catchup"', "missed", "expected one of skip, catch-up-once, replay-all"),
        ('overlap = "parallel"', "overlap", "expected one of forbid, queue, allow, replace"),
        ('retry = { backoff = "fibonacci" }', "retry.backoff", "constant, linear, exponential"),
        ("retry = { attempts = 0 }", "retry.attempts", "expected an integer >= 1"),
        ('timezone = "Mars/Olympus"', "timezone", "unknown time zone 'Mars/Olympus'"),
        ('timezone = "../../etc/passwd"', "timezone", "expected an IANA name"),
        ('shell = "bash"', "shell", "expected an absolute path string"),
        ('cwd = "srv"', "cwd", "existence is checked when the job starts"),
        ("env_file = 3", "env_file", "expected an absolute path string"),
        ("user = 1000", "user", "expected a non-empty string, got integer 1000"),
        ("success_codes = [0, 256]", "success_codes", "got integer 256 in the array"),
        ("success_codes = [true]", "success_codes", "got boolean True in the array"),
        ("success_codes = 0", "success_codes", "expected a non-empty array of exit codes"),
        ('env = { "1BAD" = "x" }', "env.1BAD", "invalid environment variable name '1BAD'"),
        ("env = { GOOD = 1 }", "env.GOOD", "expected a string value, got integer 1"),
        ('env = "A=1"', "env", "expected a table of NAME"),
        ('window = { days = "mon-fry" }', "window.days", "unknown day 'fry'"),
        (
            'window = { hours = ["9-17"] }',
            "window.hours",
            'expected time ranges like ["09:00-17:00"]',
        ),
        ('window = { hours = ["09:00-24:30"] }', "window.hours", "got '09:00-24:30'"),
        ('notify = { slack = "x" }', "notify.slack", "unknown key 'slack'"),
        ("notify = { email = 5 }", "notify.email", "expected a non-empty string"),
        ("on_failure = ['echo']", "on_failure", "expected a non-empty string, got array"),
        ('after = "other"', "after", "expected an array of job names"),
    ],
)
def test_each_bad_value_says_what_was_expected(line: str, key: str, expected: str) -> None:
    problem = only(f'[jobs.j]\nschedule = "@daily"\ncommand = "true"\n{line}\n')
    assert problem.job == "j" and problem.key == key
    assert expected in problem.message
    assert problem.line == 4


def test_a_bad_hook_timeout_in_defaults_is_located() -> None:
    problem = only(
        """\
        [defaults]
        timeout = "1h"
          hook_timeout = "500ms"

        [jobs.a]
        schedule = "@daily"
        command = "true"
        """
    )
    assert (problem.job, problem.key) == (None, "defaults.hook_timeout")
    assert str(problem).startswith("jobs.toml:3:3: key 'defaults.hook_timeout': ")
    assert "at least 1s" in problem.message


def test_hook_timeout_of_one_second_is_the_minimum() -> None:
    job = parse(
        """
        [jobs.a]
        schedule = "@daily"
        command = "true"
        hook_timeout = "1s"
        """
    ).jobs["a"]
    assert job.hook_timeout == 1


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ('""', "expected a non-empty string"),
        ("[]", "non-empty array of strings"),
        ('["ls", 1]', "got array"),
        ('["", "x"]', "the program name (first item) is empty"),
        ('"a\\u0000b"', "without NUL characters"),
        ("42", "got integer 42"),
    ],
)
def test_bad_commands(command: str, expected: str) -> None:
    problem = only(f'[jobs.j]\nschedule = "@daily"\ncommand = {command}\n')
    assert problem.key == "command" and expected in problem.message and problem.line == 3


def test_missing_and_conflicting_schedule_and_command() -> None:
    found = problems(
        """
        [jobs.nothing]
        timezone = "UTC"

        [jobs.both]
        schedule = "@daily"
        at = ["2030-01-01T00:00"]
        command = "true"
        """
    )
    messages = [(p.job, p.key, p.line, p.message) for p in found]
    assert (
        "nothing",
        None,
        2,
        "missing 'schedule': expected a schedule string, 'at' with one-shot times,"
        " or 'after' with the jobs it runs after",
    ) in messages
    assert (
        "nothing",
        None,
        2,
        "missing 'command': expected a string or an array of strings",
    ) in messages
    assert ("both", "at", 7, "set either 'schedule' or 'at', not both") in messages
    assert len(found) == 3


def test_a_job_with_after_and_no_schedule_runs_only_after_its_upstream() -> None:
    jobs = parse(
        """
        [jobs.a]
        schedule = "@daily"
        command = "true"
        [jobs.c]
        command = "true"
        after = ["a"]
        """
    )
    c = jobs.jobs["c"]
    assert c.after == ("a",)
    assert c.schedule.text == "after a"
    assert c.schedule.next_after(datetime(2026, 1, 1, tzinfo=UTC)) is None
    empty = problems(
        """
        [jobs.c]
        command = "true"
        after = []
        """
    )
    assert next(p.message for p in empty if p.job == "c").startswith("missing 'schedule'")


def test_schedule_errors_are_located() -> None:
    problem = only(
        """
        [jobs.a]
        command = "true"
        schedule = "61 * * * *"
        """
    )
    assert (problem.job, problem.key, problem.line, problem.column) == ("a", "schedule", 4, 1)
    assert "61" in problem.message


def test_all_problems_are_reported_together() -> None:
    found = problems(
        """
        [defaults]
        timout = "1h"

        [jobs.good]
        schedule = "@daily"
        command = "true"

        [jobs.bad-one]
        schedule = "@daily"
        command = "true"
        missed = "never"

        [jobs.bad-two]
        schedule = "@daily"
        command = "true"
        timezone = "Mars/Olympus"
        keep = { runs = 0 }
        """
    )
    assert [(p.job, p.key, p.line) for p in found] == [
        (None, "defaults.timout", 3),
        ("bad-one", "missed", 12),
        ("bad-two", "timezone", 17),
        ("bad-two", "keep.runs", 18),
    ]
    assert "did you mean 'timeout'?" in found[0].message


def test_invalid_job_names() -> None:
    found = problems(
        """
        [jobs."-dash"]
        schedule = "@daily"
        command = "true"

        [jobs."caf\u00e9 au lait"]
        schedule = "@daily"
        command = "true"
        """
    )
    assert [(p.job, p.line) for p in found] == [("-dash", 2), ("caf\u00e9 au lait", 6)]
    assert all("invalid job name" in p.message for p in found)


def test_after_must_name_other_jobs_of_the_file() -> None:
    found = problems(
        """
        [jobs.a]
        schedule = "@daily"
        command = "true"
        after = ["a", "backpu"]

        [jobs.backup]
        schedule = "@daily"
        command = "true"
        """
    )
    assert [(p.key, p.line, p.message) for p in found] == [
        ("after", 5, "a job cannot run after itself"),
        ("after", 5, "unknown job 'backpu' (did you mean 'backup'?)"),
    ]


def test_after_cycles_are_reported() -> None:
    found = problems(
        """
        [jobs.a]
        schedule = "@daily"
        command = "true"
        after = ["c"]

        [jobs.b]
        schedule = "@daily"
        command = "true"
        after = ["a"]

        [jobs.c]
        schedule = "@daily"
        command = "true"
        after = ["b"]

        [jobs.free]
        schedule = "@daily"
        command = "true"
        after = ["a"]
        """
    )
    assert len(found) == 1
    assert found[0].message == "'after' forms a cycle: a -> c -> b -> a"
    assert (found[0].job, found[0].key, found[0].line) == ("a", "after", 5)


def test_after_without_cycle_is_fine() -> None:
    job_file = parse(
        """
        [jobs.a]
        schedule = "@daily"
        command = "true"
        [jobs.b]
        schedule = "@daily"
        command = "true"
        after = ["a", "a"]
        [jobs.c]
        schedule = "@daily"
        command = "true"
        after = ["a", "b"]
        """
    )
    assert job_file.jobs["b"].after == ("a",)
    assert job_file.jobs["c"].after == ("a", "b")


def test_toml_syntax_errors_carry_line_and_column() -> None:
    problem = only('[jobs.a]\nschedule = "@daily"\ncommand = true false\n')
    assert (problem.line, problem.column) == (3, 16)
    assert problem.message.startswith("invalid TOML: ")
    assert "(at line" not in problem.message


def test_deep_nesting_is_a_problem_not_a_crash() -> None:
    problem = only("x = " + "[" * 5000 + "]" * 5000)
    assert "nested too deeply" in problem.message


def test_invalid_utf8_names_the_byte_offset() -> None:
    data = b'[jobs.a]\nschedule = "@daily"\ncommand = "echo \xff"\n'
    problem = only(data)  # type: ignore[arg-type]
    assert "offset 45" in problem.message and "0xff" in problem.message
    assert (problem.line, problem.column) == (3, 17)


@pytest.mark.parametrize("text", ["", "# nothing\n", "[defaults]\ntimeout = '1h'\n", "[jobs]\n"])
def test_no_jobs_is_a_problem(text: str) -> None:
    assert only(text).message == "no jobs defined; expected at least one [jobs.NAME] table"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("jobs = 3", "expected [jobs.NAME] tables, got integer 3"),
        ("[[jobs]]\nname = 'x'", "expected [jobs.NAME] tables, got array"),
        ("[jobs]\na = 'x'", "expected a table of job settings, got 'x'"),
        ("[cronpy]\nstore = 5\n[jobs.a]\nschedule='@daily'\ncommand='true'", "got integer 5"),
        ("[cronpy]\nstor = 'x'\n[jobs.a]\nschedule='@daily'\ncommand='true'", "'store'"),
    ],
)
def test_wrong_shapes(text: str, expected: str) -> None:
    assert any(expected in p.message for p in problems(text))


def test_huge_values_are_shortened_in_messages() -> None:
    for line in (f'timeout = "{"9" * 5000}s"', f"user = {'9' * 4000}", f"{'k' * 5000} = 1"):
        problem = only(f'[jobs.a]\nschedule = "@daily"\ncommand = "true"\n{line}\n')
        assert len(problem.message) < 200, problem.message


def test_numbers_too_long_for_python_are_a_problem() -> None:
    problem = only(f'[jobs.a]\nschedule = "@daily"\ncommand = "true"\nmax_runs = {"9" * 5000}\n')
    assert problem.message.startswith("invalid TOML: ")


# --- files ---------------------------------------------------------------------------------


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    path.chmod(mode)
    return path


@pytest.fixture
def not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)


@pytest.mark.usefixtures("not_root")
def test_load_job_file_reads_a_file(tmp_path: Path) -> None:
    path = write(tmp_path / "jobs.toml", '[jobs.a]\nschedule = "@daily"\ncommand = "true"\n')
    job_file = load_job_file(path)
    assert job_file.path == path and list(job_file.jobs) == ["a"]


@pytest.mark.usefixtures("not_root")
def test_load_job_file_reports_the_path(tmp_path: Path) -> None:
    path = write(tmp_path / "jobs.toml", '[jobs.a]\nschedule = "@daily"\n')
    with pytest.raises(ConfigError) as info:
        load_job_file(path)
    assert str(info.value) == f"{path}:1:1: job 'a': missing 'command': " + (
        "expected a string or an array of strings"
    )


@pytest.mark.usefixtures("not_root")
def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_job_file(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_job_file(tmp_path)


def test_root_refuses_a_file_others_can_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    path = write(tmp_path / "jobs.toml", '[jobs.a]\nschedule = "@daily"\ncommand = "true"\n')
    tmp_path.chmod(0o755)
    if path.stat().st_uid == 0:
        assert list(load_job_file(path).jobs) == ["a"]  # root's own 0644 file is fine
    path.chmod(path.stat().st_mode | stat.S_IWOTH)
    with pytest.raises(ConfigError, match="refusing to run this job file as root"):
        load_job_file(path)


def safe_dir(tmp_path: Path) -> Path:
    """A 0755 directory in a chain of root-owned directories no one else may write: pytest's
    0700 tmp dirs, then /tmp (sticky, which is fine for an ancestor), then /."""
    directory = tmp_path / "safe"
    directory.mkdir()
    directory.chmod(0o755)
    tmp_path.chmod(0o700)
    return directory


JOBS = '[jobs.a]\nschedule = "@daily"\ncommand = "true"\n'
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the ownership rules apply to root")


@needs_root
def test_root_accepts_a_file_in_a_safe_directory_chain(tmp_path: Path) -> None:
    path = write(safe_dir(tmp_path) / "jobs.toml", JOBS)
    assert list(load_job_file(path).jobs) == ["a"]


@needs_root
def test_root_refuses_a_file_owned_by_another_user(tmp_path: Path) -> None:
    path = write(safe_dir(tmp_path) / "jobs.toml", JOBS)
    os.chown(path, 65534, 65534)
    with pytest.raises(ConfigError, match="is owned by uid 65534, not root"):
        load_job_file(path)


@needs_root
def test_root_refuses_a_symlink_to_a_file_in_a_directory_others_can_write(
    tmp_path: Path,
) -> None:
    """The link sits in a safe directory, but the file it names can be replaced by anyone."""
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    target = write(open_dir / "jobs.toml", JOBS)
    link = safe_dir(tmp_path) / "jobs.toml"
    link.symlink_to(target)
    with pytest.raises(ConfigError) as info:
        load_job_file(link)
    message = str(info.value)
    assert f"its directory {open_dir} is writable by group or others (mode 0777)" in message
    assert "refusing to run this job file as root" in message


@needs_root
def test_root_refuses_a_file_whose_ancestor_others_can_write(tmp_path: Path) -> None:
    """Whoever can write an ancestor can rename the directories below it and swap the file."""
    inner = safe_dir(tmp_path) / "inner"
    inner.mkdir(mode=0o755)
    path = write(inner / "jobs.toml", JOBS)
    (tmp_path / "safe").chmod(0o775)
    with pytest.raises(ConfigError, match=f"its directory {tmp_path / 'safe'} is writable"):
        load_job_file(path)
    (tmp_path / "safe").chmod(0o755)
    os.chown(tmp_path / "safe", 65534, 65534)
    with pytest.raises(ConfigError, match=f"its directory {tmp_path / 'safe'} is owned by uid"):
        load_job_file(path)


@needs_root
def test_root_refuses_a_sticky_directory_as_the_files_own(tmp_path: Path) -> None:
    """/tmp is fine above the file (sticky: others cannot replace root's entries), not as the
    directory the file itself lives in."""
    directory = safe_dir(tmp_path)
    path = write(directory / "jobs.toml", JOBS)
    directory.chmod(0o777 | stat.S_ISVTX)
    with pytest.raises(ConfigError, match=f"its directory {directory} is writable"):
        load_job_file(path)


@pytest.mark.usefixtures("not_root")
def test_the_example_file_loads() -> None:
    job_file = load_job_file(EXAMPLE)
    assert "hello" in job_file.jobs
    hello = job_file.jobs["hello"]
    assert hello.schedule.text == "every 10s" and hello.cwd == Path("/tmp")
    assert all(job.user is None for job in job_file.jobs.values())
    # It shows every key of DESIGN §2 at least once.
    used = {line.split("=")[0].strip() for line in EXAMPLE.read_text().splitlines()}
    assert set(JOB_KEYS) - used == {"user", "env_file"}  # shown commented out
    assert job_file.jobs["boot"].environment is Environment.MINIMAL


def test_schedules_get_the_job_zone_and_name() -> None:
    from cronpy.schedule import parse_schedule

    job_file = parse(
        """
        [defaults]
        timezone = "Asia/Tokyo"

        [jobs.once]
        at = ["2030-01-01T09:00"]
        command = "true"

        [jobs.hashed]
        schedule = "H 3 * * *"
        command = "true"
        """
    )
    start = datetime(2029, 12, 31, tzinfo=UTC)
    # Naive one-shot times are wall times in the job's zone (here from [defaults]).
    assert job_file.jobs["once"].schedule.next_after(start) == datetime(2030, 1, 1, tzinfo=UTC)
    expected = parse_schedule("H 3 * * *", tz=ZoneInfo("Asia/Tokyo"), job_name="hashed")
    assert job_file.jobs["hashed"].schedule.next_after(start) == expected.next_after(start)


def test_lines_are_found_past_multiline_strings_and_dotted_keys() -> None:
    found = problems(
        '''
        [jobs.a]
        schedule = "@daily"
        command = """
        [jobs.not-a-table]
        timeout = 1
        """
        timeout = 2

        [jobs]
        b.schedule = "@daily"
        b.command = "true"
        b.overlap = "sometimes"
        '''
    )
    assert [(p.job, p.key, p.line, p.column) for p in found] == [
        ("a", "timeout", 8, 1),
        ("b", "overlap", 13, 1),
    ]


def test_lines_with_crlf_and_indentation() -> None:
    text = '[jobs.a]\r\n  schedule = "@daily"\r\n  command = "true"\r\n  jitter = "soon"\r\n'
    problem = only(text)
    assert (problem.key, problem.line, problem.column) == ("jitter", 4, 3)


def test_problems_come_in_file_order() -> None:
    found = problems(
        """
        [jobs.x]
        schedule = "61 * * * *"
        command = "true"
        keep = { output = "1 lot" }
        """
    )
    # The schedule is checked last but its line comes first.
    assert [(p.key, p.line) for p in found] == [("schedule", 3), ("keep.output", 5)]


def test_a_fifo_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "jobs.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_job_file(fifo)


def test_cgroups_can_be_turned_off_in_the_cronpy_table() -> None:
    on = parse('[jobs.a]\nschedule = "@daily"\ncommand = "true"\n')
    off = parse('[cronpy]\ncgroups = false\n[jobs.a]\nschedule = "@daily"\ncommand = "true"\n')
    assert (on.settings.cgroups, off.settings.cgroups) == (True, False)
    bad = only('[cronpy]\ncgroups = "no"\n[jobs.a]\nschedule = "@daily"\ncommand = "true"\n')
    assert bad.key == "cronpy.cgroups" and "true or false" in bad.message
