"""The options of the verbs that read and watch: ``ls``, ``show``, ``logs``, ``attach``,
``failures``, ``wait`` and ``events``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobcore.cli.parser import Commands

RECENT_FINISHED = 20
"""``ls`` without ``--all`` shows every active or paused job and this many finished ones."""


def ls(commands: Commands) -> None:
    p = commands.add(
        "ls",
        "verbs_read:cmd_ls",
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
    p.add_argument(
        "--heartbeat",
        type=float,
        metavar="S",
        help="with --watch: seconds between heartbeat lines when nothing changes (default 2)",
    )


def show(commands: Commands) -> None:
    p = commands.add(
        "show",
        "verbs_read:cmd_show",
        "show everything about one job",
        "  jobcore show k3x9q\n  jobcore show k3 --json",
    )
    commands.job_id(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def logs(commands: Commands) -> None:
    p = commands.add(
        "logs",
        "verbs_watch:cmd_logs",
        "print the last lines of a job's output, or follow it",
        "  jobcore logs k3x9q\n  jobcore logs -n 500 k3x9q\n"
        "  jobcore logs -f k3x9q    # until the job ends; Ctrl-C leaves it running\n"
        "  jobcore logs --item clip-7.mov k3x9q   # one item of a batch\n"
        "  jobcore logs --raw k3x9q > out.txt     # the bytes as written, escapes and all\n"
        "  jobcore logs --json -n 20 k3x9q | jq -r '.lines[]'",
    )
    commands.job_id(p)
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


def attach(commands: Commands) -> None:
    p = commands.add(
        "attach",
        "verbs_watch:cmd_attach",
        "watch a job's progress and output live until it ends",
        "  jobcore attach k3x9q     # Ctrl-C detaches; the job keeps running\n"
        "  jobcore attach k3 && echo done   # exit 0 if it completed, 1 if not",
    )
    commands.job_id(p)


def failures(commands: Commands) -> None:
    p = commands.add(
        "failures",
        "verbs_read:cmd_failures",
        "list failed items across jobs, newest first",
        "  jobcore failures\n  jobcore failures k3x9q --json\n"
        "  jobcore failures --forget k3x9q     # hide this job's failures\n"
        "  jobcore failures --forget-all",
    )
    commands.some_job(p, "only this job")
    p.add_argument("--json", action="store_true", help="print a JSON array")
    p.add_argument("--forget", metavar="ID", help="forget the failures of this job")
    p.add_argument("--forget-all", action="store_true", help="forget every failure")


def wait(commands: Commands) -> None:
    p = commands.add(
        "wait",
        "verbs_watch:cmd_wait",
        "block until jobs end: exit 0 if all completed, 1 if any did not, 124 on timeout",
        "  jobcore wait k3x9q m2p4t\n  jobcore wait --group renders --timeout 3600\n"
        "  jobcore wait --all && ./publish.sh   # until nothing runs or waits, new jobs too\n"
        "  jobcore wait                # every job active now",
    )
    commands.job_ids(p, "jobs to wait for")
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


def events(commands: Commands) -> None:
    p = commands.add(
        "events",
        "verbs_read:cmd_events",
        "the history of a job (or of all jobs): what happened, when, and who did it",
        "  jobcore events k3x9q\n  jobcore events --json | jq '.[] | select(.kind==\"failed\")'",
    )
    commands.some_job(p, "only this job")
    p.add_argument("--json", action="store_true", help="print a JSON array")
