"""What a new user and a sysadmin ran into (issue 12) and what an adversarial reviewer broke
(issue 17), command by command, in process against a state populated through the Store API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cronpy.cli.app import app
from cronpy.model import JobState, Status, Trigger
from cronpy.runtime.statedir import RunnerLock, db_path, logs_dir
from cronpy.store.sqlite import SqliteStore

from .test_cli import HOST, T0, Cli, cli, day, state

__all__ = ["cli", "state"]  # fixtures, used by name


def _store(state_dir: Path) -> SqliteStore:
    return SqliteStore(db_path(state_dir))


def _add_running(state_dir: Path, job: str, output: str = "") -> int:
    store = _store(state_dir)
    try:
        store.save_job_states(
            [JobState(name=job, first_seen=T0, schedule="@daily", timezone="UTC")]
        )
        run_id = store.claim_run(
            job=job,
            scheduled_at=day(9),
            trigger=Trigger.SCHEDULE,
            attempt=1,
            started_at=day(9),
            host=HOST,
            runner_id=1,
        )
        assert run_id is not None
        log = logs_dir(state_dir) / job / f"{run_id}.log"
        log.parent.mkdir(exist_ok=True)
        log.write_text(output)
        store.set_pid(run_id, 5000 + run_id, str(log))
        return run_id
    finally:
        store.close()


# -- 2, 3: validate --json, and the store URL run would refuse ----------------------------------


def test_validate_json_prints_one_document_for_an_invalid_file(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[jobs.a]\nschedule = "61 * * * *"\ncommand = "true"\nschedual = 1\n')
    result = cli("validate", "--json", str(bad))
    assert result.code == 2
    document = json.loads(result.out)
    assert document["ok"] is False and document["file"] == str(bad)
    problems = document["problems"]
    assert len(problems) == 2
    assert set(problems[0]) == {"file", "line", "column", "job", "key", "message"}
    assert [(p["job"], p["key"], p["line"]) for p in problems] == [
        ("a", "schedule", 2),
        ("a", "schedual", 4),
    ]
    good = tmp_path / "good.toml"
    good.write_text('[jobs.a]\nschedule = "@daily"\ncommand = "true"\n')
    ok = cli("validate", "--json", str(good))
    assert ok.code == 0
    assert json.loads(ok.out) == {
        "file": str(good),
        "ok": True,
        "jobs": ["a"],
        "problems": [],
        "warnings": [],
    }


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("mysql://db/cronpy", "unknown store URL"),
        ("sqlite://", "names no file"),
        ("/var/lib/cronpy/state.db", "unknown store URL"),
        ("postgresql://", "names no server"),
    ],
)
def test_validate_refuses_the_store_url_run_refuses_with_the_same_words(
    cli: Cli, tmp_path: Path, url: str, needle: str
) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text(f'[cronpy]\nstore = "{url}"\n\n[jobs.a]\nschedule = "@daily"\ncommand = "x"\n')
    checked = cli("validate", str(path))
    state_dir = tmp_path / "state"
    ran = cli("--state-dir", str(state_dir), "run", str(path))
    assert checked.code == ran.code == 2
    assert needle in checked.err and f"{path}:2:1: key 'cronpy.store'" in checked.err
    assert ran.err == checked.err
    assert not state_dir.exists()
    # the same rule for --store, before any state is touched
    flag = cli("--state-dir", str(state_dir), "run", str(tmp_path / "none.toml"), "--store", url)
    if needle != "names no file" or url == "sqlite://":
        assert flag.code == 2 and needle in flag.err
    assert not state_dir.exists()


# -- 4: a job named 7 is the job ---------------------------------------------------------------


def test_a_job_named_like_a_run_id_is_cancelled_and_logged_by_name(cli: Cli, state: Path) -> None:
    seven = _add_running(state, "7", "seven says hi\n")
    other = _add_running(state, "other", "other output\n")
    assert other == 7  # run 7 exists, and is not job 7's: the name wins
    logs = cli("--state-dir", str(state), "logs", "7")
    assert (logs.code, logs.out) == (0, "seven says hi\n")
    by_id = cli("--state-dir", str(state), "logs", "1")  # no job has that name: run 1
    assert (by_id.code, by_id.out) == (0, "snapshot 1 saved\n")
    with RunnerLock(state, pid=777, host="box"):
        named = cli("--state-dir", str(state), "cancel", "7")
        one = cli("--state-dir", str(state), "cancel", "--run", str(other))
        wrong = cli("--state-dir", str(state), "cancel", "7", "--run", str(other))
    assert named.code == 0 and named.out == f"cancelling run {seven} of '7'\n"
    assert one.code == 0 and one.out == f"cancelling run {other} of 'other'\n"
    assert wrong.code == 2 and "a run of 'other', not of '7'" in wrong.err


# -- 5: one zone everywhere, --utc ---------------------------------------------------------------


@pytest.fixture
def paris(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "Europe/Paris")
    time.tzset()
    yield
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def test_every_command_shows_and_reads_times_in_one_zone(
    cli: Cli, state: Path, paris: None
) -> None:
    s = ("--state-dir", str(state))
    local = cli(*s, "history", "backup", "-n", "1", "--status", "failed")
    assert "04:00" in local.out and "Times in Europe/Paris (local); --utc for UTC." in local.out
    utc = cli(*s, "history", "backup", "-n", "1", "--status", "failed", "--utc")
    assert "03:00" in utc.out and "04:00" not in utc.out and "Times in UTC." in utc.out
    # why reads a naive time in the same zone as pause and history, and answers in it
    why = cli(*s, "why", "backup", "2026-03-03T04:00")
    assert "was due at 2026-03-03T04:00:00+01:00" in why.out, why.out
    why_utc = cli(*s, "why", "backup", "2026-03-03T03:00", "--utc")
    assert "was due at 2026-03-03T03:00:00+00:00" in why_utc.out, why_utc.out
    paused = cli(*s, "pause", "backup", "--until", "2030-01-01T12:00", "--json")
    assert json.loads(paused.out)["jobs"][0]["paused_until"] == "2030-01-01T11:00:00+00:00"
    status = cli(*s, "status", "backup")
    assert "paused until Jan 01 2030" in status.out or "2030-01-01 12:00" in status.out
    assert "Times in Europe/Paris (local)" in status.out


# -- 6: Ctrl-C while trigger --wait follows a run ------------------------------------------------


def test_ctrl_c_during_trigger_wait_says_the_run_goes_on(
    cli: Cli, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cronpy.cli.commands.control as control
    import cronpy.cli.wiring as wiring

    run_id = _add_running(state, "report", "working\n")

    def taken(*args: object, **kwargs: object) -> object:
        from cronpy.model import Control, ControlKind

        return Control(
            id=1, kind=ControlKind.TRIGGER, requested_at=day(9), job="report", run_id=run_id,
            taken_at=day(9), result="started",
        )  # fmt: skip

    def interrupted(*args: object, **kwargs: object) -> Iterator[bytes]:
        yield b"working\n"
        raise KeyboardInterrupt

    monkeypatch.setattr(control, "wait_taken", taken)
    monkeypatch.setattr(wiring, "follower", interrupted)
    with RunnerLock(state, pid=777, host="box"):
        result = cli("--state-dir", str(state), "trigger", "report", "--wait")
    assert result.code == 130
    assert result.out == "working\n"
    assert f"run {run_id} of 'report' goes on" in result.err
    assert f"cronpy cancel report --run {run_id}" in result.err


# -- 8: logs --json, and the end of a followed run -----------------------------------------------


def test_logs_json_and_the_end_marker_of_follow(cli: Cli, state: Path) -> None:
    s = ("--state-dir", str(state))
    document = json.loads(cli(*s, "logs", "backup", "--json").out)
    assert document["output"] == "repository locked\n"
    assert document["run"]["status"] == "failed" and document["run"]["exit_code"] == 3
    followed = cli(*s, "logs", "backup", "-f")  # the run has ended: its output, then its end
    assert followed.out == "repository locked\n"
    assert followed.err == "[cronpy: run 2 failed (exit 3), 3s]\n"


# -- 9, 10: disabled, late, and no runner up -----------------------------------------------------


def test_status_shows_disabled_and_late_jobs_and_says_when_it_would_run(
    cli: Cli, state: Path
) -> None:
    store = _store(state)
    now = datetime.now(UTC)
    store.save_job_states(
        [
            JobState(name="off", first_seen=T0, schedule="@hourly", timezone="UTC", enabled=False),
            JobState(
                name="slow",
                first_seen=T0,
                schedule="*/15 * * * *",
                timezone="UTC",
                next_run_at=now - timedelta(seconds=13),  # the plan of a runner gone since
                late="late: still running after 1h",
            ),
        ]
    )
    store.close()
    data = {
        j["name"]: j
        for j in json.loads(cli("--state-dir", str(state), "status", "--json").out)["jobs"]
    }
    assert data["off"]["enabled"] is False and data["backup"]["enabled"] is True
    assert data["slow"]["late"] == "late: still running after 1h" and data["backup"]["late"] is None
    text = cli("--state-dir", str(state), "status").out
    rows = {line.split()[0]: line for line in text.splitlines() if line[:1].isalpha()}
    assert "disabled" in rows["off"]
    assert "late" in rows["slow"].split("RESULT")[-1]
    assert "ago" not in rows["slow"] and "(no runner)" in rows["slow"]
    assert "in " in rows["slow"]  # its next fire time after now, within 15 minutes
    assert "none is running" in text


# -- 12: the strip's legend, and "no runs" ------------------------------------------------------


def test_history_legend_in_colour_and_no_runs_wording(
    cli: Cli, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io
    import re

    from cronpy.cli.commands.history import HistoryResult
    from cronpy.cli.render import render
    from cronpy.model import Run

    runs = tuple(
        Run(id=i, job="a", status=s, trigger=Trigger.SCHEDULE, scheduled_at=day(2))
        for i, s in enumerate([Status.FAILED, Status.SUCCEEDED, Status.TIMED_OUT], start=1)
    )
    out = io.StringIO()
    render(HistoryResult("a", runs), stream=out, color=True)
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in out.getvalue().splitlines()]
    assert lines[0].endswith("■■■")
    assert lines[1].split() == ["■", "timed_out,", "failed", "■", "succeeded"]  # one per colour
    s = ("--state-dir", str(state))
    assert cli(*s, "history", "old").out == "No runs recorded for 'old'.\n"
    filtered = cli(*s, "history", "old", "--status", "failed")
    assert filtered.out == "No runs recorded for 'old' matching these filters.\n"


# -- 13: one placeholder style; summaries shown whole -------------------------------------------


def test_help_has_one_placeholder_style_and_whole_summaries(cli: Cli) -> None:
    import re

    top = cli("--help").out
    commands = top.split("Commands:")[1]
    assert "..." not in commands and "…" not in commands
    for command in app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        text = cli(name, "--help").out
        assert not re.search(r"\{[a-zA-Z|]+\}|<[a-z]+>", text), (name, text)
        usage = text.splitlines()[0]
        assert not re.search(r"\b[a-z]+\]?$", usage.split("[OPTIONS]")[-1].strip() or "X"), usage


# -- 15: numbers, dates and names bounded at the edge --------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["logs", "backup", "99999999999999999999"], "run id"),
        (["logs", "backup", "--run", "0"], "run id"),
        (["history", "-n", "99999999999999999999"], "-n"),
        (["cancel", "99999999999999999999"], "run id"),
        (["history", "--since", "99999999d"], "before 1970"),
        (["pause", "backup", "--for", "999999999d"], "at most"),
        (["pause", "backup", "--until", "9999-12-31T23:59:59.999999"], "between 1970 and 8999"),
        (["why", "backup", "9999-12-31T23:59:59"], "between 1970 and 8999"),
        (["next", "@daily", "-n", "99999999999999999999"], "-n"),
        (["next", "@daily", "--after", "0001-01-01T00:00"], "between 1970"),
        (["stop", "--timeout", "1e99"], "--timeout"),
    ],
)
def test_huge_numbers_and_dates_are_usage_errors(
    cli: Cli, state: Path, args: list[str], needle: str
) -> None:
    with RunnerLock(state, pid=777, host="box"):
        result = cli("--state-dir", str(state), *args)
    assert result.code == 2, result
    assert needle in result.err and "Traceback" not in result.err
    assert result.out == ""


def test_a_job_name_longer_than_200_characters_is_refused_where_it_is(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text(f'\n[jobs.{"a" * 201}]\nschedule = "@daily"\ncommand = "true"\n')
    result = cli("validate", str(path))
    assert result.code == 2
    assert f"{path}:2:1:" in result.err and "at most 200" in result.err
    path.write_text(f'[jobs.{"a" * 200}]\nschedule = "@daily"\ncommand = "true"\n')
    assert cli("validate", str(path)).code == 0


# -- 11: next shows whole seconds, as every other command ---------------------------------------


def test_next_shows_whole_seconds() -> None:
    import io
    from zoneinfo import ZoneInfo

    from cronpy.cli.commands.preview import NextResult
    from cronpy.cli.render import render

    utc = ZoneInfo("UTC")
    moment = datetime(2026, 3, 2, 3, 15, 0, 123456, tzinfo=utc)
    out = io.StringIO()
    render(NextResult("every 15m", "UTC", moment, (moment,), utc), stream=out, color=False)
    assert "2026-03-02T03:15:00+00:00" in out.getvalue() and "123456" not in out.getvalue()
