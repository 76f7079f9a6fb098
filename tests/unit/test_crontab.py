"""``cronpy import-crontab``: real crontab files converted, and the jobs fire when cron would.

The fire times are checked against an evaluation of Debian cron's rules written here from its
source (entry.c: fields, ranges, steps, names, the DOM_STAR/DOW_STAR flags set by any field
starting with "*"; cron.c: fixed-time jobs run once at the jump over a DST gap and once in a
repeated hour, wildcard jobs only at wall times that exist), over a year that holds both DST
changes, and against croniter for the UTC lines it reads the same way.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from cronpy.cli.commands.import_crontab import known_user
from cronpy.cli.main import main
from cronpy.config import parse_job_file
from cronpy.crontab import convert_crontab, is_system_file
from cronpy.crontab.read import parse_env, split_percent
from cronpy.model import Job

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "crontabs"
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 2, tzinfo=UTC)  # a year and a day: both DST changes of 2026
MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
NAMES = {
    3: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
}
BOUNDS = [(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)]


# --- Debian cron, minimally ----------------------------------------------------------------


def _bits(index: int, text: str) -> set[int]:
    low, high = BOUNDS[index]
    names = NAMES.get(index, [])

    def number(token: str) -> int:
        return int(token) if token.isdigit() else names.index(token.lower()) + (index == 3)

    found: set[int] = set()
    for item in text.split(","):
        match = re.fullmatch(r"(\*|\w+)(?:-(\w+))?(?:/(\d+))?", item)
        assert match, item
        first, last, step = match.groups()
        a, b = (low, high) if first == "*" else (number(first), number(last or first))
        found.update(range(a, b + 1, int(step or 1)))
    if index == 4 and found & {0, 7}:
        found |= {0, 7}
    return found


def debian_fires(schedule: str, tz: ZoneInfo) -> list[datetime]:
    fields = MACROS.get(schedule, schedule).split()
    minutes, hours, doms, months, dows = (_bits(i, f) for i, f in enumerate(fields))
    star_days = fields[2].startswith("*") or fields[4].startswith("*")
    wildcard = fields[0].startswith("*") or fields[1].startswith("*")
    fires: set[datetime] = set()
    day = (START - timedelta(days=1)).astimezone(tz).date()
    while day <= END.astimezone(tz).date():
        weekday = (day.weekday() + 1) % 7
        dom, dow = day.day in doms, weekday in dows
        if day.month in months and ((dom and dow) if star_days else (dom or dow)):
            midnight = datetime(day.year, day.month, day.day)
            offset = midnight.replace(tzinfo=tz).utcoffset()
            plain = (
                offset
                == (midnight + timedelta(hours=23, minutes=59)).replace(tzinfo=tz).utcoffset()
            )
            for hour in hours:
                for minute in minutes:
                    wall = midnight.replace(hour=hour, minute=minute)
                    if plain and offset is not None:  # no offset change that day: arithmetic
                        fires.add(wall.replace(tzinfo=UTC) - offset)
                    else:
                        fires.update(_instants(wall, tz, wildcard))
        day += timedelta(days=1)
    return sorted(f for f in fires if START < f <= END)


def _instants(wall: datetime, tz: ZoneInfo, wildcard: bool) -> list[datetime]:
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) != wall:  # in a gap: skipped by the clock
        if wildcard:
            return []
        jump = second  # fold=1 maps a gap time with the old offset: before the jump; find it
        while (jump + timedelta(minutes=1)).astimezone(tz).utcoffset() == jump.astimezone(
            tz
        ).utcoffset():
            jump += timedelta(minutes=1)
        return [jump + timedelta(minutes=1) - timedelta(seconds=jump.second)]
    if first != second:  # repeated: a fixed-time job runs at the first only
        return [first, second] if wildcard else [min(first, second)]
    return [first]


def cronpy_fires(job: Job) -> list[datetime]:
    out: list[datetime] = []
    after = START
    while True:
        batch = job.schedule.next_times(after, 2000)
        out += [t for t in batch if t <= END]
        if not batch or batch[-1] > END:
            return out
        after = batch[-1]


# --- the fixtures ----------------------------------------------------------------------------


def _convert(name: str) -> tuple[str, dict[str, Job], object]:
    path = FIXTURES / name
    text = path.read_text()
    system = is_system_file(text, path, known_user)
    conversion = convert_crontab(text, system=system, known_user=known_user, source=name)
    jobs = dict(parse_job_file(conversion.text, name).jobs)
    return text, jobs, conversion


FIXTURE_NAMES = ["user.crontab", "cron.d-app", "cron.d-e2scrub_all", "debian-etc-crontab"]


@pytest.fixture(scope="module")
def agreement() -> Iterator[dict[str, int]]:
    tally = {"lines": 0, "converted": 0, "compared": 0, "agree": 0, "croniter": 0}
    yield tally
    print(f"\ncrontab fixtures: {tally}")


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_fixture_converts_and_fires_when_debian_cron_would(
    name: str, agreement: dict[str, int]
) -> None:
    _, jobs, conversion = _convert(name)
    assert conversion.skipped == ()  # type: ignore[attr-defined]
    agreement["lines"] += conversion.entries  # type: ignore[attr-defined]
    agreement["converted"] += len(jobs)
    assert len(jobs) == conversion.entries  # type: ignore[attr-defined]
    for job in jobs.values():
        text = job.schedule.text
        if text == "@reboot":
            continue
        agreement["compared"] += 1
        expected = debian_fires(text, job.timezone)
        assert cronpy_fires(job) == expected, job.name
        agreement["agree"] += 1
        fields = MACROS.get(text, text).split()
        if job.timezone.key == "UTC" and not (
            fields[2].startswith("*/") or fields[4].startswith("*/")
        ):
            oracle = croniter(text, START)  # slow: the first 1,000 fire times are enough
            ours = cronpy_fires(job)[:1000]
            theirs = [oracle.get_next(datetime) for _ in ours]
            assert ours == theirs, job.name
            agreement["croniter"] += 1


def test_the_user_fixture_detected_and_its_options() -> None:
    _, jobs, conversion = _convert("user.crontab")
    assert not conversion.system  # type: ignore[attr-defined]
    dump = jobs["pg_dump-app"]
    assert dump.description == "nightly database dump"
    assert dump.shell == "/bin/bash"
    assert dict(dump.env) == {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    assert dump.notify is not None and dump.notify.email == "dev@example.com"
    assert dump.timezone.key == "UTC"
    mail = jobs["mail-joe"]
    assert mail.notify is None  # MAILTO="" switched mail off, for the lines after it only
    ny = jobs["nightly-ny"]
    assert ny.timezone.key == "America/New_York"
    assert ny.description == "runs in New York time across both DST changes"
    assert jobs["month-end"].timezone.key == "UTC"
    assert jobs["start-agent"].schedule.text == "@reboot"
    commands = {job.command for job in jobs.values()}
    assert "echo 50% done >> /tmp/progress.log" in commands  # \% is a literal %


def test_dst_rows_checked_by_hand_for_new_york() -> None:
    _, jobs, _ = _convert("user.crontab")
    fires = cronpy_fires(jobs["nightly-ny"])
    # 2026-03-08: 02:30 does not exist; it runs at the jump, 03:00 EDT = 07:00 UTC
    assert datetime(2026, 3, 8, 7, 0, tzinfo=UTC) in fires
    assert datetime(2026, 3, 7, 7, 30, tzinfo=UTC) in fires  # 02:30 EST the day before
    assert datetime(2026, 3, 9, 6, 30, tzinfo=UTC) in fires  # 02:30 EDT the day after
    # 2026-11-01: 02:30 exists once (the repeated hour is 01:00-02:00), EST = UTC-5
    assert [f for f in fires if f.date() == datetime(2026, 11, 1).date()] == [
        datetime(2026, 11, 1, 7, 30, tzinfo=UTC)
    ]
    halfhourly = [f for f in cronpy_fires(jobs["halfhourly-ny"]) if f.month == 11 and f.day == 1]
    # wildcard minute: 01:00 and 01:30 run in both the EDT and the EST hour
    assert halfhourly == [datetime(2026, 11, 1, h, m, tzinfo=UTC) for h in (5, 6) for m in (0, 30)]
    weekly = [f for f in cronpy_fires(jobs["weekly-ny"]) if f.month == 11 and f.day == 1]
    assert weekly == [datetime(2026, 11, 1, 5, 0, tzinfo=UTC)]  # 01:00 EDT, the first one only


def test_system_file_users_and_env_order() -> None:
    _, jobs, conversion = _convert("cron.d-app")
    assert conversion.system  # type: ignore[attr-defined]
    assert jobs["sessionclean-system"].user == "root"
    assert jobs["app-tick"].user == "www-data"
    assert jobs["app-cleanup"].notify is not None
    assert jobs["app-cleanup"].notify.email == "root"
    report = jobs["app-report"]
    assert report.notify is not None and report.notify.email == "ops@example.com"
    assert report.timezone.key == "Europe/Berlin" and report.env["TZ"] == "Europe/Berlin"
    assert "TZ" not in jobs["app-cleanup"].env  # an env line applies after itself, not before
    assert jobs["sessionclean-system"].description == (
        "Look for and purge old sessions every 30 minutes"
    )


def test_names_are_stable_and_unique() -> None:
    text = "0 1 * * * /usr/bin/backup\n0 2 * * * /usr/bin/backup\n0 3 * * * /usr/bin/backup\n"
    first = convert_crontab(text, system=False, known_user=known_user)
    assert first.jobs == ("backup", "backup-2", "backup-3")
    assert convert_crontab(text, system=False, known_user=known_user).text == first.text


# --- the % rules, checked by running both through sh -------------------------------------------


def _cron_runs(command: str) -> bytes:
    """What Debian cron's child prints: the command under sh, the text after % on its stdin."""
    cmd, stdin = split_percent(command)
    return subprocess.run(
        ["/bin/sh", "-c", cmd], input=(stdin or "").encode(), capture_output=True, check=True
    ).stdout


