"""The ``jobcore`` command line: the parser, the one-line error handling and the entry point.

The commands themselves live in ``jobcore.cli.commands``; this module only wires them to
argparse. Errors are one line and an exit code: 2 for usage, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any

from jobcore import __version__
from jobcore.base.errors import JobcoreError
from jobcore.cli.commands import (
    RECENT_FINISHED,
    Context,
    cmd_attach,
    cmd_clean,
    cmd_completion,
    cmd_config,
    cmd_doctor,
    cmd_edit,
    cmd_events,
    cmd_failures,
    cmd_group,
    cmd_kill,
    cmd_logs,
    cmd_ls,
    cmd_progress,
    cmd_release,
    cmd_restart,
    cmd_resume,
    cmd_retry,
    cmd_rm,
    cmd_run,
    cmd_show,
    cmd_start,
    cmd_stop,
    cmd_wait,
)
from jobcore.state.paths import HOME_HELP, resolve_home
from jobcore.state.store import Store

# -- parser ---------------------------------------------------------------------------------


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=28)


def _complete_job_ids(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> dict[str, str]:
    """Job ids for shell completion (newest first), each with its name or command: only
    those the command applies to (running ones for ``stop``, paused ones for ``resume``)."""
    from jobcore.cli.commands import APPLIES_TO

    statuses = APPLIES_TO.get(getattr(parsed_args, "cmd", ""))
    try:
        with Store(resolve_home(getattr(parsed_args, "home", None), create=False)) as store:
            jobs = store.list_jobs([s.value for s in statuses] if statuses else None, limit=200)
    except (JobcoreError, sqlite3.Error):
        return {}
    return {j.id: f"{j.status.value}: {j.label}"[:60] for j in jobs if j.id.startswith(prefix)}


class _NotBuilt:
    """Stands in for the parser of a command that is not the one being run.

    Building all the subparsers costs ~10 ms, a tenth of a ``jobcore`` start; a command
    line that names its command only needs that one. Calls and attributes go nowhere.
    """

    def add_argument(self, *_args: Any, **_kwargs: Any) -> _NotBuilt:
        return self


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


def _unaliased(argv: Sequence[str]) -> list[str]:
    """``argv`` with a pueue verb in the command word's place replaced by ours."""
    argv = list(argv)
    command = command_named(argv)
    if command in ALIASES:
        at = argv.index(command)
        argv[at : at + 1] = ALIASES[command]
    return argv


def _unknown_command(command: str, known: set[str]) -> int:
    """One line for a mistyped command word, with the nearest ones, instead of argparse's
    usage plus every choice."""
    import difflib

    near = difflib.get_close_matches(command, sorted(known | set(ALIASES)), n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(near)}?" if near else "; `jobcore --help` lists them"
    return _fail(f"unknown command {command!r}{hint}", 2)


