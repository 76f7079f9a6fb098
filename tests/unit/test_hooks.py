"""on_* commands through a real launcher, and notify targets against a real HTTP server on
loopback."""

from __future__ import annotations

import dataclasses
import http.server
import selectors
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cronpy.config import parse_job_file
from cronpy.launch import Launcher
from cronpy.model import HookOutcome, HookRequest, Run, Status, Trigger
from cronpy.notify.hooks import JobHooks, log_hook_outcomes


class _NoLauncher:
    """For notify targets: a hook command reaching the launcher is a test failure."""

    def start_hook(self, req: HookRequest) -> None:
        raise AssertionError(f"unexpected hook {req}")


@dataclasses.dataclass
class _Launched:
    """A real launcher on its own selector, driven as the runner's loop drives it."""

    selector: selectors.BaseSelector = dataclasses.field(default_factory=selectors.DefaultSelector)
    launcher: Launcher = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.launcher = Launcher(self.selector)

    def until_done(self, timeout: float = 10.0) -> list[HookOutcome]:
        end = time.monotonic() + timeout
        while self.launcher.hooks_running:
            now = time.monotonic()
            assert now < end, "hook still running"
            deadline = self.launcher.next_deadline()
            wait = end - now if deadline is None else max(0.0, min(end, deadline) - now)
            for key, mask in self.selector.select(wait):
                key.data(mask)
            self.launcher.check_deadlines()
        return self.launcher.drain_hooks()