def _cronpy_runs(command: str) -> bytes:
    conversion = convert_crontab(f"* * * * * {command}\n", system=False, known_user=known_user)
    job = next(iter(parse_job_file(conversion.text).jobs.values()))
    return subprocess.run(
        job.argv, stdin=subprocess.DEVNULL, capture_output=True, check=True
    ).stdout


@pytest.mark.parametrize(
    "command",
    [
        "cat%line one%line two%",
        "cat%no trailing newline",
        "printf '[\\%s]' 50\\% done",
        "cat; echo \\%%100\\% sure%",
        "cat # a comment at the end%input's 'quotes' and $HOME `x`%",
        "(cat)%sub%shell",
        "wc -c%back\\slash\\\\%",
        "echo no input%",
    ],
)
def test_percent_makes_the_same_output_as_cron(command: str) -> None:
    assert _cronpy_runs(command) == _cron_runs(command)


def test_split_percent_follows_do_command() -> None:
    assert split_percent("a\\%b%c%d") == ("a%b", "c\nd")
    assert split_percent("a\\\\%b") == ("a\\\\", "b")  # \\ does not escape the %
    assert split_percent("x%") == ("x", None)  # nothing after %: no input at all
    assert split_percent("x%\\%y\\z") == ("x", "%y\\z")


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("NAME=value", ("NAME", "value")),
        ("NAME = value with spaces   ", ("NAME", "value with spaces")),
        ('NAME = "  padded  "  ', ("NAME", "  padded  ")),
        ("NAME='single'", ("NAME", "single")),
        ('MAILTO=""', ("MAILTO", "")),
        ("PATH=/a:/b # not a comment", ("PATH", "/a:/b # not a comment")),
        ('NAME="unterminated', None),
        ('NAME="x" trailing', None),
        ("0 * * * * a=b", None),
        ("@daily X=1 cmd", None),
    ],
)
def test_env_lines_as_cron_reads_them(line: str, parsed: tuple[str, str] | None) -> None:
    assert parse_env(line) == parsed


