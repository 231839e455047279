"""The ``jobcore`` entry point: parse, run the verb, turn what went wrong into one line.

The parser is built in ``jobcore.cli.parser`` (a plain ``run`` line is read by
``jobcore.cli.quick`` without argparse), the verbs live in the ``verbs_*`` modules.
Errors are one line and an exit code: 2 for usage, 1 otherwise.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from jobcore.base.errors import JobcoreError
from jobcore.cli.context import Context
from jobcore.cli.words import ALIASES, command_named, unaliased, verb_of

if TYPE_CHECKING:
    import argparse

__all__ = ["entry", "main"]

WRITING = {("run", None), ("config", "set"), ("config", "unset"), ("group", "add")}
"""The commands that make a missing state folder; every other one reports it missing."""


def _creates_state(args: argparse.Namespace) -> bool:
    return (args.cmd, getattr(args, "action", None)) in WRITING


def error_line(message: str) -> str:
    return f"jobcore: error: {message}"


def _fail(message: str, code: int) -> int:
    print(error_line(message), file=sys.stderr)
    return code


def _unknown_command(command: str, known: set[str]) -> int:
    """One line for a mistyped command word, with the nearest ones, instead of argparse's
    usage plus every choice."""
    import difflib

    near = difflib.get_close_matches(command, sorted(known | set(ALIASES)), n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(near)}?" if near else "; `jobcore --help` lists them"
    return _fail(f"unknown command {command!r}{hint}", 2)


def _parsed(args_in: list[str]) -> argparse.Namespace | int:
    """The parsed line (a plain ``run`` without argparse: ``jobcore.cli.quick``), or the exit
    code of a mistyped command word; argparse itself exits on help and usage errors."""
    completing = "_ARGCOMPLETE" in os.environ
    if not completing:
        from jobcore.cli.quick import parse_run

        quick = parse_run(args_in)
        if quick is not None:
            return quick
    from jobcore.cli.parser import build_parser, commands_of

    command = command_named(args_in)
    parser = build_parser(command)
    if command not in commands_of(parser) or completing:
        parser = build_parser()  # help, a typo, completion: they need every command
        known = commands_of(parser)
        if command is not None and command not in known and not completing:
            return _unknown_command(command, known)
    if completing:
        import argcomplete

        argcomplete.autocomplete(parser)
    return parser.parse_args(args_in)


def main(
    argv: Sequence[str] | None = None, *, close_store: bool = True, launch_token: str | None = None
) -> int:
    """Run one command line; ``launch_token`` names the job of a ``run`` a dispatcher was
    asked to launch and went silent on (``jobcore.cli.handoff``): made once either way."""
    args_in = unaliased(sys.argv[1:] if argv is None else argv)
    if any(arg == "--host" or arg.startswith("--host=") for arg in args_in):
        from jobcore.ops import remote  # `jobcore --host HOST COMMAND`: the command runs there

        try:
            host, args_in = remote.split_host(args_in)
            if host is not None:
                return remote.run_cli(host, args_in)
        except JobcoreError as exc:
            return _fail(str(exc), exc.exit_code)
    args = _parsed(args_in)
    if isinstance(args, int):
        return args
    args.launch_token = launch_token
    ctx = Context(getattr(args, "home", None), create=_creates_state(args))
    try:
        return verb_of(args)(args, ctx)
    except JobcoreError as exc:
        return _fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except sqlite3.Error as exc:  # found mid-query (a damaged page), not when opening
        from jobcore.state.database import db_error

        return _fail(str(db_error(exc, ctx.state.db_path)), 1)
    except OSError as exc:
        from jobcore.state.paths import disk_error

        return _fail(str(disk_error(exc, "I/O error")), 1)
    except Exception as exc:
        if os.environ.get("JOBCORE_DEBUG"):
            raise
        return _fail(f"internal error: {type(exc).__name__}: {exc} (JOBCORE_DEBUG=1 shows more)", 1)
    finally:
        if close_store:
            ctx.close()


def entry(launch_token: str | None = None) -> None:
    """The ``jobcore`` command: ``main``, then exit without closing the database.

    Closing the last connection checkpoints the WAL, a third of a quick command's time; a
    short-lived command leaves that to the writers' automatic checkpoints. What it
    committed is as safe either way: WAL commits survive the process.
    """
    from jobcore.procs import forking

    forking.allow()  # the command holds no thread, lock or open file across a launch
    code = main(close_store=False, launch_token=launch_token)
    with contextlib.suppress(OSError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
