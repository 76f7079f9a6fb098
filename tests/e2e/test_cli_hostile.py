"""Hostile job files through the command line: exit 0 or 2, a message, never a traceback.

Hypothesis drives ``cronpy.cli.main`` in-process (a subprocess per example would cost a quarter
of a second each); a few fixed files then go through the installed ``cronpy`` entry point to be
sure the real process behaves the same. ``cronpy run`` on a bad file must leave nothing behind:
no state directory, no database.
"""

from __future__ import annotations

import contextlib
import io
import json
import string
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cronpy.cli.main import main

from .conftest import E2E

pytestmark = pytest.mark.e2e

HOSTILE = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

JOB_KEYS = [
    "schedule", "at", "command", "timezone", "shell", "timeout", "kill_grace", "missed",
    "missed_deadline", "overlap", "retry", "jitter", "success_codes", "env", "env_file", "cwd",
    "user", "window", "max_runs", "enabled", "after", "keep", "on_failure", "on_dead",
    "on_success", "on_recovery", "notify",
]  # fmt: skip
NEARLY = [
    "", "0", "-1s", "1h30m", "1e99d", "every 0s", "every 1s", "* * * * * *", "*/0 * * * *",
    "61 * * * *", "@reboot", "@sometimes", "H H * * *", "Mars/Olympus", "Europe/Berlin",
    "2026-02-30T00:00", "mon-fri", "fri-mon", "25:00-26:00", "forbid", "sometimes",
    "exponential", "\x00", "\u202e", "../../etc/passwd", "/nonexistent", "a" * 100_000,
]  # fmt: skip
NAMES = ["ok", "jöb", "💥", "a" * 300, "-x", ".", "a b", "", "ok.v2", "ĳ", "\u0301x", "x\ny"]


@st.composite
def toml_value(draw: st.DrawFn) -> Any:
    scalar = st.one_of(
        st.integers(),
        st.floats(),
        st.booleans(),
        st.text(max_size=40),
        st.sampled_from(NEARLY),
        st.datetimes(),
        st.datetimes(timezones=st.just(UTC)),
        st.dates(),
        st.times(),
    )
    keys = st.one_of(st.sampled_from(JOB_KEYS), st.text(min_size=1, max_size=12))
    value = st.recursive(
        scalar,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=12,
    )
    return draw(value)


@st.composite
def job_document(draw: st.DrawFn) -> str:
    """A syntactically valid TOML document shaped like a job file, with hostile contents."""
    job_keys = st.one_of(st.sampled_from(JOB_KEYS), st.text(min_size=1, max_size=15))
    job = st.dictionaries(job_keys, toml_value(), max_size=6)
    names = st.one_of(st.sampled_from(NAMES), st.text(min_size=1, max_size=20))
    doc: dict[str, Any] = {"jobs": draw(st.dictionaries(names, job, max_size=3))}
    if draw(st.booleans()):
        doc["defaults"] = draw(job)
    if draw(st.booleans()):
        doc["cronpy"] = draw(st.dictionaries(job_keys | st.just("shutdown_grace"), toml_value()))
    if draw(st.booleans()):
        doc[draw(st.text(min_size=1, max_size=10))] = draw(toml_value())
    return tomli_w.dumps(doc)


@st.composite
def deep_nesting(draw: st.DrawFn) -> str:
    depth = draw(st.integers(1, 20_000))
    shape = draw(st.sampled_from(["array", "table", "header", "job-array"]))
    if shape == "array":
        return "x = " + "[" * depth + "]" * depth + "\n"
    if shape == "table":
        return "x = " + "{a = " * depth + "1" + "}" * depth + "\n"
    if shape == "header":
        return "[" + ".".join(["jobs"] + ["a"] * min(depth, 2000)) + "]\ncommand = 'x'\n"
    return '[jobs.a]\nschedule = "* * * * *"\ncommand = ' + "[" * depth + "]" * depth + "\n"


def nearly_valid(text: str) -> st.SearchStrategy[str]:
    """A valid file with a hostile tail: cut short, or followed by garbage."""
    return st.one_of(
        st.integers(0, len(text)).map(lambda n: text[:n]),
        st.text(max_size=200).map(lambda junk: text + junk),
        st.text(alphabet=string.printable, max_size=200).map(lambda junk: junk + text),
    )


VALID = """
[defaults]
timeout = "1m"

[jobs.backup]
schedule = "0 3 * * *"
command = "true"
retry = { attempts = 2, delay = "1s" }
"""

