"""The command line end to end, in process: ``cronpy.cli.main`` against a state directory
populated through the Store API (no runner needed), checking output, JSON and exit codes."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cronpy.cli.app import app
from cronpy.cli.main import main
from cronpy.model import ControlKind, Finish, JobState, RetryDue, Status, Trigger
from cronpy.runtime.statedir import RunnerLock, db_path, ensure_state_dir, logs_dir
from cronpy.store.sqlite import SqliteStore

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
HOST = "host-a"


def day(n: int, hour: int = 3) -> datetime:
    """03:00 UTC on day ``n`` of March 2026: when ``backup`` (0 3 * * * UTC) is due."""
    return datetime(2026, 3, n, hour, 0, tzinfo=UTC)


@dataclass
class Result:
    code: int
    out: str
    err: str


Cli = Callable[..., Result]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    monkeypatch.delenv("CRONPY_STATE_DIR", raising=False)

    def run(*args: str) -> Result:
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    yield run


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    """backup: succeeded (with output), failed, skipped; report: running now; old: removed."""
    state_dir = ensure_state_dir(tmp_path / "state")
    store = SqliteStore(db_path(state_dir))
    store.save_job_states(
        [
            JobState(
                name="backup",
                first_seen=T0,
                cursor=day(7),
                next_run_at=day(8),
                schedule="0 3 * * *",
                timezone="UTC",
                command="restic backup",
            ),
            JobState(name="report", first_seen=T0, schedule="*/15 * * * *", timezone="UTC"),
            JobState(name="old", first_seen=T0, schedule="@daily", timezone="UTC", present=False),
        ]
    )
    runner = store.register_runner(HOST, 4242, T0)

    def started(job: str, when: datetime, output: str | None) -> int:
        run_id = store.claim_run(
            job=job,
            scheduled_at=when,
            trigger=Trigger.SCHEDULE,
            attempt=1,
            started_at=when + timedelta(seconds=2),
            host=HOST,
            runner_id=runner,
        )
        assert run_id is not None
        log = None
        if output is not None:
            path = logs_dir(state_dir) / job / f"{run_id}.log"
            path.parent.mkdir(exist_ok=True)
            path.write_text(output)
            log = str(path)
        store.set_pid(run_id, 1000 + run_id, log)
        return run_id

    ok = started("backup", day(2), "snapshot 1 saved\n")
    store.finish_run(ok, Finish(Status.SUCCEEDED, day(2) + timedelta(seconds=62), exit_code=0))
    bad = started("backup", day(3), "repository locked\n")
    store.finish_run(bad, Finish(Status.FAILED, day(3) + timedelta(seconds=5), exit_code=3))
    store.record(
        job="backup",
        status=Status.SKIPPED,
        trigger=Trigger.SCHEDULE,
        scheduled_at=day(4),
        at=day(4),
        host=HOST,
        runner_id=runner,
        reason="paused",
    )
    store.record(  # the runner was down for three occurrences; the latest is named
        job="backup",
        status=Status.MISSED,
        trigger=Trigger.SCHEDULE,
        scheduled_at=day(7),
        at=day(7, 9),
        host=HOST,
        runner_id=runner,
        reason="no runner was up",
        missed_count=3,
    )
    started("report", day(7, 12), "partial output\n")
    store.close()
    yield state_dir


def _runs_json(text: str) -> list[dict[str, Any]]:
    data = json.loads(text)
    runs: list[dict[str, Any]] = data["runs"]
    return runs


# -- help ---------------------------------------------------------------------------------------


def test_every_command_has_help_text(cli: Cli) -> None:
    commands = app.registered_commands
    assert len(commands) >= 13
    for command in commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        assert command.callback is not None and (command.help or command.callback.__doc__), name
        result = cli("--state-dir", "/nonexistent", name, "--help")
        assert result.code == 0, name
        assert "Usage: cronpy" in result.out and len(result.out.splitlines()) > 3, name


def _click_commands() -> dict[str, Any]:
    import typer.main

    group = typer.main.get_command(app)
    commands: dict[str, Any] = {"cronpy": group, **group.commands}  # type: ignore[attr-defined]
    return commands


@pytest.mark.parametrize("name", sorted(_click_commands()))
def test_every_command_argument_and_option_has_help(name: str) -> None:
    """As sqlite-utils does: a command, argument or option added without help fails here."""
    command = _click_commands()[name]
    assert (command.help or "").strip(), f"{name} has no help text"
    missing = [p.name for p in command.params if not (getattr(p, "help", None) or "").strip()]
    assert not missing, f"{name}: no help text for {missing}"


def test_version_short_circuits_and_matches_the_package(cli: Cli) -> None:
    from cronpy import __version__

    assert cli("--version").out == f"cronpy {__version__}\n"
    # The typer path answers the same when --version follows another global option.
    result = cli("--state-dir", "/x", "--version")
    assert (result.code, result.out) == (0, f"cronpy {__version__}\n")


def test_unknown_command_is_a_usage_error(cli: Cli) -> None:
    result = cli("stauts")
    assert result.code == 2
    assert "No such command" in result.err


# -- next -----------------------------------------------------------------------------------------


def test_next_applies_the_spring_forward_rule(cli: Cli) -> None:
    result = cli(
        "next", "0 2 * * *", "--tz", "America/New_York", "--after", "2026-03-07T12:00", "-n", "3"
    )
    assert result.code == 0
    lines = [line for line in result.out.splitlines() if line.startswith(("Sun", "Mon", "Tue"))]
    # 02:00 does not exist on 8 March: a fixed-time job runs once, at the first instant after.
    assert "2026-03-08T03:00:00-04:00" in lines[0] and "2026-03-08T07:00:00Z" in lines[0]
    assert "-05:00 → -04:00" in lines[0]  # the human output points out the change
    assert "2026-03-09T02:00:00-04:00" in lines[1] and "→" not in lines[1]


def test_next_json_shape(cli: Cli) -> None:
    result = cli(
        "next",
        "0 1 * * *",
        "--tz",
        "America/New_York",
        "--after",
        "2026-10-31T12:00",
        "-n",
        "2",
        "--json",
    )
    assert result.code == 0
    assert json.loads(result.out) == {
        "schedule": "0 1 * * *",
        "timezone": "America/New_York",
        # 01:00 happens twice on 1 November: a fixed-time job runs at the first of the two.
        "next": ["2026-11-01T01:00:00-04:00", "2026-11-02T01:00:00-05:00"],
    }


def test_next_is_strictly_after_and_every_anchors_at_after(cli: Cli) -> None:
    result = cli(
        "next", "every 90m", "--after", "2026-01-01T00:00:00Z", "--tz", "UTC", "-n", "2", "--json"
    )
    assert json.loads(result.out)["next"] == [
        "2026-01-01T01:30:00+00:00",
        "2026-01-01T03:00:00+00:00",
    ]
    result = cli(
        "next",
        "0 * * * *",
        "--after",
        "2026-01-01T05:00:00+00:00",
        "--tz",
        "UTC",
        "-n",
        "1",
        "--json",
    )
    assert json.loads(result.out)["next"] == ["2026-01-01T06:00:00+00:00"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["0 61 * * *"], "invalid schedule"),
        (["0 1 * * *", "--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["0 1 * * *", "--after", "yesterday"], "invalid --after 'yesterday'"),
        (["0 1 * * *", "-n", "0"], "invalid -n 0"),
    ],
)
def test_next_rejects_bad_input_with_one_message(cli: Cli, args: list[str], needle: str) -> None:
    result = cli("next", *args)
    assert result.code == 2
    assert needle in result.err
    assert "Traceback" not in result.err and result.out == ""


# -- validate -------------------------------------------------------------------------------------


def test_validate_ok_counts_jobs(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text(
        '[jobs.a]\nschedule = "0 3 * * *"\ncommand = "true"\n'
        '[jobs.b]\nschedule = "every 5m"\ncommand = ["echo", "hi"]\n'
    )
    result = cli("validate", str(path))
    assert (result.code, result.out) == (0, f"{path}: 2 jobs OK\n")


def test_validate_reports_every_problem_one_per_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text(
        '[jobs.a]\nschedual = "0 3 * * *"\ncommand = "true"\n'
        '[jobs.b]\nschedule = "0 99 * * *"\ncommand = "true"\n'
    )
    result = cli("validate", str(path))
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) >= 2
    assert all(line.startswith(str(path)) for line in lines)
    assert any("job 'a'" in line and "schedule" in line for line in lines)  # did-you-mean
    assert any("job 'b'" in line and ":5:" in line for line in lines)  # with its line number
    assert "Traceback" not in result.err


# -- reading the state ----------------------------------------------------------------------------


def test_status_json_shape(cli: Cli, state: Path) -> None:
    result = cli("--state-dir", str(state), "status", "--json")
    assert result.code == 0
    data = json.loads(result.out)
    assert data["runners"] == []  # nobody holds the lock
    jobs = {j["name"]: j for j in data["jobs"]}
    assert set(jobs) == {"backup", "report"}  # "old" left the job file
    backup = jobs["backup"]
    assert set(backup) == {
        "name",
        "enabled",
        "late",
        "schedule",
        "timezone",
        "paused",
        "paused_until",
        "next_run_at",
        "last_run",
        "running",
    }
    assert backup["schedule"] == "0 3 * * *" and backup["timezone"] == "UTC"
    assert backup["next_run_at"] == "2026-03-08T03:00:00+00:00"
    assert backup["last_run"]["status"] == "missed" and backup["last_run"]["missed_count"] == 3
    assert backup["running"] == []
    (running,) = jobs["report"]["running"]
    assert running["status"] == "running" and running["started_at"] == "2026-03-07T12:00:02+00:00"


def test_status_human_is_plain_when_not_a_terminal(cli: Cli, state: Path) -> None:
    result = cli("--state-dir", str(state), "status")
    assert result.code == 0
    assert "\x1b" not in result.out
    assert "Runner: none is running" in result.out
    row = next(line for line in result.out.splitlines() if line.startswith("report"))
    assert "running (run" in row


def test_status_names_the_live_runner(cli: Cli, state: Path) -> None:
    with RunnerLock(state, pid=777, host="box"):
        data = json.loads(cli("--state-dir", str(state), "status", "--json").out)
    assert [(r["pid"], r["host"]) for r in data["runners"]] == [(777, "box")]
    started = datetime.fromisoformat(data["runners"][0]["started_at"])
    assert started.tzinfo is not None and abs(datetime.now(UTC) - started) < timedelta(minutes=1)


def test_status_survives_a_mangled_runner_file(state: Path) -> None:
    from cronpy.cli.commands.status import status
    from cronpy.runtime.statedir import Holder

    store = SqliteStore(db_path(state), readonly=True)
    holder = Holder(pid=777, host="box", started_at="yesterday", degraded=None)
    result = status(store, state_dir=state, runner=holder, job=None, now=day(8))
    store.close()
    (runner,) = result.runners
    assert (runner.pid, runner.started_at) == (777, None)
    assert result.to_json()["runners"][0]["started_at"] is None


def test_status_of_an_unknown_job_suggests_a_name(cli: Cli, state: Path) -> None:
    result = cli("--state-dir", str(state), "status", "bakup")
    assert result.code == 2
    assert "'bakup'" in result.err and "did you mean 'backup'" in result.err


def test_history_newest_first_with_filters(cli: Cli, state: Path) -> None:
    base = ("--state-dir", str(state), "history")
    runs = _runs_json(cli(*base, "backup", "--json").out)
    assert [r["status"] for r in runs] == ["missed", "skipped", "failed", "succeeded"]
    assert runs[2]["exit_code"] == 3 and runs[3]["duration"] == 60.0 and runs[3]["lateness"] == 2.0
    assert set(runs[0]) >= {"id", "job", "scheduled_at", "started_at", "trigger", "host", "attempt"}
    failed = _runs_json(cli(*base, "--status", "failed", "--json").out)
    assert [r["exit_code"] for r in failed] == [3]
    assert len(_runs_json(cli(*base, "-n", "2", "--json").out)) == 2
    # --since filters on when a record was made: only the missed record and report's run
    since = _runs_json(cli(*base, "--since", "2026-03-06T00:00Z", "--json").out)
    assert sorted(r["status"] for r in since) == ["missed", "running"]


def test_history_rejects_an_unknown_status(cli: Cli, state: Path) -> None:
    result = cli("--state-dir", str(state), "history", "--status", "ok")
    assert result.code == 2 and "expected one of running, succeeded" in result.err


def test_history_human_has_a_strip_oldest_first(cli: Cli, state: Path) -> None:
    result = cli("--state-dir", str(state), "history", "backup")
    assert result.code == 0 and "\x1b" not in result.out
    strip = result.out.splitlines()[0]
    assert strip.endswith("SF-M")  # succeeded, failed, skipped, missed
    assert "failed (exit 3)" in result.out


def test_logs_prints_the_latest_run_with_output(cli: Cli, state: Path) -> None:
    base = ("--state-dir", str(state), "logs")
    assert cli(*base, "backup").out == "repository locked\n"
    first = _runs_json(cli("--state-dir", str(state), "history", "backup", "--json").out)[-1]
    assert cli(*base, "backup", str(first["id"])).out == "snapshot 1 saved\n"


def test_logs_of_a_run_of_another_job_is_a_usage_error(cli: Cli, state: Path) -> None:
    report = json.loads(cli("--state-dir", str(state), "status", "report", "--json").out)
    run_id = report["jobs"][0]["running"][0]["id"]
    result = cli("--state-dir", str(state), "logs", "backup", str(run_id))
    assert result.code == 2 and "it is a run of 'report'" in result.err


def test_why_at_a_covered_missed_occurrence(cli: Cli, state: Path) -> None:
    result = cli("--state-dir", str(state), "why", "backup", "2026-03-06T03:00", "--json")
    assert result.code == 0
    data = json.loads(result.out)
    assert data["occurrence"] == "2026-03-06T03:00:00+00:00"
    assert data["records"] == [] and data["covered_by"]["missed_count"] == 3
    assert any("missed along with 2 other occurrences" in s for s in data["explanation"])


def test_why_at_a_time_that_is_not_a_fire_time(cli: Cli, state: Path) -> None:
    result = cli("--state-dir", str(state), "why", "backup", "2026-03-03T04:30")
    assert result.code == 0
    assert "is not a fire time of '0 3 * * *'" in result.out
    assert "2026-03-03T03:00:00+00:00" in result.out and "failed with exit code 3" in result.out


@pytest.mark.parametrize(
    "command",
    [
        ["status"],
        ["history"],
        ["logs", "backup"],
        ["why", "backup"],
        ["pause", "backup"],
        ["trigger", "backup"],
        ["reload"],
        ["cancel", "backup"],
    ],
)
def test_commands_without_state_exit_3(cli: Cli, tmp_path: Path, command: list[str]) -> None:
    result = cli("--state-dir", str(tmp_path / "none"), *command)
    assert result.code == 3
    assert "no cronpy state in" in result.err and "Traceback" not in result.err
    assert not (tmp_path / "none").exists()  # a read never creates state


def test_state_dir_comes_from_the_environment(
    cli: Cli, state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRONPY_STATE_DIR", str(state))
    assert cli("history", "--json").code == 0


# -- changing the state ---------------------------------------------------------------------------


def _paused(state: Path) -> dict[str, tuple[bool, datetime | None]]:
    store = SqliteStore(db_path(state), readonly=True)
    try:
        return {n: (s.paused, s.paused_until) for n, s in store.job_states().items()}
    finally:
        store.close()


def _controls(state: Path) -> list[tuple[ControlKind, str | None, int | None]]:
    store = SqliteStore(db_path(state), readonly=True)
    try:
        return [(c.kind, c.job, c.run_id) for c in store.pending_controls()]
    finally:
        store.close()


def test_pause_for_then_resume_persists_without_a_runner(cli: Cli, state: Path) -> None:
    before = datetime.now(UTC)
    result = cli("--state-dir", str(state), "pause", "backup", "--for", "2h")
    assert result.code == 0 and result.out.startswith("paused backup until")
    assert "no runner is running" in result.out
    paused, until = _paused(state)["backup"]
    assert paused and until is not None
    assert timedelta(hours=2) <= until - before < timedelta(hours=2, minutes=1)
    assert _controls(state) == [(ControlKind.WAKE, None, None)]
    status = json.loads(cli("--state-dir", str(state), "status", "backup", "--json").out)
    assert status["jobs"][0]["paused"] is True
    resumed = cli("--state-dir", str(state), "resume", "backup")
    assert resumed.out.startswith("resumed backup\n")
    assert _paused(state)["backup"] == (False, None)


def test_pause_all_pauses_only_jobs_in_the_file(cli: Cli, state: Path) -> None:
    result = cli("--state-dir", str(state), "pause", "--all", "--json")
    assert result.code == 0
    assert [j["name"] for j in json.loads(result.out)["jobs"]] == ["backup", "report"]
    assert _paused(state) == {"backup": (True, None), "report": (True, None), "old": (False, None)}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["pause", "backup", "bakcup"], "did you mean 'backup'"),
        (["pause"], "name the jobs to pause, or use --all"),
        (["pause", "backup", "--all"], "not both"),
        (["pause", "backup", "--for", "2h", "--until", "2030-01-01T00:00"], "not both"),
        (["pause", "backup", "--until", "2001-01-01T00:00Z"], "not in the future"),
        (["pause", "backup", "--for", "2 hours"], "invalid duration"),
    ],
)
def test_pause_usage_errors_change_nothing(
    cli: Cli, state: Path, args: list[str], needle: str
) -> None:
    result = cli("--state-dir", str(state), *args)
    assert result.code == 2 and needle in result.err
    assert _paused(state)["backup"] == (False, None)


def test_trigger_without_a_runner_queues_and_exits_3(cli: Cli, state: Path) -> None:
    result = cli("--state-dir", str(state), "trigger", "backup")
    assert result.code == 3
    assert "no runner is running" in result.err and "queued" in result.err
    assert _controls(state) == [(ControlKind.TRIGGER, "backup", None)]


def test_reload_and_cancel_without_a_runner_exit_3_and_queue_nothing(cli: Cli, state: Path) -> None:
    assert cli("--state-dir", str(state), "reload").code == 3
    assert cli("--state-dir", str(state), "cancel", "report").code == 3
    assert _controls(state) == []


def test_cancel_with_a_runner(cli: Cli, state: Path) -> None:
    with RunnerLock(state, pid=777, host="box"):
        nothing = cli("--state-dir", str(state), "cancel", "backup")
        unknown = cli("--state-dir", str(state), "cancel", "99999")
        done = cli("--state-dir", str(state), "cancel", "report")
    assert nothing.code == 1 and "no running run" in nothing.err
    assert unknown.code == 2 and "no run 99999" in unknown.err
    assert done.code == 0 and done.out.startswith("cancelling run")
    controls = _controls(state)
    assert [(k, j) for k, j, _ in controls] == [(ControlKind.CANCEL, "report")]
    assert controls[0][2] is not None and str(controls[0][2]) in done.out


@pytest.mark.parametrize(
    ("answer", "code", "needle"),
    [
        ("reloaded: 2 jobs", 0, "reloaded: 2 jobs"),
        (
            "rejected: 1 problem(s) in /x/jobs.toml; the jobs loaded at T keep running:\n"
            "/x/jobs.toml:3:12: job 'backup': unknown key 'schedual'",
            2,
            "/x/jobs.toml:3:12: job 'backup': unknown key 'schedual'",
        ),
        (None, 3, "has not answered reload request"),
    ],
)
def test_reload_waits_for_the_runners_answer_and_fails_when_it_refused(
    cli: Cli,
    state: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: str | None,
    code: int,
    needle: str,
) -> None:
    """`systemctl reload` runs `cronpy reload`: a refused file must fail it (exit 2, the
    runner's problems), and a runner that never answers too (exit 3)."""
    from cronpy.cli.commands import control

    monkeypatch.setattr(control, "RELOAD_WAIT", 0.5)
    stop = threading.Event()

    def fake_runner() -> None:
        store = SqliteStore(db_path(state))
        try:
            while not stop.wait(0.02):
                for c in store.pending_controls():
                    store.complete_control(c.id, datetime.now(UTC), result=answer)
        finally:
            store.close()

    thread = threading.Thread(target=fake_runner)
    with RunnerLock(state, pid=777, host="box"):
        if answer is not None:
            thread.start()
        try:
            result = cli("--state-dir", str(state), "reload")
        finally:
            stop.set()
            if answer is not None:
                thread.join()
    assert result.code == code, result
    assert needle in (result.out if code == 0 else result.err)


def test_trigger_wait_streams_output_and_exits_with_the_outcome(cli: Cli, state: Path) -> None:
    """A stand-in runner on a thread takes the trigger and runs a failing job."""
    stop = threading.Event()

    def fake_runner() -> None:
        store = SqliteStore(db_path(state))
        try:
            while not stop.wait(0.02):
                for control in store.pending_controls():
                    now = datetime.now(UTC)
                    run_id = store.claim_run(
                        job="backup",
                        scheduled_at=now,
                        trigger=Trigger.MANUAL,
                        attempt=1,
                        started_at=now,
                        host=HOST,
                        runner_id=1,
                    )
                    assert run_id is not None
                    log = logs_dir(state) / "backup" / f"{run_id}.log"
                    log.write_text("disk full\n")
                    store.set_pid(run_id, 4321, str(log))
                    store.complete_control(control.id, now, run_id=run_id, result="started")
                    store.finish_run(run_id, Finish(Status.FAILED, now, exit_code=1))
        finally:
            store.close()

    thread = threading.Thread(target=fake_runner)
    with RunnerLock(state, pid=777, host="box"):
        thread.start()
        try:
            result = cli("--state-dir", str(state), "trigger", "backup", "--wait")
        finally:
            stop.set()
            thread.join()
    assert result.code == 1
    assert result.out == "disk full\n"  # the job's output, and only it, on stdout
    assert "failed (exit 1)" in result.err


def test_no_color_output_is_plain_even_on_a_terminal(
    state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from cronpy.cli.render import color_wanted

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert color_wanted(Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not color_wanted(Tty())
    assert not color_wanted(io.StringIO())


# -- following a run, waiting for a trigger (fake sleep: each "sleep" is one runner step) ----------


def _one_running(state: Path) -> tuple[SqliteStore, int]:
    store = SqliteStore(db_path(state))
    (run,) = store.running_runs()
    return store, run.id


def test_follow_streams_until_the_run_ends(state: Path) -> None:
    from cronpy.cli.commands.logs import follow

    store, run_id = _one_running(state)
    run = store.get_run(run_id)
    assert run is not None and run.log_path is not None
    log = Path(run.log_path)
    steps: Iterator[Callable[[], object]] = iter(
        [
            lambda: log.write_text(log.read_text() + "more\n"),
            lambda: None,  # a poll with nothing new
            lambda: (
                log.write_text(log.read_text() + "last words\n"),
                store.finish_run(run_id, Finish(Status.SUCCEEDED, day(7, 13), exit_code=0)),
            ),
        ]
    )
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        next(steps)()

    out = b"".join(follow(store, run, sleep=sleep, poll=0.2))
    store.close()
    assert out == b"partial output\nmore\nlast words\n"
    assert sleeps == [0.2, 0.2, 0.2]  # stopped polling as soon as the run ended


def test_follow_waits_for_a_log_not_created_yet(state: Path) -> None:
    from cronpy.cli.commands.logs import follow

    store, run_id = _one_running(state)
    run = store.get_run(run_id)
    assert run is not None and run.log_path is not None
    log = Path(run.log_path)
    log.unlink()

    def sleep(seconds: float) -> None:
        log.write_text("hello\n")
        store.finish_run(run_id, Finish(Status.FAILED, day(7, 13), exit_code=1))

    assert b"".join(follow(store, run, sleep=sleep)) == b"hello\n"
    store.close()


def test_wait_taken_then_a_skipped_trigger_is_a_failure(state: Path) -> None:
    from cronpy.cli.commands.control import started_run, wait_taken
    from cronpy.errors import FailedError

    store = SqliteStore(db_path(state))
    control_id = store.push_control(ControlKind.TRIGGER, day(8), job="backup")
    polls = 0

    def sleep(seconds: float) -> None:
        nonlocal polls
        polls += 1
        if polls == 2:
            store.complete_control(control_id, day(8), result="skipped: backup is already running")

    control = wait_taken(store, control_id, sleep=sleep)
    assert polls == 2 and control.taken_at is not None
    with pytest.raises(FailedError, match="already running") as info:
        started_run(store, control)
    assert info.value.exit_code == 1
    store.close()


# -- systemd unit and man page -----------------------------------------------------------------


def test_systemd_unit_quotes_paths_and_covers_the_shutdown(cli: Cli, tmp_path: Path) -> None:
    folder = tmp_path / "my jobs 100%"
    folder.mkdir()
    path = folder / "jobs.toml"
    path.write_text(
        '[cronpy]\nshutdown_grace = "1m"\n'
        '[jobs.a]\nschedule = "@daily"\ncommand = "true"\nkill_grace = "45s"\n'
    )
    result = cli("systemd-unit", str(path))
    assert result.code == 0
    lines = result.out.splitlines()
    assert "Type=notify" in lines and "KillMode=mixed" in lines and "Restart=on-failure" in lines
    assert any(line.startswith("ExecReload=/") and line.endswith(" reload") for line in lines)
    assert "TimeoutStopSec=120" in lines  # 60s grace + 45s kill_grace + 15s to record the end
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    program = exec_start.removeprefix("ExecStart=").split(" ")[0]
    assert Path(program).is_absolute()
    # `systemctl reload` must fail on a refused file: `cronpy reload` waits for the answer
    assert f"ExecReload={program} reload" in lines
    # systemd splits on spaces and expands %: the file is one quoted word with %% for %
    assert exec_start.endswith(f' run "{str(path).replace("%", "%%")}"')


def test_systemd_unit_refuses_an_invalid_file(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text('[jobs.a]\ncommand = "true"\n')
    result = cli("systemd-unit", str(path))
    assert result.code == 2 and "schedule" in result.err and result.out == ""


MAN_PAGE = Path(__file__).resolve().parents[2] / "man" / "cronpy.1"


def test_man_page_documents_every_command() -> None:
    text = MAN_PAGE.read_text()
    for command in app.registered_commands:
        assert command.callback is not None
        name = (command.name or command.callback.__name__).replace("-", "\\-")
        assert f'.SS "cronpy {name}' in text, name


def test_man_page_renders_without_warnings() -> None:
    import shutil
    import subprocess

    if shutil.which("groff") is None:
        pytest.skip("groff is not installed")
    done = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", "-z", str(MAN_PAGE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, "")


def test_logs_of_a_job_without_output_exits_1(cli: Cli, state: Path) -> None:
    store = SqliteStore(db_path(state))
    store.save_job_states([JobState(name="quiet", first_seen=T0, schedule="@daily")])
    store.close()
    result = cli("--state-dir", str(state), "logs", "quiet")
    assert result.code == 1 and "has no run with output yet" in result.err


def test_why_with_the_job_file_sees_what_the_state_does_not(
    cli: Cli, state: Path, tmp_path: Path
) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text('[jobs.backup]\nschedule = "0 3 * * *"\ncommand = "true"\nenabled = false\n')
    with_file = cli("--state-dir", str(state), "why", "backup", "--file", str(path), "--json")
    assert with_file.code == 0
    data = json.loads(with_file.out)
    assert data["next_run_at"] is None
    assert any("disabled" in s for s in data["explanation"])
    without = json.loads(cli("--state-dir", str(state), "why", "backup", "--json").out)
    assert without["next_run_at"] is not None
    assert any("--file" in s for s in without["explanation"])


def test_since_takes_a_duration_ago_or_a_time() -> None:
    from zoneinfo import ZoneInfo

    from cronpy.cli.commands.common import parse_since
    from cronpy.errors import UsageError

    now = datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_since("2h", now=now, tz=berlin) == now - timedelta(hours=2)
    assert parse_since("1d12h", now=now, tz=berlin) == now - timedelta(days=1, hours=12)
    assert parse_since("2026-03-08T09:00", now=now, tz=berlin) == datetime(
        2026, 3, 8, 8, 0, tzinfo=UTC
    )
    assert parse_since("2026-03-08T09:00Z", now=now, tz=berlin) == datetime(
        2026, 3, 8, 9, 0, tzinfo=UTC
    )
    with pytest.raises(UsageError, match='like "2h"'):
        parse_since("two hours", now=now, tz=berlin)


def test_state_dir_may_follow_the_command(tmp_path: Path) -> None:
    from cronpy.cli.main import _hoist_state_dir

    assert _hoist_state_dir(["run", "jobs.toml", "--state-dir", "/s"]) == [
        "--state-dir",
        "/s",
        "run",
        "jobs.toml",
    ]
    assert _hoist_state_dir(["status", "--state-dir=/s", "--json"]) == [
        "--state-dir=/s",
        "status",
        "--json",
    ]
    assert _hoist_state_dir(["--state-dir", "/s", "status"]) == ["--state-dir", "/s", "status"]
    assert _hoist_state_dir(["next", "--", "--state-dir", "x"]) == [
        "next",
        "--",
        "--state-dir",
        "x",
    ]


def test_store_copy_moves_the_state_into_postgresql_once(
    cli: Cli, state: Path, postgres_url: str
) -> None:
    source = SqliteStore(db_path(state))
    source.set_paused(["backup"], True, None)
    pending = RetryDue(T0, 2, T0 + timedelta(minutes=5))
    source.plan_retry("backup", pending)
    finished = [r for r in source.runs(limit=100) if r.status is not Status.RUNNING]
    source.close()
    first = cli("--state-dir", str(state), "store", "copy", "--to", postgres_url, "--json")
    assert first.code == 0, first.err
    copied = json.loads(first.out)
    assert (copied["jobs"], copied["paused"]) == (3, 1)
    assert copied["runs"] == copied["added"] == len(finished) > 0
    again = json.loads(
        cli("--state-dir", str(state), "store", "copy", "--to", postgres_url, "--json").out
    )
    assert again["added"] == 0  # idempotent
    from cronpy.store.postgres import PostgresStore

    with PostgresStore(postgres_url) as target:  # a pending retry moves too, once
        assert target.pending_retries() == {"backup": (pending,)}
    # the commands read the copy through --store, as on a host without the SQLite file
    history = cli("--store", postgres_url, "--state-dir", str(state), "history", "--json")
    assert history.code == 0, history.err
    assert len(json.loads(history.out)["runs"]) == len(finished)
    status = json.loads(cli("--store", postgres_url, "status", "--json").out)
    assert {j["name"]: j["paused"] for j in status["jobs"]}["backup"] is True