def _commands(parser: argparse.ArgumentParser) -> set[str]:
    """The command names a parser was built with."""
    return {
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or with ``only`` just that command's (the rest stay unbuilt)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS, help=HOME_HELP)

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
    parser.add_argument(
        "--host",
        metavar="HOST",
        help="run the command on HOST through ssh (jobcore installed there): "
        "jobcore --host gpu ls",
    )
    sub = parser.add_subparsers(dest="cmd", metavar="COMMAND", required=True)

    def add(name: str, func: Callable[..., int], summary: str, examples: str) -> Any:
        if only is not None and name != only:
            return _NotBuilt()
        p = sub.add_parser(
            name,
            parents=[common],
            help=summary,
            description=summary,
            epilog="examples:\n" + examples,
            formatter_class=_Formatter,
        )
        p.set_defaults(func=func)
        return p

    def many_ids_arg(p: argparse.ArgumentParser, which: str, confirm: bool = False) -> None:
        action = p.add_argument("ids", metavar="ID", nargs="*", help="job ids or unique prefixes")
        action.completer = _complete_job_ids  # type: ignore[attr-defined]
        p.add_argument("--group", metavar="NAME", help=f"every {which} job of this group")
        p.add_argument("--all", action="store_true", help=f"every {which} job")
        if confirm:
            p.add_argument("-y", "--yes", action="store_true", help="with --all: do not ask first")

    def job_id_arg(p: argparse.ArgumentParser) -> None:
        action = p.add_argument("id", metavar="ID", help="job id, or any unique prefix of it")
        action.completer = _complete_job_ids  # type: ignore[attr-defined]

    def env_now_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--env-now",
            action="store_true",
            help="run with this shell's environment (kept from then on), not the one the job "
            "was launched with",
        )

    p = add(
        "run",
        cmd_run,
        "start a command as a detached job and print its id",
        "  jobcore run -- sleep 60\n"
        "  jobcore run --name import --cwd ~/src/app --env MODE=full -- python import.py\n"
        "  id=$(jobcore run -q -- make -j4)    # only the id on stdout\n"
        "  jobcore run -- sh -c 'for f in *.wav; do lame \"$f\"; done'  # a shell, if wanted\n"
        "  jobcore run --each repos.txt -j 4 --retries 2 -- git clone {}\n"
        "  ls *.mov | jobcore run --each - -j 2 -- ffmpeg -i {} {}.mp4\n"
        "  jobcore run --each tickets.txt --call importer.tickets:import_one -j 8\n"
        "  jobcore run --each clips.txt --cluster tcp://10.0.0.5:8786 -j 64 -- ./render.sh {}",
    )
    p.add_argument("--name", help="a name to show instead of the command")
    p.add_argument("--cwd", metavar="DIR", help="folder to run in (default: the current one)")
    p.add_argument(
        "--env",
        metavar="K=V",
        action="append",
        default=[],
        help="set an environment variable for the job (repeatable)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print only the job id")
    p.add_argument(
        "--each",
        metavar="FILE",
        help="a batch: run once per non-empty line of FILE (- for stdin); "
        "{} in the command is the item (else it is appended)",
    )
    p.add_argument("-j", "--parallel", type=int, metavar="N", help="items at once (default 1)")
    p.add_argument(
        "--retries", type=int, metavar="R", help="retry a failed item up to R times (default 0)"
    )
    p.add_argument(
        "--backoff",
        type=float,
        metavar="SECONDS",
        help="first retry delay, doubled each time, with jitter (default 1)",
    )
    p.add_argument(
        "--call",
        metavar="MODULE:FUNCTION",
        help="call a Python function per item instead of a command",
    )
    p.add_argument(
        "--processes", action="store_true", help="with --call: a process pool instead of threads"
    )
    p.add_argument(
        "--cluster",
        metavar="tcp://HOST:PORT",
        help="run the items on this Dask scheduler's workers (local: on this machine, "
        "whatever `config set cluster` says)",
    )
    p.add_argument(
        "--group",
        default="default",
        metavar="NAME",
        help="queue in this group; it runs when the group has a free slot",
    )
    p.add_argument(
        "--priority",
        type=int,
        default=0,
        metavar="N",
        help="higher runs earlier among queued jobs of the group (default 0)",
    )
    p.add_argument(
        "--after",
        action="append",
        default=[],
        metavar="ID[,ID...]",
        help="start only when these jobs completed (fail if one fails)",
    )
    p.add_argument("--delay", metavar="AGE", help="start no sooner than this from now (10m)")
    p.add_argument("--at", metavar="HH:MM", help="start no sooner than this time")
    p.add_argument(
        "--hold", action="store_true", help="queue it, but start it only on `jobcore release`"
    )
    p.add_argument("--follow", action="store_true", help="then attach until the job ends")
    p.add_argument(
        "--on-done",
        metavar="CMD",
        help="shell command run when the job ends ($JOBCORE_JOB_STATUS etc.)",
    )
    p.add_argument(
        "--redact-env",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="mask the values of these environment variables in the log",
    )
    p.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="-- CMD [ARG...]",
        help="the command, run as an argv list (no shell)",
    )

    p = add(
        "ls",
        cmd_ls,
        "list jobs, newest first",
        "  jobcore ls\n  jobcore ls --all\n  jobcore ls --status failed,paused\n"
        "  jobcore ls --group renders\n"
        "  jobcore ls --json | jq '.[] | select(.status==\"running\") | .id'",
    )
    p.add_argument(
        "-a",
        "--all",
        action="store_true",
        help=f"every job (default: active ones and the last {RECENT_FINISHED} finished)",
    )
    p.add_argument(
        "--status",
        action="append",
        metavar="S",
        help="only these statuses (comma-separated or repeated)",
    )
    p.add_argument("--group", metavar="NAME", help="only the jobs of this group (all of them)")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument(
        "--watch",
        action="store_true",
        help="with --json: a JSON line per change until stdout closes (for remote dashboards)",
    )
    p.add_argument("--heartbeat", type=float, metavar="S", help="with --watch: seconds between "
                   "heartbeat lines when nothing changes (default 2)")

    p = add(
        "show",
        cmd_show,
        "show everything about one job",
        "  jobcore show k3x9q\n  jobcore show k3 --json",
    )
    job_id_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = add(
        "logs",
        cmd_logs,
        "print the last lines of a job's output, or follow it",
        "  jobcore logs k3x9q\n  jobcore logs -n 500 k3x9q\n"
        "  jobcore logs -f k3x9q    # until the job ends; Ctrl-C leaves it running\n"
        "  jobcore logs --item clip-7.mov k3x9q   # one item of a batch\n"
        "  jobcore logs --raw k3x9q > out.txt     # the bytes as written, escapes and all\n"
        "  jobcore logs --json -n 20 k3x9q | jq -r '.lines[]'",
    )
    job_id_arg(p)
    p.add_argument(
        "-n",
        "--lines",
        type=int,
        default=50,
        metavar="N",
        help="how many lines from the end (default 50)",
    )
    p.add_argument(
        "-f", "--follow", action="store_true", help="follow new output until the job ends"
    )
    p.add_argument("--item", metavar="ITEM", help="only the lines of one item of a batch")
    p.add_argument("--json", action="store_true", help="print {id, item, lines} (not with -f)")
    p.add_argument(
        "--raw",
        action="store_true",
        help="the bytes as the command wrote them, escape sequences included (on a terminal"
        " only colours are shown otherwise)",
    )

    p = add(
        "attach",
        cmd_attach,
        "watch a job's progress and output live until it ends",
        "  jobcore attach k3x9q     # Ctrl-C detaches; the job keeps running\n"
        "  jobcore attach k3 && echo done   # exit 0 if it completed, 1 if not",
    )
    job_id_arg(p)

    p = add(
        "stop",
        cmd_stop,
        "stop jobs' whole process trees; they become paused (resumable)",
        "  jobcore stop k3x9q m2p4t\n"
        "  jobcore stop --grace 30 k3x9q   # time to clean up before SIGKILL\n"
        "  jobcore stop --group renders      # the group's queued and running jobs\n"
        "  jobcore stop --all -y             # every active job, without asking",
    )
    many_ids_arg(p, "queued or running", confirm=True)
    p.add_argument(
        "--grace",
        type=float,
        metavar="SECONDS",
        help="wait this long after SIGTERM before SIGKILL (default: config grace, 5)",
    )

    p = add(
        "kill",
        cmd_kill,
        "kill jobs' whole process trees at once; they fail (cancelled if not started yet)",
        "  jobcore kill k3x9q m2p4t\n  jobcore kill --group renders\n"
        "  jobcore kill --all -y            # every active job, without asking",
    )
    many_ids_arg(p, "queued or running", confirm=True)

    p = add(
        "resume",
        cmd_resume,
        "start paused or failed jobs again",
        "  jobcore resume k3x9q m2p4t\n"
        "  jobcore resume --group renders   # every paused job of it\n"
        "  jobcore resume --all\n"
        "  jobcore resume --env-now k3x9q   # with this shell's environment from now on",
    )
    many_ids_arg(p, "paused")
    env_now_arg(p)

    p = add(
        "release",
        cmd_release,
        "let held jobs (run --hold) wait in line; each starts when its turn comes",
        "  jobcore release k3x9q m2p4t\n"
        "  jobcore release --group renders   # every held job of it\n"
        "  jobcore release --all",
    )
    many_ids_arg(p, "held")

    p = add(
        "start",
        cmd_start,
        "start queued, held or delayed jobs now, ahead of the line (not past the group limit)",
        "  jobcore start k3x9q                # the next free slot of its group is its\n"
        "  jobcore start --force k3x9q        # at once, beside the group's limit\n"
        "  jobcore start --group renders",
    )
    many_ids_arg(p, "queued")
    p.add_argument(
        "--force", action="store_true", help="start at once even if its group is full (no slot)"
    )

    p = add(
        "retry",
        cmd_retry,
        "run the failed items of batches again (or failed jobs)",
        "  jobcore retry k3x9q                 # every failed item\n"
        "  jobcore retry k3x9q --item a.mp4 --item b.mp4\n"
        "  jobcore retry --all                 # every failed job",
    )
    many_ids_arg(p, "failed")
    p.add_argument(
        "--item", action="append", default=[], metavar="ITEM", help="only this item (repeatable)"
    )
    env_now_arg(p)

    p = add(
        "restart",
        cmd_restart,
        "run finished jobs again as new jobs (same command, cwd, environment, items); "
        "prints the new ids",
        "  jobcore restart k3x9q\n"
        "  jobcore restart --failed-only k3x9q   # a batch: only its failed items\n"
        "  jobcore restart --in-place k3x9q      # the same id; events keep its history\n"
        "  jobcore restart --group renders       # every finished job of the group",
    )
    many_ids_arg(p, "completed, failed or cancelled")
    p.add_argument(
        "--failed-only", action="store_true", help="a batch runs only the items that failed"
    )
    p.add_argument(
        "--in-place", action="store_true", help="reuse the id instead of making a new job"
    )

    p = add(
        "edit",
        cmd_edit,
        "change a queued or paused job; with no option, in $EDITOR as a small TOML form",
        "  jobcore edit k3x9q                      # opens $EDITOR\n"
        "  jobcore edit k3x9q --command 'make -j8 test' --priority 5\n"
        "  jobcore edit k3x9q --env MODE=fast --unset-env DEBUG\n"
        "  jobcore edit k3x9q --after m2p4t --delay 10m",
    )
    job_id_arg(p)
    p.add_argument("--command", metavar="'CMD ARG...'", help="the new command (split like a shell)")
    p.add_argument("--cwd", metavar="DIR", help="the folder to run in")
    p.add_argument("--name", help="the new name ('' removes it)")
    p.add_argument("--priority", type=int, metavar="N", help="the new priority in its group")
    p.add_argument(
        "--env", metavar="K=V", action="append", default=[], help="set a variable (repeatable)"
    )
    p.add_argument("--unset-env", metavar="K", action="append", default=[], help="drop a variable")
    p.add_argument(
        "--after",
        action="append",
        metavar="ID[,ID...]",
        help="start only when these jobs completed (replaces the list; '' clears it)",
    )
    p.add_argument("--delay", metavar="AGE", help="start no sooner than this from now (0: now)")
    p.add_argument("--at", metavar="HH:MM", help="start no sooner than this time")

    p = add(
        "failures",
        cmd_failures,
        "list failed items across jobs, newest first",
        "  jobcore failures\n  jobcore failures k3x9q --json\n"
        "  jobcore failures --forget k3x9q     # hide this job's failures\n"
        "  jobcore failures --forget-all",
    )
    action = p.add_argument("id", metavar="ID", nargs="?", help="only this job")
    action.completer = _complete_job_ids  # type: ignore[attr-defined]
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("--forget", metavar="ID", help="forget the failures of this job")
    p.add_argument("--forget-all", action="store_true", help="forget every failure")

    p = add(
        "clean",
        cmd_clean,
        "remove finished jobs with their logs (never running or queued ones)",
        "  jobcore clean                        # every completed, failed and cancelled job\n"
        "  jobcore clean --keep 10              # all but the newest 10\n"
        "  jobcore clean --older-than 7d --status failed\n"
        "  jobcore clean --status paused --dry-run",
    )
    p.add_argument("--keep", type=int, metavar="N", help="keep the newest N of them")
    p.add_argument("--older-than", metavar="AGE", help="only jobs that ended before AGE ago (7d)")
    p.add_argument(
        "--status",
        action="append",
        metavar="S",
        help="completed, failed, cancelled and/or paused (default: all but paused)",
    )
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    p.add_argument("--json", action="store_true", help="print the removed jobs as JSON")

    p = add(
        "rm",
        cmd_rm,
        "remove jobs with their folders and logs; an active one only with --force",
        "  jobcore rm k3x9q m2p4t\n"
        "  jobcore rm --force k3x9q          # kill it first if it still runs\n"
        "  jobcore rm --group renders        # the group's finished jobs\n"
        "  jobcore rm --all                  # every finished job (see also jobcore clean)",
    )
    many_ids_arg(p, "finished")
    p.add_argument("-f", "--force", action="store_true", help="kill a queued or running job first")

    p = add(
        "progress",
        cmd_progress,
        "report progress from inside a job (shell scripts)",
        "  jobcore progress --total 500\n"
        '  for f in *.mp4; do transcribe "$f"; jobcore progress --advance 1 --item "$f"; done\n'
        '  jobcore progress --error "bad.mp4: no audio stream"',
    )
    p.add_argument("--total", type=int, metavar="N", help="how many items in all")
    p.add_argument("--done", type=int, metavar="N", help="how many are done")
    p.add_argument("--advance", type=int, metavar="N", help="add N to done")
    p.add_argument("--item", metavar="TEXT", help="what is being worked on now")
    p.add_argument("--error", metavar="TEXT", help="count one failed item, with its error")

    p = add(
        "wait",
        cmd_wait,
        "block until jobs end: exit 0 if all completed, 1 if any did not, 124 on timeout",
        "  jobcore wait k3x9q m2p4t\n  jobcore wait --group renders --timeout 3600\n"
        "  jobcore wait --all && ./publish.sh   # until nothing runs or waits, new jobs too\n"
        "  jobcore wait                # every job active now",
    )
    action = p.add_argument("ids", metavar="ID", nargs="*", help="jobs to wait for")
    action.completer = _complete_job_ids  # type: ignore[attr-defined]
    p.add_argument("--group", metavar="NAME", help="the active jobs of this group")
    p.add_argument(
        "--all",
        action="store_true",
        help="until no job runs or waits, including jobs queued after wait started",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="do not list the jobs that did not complete"
    )
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="give up (exit 124) after")

    p = add(
        "group",
        cmd_group,
        "queue groups and their parallel limits",
        "  jobcore group add renders --parallel 2\n  jobcore group set renders --parallel 4\n"
        "  jobcore group set default --parallel 8\n  jobcore group ls --json\n"
        "  jobcore group rm renders          # once none of its jobs is active\n"
        "  jobcore group pause renders       # nothing new starts; running jobs finish\n"
        "  jobcore group pause renders --now # and its running jobs are stopped (resumable)\n"
        "  jobcore group resume renders",
    )
    p.add_argument("action", choices=["add", "set", "ls", "rm", "pause", "resume"])
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument(
        "--parallel",
        type=int,
        metavar="N",
        help="at most N jobs of the group run at once (default: unlimited)",
    )
    p.add_argument("--json", action="store_true", help="with ls: print a JSON array")
    p.add_argument("--now", action="store_true", help="with pause: stop its running jobs too")

    p = add(
        "events",
        cmd_events,
        "the history of a job (or of all jobs): what happened, when, and who did it",
        "  jobcore events k3x9q\n  jobcore events --json | jq '.[] | select(.kind==\"failed\")'",
    )
    action = p.add_argument("id", metavar="ID", nargs="?", help="only this job")
    action.completer = _complete_job_ids  # type: ignore[attr-defined]
    p.add_argument("--json", action="store_true", help="print a JSON array")

    p = add(
        "config",
        cmd_config,
        "defaults kept in the state folder: grace, keep, on_done, redact_env",
        "  jobcore config ls\n  jobcore config set grace 30\n"
        "  jobcore config set keep 10         # auto-clean: keep the newest 10 finished\n"
        "  jobcore config set redact_env API_KEY,DB_PASSWORD\n  jobcore config unset keep",
    )
    p.add_argument("action", choices=["ls", "get", "set", "unset"])
    p.add_argument("key", nargs="?", metavar="KEY")
    p.add_argument("value", nargs="?", metavar="VALUE")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = add(
        "doctor",
        cmd_doctor,
        "check the state folder against the database and processes; --fix repairs",
        "  jobcore doctor\n  jobcore doctor --fix\n  jobcore doctor --json",
    )
    p.add_argument("--fix", action="store_true", help="repair what was found")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")

    p = add(
        "completion",
        cmd_completion,
        "print the shell completion script",
        '  eval "$(jobcore completion bash)"\n  jobcore completion zsh > ~/.zfunc/_jobcore\n'
        "  jobcore completion fish | source",
    )
    p.add_argument("shell", choices=["bash", "zsh", "fish", "tcsh"])
    return parser


