"""The one child that is not a job: a person's editor, in the foreground on their terminal
(``cronpy edit``). No session of its own, no capture: it must own the terminal."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def editor_command() -> str:
    """$VISUAL, else $EDITOR, else vi: what crontab -e runs. It may carry arguments
    ("code --wait"), so it goes through the shell, as crontab does."""
    return os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"


def run_editor(path: Path, editor: str | None = None) -> int:
    """Edit ``path``; the editor's exit status (127 when it cannot be started)."""
    command = editor or editor_command()
    try:
        return subprocess.run(["/bin/sh", "-c", f'{command} "$1"', "sh", str(path)]).returncode
    except OSError:
        return 127
