"""``jobcore run``'s line parsed without argparse, from the declarations argparse is built from.

Importing argparse and building ``run``'s parser (its help formatter loads shutil, gettext
looks for translations) is ~5 ms of a ~45 ms start. A line made only of ``run``'s own options
in their plain spellings (``--name X``, ``--name=X``, ``-q``, ``-j 4``) and then the command
is read here into what argparse would return; anything else — help, an abbreviation, a
bundle of short flags, a value that looks like an option, a bad number — returns None and
argparse parses the line, with its own messages (docs/decisions/0024-lean-run-path.md).
``tests/test_quick_parse.py`` holds the two to the same answers.
"""

from __future__ import annotations

from jobcore.cli.options_run import RUN_OPTIONS, RUN_VERB
from jobcore.cli.words import HOME, HOST, REMAINDER, SUPPRESS, command_named

TYPE_CHECKING = False  # no typing on a handed-off run's path (decision 0028)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

    from jobcore.cli.words import Option

_ACTIONS = ("store", "store_true", "append")
"""The actions read here; an option with another (or with choices) leaves the line to argparse."""


class _Parsed:
    """The parsed line as attributes, as argparse's Namespace holds it (``types`` is a
    fifth of a millisecond to import, on every handed-off run)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _dest(flags: tuple[str, ...], keywords: dict[str, Any]) -> str:
    """The attribute argparse stores an option under: its first long flag, dashes as _."""
    if "dest" in keywords:
        return str(keywords["dest"])
    name = next((f for f in flags if f.startswith("--")), flags[0]).lstrip("-")
    return name.replace("-", "_")


def _defaults(options: Sequence[Option]) -> dict[str, Any]:
    """What argparse sets when an option is not given (nothing for a suppressed one)."""
    values: dict[str, Any] = {}
    for flags, keywords in options:
        default = keywords.get("default", False if keywords.get("action") == "store_true" else None)
        if default != SUPPRESS:
            values[_dest(flags, keywords)] = list(default) if isinstance(default, list) else default
    return values


def parse_run(argv: Sequence[str]) -> argparse.Namespace | None:
    """``argv`` (a ``jobcore run`` line, pueue's verbs already ours) as argparse would parse
    it, or None where only argparse knows the answer (or the error)."""
    if command_named(argv) != "run":
        return None
    *options, command = RUN_OPTIONS
    if command[1].get("nargs") != REMAINDER:
        return None  # declarations this parser does not know: argparse's turn
    by_flag = {flag: spec for spec in (HOME, *options) for flag in spec[0]}
    values = _defaults((HOST, *RUN_OPTIONS))
    values.update(cmd="run", verb=RUN_VERB)
    values[_dest(*command)] = []
    at, seen_command_word = 0, False
    while at < len(argv):
        arg = argv[at]
        if not seen_command_word and arg == "run":
            seen_command_word, at = True, at + 1
            continue
        if seen_command_word and arg == "--":
            values[_dest(*command)] = list(argv[at:])
            break
        if seen_command_word and not arg.startswith("-"):
            if any(later.startswith("-") for later in argv[at:]):
                return None  # argparse weighs option-like words even there (and may refuse)
            values[_dest(*command)] = list(argv[at:])
            break
        flag, equals, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        spec = by_flag.get(flag)
        if spec is None or (flag != HOME[0][0] and not seen_command_word):
            return None
        flags, keywords = spec
        action = keywords.get("action", "store")
        if action not in _ACTIONS or "choices" in keywords or "nargs" in keywords:
            return None
        dest = _dest(flags, keywords)
        at += 1
        if action == "store_true":
            if equals:
                return None
            values[dest] = True
            continue
        if not equals:
            if at == len(argv) or (argv[at].startswith("-") and argv[at] != "-"):
                return None  # argparse takes "-" alone for a value (stdin), and decides the rest
            value, at = argv[at], at + 1
        try:
            parsed = keywords.get("type", str)(value)
        except (TypeError, ValueError):
            return None
        if action == "append":
            values[dest] = [*values[dest], parsed]
        else:
            values[dest] = parsed
    namespace: argparse.Namespace = _Parsed(values)  # type: ignore[assignment]
    return namespace
