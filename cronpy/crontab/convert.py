"""A crontab turned into a cronpy job file, line by line, as cron would read it.

Environment lines apply to the command lines after them (never before): ``SHELL`` becomes the
job's ``shell``, ``CRON_TZ`` and ``TZ`` its ``timezone`` (``TZ`` also stays in its env, where
cron's child sees it), ``MAILTO`` an email notification (``MAILTO=""``: none), and every other
variable its ``env``. A comment block right above a command line becomes its description.
Whatever cannot be converted is kept as a ``Skipped`` with its line number: nothing is dropped
without a word.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronpy.crontab.read import LineError, parse_entry, parse_env, sixth_word, split_percent

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Shells that read `printf ... | ( cmd )`, the form a line's standard input is given in.
_POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ksh", "ksh93", "mksh", "zsh", "ash", "busybox"})
_NAME_NOISE = frozenset(
    {
        "cd",
        "test",
        "[",
        "]",
        "if",
        "then",
        "fi",
        "exec",
        "nice",
        "ionice",
        "env",
        "sudo",
        "sh",
        "bash",
        "true",
        "false",
        "do",
        "done",
        "for",
        "while",
        "timeout",
        "flock",
        "su",
        "run",
    }
)
_MAX_NAME = 40
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_REDIRECT = re.compile(r"\d*(?:>>?|<)&?-?\d*")
# the column legend of crontab -e's template ("# m h  dom mon dow   command")
_LEGEND = re.compile(r"m(in(ute)?)?\s+h(our)?\s+dom\s+mon\s+dow", re.IGNORECASE)
_MAX_DESCRIPTION_LINES = 4  # a longer comment block is a file header or a legend, not a label


@dataclass(frozen=True)
class Skipped:
    line: int
    message: str


@dataclass(frozen=True)
class Conversion:
    """The job file's text, the jobs in it, and every line that could not be converted."""

    text: str
    jobs: tuple[str, ...]
    entries: int  # command lines seen, converted or not
    skipped: tuple[Skipped, ...]
    system: bool


def is_system_file(text: str, path: Path | None, known_user: Callable[[str], bool]) -> bool:
    """System format (a user column) for /etc/crontab and /etc/cron.d, or when every command
    line has a known user name after its time fields and a command after that."""
    if path is not None and (str(path) == "/etc/crontab" or path.parent == Path("/etc/cron.d")):
        return True
    commands = with_user = 0
    for raw in text.split("\n"):
        line = raw.strip(" \t")
        if not line or line.startswith("#") or parse_env(line) is not None:
            continue
        sixth = sixth_word(line)
        commands += 1
        if sixth is not None and sixth[1] and known_user(sixth[0]):
            with_user += 1
    # a majority, so that one line naming an unknown user is reported, not misread
    return with_user > 0 and with_user * 2 > commands


def convert_crontab(
    text: str, *, system: bool, known_user: Callable[[str], bool], source: str = "crontab"
) -> Conversion:
    """Convert every line of ``text``; see the module's docstring for what each becomes."""
    state = _State()
    jobs: dict[str, dict[str, Any]] = {}
    blocks: list[str] = []
    skipped: list[Skipped] = []
    comments: list[str] = []
    entries = 0
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r").lstrip(" \t")
        if not line or line.startswith("#"):
            comments = [*comments, line[1:].strip()] if line else []
            continue
        above, comments = comments, []
        env = parse_env(line)
        if env is not None:
            problem = state.apply(*env)
            if problem:
                skipped.append(Skipped(number, problem))
            continue
        entries += 1
        try:
            job = _job(line, system=system, state=state, known_user=known_user)
        except LineError as exc:
            skipped.append(Skipped(number, str(exc)))
            continue
        description = _description(above)
        if description:
            job = {"description": description, **job}
        name = _unique(_slug(job["_words"]), jobs)
        del job["_words"]
        jobs[name] = job
        blocks.append(_block(name, job, number, raw.strip()))
    header = f"# Converted by `cronpy import-crontab` from {source}.\n"
    return Conversion(
        text=header + "".join(blocks),
        jobs=tuple(jobs),
        entries=entries,
        skipped=tuple(skipped),
        system=system,
    )


