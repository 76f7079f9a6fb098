"""``cronpy edit`` (driven by EDITOR scripts, in process and on a pseudo-terminal) and the
warnings of ``cronpy validate``."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cronpy.cli.main import main
from cronpy.config import parse_job_file
from cronpy.config.lint import lint

GOOD = '[jobs.a]\nschedule = "0 3 * * *"\ncommand = "true"\n'
BETTER = '[jobs.a]\nschedule = "0 4 * * *"\ncommand = "true"\n'
BROKEN = '[jobs.a]\nschedule = "0 99 * * *"\ncommand = "true"\n'


def _editor(tmp_path: Path, *versions: str) -> str:
    """An EDITOR that writes ``versions`` in turn, one per call (counting in a file)."""
    for i, text in enumerate(versions, start=1):
        (tmp_path / f"v{i}").write_text(text)
    script = tmp_path / "editor.sh"
    script.write_text(
        "#!/bin/sh\n"
        f'n=$(cat "{tmp_path}/count" 2>/dev/null || echo 0); n=$((n+1))\n'
        f'echo $n > "{tmp_path}/count"\n'
        f'cp "{tmp_path}/v$n" "$1"\n'
    )
    script.chmod(0o755)
    return str(script)


@pytest.fixture
def job_file(tmp_path: Path) -> Path:
    path = tmp_path / "jobs" / "jobs.toml"
    path.parent.mkdir()
    path.write_text(GOOD)
    path.chmod(0o640)
    return path


def test_edit_saves_atomically_keeping_mode_and_says_no_runner(
    tmp_path: Path,
    job_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VISUAL", _editor(tmp_path, BETTER))
    before = os.stat(job_file).st_ino
    code = main(["--state-dir", str(tmp_path / "state"), "edit", str(job_file)])
    out = capsys.readouterr().out
    assert code == 0 and "no runner is up" in out
    assert job_file.read_text() == BETTER
    assert stat.S_IMODE(os.stat(job_file).st_mode) == 0o640
    assert os.stat(job_file).st_ino != before  # replaced by a rename, not rewritten in place
    assert sorted(p.name for p in job_file.parent.iterdir()) == ["jobs.toml"]  # no copy left


def test_edit_without_a_terminal_discards_a_broken_file(
    tmp_path: Path,
    job_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VISUAL", _editor(tmp_path, BROKEN))
    code = main(["--state-dir", str(tmp_path / "state"), "edit", str(job_file)])
    captured = capsys.readouterr()
    assert code == 2
    assert f"{job_file}:2" in captured.err and "hour" in captured.err  # the line of the problem
    assert "discarded" in captured.out
    assert job_file.read_text() == GOOD
    assert sorted(p.name for p in job_file.parent.iterdir()) == ["jobs.toml"]


def test_edit_without_file_and_no_runner_asks_for_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--state-dir", str(tmp_path / "state"), "edit"]) == 2
    assert "give the job file" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1) for a pty")
def test_edit_on_a_terminal_offers_to_edit_again(tmp_path: Path, job_file: Path) -> None:
    """Broken on the first save, fixed on the second: the prompt comes on the terminal."""
    env = {**os.environ, "VISUAL": _editor(tmp_path, BROKEN, BETTER)}
    env.pop("CRONPY_STATE_DIR", None)
    command = f"{sys.executable} -m cronpy --state-dir {tmp_path / 'state'} edit {job_file}"
    done = subprocess.run(
        ["script", "-qec", command, "/dev/null"],
        input="y\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert "Edit again?" in done.stdout
    assert done.returncode == 0, done.stdout
    assert job_file.read_text() == BETTER
    assert (tmp_path / "count").read_text().strip() == "2"


# --- validate's warnings ---------------------------------------------------------------------

NOW = datetime(2026, 6, 1, tzinfo=UTC)
LINTED = """\
[jobs.ny]
schedule = "30 2 * * *"
timezone = "America/New_York"
command = "true"

[jobs.repeat]
schedule = "30 1 * * *"
timezone = "America/New_York"
command = "true"

[jobs.steps]
schedule = "*/7 */5 * * *"
command = "true"
timezone = "UTC"

[jobs.monthend]
schedule = "0 0 31 * *"
command = "true"
timezone = "UTC"

[jobs.busy]
schedule = "every 5m"
command = "true"
timeout = "1h"

[jobs.off]
schedule = "@daily"
command = "true"
enabled = false
timezone = "UTC"

[jobs.downstream]
after = ["off"]
command = "true"

[jobs.clean]
schedule = "*/15 * * * *"
command = "true"
timeout = "10m"
timezone = "UTC"
"""


def _warnings() -> list[tuple[str, str, int | None, str]]:
    job_file = parse_job_file(LINTED, "jobs.toml")
    return [(w.job, w.key, w.line, w.message) for w in lint(job_file, LINTED, now=NOW)]


def test_lint_names_job_line_and_what_cronpy_does() -> None:
    found = _warnings()
    by_job = {}
    for job, key, line, message in found:
        by_job.setdefault(job, []).append((key, line, message))
    assert by_job["ny"] == [
        (
            "schedule",
            2,
            "runs at 03:00 on 2027-03-14 (02:30 does not exist: the clocks jump from 02:00 "
            "to 03:00)",
        )
    ]
    assert by_job["repeat"][0][2].startswith("01:30 happens twice on 2026-11-01")
    steps = " ".join(m for _, _, m in by_job["steps"])
    assert "at :56 and then at :00, 4 apart instead of 7" in steps
    assert "at 20:00 and then at 00:00, 4 apart instead of 5" in steps
    assert "Feb, Apr, Jun, Sep, Nov" in by_job["monthend"][0][2]
    assert by_job["busy"][0][:2] == ("timeout", 24)
    assert by_job["downstream"][0][0] == "after" and "'off'" in by_job["downstream"][0][2]
    assert "clean" not in by_job and "off" not in by_job


def test_lint_depends_on_now_only_as_given() -> None:
    job_file = parse_job_file(LINTED, "jobs.toml")
    later = lint(job_file, LINTED, now=datetime(2027, 3, 20, tzinfo=UTC))
    assert "2028-03-12" in next(w.message for w in later if w.job == "ny")


def test_validate_json_lists_warnings_and_strict_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "jobs.toml"
    path.write_text(LINTED)
    assert main(["validate", "--json", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True
    assert {w["job"] for w in doc["warnings"]} >= {"ny", "steps", "busy", "downstream"}
    assert all(w["file"] == str(path) and w["line"] for w in doc["warnings"])
    assert main(["validate", "--strict", str(path)]) == 2
    assert "warning: job 'ny'" in capsys.readouterr().out
    path.write_text(GOOD.replace('"true"', '"true"\ntimezone = "UTC"'))
    assert main(["validate", "--strict", str(path)]) == 0
