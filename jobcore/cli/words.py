"""What the ``jobcore`` command line says before any parser exists: its command word, the
options every command shares, and the function that runs a command.

Nothing here imports argparse: ``jobcore run`` parses its own line without it
(``jobcore.cli.quick``) from the same declarations argparse is built from
(docs/decisions/0024-lean-run-path.md).
"""

from __future__ import annotations

from jobcore.base.home import HOME_HELP

TYPE_CHECKING = False  # typing itself is 3 ms of a handed-off run's 20 (decision 0028)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence
    from typing import Any, TypeAlias

    from jobcore.cli.context import Context

    Verb: TypeAlias = Callable[[argparse.Namespace, Context], int]
    """What runs a command: its parsed arguments and the context in, the exit code out."""
    Option: TypeAlias = tuple[tuple[str, ...], dict[str, Any]]
    """An option as ``add_argument`` takes it: its flags, then its keywords."""

SUPPRESS = "==SUPPRESS=="
"""``argparse.SUPPRESS`` (no attribute unless given), named without importing argparse."""
REMAINDER = "..."
"""``argparse.REMAINDER`` (every argument from the first positional on)."""


def option(*flags: str, **keywords: Any) -> Option:
    """An option declared once, for argparse and for ``jobcore.cli.quick`` alike."""
    return flags, keywords


HOME = option("--home", metavar="DIR", default=SUPPRESS, help=HOME_HELP)
"""Every command's ``--home``, accepted before the command word and after it."""
HOST = option(
    "--host",
    metavar="HOST",
    help="run the command on HOST through ssh (jobcore installed there): jobcore --host gpu ls",
)
"""The top level's ``--host`` (``jobcore.cli.main`` hands such a line to ssh before parsing)."""


def command_named(argv: Sequence[str]) -> str | None:
    """The command word of ``argv`` (after ``--home DIR``), or None when there is none yet."""
    args = iter(argv)
    for arg in args:
        if arg == "--home":
            next(args, None)
        elif not arg.startswith("--home="):
            return None if arg.startswith("-") else arg
    return None


ALIASES: dict[str, tuple[str, ...]] = {
    "add": ("run",),
    "status": ("ls",),
    "log": ("logs",),
    "follow": ("logs", "-f"),
    "remove": ("rm",),
    "pause": ("stop",),
}
"""pueue's verbs, accepted for what they mean here (its users' fingers know them)."""


def unaliased(argv: Sequence[str]) -> list[str]:
    """``argv`` with a pueue verb in the command word's place replaced by ours."""
    argv = list(argv)
    command = command_named(argv)
    if command in ALIASES:
        at = argv.index(command)
        argv[at : at + 1] = ALIASES[command]
    return argv


def imported(module: str, name: str) -> Any:
    """``name`` of ``jobcore.cli.<module>``, imported now.

    ``__import__`` rather than importlib: ``-X importtime``, which watches the start's
    cost, only sees imports made through it.
    """
    return getattr(__import__(f"jobcore.cli.{module}", fromlist=[name]), name)


def verb_of(args: argparse.Namespace) -> Verb:
    """The function that runs the parsed command, its module imported now (only that one)."""
    module, _, name = args.verb.partition(":")
    verb: Verb = imported(module, name)
    return verb