class _State:
    """The environment lines read so far, as each later command line sees them."""

    def __init__(self) -> None:
        self.env: dict[str, str] = {}
        self.shell = "/bin/sh"
        self.timezone: str | None = None
        self.mailto: str | None = None

    def apply(self, name: str, value: str) -> str | None:
        """Take one environment line; the reason it cannot be used, if so."""
        if name == "SHELL":
            if not value.startswith("/"):
                return f"SHELL={value!r}: cronpy needs an absolute path; the line is not used"
            self.shell = value
        elif name in ("CRON_TZ", "TZ"):
            try:
                ZoneInfo(value.lstrip(":"))
            except (ZoneInfoNotFoundError, ValueError, OSError):
                return f"{name}={value!r} is not a known time zone; the line is not used"
            self.timezone = value.lstrip(":")
            if name == "TZ":
                self.env[name] = value
        elif name == "MAILTO":
            self.mailto = value or None
        elif not _ENV_NAME.fullmatch(name):
            return f"environment variable name {name!r} cannot be set by cronpy; not used"
        elif "\0" in value:
            return f"the value of {name} holds a NUL character; not used"
        else:
            self.env[name] = value
        return None


def _job(
    line: str, *, system: bool, state: _State, known_user: Callable[[str], bool]
) -> dict[str, Any]:
    from cronpy.errors import ScheduleError
    from cronpy.schedule import parse_schedule

    entry = parse_entry(line, system=system)
    if entry.user is not None and not known_user(entry.user):
        raise LineError(f"bad username {entry.user!r}: no such user on this machine")
    try:  # cron accepts some schedules that can never fire ("0 0 30 2 *"): say so
        parse_schedule(entry.schedule, tz=ZoneInfo(state.timezone or "UTC"))
    except ScheduleError as exc:
        raise LineError(str(exc)) from None
    command, stdin = split_percent(entry.command)
    if not command.strip():
        raise LineError("the command before the first % is empty")
    if stdin is not None:
        if Path(state.shell).name not in _POSIX_SHELLS:
            raise LineError(
                f"the text after % is the command's standard input, which cronpy gives with a "
                f"POSIX shell pipeline; SHELL={state.shell} is not one"
            )
        command = f"printf '%s' {_quote(stdin)} | ( {command}\n)"
    job: dict[str, Any] = {"schedule": entry.schedule, "command": command, "_words": entry.command}
    if entry.user is not None:
        job["user"] = entry.user
    if state.shell != "/bin/sh":
        job["shell"] = state.shell
    if state.timezone is not None:
        job["timezone"] = state.timezone
    if state.env:
        job["env"] = dict(state.env)
    if state.mailto is not None:
        job["notify"] = {"email": state.mailto}
    return job


def _quote(text: str) -> str:
    """``text`` as one single-quoted shell word: nothing inside is expanded."""
    return "'" + text.replace("'", "'\\''") + "'"


def _description(comments: list[str]) -> str | None:
    """The comment block right above a line, without commented-out lines and rulers."""
    kept = [
        c
        for c in comments
        if c
        and any(ch.isalpha() for ch in c)
        and not _LEGEND.match(c)
        and parse_env(c) is None
        and not _looks_like_entry(c)
    ]
    if not kept or len(kept) > _MAX_DESCRIPTION_LINES:
        return None
    return " ".join(kept)


def _looks_like_entry(text: str) -> bool:
    try:
        parse_entry(text, system=False)
    except LineError:
        return False
    return True


def _slug(command: str) -> str:
    """A readable name from the first meaningful words of a command: program and file names,
    not options, quoted text, redirections or shell keywords."""
    text = re.sub(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"", " ", command.split("%", 1)[0])
    words: list[str] = []
    tokens = text.split()
    skip_next = False
    for token in tokens:
        if _ASSIGNMENT.match(token):  # VAR=value before a command
            continue
        if skip_next or _REDIRECT.match(token):
            # "> /dev/null" names nothing; "2>&1" and ">/tmp/log" carry their target along
            skip_next = _REDIRECT.fullmatch(token) is not None and not skip_next
            continue
        for part in re.split(r"[;|&(){}<>`$]+", token):
            word = part.rstrip("/").rsplit("/", 1)[-1]
            if not word or word.startswith("-") or "=" in word or word.lower() in _NAME_NOISE:
                continue
            word = re.sub(r"[^A-Za-z0-9_.-]+", "-", word).strip("-.")
            if word and word not in words and not word.isdigit():
                words.append(word)
        if len(words) >= 3:
            break
    name = "-".join(words[:3]).lstrip("_.-") or "job"
    while len(name) > _MAX_NAME and "-" in name:
        name = name.rsplit("-", 1)[0]
    return name[:_MAX_NAME].rstrip("_.-") or "job"


def _unique(name: str, taken: dict[str, Any]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"


def _block(name: str, job: dict[str, Any], line: int, original: str) -> str:
    import tomli_w

    # a TOML comment may hold no control character but tab
    shown = "".join(c if c >= " " or c == "\t" else "?" for c in original)
    shown = shown if len(shown) <= 200 else shown[:197] + "..."
    body = tomli_w.dumps({"jobs": {name: job}}, multiline_strings=True)
    return f"\n# line {line}: {shown}\n{body}"
