"""Operator features in process: the systemd unit's options, metrics as the scheduler's
observer, settings of [cronpy], mail_output, the journald-aware event log, completion."""

from __future__ import annotations

import io
import os
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cronpy.cli.main import main
from cronpy.config import parse_job_file
from cronpy.errors import ConfigError, UsageError
from cronpy.model import JobState, MailOutput, Run, Status, Trigger
from cronpy.notify.hooks import _mails_output
from cronpy.runtime.eventlog import EventLog
from cronpy.runtime.metrics import RunnerMetrics, parse_address
from cronpy.runtime.sdnotify import running_status
from cronpy.runtime.statedir import db_path, ensure_state_dir
from cronpy.store.sqlite.store import SqliteStore

T = datetime(2026, 5, 1, 3, tzinfo=UTC)
JOBS = '[jobs.a]\nschedule = "@daily"\ncommand = "true"\n'


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., tuple[int, str, str]]]:
    monkeypatch.delenv("CRONPY_STATE_DIR", raising=False)

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield run


# -- systemd-unit ----------------------------------------------------------------------------


def test_systemd_unit_with_a_state_dir_names_it_instead_of_crashing(
    cli: Callable[..., tuple[int, str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "jobs.toml").write_text(JOBS)
    for args, env in (((f"--state-dir={tmp_path}/st",), None), ((), f"{tmp_path}/st")):
        if env:
            monkeypatch.setenv("CRONPY_STATE_DIR", env)
        code, out, err = cli(*args, "systemd-unit", str(tmp_path / "jobs.toml"))
        assert (code, err) == (0, "")
        lines = out.splitlines()
        assert f"Environment=CRONPY_STATE_DIR={tmp_path}/st" in lines
        assert "StateDirectory=cronpy" not in lines  # systemd must not make another one


def test_systemd_unit_defaults_user_hardening_and_writable(
    cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    (tmp_path / "jobs.toml").write_text(JOBS)
    code, out, _ = cli(
        "systemd-unit", str(tmp_path / "jobs.toml"), "--user", "root", "--writable", "/srv/x"
    )
    lines = out.splitlines()
    assert code == 0
    for wanted in (
        "Type=notify",
        "WatchdogSec=120",
        "User=root",
        "Group=root",
        "StateDirectory=cronpy",
        "LogsDirectory=cronpy",
        "Environment=CRONPY_STATE_DIR=/var/lib/cronpy",
        "Delegate=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=full",
        "ProtectHome=read-only",
        "PrivateTmp=yes",
        "ReadWritePaths=/srv/x",
    ):
        assert wanted in lines, wanted
    reload = next(line for line in lines if line.startswith("ExecReload="))
    assert reload.endswith(" reload") and "kill" not in reload


def test_systemd_unit_refuses_a_bad_user(
    cli: Callable[..., tuple[int, str, str]], tmp_path: Path
) -> None:
    (tmp_path / "jobs.toml").write_text(JOBS)
    code, out, err = cli("systemd-unit", str(tmp_path / "jobs.toml"), "--user", ":staff")
    assert code == 2 and out == "" and "--user" in err and "Traceback" not in err


# -- settings ----------------------------------------------------------------------------------


def test_cronpy_table_takes_metrics_and_smtp() -> None:
    text = (
        '[cronpy]\nmetrics = "127.0.0.1:9464"\n'
        'smtp = { host = "mx", port = 587, starttls = true, user = "u",'
        ' password_env = "PW", from = "c@x" }\n' + JOBS + 'mail_output = "on_failure"\n'
    )
    jobs = parse_job_file(text, "jobs.toml")
    smtp = jobs.settings.smtp
    assert jobs.settings.metrics == "127.0.0.1:9464"
    assert smtp is not None and (smtp.host, smtp.port, smtp.starttls) == ("mx", 587, True)
    assert (smtp.user, smtp.password_env, smtp.sender) == ("u", "PW", "c@x")
    assert jobs.jobs["a"].mail_output is MailOutput.ON_FAILURE


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('metrics = "localhost"', "address"),
        ('metrics = "1.2.3.4:99999"', "address"),
        ('smtp = { hots = "mx" }', "did you mean 'host'"),
        ('smtp = { port = "25" }', "port number"),
        ('smtp = { user = "u", password_file = "/p", password_env = "P" }', "not both"),
        ('smtp = { password_env = "P" }', "needs smtp.user"),
    ],
)
def test_bad_runner_settings_are_reported(line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_job_file(f"[cronpy]\n{line}\n{JOBS}", "jobs.toml")


def test_bad_mail_output_is_reported() -> None:
    with pytest.raises(ConfigError, match="always, on_failure, never"):
        parse_job_file(JOBS + 'mail_output = "sometimes"\n', "jobs.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("9464", ("127.0.0.1", 9464)), ("0.0.0.0:80", ("0.0.0.0", 80)), ("[::1]:9", ("::1", 9))],
)
def test_metrics_address_forms(text: str, expected: tuple[str, int]) -> None:
    assert parse_address(text) == expected


@pytest.mark.parametrize("text", ["", "host:", "host:0", "[zz]:9", "a:b"])
def test_bad_metrics_addresses(text: str) -> None:
    with pytest.raises(UsageError, match="invalid metrics address"):
        parse_address(text)


# -- mail_output -------------------------------------------------------------------------------


def _run(status: Status, output: str) -> Run:
    return Run(7, "a", status, Trigger.SCHEDULE, T, T, T, output_tail=output)


def test_mail_output_follows_cron_by_default_and_the_policy_otherwise() -> None:
    ok, silent, bad = (
        _run(Status.SUCCEEDED, "hi\n"),
        _run(Status.SUCCEEDED, ""),
        _run(Status.FAILED, ""),
    )
    assert _mails_output(MailOutput.ALWAYS, "on_success", ok)
    assert not _mails_output(MailOutput.ALWAYS, "on_success", silent)  # cron: no output, no mail
    assert not _mails_output(MailOutput.ALWAYS, "on_dead", ok)  # one mail per run end
    assert _mails_output(MailOutput.ON_FAILURE, "on_failure", bad)
    assert not _mails_output(MailOutput.ON_FAILURE, "on_success", ok)
    assert not _mails_output(MailOutput.NEVER, "on_failure", _run(Status.FAILED, "x"))


# -- metrics as an observer --------------------------------------------------------------------


def test_metrics_follow_what_the_scheduler_applies() -> None:
    m = RunnerMetrics()
    value = m.registry.get_sample_value
    m.states([JobState("a", T, next_run_at=T + timedelta(hours=1))])
    assert value("cronpy_job_next_run_timestamp_seconds", {"job": "a"}) == T.timestamp() + 3600
    m.started("a", 7, Trigger.SCHEDULE, T, T + timedelta(seconds=0.02))
    assert value("cronpy_running_runs") == 1
    assert value("cronpy_start_lateness_seconds_bucket", {"job": "a", "le": "0.025"}) == 1
    assert value("cronpy_start_lateness_seconds_bucket", {"job": "a", "le": "0.01"}) == 0
    end = T + timedelta(seconds=3)
    m.finished(
        Run(7, "a", Status.SUCCEEDED, Trigger.SCHEDULE, T, T, end, cpu_seconds=0.5, max_rss_kib=2)
    )
    assert value("cronpy_running_runs") == 0
    assert value("cronpy_runs_total", {"job": "a", "status": "succeeded"}) == 1
    assert value("cronpy_run_duration_seconds_sum", {"job": "a"}) == 3
    assert value("cronpy_run_cpu_seconds_total", {"job": "a"}) == 0.5
    assert value("cronpy_run_max_rss_bytes", {"job": "a"}) == 2048
    assert value("cronpy_job_last_success_timestamp_seconds", {"job": "a"}) == end.timestamp()
    m.recorded("a", Status.SKIPPED)
    assert value("cronpy_runs_total", {"job": "a", "status": "skipped"}) == 1
    m.set_degraded("disk full")
    m.set_reload_failed(True)
    assert value("cronpy_runner_degraded") == 1 and value("cronpy_runner_reload_failed") == 1
    m.states([JobState("a", T, present=False)])  # removed from the file: its gauges go
    assert value("cronpy_job_next_run_timestamp_seconds", {"job": "a"}) is None


def test_metrics_refuse_a_busy_address_in_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(UsageError, match=f"cannot serve metrics on 127.0.0.1:{port}: "):
            RunnerMetrics().serve(f"127.0.0.1:{port}")


# -- sd_notify STATUS, journald, completion ----------------------------------------------------


def test_status_names_the_job_due_next() -> None:
    states = [
        JobState("late", T, next_run_at=T + timedelta(hours=2)),
        JobState("soon", T, next_run_at=T + timedelta(minutes=5)),
        JobState("gone", T, next_run_at=T, present=False),
    ]
    assert (
        running_status(states, 2)
        == "STATUS=running 2 jobs; next: soon at 2026-05-01T03:05:00+00:00"
    )


def test_event_log_leaves_timestamps_to_journald(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open(tmp_path / "err", "w+") as stream:
        st = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
        log = EventLog(stream)
        log("ready", jobs=2)
        log.flush()
        json_log = EventLog(stream, "json")
        assert json_log.stamped  # machines keep their ts field
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino + 1}")  # another file
        EventLog(stream)("ready", jobs=2)
        stamped = EventLog(stream)
        stamped("ready", jobs=2)
        stamped.flush()
        stream.seek(0)
        first, second = stream.read().splitlines()
    assert first == "ready jobs=2"
    assert second.startswith("20") and second.endswith(" ready jobs=2")
    assert EventLog(io.StringIO()).stamped  # no file descriptor: not the journal


def test_job_names_complete_from_the_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    state_dir = ensure_state_dir(tmp_path / "state")
    store = SqliteStore(db_path(state_dir))
    store.save_job_states(
        [JobState("backup", T), JobState("beacon", T), JobState("old", T, present=False)]
    )
    store.close()
    monkeypatch.setenv("CRONPY_STATE_DIR", str(state_dir))
    monkeypatch.setenv("_CRONPY_COMPLETE", "complete_zsh")
    monkeypatch.setenv("_TYPER_COMPLETE_ARGS", "cronpy history b")
    with pytest.raises(SystemExit):
        main(["history", "b"])
    out = capsys.readouterr().out
    assert '"backup"' in out and '"beacon"' in out and "old" not in out
