"""``cronpy --help`` is printed without typer (cronpy.cli.helptext): it must stay the page typer
prints, at every terminal width, and list every registered command with its summary."""

from __future__ import annotations

import sys

import pytest

from cronpy.cli import helptext
from cronpy.cli.app import app, run_app
from cronpy.cli.main import main


def _typer_page(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert run_app(["--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("columns", [*range(48, 84), 120, 300])
def test_top_level_help_is_typers_page_at_every_width(
    columns: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Click wraps to the terminal (50 to 78 columns) and cuts summaries to fit: each width
    gives another page, and the copy of click's layout must give the same one."""
    monkeypatch.setenv("COLUMNS", str(columns))
    expected = _typer_page(capsys)
    for flag in ("--help", "-h"):
        assert main([flag]) == 0
        assert capsys.readouterr().out == expected, (columns, flag)


def test_help_table_lists_every_registered_command_with_its_summary() -> None:
    """The table helptext prints from is the command list cronpy.cli.app registers: same
    names, same order, each summary the one typer derives (or the command's own short_help)."""
    import typer.main

    group = typer.main.get_command(app)
    registered = []
    for name in group.list_commands(None):  # type: ignore[attr-defined,arg-type]
        command = group.get_command(None, name)  # type: ignore[attr-defined,arg-type]
        registered.append((name, command.get_short_help_str(10**6), bool(command.short_help)))
    assert list(helptext.COMMANDS) == registered


def test_top_level_help_does_not_import_typer() -> None:
    import subprocess

    code = "import sys; from cronpy.cli.main import main; main(['--help']);" + (
        "print(sorted(m for m in ('typer', 'rich', 'cronpy.errors') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[-1] == "[]"
