"""Reading crontab lines the way Debian's cron (3.0pl1) reads them.

Each function takes one line (or one field) and says what cron makes of it: an environment
setting (``parse_env``, the state machine of cron's env.c: optional quotes around name and
value, blanks around ``=`` and trailing blanks of an unquoted value dropped), a command line
(``parse_entry``: five time fields or an ``@`` macro, a user name in system files, then the
command), and the ``%`` rules of its do_command.c (``split_percent``).

The time fields are checked against cron's own grammar, which is narrower than cronpy's:
cron rejects ``5/10`` (a step needs ``*`` or a range), ``L``/``W``/``#``/``H``, and reads a
range that runs backwards (``sat-sun``) as matching nothing where cronpy would wrap around.
Such a line is reported instead of being converted to something cron never ran.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MACROS = frozenset(
    {"@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_BLANKS = " \t"


class LineError(Exception):
    """A line cron itself would refuse, or one cronpy cannot express; the message says which."""


@dataclass(frozen=True)
class Entry:
    """A command line: its schedule as cronpy reads it, its user (system files) and command."""

    schedule: str
    user: str | None
    command: str


# --- environment lines -------------------------------------------------------------------

_NAMEI, _NAME, _EQ1, _EQ2, _VALUEI, _VALUE, _FINI, _ERROR = range(8)


def parse_env(line: str) -> tuple[str, str] | None:
    """``(name, value)`` when cron reads ``line`` as an environment setting, else None."""
    text = line.lstrip(_BLANKS)
    name: list[str] = []
    value: list[str] = []
    out = name
    state, quote, i = _NAMEI, "", 0
    while state != _ERROR and i < len(text):
        c = text[i]
        if state in (_NAMEI, _VALUEI):
            if c in "'\"":
                quote = c
                i += 1
            state += 1
            continue
        if state in (_NAME, _VALUE):
            if quote:
                if c == quote:
                    state += 1
                    i += 1
                    continue
                if state == _NAME and c == "=":
                    state = _ERROR
                    continue
            elif state == _NAME:
                if c in " \t\n\r\f\v":
                    state += 1
                    i += 1
                    continue
                if c == "=":
                    state += 1
                    continue
            out.append(c)
            i += 1
        elif state == _EQ1:
            if c == "=":
                state, quote, out = _EQ2, "", value
            elif not c.isspace():
                state = _ERROR
            i += 1
        else:  # _EQ2, _FINI: blanks only, then the value (or, after FINI, an error)
            if c.isspace():
                i += 1
            else:
                state += 1
    if state == _EQ2:  # "NAME=" with nothing after: an empty value, as cronie reads it
        return "".join(name), ""
    if state != _FINI and not (state == _VALUE and not quote):
        return None
    if state == _VALUE:
        return "".join(name), "".join(value).rstrip()
    return "".join(name), "".join(value)


# --- command lines -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field(
        "month",
        1,
        12,
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    ),
    _Field("day-of-week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
_ITEM = re.compile(r"(?:(\*)|([A-Za-z]+|\d+)(?:-([A-Za-z]+|\d+))?)(?:/(\d+))?")


def _number(spec: _Field, token: str, item: str) -> int:
    if token.isdigit():
        number = int(token)
    elif token.lower() in spec.names:
        number = spec.low + spec.names.index(token.lower())
    else:
        raise LineError(f'bad {spec.name} "{item}": "{token}" is not a number or a name')
    if not spec.low <= number <= spec.high:
        raise LineError(f"bad {spec.name} {number}: expected {spec.low}-{spec.high}")
    return number


def check_field(spec_index: int, text: str) -> None:
    """Raise LineError unless cron accepts ``text`` and means by it what cronpy does."""
    spec = _FIELDS[spec_index]
    for item in text.split(","):
        match = _ITEM.fullmatch(item)
        if match is None:
            raise LineError(f'bad {spec.name} "{text}": cron does not accept "{item}"')
        star, start, end, step = match.groups()
        if step is not None and not star and end is None:
            raise LineError(
                f'bad {spec.name} "{item}": cron takes a step only after "*" or a range'
            )
        width = spec.high - spec.low + 1 - (spec.name == "day-of-week")  # 7 is Sunday again
        if step is not None and not 1 <= int(step) <= width:
            raise LineError(f'bad {spec.name} "{item}": the step must be 1-{width}')
        if star:
            continue
        first = _number(spec, start, item)
        if end is not None and _number(spec, end, item) < first:
            raise LineError(
                f'bad {spec.name} "{item}": cron matches nothing for a range that runs '
                "backwards (cronpy would wrap around); write it as two ranges"
            )


def parse_entry(line: str, *, system: bool) -> Entry:
    """The schedule, user and command of a command line; LineError says what is wrong."""
    rest = line.lstrip(_BLANKS)
    words: list[str] = []
    count = 1 if rest.startswith("@") else 5
    for _ in range(count + system):
        word, rest = _next_word(rest)
        if not word:
            break
        words.append(word)
    if count == 1:
        if not words or words[0] not in MACROS:
            shown = words[0] if words else rest
            raise LineError(f'bad time specifier "{shown}": expected {", ".join(sorted(MACROS))}')
        schedule = words[0]
    else:
        if len(words) < 5:
            raise LineError("expected five time fields and a command")
        for index, field in enumerate(words[:5]):
            check_field(index, field)
        schedule = " ".join(words[:5])
    user = words[count] if system and len(words) > count else None
    if system and user is None:
        raise LineError("expected a user name after the time fields (system crontab)")
    if not rest.strip(_BLANKS):
        raise LineError("bad command: the line has no command")
    return Entry(schedule, user, rest)


def _next_word(text: str) -> tuple[str, str]:
    """The first blank-separated word of ``text`` and what follows it, blanks skipped."""
    text = text.lstrip(_BLANKS)
    end = 0
    while end < len(text) and text[end] not in _BLANKS:
        end += 1
    return text[:end], text[end:].lstrip(_BLANKS)


def sixth_word(line: str) -> tuple[str, bool] | None:
    """The word after the time fields and whether a command follows it; None if there is none.
    Telling a system file from a user's: there that word is a user name."""
    rest = line.lstrip(_BLANKS)
    for _ in range(1 if rest.startswith("@") else 5):
        word, rest = _next_word(rest)
        if not word:
            return None
    word, rest = _next_word(rest)
    return (word, bool(rest.strip(_BLANKS))) if word else None


# --- the command and its standard input ----------------------------------------------------


def split_percent(command: str) -> tuple[str, str | None]:
    """The command cron runs and the text it writes to the command's standard input (None
    when there is none), by do_command.c's rules: ``\\%`` is a literal ``%`` (the backslash
    goes), other backslashes stay; an unescaped ``%`` ends the command; in the input each
    unescaped ``%`` is a newline and ``\\%`` a ``%``."""
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(command):
        if escaped:  # the character after a backslash is taken as it is
            escaped = False
            if ch == "%":
                out[-1] = "%"
            else:
                out.append(ch)
            continue
        if ch == "%":
            return "".join(out), _stdin_text(command[i + 1 :]) or None
        escaped = ch == "\\"
        out.append(ch)
    return "".join(out), None


def _stdin_text(data: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in data:
        if escaped:
            if ch != "%":
                out.append("\\")
        elif ch == "%":
            ch = "\n"
        escaped = ch == "\\"
        if not escaped:
            out.append(ch)
    if escaped:
        out.append("\\")
    return "".join(out)
