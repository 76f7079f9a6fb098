"""``cronpy edit`` against a live runner: the file it runs is found, replaced, and reloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import E2E, run_cli

pytestmark = pytest.mark.e2e

EVERY_SECOND = "* * * * * *"


def _job(name: str) -> str:
    return f'\n[jobs.{name}]\nschedule = "{EVERY_SECOND}"\ncommand = "true"\n'


def _editor(root: Path, text: str) -> str:
    (root / "new.toml").write_text(text)
    script = root / "editor.sh"
    script.write_text(f'#!/bin/sh\ncp "{root}/new.toml" "$1"\n')
    script.chmod(0o755)
    return str(script)


def test_edit_without_file_replaces_the_runners_file_and_reports_its_reload(e2e: E2E) -> None:
    runner = e2e.start(_job("a"))
    runner.wait_runs("a", 1, status="succeeded")
    visual = _editor(e2e.root, _job("a") + _job("b"))
    done = run_cli({**e2e.env, "VISUAL": visual}, "edit", check=0)
    assert "the runner says: reloaded: 2 jobs" in done.stdout
    assert e2e.job_file.read_text() == _job("a") + _job("b")
    runner.wait_runs("b", 1, status="succeeded")
