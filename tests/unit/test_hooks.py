"""on_* commands and notify targets, against a real HTTP server on loopback."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cronpy.config import parse_job_file
from cronpy.model import Run, Status, Trigger
from cronpy.notify.hooks import JobHooks


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
    hooks = JobHooks(lambda *a, **k: None)
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
    hooks = JobHooks(lambda *a, **k: None)
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
        def __init__(self, host: str, timeout: float) -> None:
            assert host == "localhost"

        def __enter__(self) -> FakeSMTP:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def send_message(self, message: EmailMessage) -> None:
            sent.append(message)

    job = _job('notify = { email = "ops@example.com" }')
    hooks = JobHooks(lambda *a, **k: None, smtp=FakeSMTP)
    hooks.fire("on_failure", job, _run(Status.FAILED))
    hooks.fire("on_dead", job, _run(Status.FAILED))
    _wait(lambda: len(sent) == 1)
    assert sent[0]["To"] == "ops@example.com"
    assert sent[0]["Subject"] == "cronpy: backup failed (failed)"
    assert "disk full" in sent[0].get_content()


def test_shell_hook_gets_the_run_in_its_environment(tmp_path: Path) -> None:
    out = tmp_path / "hook.out"
    job = _job(
        f'on_dead = "echo $CRONPY_EVENT $CRONPY_JOB $CRONPY_RUN_ID $CRONPY_STATUS'
        f' $CRONPY_ATTEMPT > {out}"'
    )
    events: list[str] = []
    JobHooks(lambda event, **k: events.append(event)).fire("on_dead", job, _run(Status.FAILED))
    _wait(lambda: out.exists() and out.read_text().strip() != "")
    assert out.read_text().split() == ["on_dead", "backup", "7", "failed", "2"]
    assert events == ["hook"]


def test_an_unreachable_target_is_logged_not_raised() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    job = _job('notify = { webhook = "http://127.0.0.1:9/nothing" }')
    JobHooks(lambda e, **k: events.append((e, k))).fire("on_failure", job, _run(Status.FAILED))
    _wait(lambda: bool(events))
    assert events[0][0] == "notify-error"