# --- the command line --------------------------------------------------------------------------


def test_skipped_lines_are_named_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "tab"
    src.write_text(
        "0 3 * * * ok\n5/10 * * * * step-without-range\n0 0 * * sat-sun reversed\n"
        "0 0 * * * nosuchuser-xyz cmd\n61 * * * * bad-minute\n"
    )
    assert main(["import-crontab", str(src), "--user"]) == 1
    captured = capsys.readouterr()
    assert "[jobs.ok]" in captured.out
    for line in (2, 3, 5):
        assert f"{src}:{line}:" in captured.err
    assert main(["import-crontab", str(src), "--system"]) == 2  # nothing usable then
    err = capsys.readouterr().err
    assert "bad username 'nosuchuser-xyz'" in err and "nothing to convert" in err


def test_output_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "jobs.toml"
    out.write_text("keep me")
    src = str(FIXTURES / "user.crontab")
    assert main(["import-crontab", src, "--output", str(out)]) == 2
    assert out.read_text() == "keep me"
    assert main(["import-crontab", src, "--output", str(out), "--force"]) == 0
    capsys.readouterr()
    assert main(["validate", str(out)]) == 0
    assert "jobs OK" in capsys.readouterr().out


def test_stdin_and_detection(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("17 * * * * root run-parts /etc/cron.hourly\n"))
    assert main(["import-crontab", "-"]) == 0
    assert 'user = "root"' in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("17 * * * * root run-parts /etc/cron.hourly\n"))
    assert main(["import-crontab", "--user"]) == 0
    assert 'command = "root run-parts /etc/cron.hourly"' in capsys.readouterr().out


@pytest.mark.skipif(not os.path.exists("/etc/crontab"), reason="no /etc/crontab here")
def test_this_machines_etc_crontab_converts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["import-crontab", "/etc/crontab"]) == 0
    assert 'user = "root"' in capsys.readouterr().out