WRITING = {("run", None), ("config", "set"), ("config", "unset"), ("group", "add")}
"""The commands that make a missing state folder; every other one reports it missing."""


def _creates_state(args: argparse.Namespace) -> bool:
    return (args.cmd, getattr(args, "action", None)) in WRITING


def _fail(message: str, code: int) -> int:
    prog = "jobcore"
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None, *, close_store: bool = True) -> int:
    args_in = _unaliased(sys.argv[1:] if argv is None else argv)
    if any(arg == "--host" or arg.startswith("--host=") for arg in args_in):
        from jobcore.ops import remote  # `jobcore --host HOST COMMAND`: the command runs there

        try:
            host, args_in = remote.split_host(args_in)
            if host is not None:
                return remote.run_cli(host, args_in)
        except JobcoreError as exc:
            return _fail(str(exc), exc.exit_code)
    command = command_named(args_in)
    parser = build_parser(command)
    if command not in _commands(parser) or "_ARGCOMPLETE" in os.environ:
        parser = build_parser()  # help, a typo, completion: they need every command
        known = _commands(parser)
        if command is not None and command not in known and "_ARGCOMPLETE" not in os.environ:
            return _unknown_command(command, known)
    if "_ARGCOMPLETE" in os.environ:
        import argcomplete

        argcomplete.autocomplete(parser)
    args = parser.parse_args(args_in)
    ctx = Context(getattr(args, "home", None), create=_creates_state(args))
    try:
        return args.func(args, ctx)
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


def entry() -> None:
    """The ``jobcore`` command: ``main``, then exit without closing the database.

    Closing the last connection checkpoints the WAL, a third of a quick command's time; a
    short-lived command leaves that to the writers' automatic checkpoints. What it
    committed is as safe either way: WAL commits survive the process.
    """
    from jobcore.procs import forking

    forking.allow()  # the command holds no thread, lock or open file across a launch
    code = main(close_store=False)
    with contextlib.suppress(OSError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
