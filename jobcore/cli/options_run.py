"""The options of the verbs that make work: ``run`` and, from inside a job, ``progress``."""

from __future__ import annotations

from jobcore.cli.words import REMAINDER, option

TYPE_CHECKING = False  # no typing on a handed-off run's path (decision 0028)
if TYPE_CHECKING:
    from jobcore.cli.parser import Commands
    from jobcore.cli.words import Option


RUN_VERB = "verbs_run:cmd_run"
RUN_OPTIONS: tuple[Option, ...] = (
    option("--name", help="a name to show instead of the command"),
    option("--cwd", metavar="DIR", help="folder to run in (default: the current one)"),
    option(
        "--env",
        metavar="K=V",
        action="append",
        default=[],
        help="set an environment variable for the job (repeatable)",
    ),
    option("-q", "--quiet", action="store_true", help="print only the job id"),
    option(
        "--each",
        metavar="FILE",
        help="a batch: run once per non-empty line of FILE (- for stdin); "
        "{} in the command is the item (else it is appended)",
    ),
    option("-j", "--parallel", type=int, metavar="N", help="items at once (default 1)"),
    option(
        "--retries", type=int, metavar="R", help="retry a failed item up to R times (default 0)"
    ),
    option(
        "--backoff",
        type=float,
        metavar="SECONDS",
        help="first retry delay, doubled each time, with jitter (default 1)",
    ),
    option(
        "--call",
        metavar="MODULE:FUNCTION",
        help="call a Python function per item instead of a command",
    ),
    option(
        "--processes", action="store_true", help="with --call: a process pool instead of threads"
    ),
    option(
        "--cluster",
        metavar="tcp://HOST:PORT",
        help="run the items on this Dask scheduler's workers (local: on this machine, "
        "whatever `config set cluster` says)",
    ),
    option(
        "--group",
        default="default",
        metavar="NAME",
        help="queue in this group; it runs when the group has a free slot",
    ),
    option(
        "--priority",
        type=int,
        default=0,
        metavar="N",
        help="higher runs earlier among queued jobs of the group (default 0)",
    ),
    option(
        "--after",
        action="append",
        default=[],
        metavar="ID[,ID...]",
        help="start only when these jobs completed (fail if one fails)",
    ),
    option("--delay", metavar="AGE", help="start no sooner than this from now (10m)"),
    option("--at", metavar="HH:MM", help="start no sooner than this time"),
    option("--hold", action="store_true", help="queue it, but start it only on `jobcore release`"),
    option("--follow", action="store_true", help="then attach until the job ends"),
    option(
        "--on-done",
        metavar="CMD",
        help="shell command run when the job ends ($JOBCORE_JOB_STATUS etc.)",
    ),
    option(
        "--redact-env",
        action="append",
        default=[],
        metavar="NAME[,NAME]",
        help="mask the values of these environment variables in the log",
    ),
    option(
        "command",
        nargs=REMAINDER,
        metavar="-- CMD [ARG...]",
        help="the command, run as an argv list (no shell)",
    ),
)
"""``run``'s options, its command last: argparse is built from them, and ``jobcore.cli.quick``
parses a plain ``jobcore run`` line from them without argparse."""


def run(commands: Commands) -> None:
    from jobcore.cli.parser import add_declared

    p = commands.add(
        "run",
        RUN_VERB,
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
    add_declared(p, *RUN_OPTIONS)


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
