"""Operator features against real processes: a Prometheus scrape checked by promtool, each
run's CPU and memory from wait4, output mail through a real SMTP server, sd_notify on a
datagram socket as systemd opens it, `systemd-analyze verify`, and `cronpy top` in tmux."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import CRONPY, E2E, REPO, wait_for

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- metrics -----------------------------------------------------------------------------------


def test_metrics_are_scraped_over_http_and_pass_promtool(e2e: E2E) -> None:
    port = free_port()
    runner = e2e.start(
        '[jobs.ok]\nschedule = "every 1s"\ncommand = "echo fine"\n'
        '[jobs.bad]\nschedule = "every 1s"\ncommand = "exit 3"\n',
        args=["--metrics", f"127.0.0.1:{port}"],
    )
    runner.wait_runs("ok", 2, status="succeeded")
    runner.wait_runs("bad", 2, status="failed")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples['cronpy_runs_total{job="ok",status="succeeded"}'] >= 2
    assert samples['cronpy_runs_total{job="bad",status="failed"}'] >= 2
    assert samples['cronpy_start_lateness_seconds_count{job="ok"}'] >= 2
    assert samples['cronpy_job_next_run_timestamp_seconds{job="ok"}'] > time.time() - 5
    assert samples['cronpy_job_last_success_timestamp_seconds{job="ok"}'] > time.time() - 60
    assert 'cronpy_run_cpu_seconds_total{job="ok"}' in samples
    assert samples["cronpy_runner_degraded"] == 0
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip(
            "PROMTOOL MISSING: the scrape was checked, its format was not"
            " (apt-get install prometheus)"
        )
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


def test_a_busy_metrics_address_is_one_line_and_exit_2(e2e: E2E) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        runner = e2e.start(
            '[jobs.a]\nschedule = "@daily"\ncommand = "true"\n',
            args=["--metrics", f"127.0.0.1:{port}"],
            wait_ready=False,
        )
        assert runner.wait_exit() == 2
    text = runner.stderr_text()
    assert f"cannot serve metrics on 127.0.0.1:{port}" in text
    assert len(text.strip().splitlines()) == 1 and "Traceback" not in text
    bad = e2e.cli("run", str(e2e.job_file), "--metrics", "localhost")
    assert bad.code == 2 and "invalid metrics address" in bad.stderr


# -- the cost of each run ----------------------------------------------------------------------

BURN = (
    "import time\n"
    "block = bytearray(50 * 1024 * 1024)\n"
    "for i in range(0, len(block), 4096): block[i] = 1\n"  # touch every page: resident
    "start = time.process_time()\n"
    "while time.process_time() - start < 0.5: pass\n"
)


def test_each_run_records_its_cpu_time_and_peak_memory(e2e: E2E) -> None:
    argv = json.dumps([sys.executable, "-c", BURN])
    runner = e2e.start(f'[jobs.burn]\nschedule = "every 1s"\ncommand = {argv}\n')
    row = runner.wait_runs("burn", 1, status="succeeded")[0]
    assert 0.3 <= row["cpu_seconds"] <= 1.5, row
    assert row["max_rss_kib"] >= 50 * 1024, row
    first = next(r for r in runner.runs("burn") if r["id"] == row["id"])
    assert first["cpu_seconds"] == row["cpu_seconds"]
    assert first["max_rss_kib"] == row["max_rss_kib"]


def test_a_child_the_job_waited_for_counts_in_its_cpu(e2e: E2E) -> None:
    command = json.dumps(f"{sys.executable} -c \"exec('''{BURN}''')\"; true")
    runner = e2e.start(f'[jobs.shell]\nschedule = "every 1s"\ncommand = {command}\n')
    row = runner.wait_runs("shell", 1, status="succeeded")[0]
    assert 0.3 <= row["cpu_seconds"] <= 1.5, row  # the python under sh -c, waited for by sh


# -- mail through SMTP -------------------------------------------------------------------------


def test_output_is_mailed_through_the_smtp_server_of_the_job_file(e2e: E2E) -> None:
    controller_module = pytest.importorskip("aiosmtpd.controller")
    from aiosmtpd.smtp import AuthResult, LoginPassword

    received: list[Any] = []
    logins: list[tuple[bytes, bytes]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret")

    port = free_port()
    controller = controller_module.Controller(
        Handler(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        runner = e2e.start(
            f'[cronpy]\nsmtp = {{ host = "127.0.0.1", port = {port}, user = "cron",'
            ' password_env = "SMTP_PW", from = "cronpy@test.invalid" }\n'
            '[jobs.report]\nschedule = "every 1s"\ncommand = "echo report line one; exit 4"\n'
            'notify = { email = "ops@test.invalid" }\nmail_output = "on_failure"\n'
            '[jobs.quiet]\nschedule = "every 1s"\ncommand = "true"\n'
            'notify = { email = "ops@test.invalid" }\n',
            env={"SMTP_PW": "s3cret"},
        )
        runner.wait_runs("quiet", 2, status="succeeded")
        wait_for(lambda: [e for e in received if b"output" in e.original_content], what="mail")
    finally:
        controller.stop()
    from email import message_from_bytes
    from email.policy import default

    envelope = next(e for e in received if b"report output" in e.original_content)
    message = message_from_bytes(envelope.original_content, policy=default)
    assert envelope.rcpt_tos == ["ops@test.invalid"]
    assert envelope.mail_from == "cronpy@test.invalid"
    assert message["Subject"] == "cronpy: report output (failed, exit 4)"
    assert "report line one" in message.get_content()
    assert logins and logins[0] == (b"cron", b"s3cret")
    # the job that printed nothing sent nothing, as cron does
    assert all("quiet" not in message_from_bytes(e.original_content)["Subject"] for e in received)


# -- sd_notify ---------------------------------------------------------------------------------


def test_sd_notify_speaks_to_a_socket_as_systemd_opens_it(e2e: E2E, tmp_path: Path) -> None:
    address = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(0.2)
    messages: list[str] = []

    def seen(predicate: Any, what: str, start: int = 0) -> Any:
        def check() -> Any:
            try:
                while True:
                    messages.append(sock.recv(4096).decode())
            except TimeoutError:
                pass
            return next((m for m in messages[start:] if predicate(m)), None)

        return wait_for(check, what=what)

    try:
        runner = e2e.start(
            '[jobs.soon]\nschedule = "every 1h"\ncommand = "true"\n',
            env={"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"},
        )
        ready = seen(lambda m: m.startswith("READY=1\n"), "READY=1")
        assert ready.split("\n")[1].startswith("STATUS=running 1 jobs; next: soon at ")
        seen(lambda m: m == "WATCHDOG=1", "WATCHDOG=1")
        count = len(messages)
        runner.send(signal.SIGHUP)
        reloading = seen(lambda m: m.startswith("RELOADING=1\nMONOTONIC_USEC="), "RELOADING", count)
        after = messages.index(reloading, count) + 1
        seen(lambda m: m.startswith("READY=1\nSTATUS="), "READY=1 after the reload", after)
        runner.send(signal.SIGTERM)
        seen(lambda m: m == "STOPPING=1", "STOPPING=1")
        assert runner.wait_exit() == 0
    finally:
        sock.close()


# -- systemd-analyze verify --------------------------------------------------------------------


def _verify(
    unit_dir: Path, env: dict[str, str], *args: str
) -> tuple[str, subprocess.CompletedProcess[bytes]]:
    unit = subprocess.run(
        [CRONPY, "systemd-unit", str(REPO / "examples" / "jobs.toml"), *args],
        env=env,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    path = unit_dir / "cronpy.service"
    path.write_text(unit)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(path)], env=env, capture_output=True, timeout=60
    )
    return unit, done


def test_the_unit_passes_systemd_analyze_verify_with_and_without_the_man_page(
    e2e: E2E, tmp_path: Path
) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("SYSTEMD-ANALYZE MISSING: the unit was not verified (apt-get install systemd)")
    env = {k: v for k, v in e2e.env.items() if k != "CRONPY_STATE_DIR"}
    no_man = tmp_path / "no-man"
    (no_man / "man1").mkdir(parents=True)
    with_man = tmp_path / "with-man"
    (with_man / "man1").mkdir(parents=True)
    shutil.copy(REPO / "man" / "cronpy.1", with_man / "man1" / "cronpy.1")
    for manpath, documented in ((no_man, False), (with_man, shutil.which("man") is not None)):
        unit, done = _verify(tmp_path, {**env, "MANPATH": str(manpath)}, "--writable", "/srv")
        output = (done.stdout + done.stderr).decode()
        assert done.returncode == 0 and output == "", f"{output}\n{unit}"
        assert ("Documentation=man:cronpy(1)" in unit) == documented


def test_the_wheel_installs_the_man_page(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        timeout=300,
    )
    if built.returncode != 0:
        pytest.skip(f"WHEEL NOT BUILT here (no build backend?): {built.stderr.decode()[-300:]}")
    (wheel,) = tmp_path.glob("cronpy-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".data/data/share/man/man1/cronpy.1") for n in names)


# -- cronpy top --------------------------------------------------------------------------------


def test_top_draws_full_screen_and_quits_on_q_restoring_the_terminal(e2e: E2E) -> None:
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("TMUX MISSING: cronpy top was not tried in a terminal (apt-get install tmux)")
    runner = e2e.start(
        '[cronpy]\nshutdown_grace = "1s"\n'
        '[jobs.slow]\nschedule = "every 1s"\ncommand = "echo marker-from-slow; sleep 30"\n'
        'overlap = "forbid"\n[jobs.bad]\nschedule = "every 1s"\ncommand = "exit 3"\n'
    )
    runner.wait_runs("bad", 1, status="failed")
    runner.wait_runs("slow", 1, status="running")
    session = f"cronpy-top-{e2e.tag[:8]}"
    done = e2e.root / "top.exit"
    env = " ".join(f"{k}={v}" for k, v in (("CRONPY_STATE_DIR", e2e.state_dir),))
    tty_before, tty_after = e2e.root / "tty.before", e2e.root / "tty.after"
    shell = (
        f"echo BEFORE-TOP; stty -g > {tty_before}; env {env} {CRONPY} top;"
        f" code=$?; stty -g > {tty_after}; echo $code > {done}; sleep 60"
    )
    subprocess.run(
        [tmux, "new-session", "-d", "-s", session, "-x", "100", "-y", "30", shell], check=True
    )

    def pane() -> str:
        return subprocess.run(
            [tmux, "capture-pane", "-p", "-t", session], capture_output=True, check=True
        ).stdout.decode()

    def pane_with(text: str) -> str | None:
        screen = pane()
        return screen if text in screen else None

    try:
        screen = wait_for(lambda: pane_with("marker-from-slow") and pane_with("Late"), what="top")
        assert "Running now" in screen and "Recent failures" in screen and "bad" in screen
        assert "BEFORE-TOP" not in screen  # the alternate screen covers what was there
        subprocess.run([tmux, "send-keys", "-t", session, "q"], check=True)
        wait_for(done.exists, what="top to exit")
        assert done.read_text().strip() == "0"
        restored = wait_for(lambda: pane_with("BEFORE-TOP"), what="the screen before top")
        assert "Running now" not in restored
        assert tty_after.read_text() == tty_before.read_text()  # cbreak mode undone
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], check=False)
