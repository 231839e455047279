"""Building the ``jobcore`` parser: the top level, the command words and what each verb adds.

Each command's options are declared by a function of its name in an ``options_*`` module
(``COMMANDS``), and each names the function that runs it as ``module:function`` of
``jobcore.cli`` (``jobcore.cli.words.verb_of``). A command line that names its command
imports and builds only that one: building every subparser costs ~10 ms, a tenth of a
``jobcore`` start.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from typing import TYPE_CHECKING, Any

from jobcore import __version__
from jobcore.base.errors import JobcoreError
from jobcore.cli.words import HOME, HOST, REMAINDER, SUPPRESS, imported
from jobcore.state.paths import resolve_home
from jobcore.state.store import Store

if TYPE_CHECKING:
    from jobcore.cli.words import Option


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's, as wide as ``shutil.get_terminal_size`` would make it: argparse imports
    shutil for that, and shutil bz2, lzma and zlib (2 ms of every command, help or not)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=28, width=_columns() - 2)


def _columns() -> int:
    """``shutil.get_terminal_size().columns``: ``$COLUMNS``, else the terminal's, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", ""))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def _complete_job_ids(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> dict[str, str]:
    """Job ids for shell completion (newest first), each with its name or command: only
    those the command applies to (running ones for ``stop``, paused ones for ``resume``)."""
    from jobcore.cli.targets import APPLIES_TO

    statuses = APPLIES_TO.get(getattr(parsed_args, "cmd", ""))
    try:
        with Store(resolve_home(getattr(parsed_args, "home", None), create=False)) as store:
            jobs = store.list_jobs([s.value for s in statuses] if statuses else None, limit=200)
    except (JobcoreError, sqlite3.Error):
        return {}
    return {j.id: f"{j.status.value}: {j.label}"[:60] for j in jobs if j.id.startswith(prefix)}


def add_declared(p: argparse.ArgumentParser, *options: Option) -> None:
    """Add options declared in ``jobcore.cli.words``' terms; argparse knows its own constants
    by identity, not by value."""
    constants = {SUPPRESS: argparse.SUPPRESS, REMAINDER: argparse.REMAINDER}
    for flags, keywords in options:
        own: dict[str, Any] = {
            key: constants.get(value, value) if isinstance(value, str) else value
            for key, value in keywords.items()
        }
        p.add_argument(*flags, **own)


class Commands:
    """The command parsers being built, and the arguments several commands share."""

    def __init__(self, sub: Any, common: argparse.ArgumentParser) -> None:
        self._sub = sub
        self._common = common

    def add(self, name: str, verb: str, summary: str, examples: str) -> argparse.ArgumentParser:
        """A command's parser; ``verb`` is ``module:function`` in ``jobcore.cli``."""
        p: argparse.ArgumentParser = self._sub.add_parser(
            name,
            parents=[self._common],
            help=summary,
            description=summary,
            epilog="examples:\n" + examples,
            formatter_class=_Formatter,
        )
        p.set_defaults(verb=verb)
        return p

    def actions(
        self, p: argparse.ArgumentParser, actions: dict[str, str]
    ) -> dict[str, argparse.ArgumentParser]:
        """A command of several actions (``group pause NAME --now``), each its own parser, so
        options may come before or after the action's own arguments."""
        sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
        return {
            name: sub.add_parser(
                name,
                parents=[self._common],
                help=summary,
                description=summary,
                formatter_class=_Formatter,
            )
            for name, summary in actions.items()
        }

    @staticmethod
    def job_id(p: argparse.ArgumentParser) -> None:
        """The one job a command is about."""
        action = p.add_argument("id", metavar="ID", help="job id, or any unique prefix of it")
        action.completer = _complete_job_ids  # type: ignore[attr-defined]

    @staticmethod
    def some_job(p: argparse.ArgumentParser, what: str) -> None:
        """An optional job id that narrows a listing."""
        action = p.add_argument("id", metavar="ID", nargs="?", help=what)
        action.completer = _complete_job_ids  # type: ignore[attr-defined]

    @staticmethod
    def job_ids(p: argparse.ArgumentParser, what: str = "job ids or unique prefixes") -> None:
        """Any number of job ids."""
        action = p.add_argument("ids", metavar="ID", nargs="*", help=what)
        action.completer = _complete_job_ids  # type: ignore[attr-defined]

    @staticmethod
    def many_ids(p: argparse.ArgumentParser, which: str, confirm: bool = False) -> None:
        """Job ids, or ``--group``, or ``--all`` (with ``-y`` when ``--all`` asks first)."""
        Commands.job_ids(p)
        p.add_argument("--group", metavar="NAME", help=f"every {which} job of this group")
        p.add_argument("--all", action="store_true", help=f"every {which} job")
        if confirm:
            p.add_argument("-y", "--yes", action="store_true", help="with --all: do not ask first")

    @staticmethod
    def env_now(p: argparse.ArgumentParser) -> None:
        """``--env-now``: run with this shell's environment, not the launch one."""
        p.add_argument(
            "--env-now",
            action="store_true",
            help="run with this shell's environment (kept from then on), not the one the job "
            "was launched with",
        )


def commands_of(parser: argparse.ArgumentParser) -> set[str]:
    """The command names a parser was built with."""
    return {
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }


COMMANDS: tuple[tuple[str, str], ...] = (
    ("run", "options_run"),
    ("ls", "options_read"),
    ("show", "options_read"),
    ("logs", "options_read"),
    ("attach", "options_read"),
    ("stop", "options_control"),
    ("kill", "options_control"),
    ("resume", "options_control"),
    ("hold", "options_control"),
    ("release", "options_control"),
    ("start", "options_control"),
    ("retry", "options_control"),
    ("restart", "options_control"),
    ("edit", "options_control"),
    ("failures", "options_read"),
    ("clean", "options_admin"),
    ("rm", "options_control"),
    ("progress", "options_run"),
    ("wait", "options_read"),
    ("group", "options_admin"),
    ("events", "options_read"),
    ("config", "options_admin"),
    ("doctor", "options_admin"),
    ("completion", "options_admin"),
)
"""Every command, in the order ``jobcore --help`` lists them, with the module whose function
of the same name declares its options."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``only`` just that command's (the others are left out)."""
    common = argparse.ArgumentParser(add_help=False, formatter_class=_Formatter)
    add_declared(common, HOME)

    parser = argparse.ArgumentParser(
        prog="jobcore",
        formatter_class=_Formatter,
        parents=[common],
        description="Run commands as detached background jobs, watch them, stop and resume them.",
        epilog="""examples:
  id=$(jobcore run --name render -- ffmpeg -i in.mov out.mp4)
  jobcore ls                      # active jobs and the latest finished ones
  jobcore logs -f $id             # follow the output until the job ends
  jobcore stop $id && jobcore resume $id
  jobtui                          # the live dashboard

shell completion: eval "$(jobcore completion bash)"   (or zsh, fish)
pueue's verbs work too: add, status, log, follow, remove, pause""",
    )
    parser.add_argument("--version", action="version", version=f"jobcore {__version__}")
    add_declared(parser, HOST)
    sub = parser.add_subparsers(dest="cmd", metavar="COMMAND", required=True)
    commands = Commands(sub, common)
    for name, module in COMMANDS:
        if only is None or name == only:
            imported(module, name)(commands)
    return parser
