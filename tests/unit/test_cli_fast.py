"""``status`` and ``history`` answer without typer (cronpy.cli.fast): the same output as the
typer wiring for every spelling the fast path takes, typer's own messages for the rest, and
none of the heavy modules loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cronpy.cli.app import run_app
from cronpy.cli.fast import parse, parse_run
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
        return re.sub(r"(\d+(\.\d+)?(ms|[dhms]))+", "N", text)  # "59s" and "1m0s" alike

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


def test_status_json_never_asks_for_the_viewers_zone(
    state: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """JSON carries each time's own offset: ``status --json`` needs no viewer's zone, and
    finding it (zoneinfo, /etc/localtime) was ~2 ms of a ~65 ms command."""
    monkeypatch.delenv("CRONPY_STATE_DIR", raising=False)
    assert main(["--state-dir", str(state), "status", "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)

    def no_zone(utc: bool) -> None:
        raise AssertionError("status --json asked for the zone to show times in")

    monkeypatch.setattr("cronpy.cli.commands.common.shown_zone", no_zone)
    assert main(["--state-dir", str(state), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == expected


def test_a_plain_h_field_hashes_as_the_general_parser_does() -> None:
    # "H" takes a shortcut; "H,H" goes through the general parser: the same value, every name
    for i in range(300):
        name = f"job-{i}"
        quick = parse_cron(["H", "H", "*", "*", "*"], name)
        general = parse_cron(["H,H", "H,H", "*", "*", "*"], name)
        assert (quick.minutes, quick.hours) == (general.minutes, general.hours)
        six = parse_cron(["H", "H", "H", "*", "*", "*"], name)
        assert six.seconds == parse_cron(["H,H", "0", "0", "*", "*", "*"], name).seconds


# -- `cronpy run` without typer -----------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["run", "jobs.toml"],
        ["--state-dir", "st/", "run", "jobs.toml", "--log-format", "json"],
        ["run", "jobs.toml", "--state-dir=st", "--daemon", "--pid-file", "p.pid"],
        ["run", "--store=postgresql://h/db", "jobs.toml", "--allow-duplicate"],
        ["run", "jobs.toml", "--metrics", "9100", "--log-format=text", "--store", "sqlite:x"],
    ],
)
def test_run_calls_the_runner_as_typer_does(
    args: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon keeps no typer in memory: a plain `run FILE` is parsed here, and the runner
    gets exactly the arguments typer's wiring gives it."""
    import cronpy.runtime.start

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    def runner(*a: Any, **kw: Any) -> int:
        calls.append((a, kw))
        return 7

    monkeypatch.setattr(cronpy.runtime.start, "run_runner", runner)
    monkeypatch.setattr("cronpy.runtime.metrics.parse_address", lambda address: address)
    monkeypatch.setattr("cronpy.model.storeurl.parse_store_url", lambda url: url)
    monkeypatch.delenv("CRONPY_STATE_DIR", raising=False)
    assert parse_run(_hoist(args)) is not None
    assert main(args) == 7
    assert run_app(_hoist(args)) == 7  # typer's path, as before
    assert len(calls) == 2 and calls[0] == calls[1], calls


@pytest.mark.parametrize(
    "args",
    [
        ["run"],  # no FILE: typer says so
        ["run", "--help"],
        ["run", "a.toml", "b.toml"],
        ["run", "a.toml", "--daemon=yes"],
        ["run", "a.toml", "--log-format"],
        ["run", "a.toml", "--no-such-option"],
        ["--store", "postgresql://h/db", "run", "a.toml"],  # the root option
        ["run", "a.toml", "--", "--daemon"],
    ],
)
def test_anything_unusual_in_run_goes_to_typer(args: list[str]) -> None:
    assert parse_run(_hoist(args)) is None


def test_run_leaves_typer_out_of_the_daemon(tmp_path: Path) -> None:
    """What `cronpy run` has imported by the time it runs the runner: no typer, click, rich."""
    probe = (
        "import sys, cronpy.runtime.start as s\n"
        "s.run_runner = lambda *a, **k: print('MODULES', *sorted(sys.modules)) or 0\n"
        "from cronpy.cli.main import main\n"
        f"raise SystemExit(main(['run', {str(tmp_path / 'jobs.toml')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split("MODULES", 1)[1].split())
    assert not {"typer", "click", "rich"} & loaded


def _hoist(args: list[str]) -> list[str]:
    from cronpy.cli.main import _hoist_state_dir

    return _hoist_state_dir(args)