@pytest.fixture
def launched() -> Iterator[_Launched]:
    harness = _Launched()
    yield harness
    assert not harness.launcher.hooks_running
    assert len(harness.selector.get_map()) == 0  # every descriptor was unregistered
    harness.selector.close()


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, bytes]]] = []

    def _record(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.seen.append((self.command, self.path, self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    do_GET = do_POST = _record

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    _Recorder.seen = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _wait(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def _run(status: Status) -> Run:
    at = datetime(2026, 5, 1, 3, tzinfo=UTC)
    return Run(
        id=7,
        job="backup",
        status=status,
        trigger=Trigger.SCHEDULE,
        scheduled_at=at,
        started_at=at,
        ended_at=at,
        exit_code=1,
        attempt=2,
        output_tail="disk full",
    )


def _job(extra: str) -> Any:
    text = f'[jobs.backup]\nschedule = "@daily"\ncommand = "true"\ntimezone = "UTC"\n{extra}\n'
    return parse_job_file(text, "jobs.toml").jobs["backup"]


def test_ping_follows_the_healthchecks_convention(server: str) -> None:
    job = _job(f'notify = {{ ping = "{server}/ping/abc" }}')
    hooks = JobHooks(lambda *a, **k: None, _NoLauncher())
    hooks.started(job, 7)
    hooks.fire("on_success", job, _run(Status.SUCCEEDED))
    hooks.fire("on_failure", job, _run(Status.FAILED))
    _wait(lambda: len(_Recorder.seen) == 3)
    assert sorted(path for _, path, _ in _Recorder.seen) == [
        "/ping/abc/fail?rid=7",
        "/ping/abc/start?rid=7",
        "/ping/abc?rid=7",
    ]


def test_webhook_posts_the_run_as_json_on_failure_only(server: str) -> None:
    import json

    job = _job(f'notify = {{ webhook = "{server}/hook" }}')
    hooks = JobHooks(lambda *a, **k: None, _NoLauncher())
    hooks.fire("on_success", job, _run(Status.SUCCEEDED))
    hooks.fire("on_dead", job, _run(Status.FAILED))
    _wait(lambda: len(_Recorder.seen) == 1)
    method, path, body = _Recorder.seen[0]
    payload = json.loads(body)
    assert (method, path, payload["event"], payload["job"]) == (
        "POST",
        "/hook",
        "on_dead",
        "backup",
    )
    assert payload["run"]["status"] == "failed" and payload["run"]["attempt"] == 2


def test_email_goes_to_the_local_mta_when_a_job_is_dead() -> None:
    sent: list[EmailMessage] = []

    class FakeSMTP:
        def __init__(self, host: str, port: int, timeout: float) -> None:
            assert (host, port) == ("localhost", 25)

        def __enter__(self) -> FakeSMTP:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def send_message(self, message: EmailMessage) -> None:
            sent.append(message)

    job = _job('notify = { email = "ops@example.com" }\nmail_output = "never"')
    hooks = JobHooks(lambda *a, **k: None, _NoLauncher(), smtp=FakeSMTP)
    hooks.fire("on_failure", job, _run(Status.FAILED))
    hooks.fire("on_dead", job, _run(Status.FAILED))
    _wait(lambda: len(sent) == 1)
    assert sent[0]["To"] == "ops@example.com"
    assert sent[0]["Subject"] == "cronpy: backup failed (failed)"
    assert "disk full" in sent[0].get_content()


def test_shell_hook_gets_the_run_in_its_environment(tmp_path: Path, launched: _Launched) -> None:
    out = tmp_path / "hook.out"
    job = _job(
        f'on_dead = "echo $CRONPY_EVENT $CRONPY_JOB $CRONPY_RUN_ID $CRONPY_STATUS'
        f' $CRONPY_ATTEMPT > {out}"'
    )
    events: list[str] = []
    hooks = JobHooks(lambda event, **k: events.append(event), launched.launcher)
    hooks.fire("on_dead", job, _run(Status.FAILED))
    [outcome] = launched.until_done()
    assert outcome.status is Status.SUCCEEDED
    assert out.read_text().split() == ["on_dead", "backup", "7", "failed", "2"]
    assert events == ["hook"]


def test_failing_hook_logs_its_exit_code_and_output(launched: _Launched) -> None:
    job = _job('on_failure = "echo text >&2; exit 7"')
    events: list[tuple[str, dict[str, Any]]] = []
    JobHooks(lambda e, **k: events.append((e, k)), launched.launcher).fire(
        "on_failure", job, _run(Status.FAILED)
    )
    [outcome] = launched.until_done()
    assert (outcome.status, outcome.exit_code) == (Status.FAILED, 7)
    assert "text" in outcome.output_tail
    log_hook_outcomes([outcome], lambda e, **k: events.append((e, k)))
    assert [e for e, _ in events] == ["hook", "hook-end"]
    fields = events[1][1]
    assert fields["job"] == "backup" and fields["hook"] == "on_failure"
    assert (fields["status"], fields["exit_code"], fields["output"]) == ("failed", 7, "text")
    assert fields["pid"] == outcome.pid and 0 <= fields["duration"] < 5


def test_hook_timeout_comes_from_the_job(launched: _Launched) -> None:
    job = dataclasses.replace(_job('on_failure = "sleep 30"'), hook_timeout=1.0)
    started = time.monotonic()
    JobHooks(lambda *a, **k: None, launched.launcher).fire("on_failure", job, _run(Status.FAILED))
    [outcome] = launched.until_done()
    assert (outcome.status, outcome.reason) == (Status.TIMED_OUT, "timeout of 1s exceeded")
    assert 1 <= time.monotonic() - started < 10


def test_hook_whose_shell_is_missing_logs_a_spawn_error(launched: _Launched) -> None:
    job = _job('shell = "/nonexistent/sh"\non_failure = "true"')
    events: list[tuple[str, dict[str, Any]]] = []
    JobHooks(lambda *a, **k: None, launched.launcher).fire("on_failure", job, _run(Status.FAILED))
    log_hook_outcomes(launched.until_done(), lambda e, **k: events.append((e, k)))
    [(event, fields)] = events
    assert (event, fields["status"], fields["pid"]) == ("hook-end", "spawn_error", None)
    assert fields["reason"] == "shell '/nonexistent/sh' not found"


def test_an_unreachable_target_is_logged_not_raised() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    job = _job('notify = { webhook = "http://127.0.0.1:9/nothing" }')
    hooks = JobHooks(lambda e, **k: events.append((e, k)), _NoLauncher())
    hooks.fire("on_failure", job, _run(Status.FAILED))
    _wait(lambda: bool(events))
    assert events[0][0] == "notify-error"