HOSTILE_FILES = st.one_of(
    st.binary(max_size=3000),
    st.text(max_size=2000).map(lambda t: t.encode("utf-8", "surrogatepass")),
    job_document().map(str.encode),
    deep_nesting().map(str.encode),
    nearly_valid(VALID).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(NEARLY).map(lambda s: f'[jobs.x]\nschedule = "{s[:200]}"\n'.encode()),
)


def call(*argv: str) -> tuple[int, str, str]:
    """``cronpy ARGV`` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


_counter = iter(range(10**9))


@HOSTILE
@given(content=HOSTILE_FILES)
def test_validate_and_run_refuse_hostile_files_cleanly(scratch: Path, content: bytes) -> None:
    case = scratch / f"case{next(_counter)}"
    case.mkdir()
    job_file = case / "jobs.toml"
    job_file.write_bytes(content)

    code, out, err = call("validate", str(job_file))
    event(f"exit {code}")
    assert code in (0, 2), (code, out, err)
    assert "Traceback" not in out + err
    if code == 0:
        assert "OK" in out
        return
    assert err.strip(), "a refused file must say why"
    assert str(job_file) in err, "each problem names the file"
    assert out == ""

    # the runner refuses the same file before touching any state
    state = case / "state"
    code, out, err = call("--state-dir", str(state), "run", str(job_file))
    assert code == 2, (code, out, err)
    assert err.strip() and "Traceback" not in out + err
    assert not state.exists(), "nothing half-written"


@HOSTILE
@given(name=st.text(min_size=1, max_size=40))
def test_validate_json_of_a_file_with_a_hostile_job_name(scratch: Path, name: str) -> None:
    job_file = scratch / f"name{next(_counter)}.toml"
    job_file.write_text(
        tomli_w.dumps({"jobs": {name: {"schedule": "@daily", "command": "true"}}}),
        encoding="utf-8",
    )
    code, out, err = call("validate", "--json", str(job_file))
    assert "Traceback" not in out + err
    document = json.loads(out)  # --json: one document on stdout, valid or not
    if code == 0:
        assert document["ok"] is True and document["jobs"] == [name]
    else:
        assert code == 2 and document["ok"] is False and document["jobs"] == []
        assert any("name" in p["message"].lower() for p in document["problems"])


@HOSTILE
@given(length=st.integers(1, 400))
def test_job_names_longer_than_200_characters_are_refused(scratch: Path, length: int) -> None:
    """A name is a log directory: past the file system's limit, trigger --wait would fail."""
    job_file = scratch / f"long{next(_counter)}.toml"
    job_file.write_text(f'[jobs.{"n" * length}]\nschedule = "@daily"\ncommand = "true"\n')
    code, out, err = call("validate", str(job_file))
    assert code == (0 if length <= 200 else 2), (code, err)
    assert "Traceback" not in out + err
    if code == 2:
        assert f"{job_file}:1:1:" in err and "at most 200" in err


# -- hostile numbers and dates on the command line ------------------------------------------------


@pytest.fixture(scope="module")
def small_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from datetime import datetime

    from cronpy.model import JobState
    from cronpy.runtime.statedir import db_path, ensure_state_dir
    from cronpy.store.sqlite import SqliteStore

    state = ensure_state_dir(tmp_path_factory.mktemp("numbers") / "state")
    store = SqliteStore(db_path(state))
    first = datetime(2026, 3, 1, tzinfo=UTC)
    store.save_job_states(
        [JobState(name="j", first_seen=first, schedule="0 3 * * *", timezone="Europe/Paris")]
    )
    store.close()
    return state


NUMBER = st.one_of(
    st.integers(-(10**30), 10**30),
    st.sampled_from([0, -1, 2**63 - 1, 2**63, 2**64, 10**20]),
).map(str)
DURATION = st.builds(lambda n, u: f"{n}{u}", st.integers(0, 10**15), st.sampled_from("smhdw"))
INSTANT = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.sampled_from(["9999-12-31T23:59:59.999999", "0001-01-01T00:00", "9999-12-31T23:59+14:00"]),
)
COMMANDS = st.one_of(
    NUMBER.map(lambda n: ["logs", "j", n]),
    NUMBER.map(lambda n: ["logs", "j", "--run", n]),
    NUMBER.map(lambda n: ["logs", n]),
    NUMBER.map(lambda n: ["history", "-n", n]),
    NUMBER.map(lambda n: ["cancel", n]),
    NUMBER.map(lambda n: ["cancel", "j", "--run", n]),
    NUMBER.map(lambda n: ["next", "@daily", "-n", n]),
    NUMBER.map(lambda n: ["stop", "--timeout", n]),
    DURATION.map(lambda d: ["history", "--since", d]),
    DURATION.map(lambda d: ["pause", "j", "--for", d]),
    INSTANT.map(lambda t: ["history", "--since", t]),
    INSTANT.map(lambda t: ["pause", "j", "--until", t]),
    INSTANT.map(lambda t: ["why", "j", t]),
    INSTANT.map(lambda t: ["next", "0 3 * * *", "--after", t, "--tz", "Pacific/Kiritimati"]),
)


