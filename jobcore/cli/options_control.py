"""The options of the verbs that act on jobs: stop, kill, resume, hold, release, start, retry,
restart, edit and rm."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobcore.cli.parser import Commands


def stop(commands: Commands) -> None:
    p = commands.add(
        "stop",
        "verbs_control:cmd_stop",
        "stop jobs' whole process trees; they become paused (resumable)",
        "  jobcore stop k3x9q m2p4t\n"
        "  jobcore stop --grace 30 k3x9q   # time to clean up before SIGKILL\n"
        "  jobcore stop --group renders      # the group's queued and running jobs\n"
        "  jobcore stop --all -y             # every active job, without asking",
    )
    commands.many_ids(p, "queued or running", confirm=True)
    p.add_argument(
        "--grace",
        type=float,
        metavar="SECONDS",
        help="wait this long after SIGTERM before SIGKILL (default: config grace, 5)",
    )


def kill(commands: Commands) -> None:
    p = commands.add(
        "kill",
        "verbs_control:cmd_kill",
        "kill jobs' whole process trees at once; they fail (cancelled if not started yet)",
        "  jobcore kill k3x9q m2p4t\n  jobcore kill --group renders\n"
        "  jobcore kill --all -y            # every active job, without asking",
    )
    commands.many_ids(p, "queued or running", confirm=True)


def resume(commands: Commands) -> None:
    p = commands.add(
        "resume",
        "verbs_control:cmd_resume",
        "start paused or failed jobs again",
        "  jobcore resume k3x9q m2p4t\n"
        "  jobcore resume --group renders   # every paused job of it\n"
        "  jobcore resume --all\n"
        "  jobcore resume --env-now k3x9q   # with this shell's environment from now on",
    )
    commands.many_ids(p, "paused")
    commands.env_now(p)


def hold(commands: Commands) -> None:
    p = commands.add(
        "hold",
        "verbs_control:cmd_hold",
        "keep queued jobs from starting (as run --hold) until released or started",
        "  jobcore hold k3x9q m2p4t\n"
        "  jobcore hold --group renders      # every job of it waiting to start\n"
        "  jobcore release k3x9q             # back in line",
    )
    commands.many_ids(p, "queued")


def release(commands: Commands) -> None:
    p = commands.add(
        "release",
        "verbs_control:cmd_release",
        "let held jobs (run --hold) wait in line; each starts when its turn comes",
        "  jobcore release k3x9q m2p4t\n"
        "  jobcore release --group renders   # every held job of it\n"
        "  jobcore release --all",
    )
    commands.many_ids(p, "held")


def start(commands: Commands) -> None:
    p = commands.add(
        "start",
        "verbs_control:cmd_start",
        "start queued, held or delayed jobs now, ahead of the line (not past the group limit)",
        "  jobcore start k3x9q                # the next free slot of its group is its\n"
        "  jobcore start --force k3x9q        # at once, beside the group's limit\n"
        "  jobcore start --group renders",
    )
    commands.many_ids(p, "queued")
    p.add_argument(
        "--force", action="store_true", help="start at once even if its group is full (no slot)"
    )


def retry(commands: Commands) -> None:
    p = commands.add(
        "retry",
        "verbs_control:cmd_retry",
        "run the failed items of batches again (or failed jobs)",
        "  jobcore retry k3x9q                 # every failed item\n"
        "  jobcore retry k3x9q --item a.mp4 --item b.mp4\n"
        "  jobcore retry --all                 # every failed job",
    )
    commands.many_ids(p, "failed")
    p.add_argument(
        "--item", action="append", default=[], metavar="ITEM", help="only this item (repeatable)"
    )
    commands.env_now(p)


def restart(commands: Commands) -> None:
    p = commands.add(
        "restart",
        "verbs_control:cmd_restart",
        "run finished jobs again as new jobs (same command, cwd, environment, items); "
        "prints the new ids",
        "  jobcore restart k3x9q\n"
        "  jobcore restart --failed-only k3x9q   # a batch: only its failed items\n"
        "  jobcore restart --in-place k3x9q      # the same id; events keep its history\n"
        "  jobcore restart --group renders       # every finished job of the group",
    )
    commands.many_ids(p, "completed, failed or cancelled")
    p.add_argument(
        "--failed-only", action="store_true", help="a batch runs only the items that failed"
    )
    p.add_argument(
        "--in-place", action="store_true", help="reuse the id instead of making a new job"
    )


def edit(commands: Commands) -> None:
    p = commands.add(
        "edit",
        "verbs_control:cmd_edit",
        "change a queued or paused job; with no option, in $EDITOR as a small TOML form",
        "  jobcore edit k3x9q                      # opens $EDITOR\n"
        "  jobcore edit k3x9q --command 'make -j8 test' --priority 5\n"
        "  jobcore edit k3x9q --env MODE=fast --unset-env DEBUG\n"
        "  jobcore edit k3x9q --after m2p4t --delay 10m",
    )
    commands.job_id(p)
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


def rm(commands: Commands) -> None:
    p = commands.add(
        "rm",
        "verbs_control:cmd_rm",
        "remove jobs with their folders and logs; an active one only with --force",
        "  jobcore rm k3x9q m2p4t\n"
        "  jobcore rm --force k3x9q          # kill it first if it still runs\n"
        "  jobcore rm --group renders        # the group's finished jobs\n"
        "  jobcore rm --all                  # every finished job (see also jobcore clean)",
    )
    commands.many_ids(p, "finished")
    p.add_argument("-f", "--force", action="store_true", help="kill a queued or running job first")
