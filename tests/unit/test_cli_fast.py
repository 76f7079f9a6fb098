"""``status`` and ``history`` answer without typer (cronpy.cli.fast): the same output as the
typer wiring for every spelling the fast path takes, typer's own messages for the rest, and
none of the heavy modules loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cronpy.cli.app import run_app
from cronpy.cli.fast import parse
from cronpy.cli.main import main
from cronpy.schedule.parse import parse_cron
from tests.unit.test_cli import state  # noqa: F401  (the fixture: a state with three jobs)


def _both(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    assert main(args) == 0
    fast = capsys.readouterr().out
    assert run_app(args) == 0  # typer's path, as before the fast one
    return fast, capsys.readouterr().out


@pytest.mark.parametrize(
    "tail",
    [
        ["status", "--json"],
        ["status", "backup", "--json", "--utc"],
        ["history", "--json"],
        ["history", "backup", "-n", "2", "--status", "failed", "--json"],
        ["history", "backup", "--limit=1", "--utc"],
        ["history", "--since", "2026-03-03T00:00Z", "--utc"],
    ],
)
def test_the_fast_path_prints_what_typer_prints(
    tail: list[str],
    state: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CRONPY_STATE_DIR", raising=False)
    for root in (["--state-dir", str(state)], [f"--state-dir={state}"]):
        assert parse([*root, *tail]) is not None
        fast, slow = _both([*root, *tail], capsys)
        if "--json" in tail:
            assert json.loads(fast) == json.loads(slow)
        else:
            assert fast == slow
    monkeypatch.setenv("CRONPY_STATE_DIR", str(state))
    fast, slow = _both(tail, capsys)
    assert fast == slow


@pytest.mark.parametrize(
    "args",
    [
        ["status", "--help"],
        ["status", "-h"],
        ["status", "a", "b"],
        ["status", "--utc=yes"],
        ["history", "-n", "many"],
        ["history", "-n=5"],  # click reads the value "=5"
        ["history", "-n"],
        ["history", "--status", "--json"],
        ["history", "--bogus"],
        ["--json", "status"],
        ["statuss"],
        ["status", "--", "job"],
    ],
)
def test_anything_unusual_goes_to_typer(args: list[str]) -> None:
    assert parse(args) is None


def test_typer_still_answers_a_bad_spelling(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "-n", "many"]) == 2
    assert "'many' is not a valid int" in capsys.readouterr().err


def test_shell_completion_is_left_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_CRONPY_COMPLETE", "complete_bash")
    assert parse(["status"]) is None


def test_status_loads_none_of_the_heavy_modules(state: Path) -> None:  # noqa: F811
    probe = (
        "import sys; from cronpy.cli.main import main;"
        f" code = main(['--state-dir', {str(state)!r}, 'status']);"
        " print('MODULES', *sorted(sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split("MODULES", 1)[1].split())
    heavy = {
        "typer",
        "click",
        "rich",
        "psycopg",
        "prometheus_client",
        "cronpy.model.job",
        "cronpy.model.launch",
        "cronpy.config.check",
    }
    assert not heavy & loaded


@pytest.mark.parametrize("tail", [["status"], ["status", "--json"], ["history", "backup"]])
def test_the_cronpy_process_prints_all_and_exits_as_main_returns(
    tail: list[str],
    state: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The command itself ends without the interpreter's teardown (os._exit): its output must
    still all arrive, into a pipe and into a file, with the exit code main returns. (Relative
    times, "in 1m42s", may tick between the runs: they are compared as shapes.)"""
    import re

    def same(text: str) -> str:
        return re.sub(r"\d+[dhms]", "N", text)

    monkeypatch.delenv("CRONPY_STATE_DIR", raising=False)
    args = ["--state-dir", str(state), *tail]
    assert main(args) == 0
    expected = capsys.readouterr().out
    entry = [
        sys.executable,
        "-c",
        "import sys; from cronpy.cli.main import main; raise SystemExit(main())",
        *args,
    ]
    piped = subprocess.run(entry, capture_output=True, text=True)
    assert (piped.returncode, same(piped.stdout), piped.stderr) == (0, same(expected), "")
    out_file = state.parent / "out.txt"
    with out_file.open("w") as sink:
        assert subprocess.run(entry, stdout=sink).returncode == 0
    assert same(out_file.read_text()) == same(expected)
    missing = [sys.executable, "-c", "from cronpy.cli.main import main; raise SystemExit(main())"]
    gone = subprocess.run(
        [*missing, "--state-dir", str(state / "nope"), *tail], text=True, capture_output=True
    )
    assert gone.returncode == 3 and "no cronpy state" in gone.stderr


def test_a_plain_h_field_hashes_as_the_general_parser_does() -> None:
    # "H" takes a shortcut; "H,H" goes through the general parser: the same value, every name
    for i in range(300):
        name = f"job-{i}"
        quick = parse_cron(["H", "H", "*", "*", "*"], name)
        general = parse_cron(["H,H", "H,H", "*", "*", "*"], name)
        assert (quick.minutes, quick.hours) == (general.minutes, general.hours)
        six = parse_cron(["H", "H", "H", "*", "*", "*"], name)
        assert six.seconds == parse_cron(["H,H", "0", "0", "*", "*", "*"], name).seconds