@HOSTILE
@given(args=COMMANDS)
def test_hostile_numbers_and_dates_are_answered_not_raised(
    small_state: Path, args: list[str]
) -> None:
    code, out, err = call("--state-dir", str(small_state), *args)
    event(f"{args[0]} exit {code}")
    assert code in (0, 1, 2, 3), (args, code, err)
    assert "Traceback" not in out + err, (args, err)
    if code == 2:
        assert err.strip(), "a refused argument says why"
    # a pause that went through leaves the state one the read commands can still explain
    if args[0] == "pause" and code == 0:
        for then in (["why", "j"], ["status"], ["status", "--json"]):
            again = call("--state-dir", str(small_state), *then)
            assert again[0] == 0 and "Traceback" not in again[2], (args, then, again)
        call("--state-dir", str(small_state), "resume", "j")


# -- the real entry point ------------------------------------------------------------------------

FIXED_BAD = {
    "binary": b"\xff\xfe\x00garbage\x00",
    "not-toml": b"[jobs.a\nschedule = \n",
    "deep": b"x = " + b"[" * 50_000 + b"]" * 50_000,
    "wrong-types": b"[jobs.a]\nschedule = 5\ncommand = { a = 1 }\ntimeout = true\n",
    "unicode-name": '[jobs."💥 boom"]\nschedule = "@daily"\ncommand = "true"\n'.encode(),
    "huge": b'[jobs.a]\nschedule = "' + b"9" * 1_000_000 + b'"\ncommand = "true"\n',
    "typo": b'[jobs.a]\nschedual = "@daily"\ncommand = "true"\n',
}


@pytest.fixture
def bad_files(tmp_path: Path) -> Iterator[dict[str, Path]]:
    files = {}
    for name, content in FIXED_BAD.items():
        path = tmp_path / f"{name}.toml"
        path.write_bytes(content)
        files[name] = path
    yield files


@pytest.mark.parametrize("name", sorted(FIXED_BAD))
def test_the_installed_command_refuses_bad_files(
    e2e: E2E, bad_files: dict[str, Path], name: str
) -> None:
    path = bad_files[name]
    checked = e2e.cli("validate", str(path))
    assert checked.code == 2, checked
    assert checked.stderr.strip() and "Traceback" not in checked.stderr + checked.stdout
    assert str(path) in checked.stderr
    ran = e2e.cli("run", str(path))
    assert ran.code == 2, ran
    assert "Traceback" not in ran.stderr + ran.stdout
    assert ran.stderr.splitlines() == checked.stderr.splitlines()  # the same problems, said once
    assert not e2e.state_dir.exists(), "nothing half-written"


def test_typo_gets_a_did_you_mean(e2e: E2E, bad_files: dict[str, Path]) -> None:
    checked = e2e.cli("validate", str(bad_files["typo"]))
    assert checked.code == 2
    assert "schedual" in checked.stderr and "schedule" in checked.stderr
    assert ":2:" in checked.stderr  # the line of the bad key


def test_missing_file_and_directory_are_input_errors(e2e: E2E, tmp_path: Path) -> None:
    for target in (tmp_path / "missing.toml", tmp_path):
        for command in ("validate", "run"):
            result = e2e.cli(command, str(target))
            assert result.code == 2, (command, target, result)
            assert str(target) in result.stderr and "Traceback" not in result.stderr
    assert not e2e.state_dir.exists()


def test_the_valid_sample_is_accepted(tmp_path: Path) -> None:
    """The hostile variants above are built from this file; it must itself be valid."""
    path = tmp_path / "valid.toml"
    path.write_text(VALID)
    code, out, err = call("validate", "--json", str(path))
    assert (code, err) == (0, "")
    assert json.loads(out)["jobs"] == ["backup"]
