"""The options of the verbs that make work: ``run`` and, from inside a job, ``progress``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobcore.cli.parser import Commands


def run(commands: Commands) -> None:
    p = commands.add(
        "run",
        "verbs_run:cmd_run",
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


def progress(commands: Commands) -> None:
    p = commands.add(
        "progress",
        "verbs_run:cmd_progress",
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
