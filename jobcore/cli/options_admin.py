"""The options of the verbs that keep the house: clean, group, config, doctor, completion."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobcore.cli.parser import Commands


def clean(commands: Commands) -> None:
    p = commands.add(
        "clean",
        "verbs_admin:cmd_clean",
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


def group(commands: Commands) -> None:
    p = commands.add(
        "group",
        "verbs_queue:cmd_group",
        "queue groups and their parallel limits",
        "  jobcore group add renders --parallel 2\n  jobcore group set renders --parallel 4\n"
        "  jobcore group set default --parallel 8\n  jobcore group ls --json\n"
        "  jobcore group rm renders          # once none of its jobs is active\n"
        "  jobcore group pause renders       # nothing new starts; running jobs finish\n"
        "  jobcore group pause renders --now # and its running jobs are stopped (resumable)\n"
        "  jobcore group resume renders",
    )
    p.set_defaults(name=None, parallel=None, json=False, now=False)
    actions = commands.actions(
        p,
        {
            "add": "create a group",
            "set": "change a group's parallel limit",
            "ls": "list the groups",
            "rm": "remove a group none of whose jobs is active",
            "pause": "start nothing new from the group",
            "resume": "let the group's jobs start again",
        },
    )
    for name, action in actions.items():
        if name != "ls":
            action.add_argument("name", metavar="NAME")
    for name in ("add", "set"):
        actions[name].add_argument(
            "--parallel",
            type=int,
            metavar="N",
            help="at most N jobs of the group run at once (default: unlimited)",
        )
    actions["ls"].add_argument("--json", action="store_true", help="print a JSON array")
    actions["pause"].add_argument(
        "--now", action="store_true", help="stop its running jobs too (resumable)"
    )


def config(commands: Commands) -> None:
    p = commands.add(
        "config",
        "verbs_admin:cmd_config",
        "defaults kept in the state folder: grace, keep, on_done, redact_env",
        "  jobcore config ls\n  jobcore config set grace 30\n"
        "  jobcore config set keep 10         # auto-clean: keep the newest 10 finished\n"
        "  jobcore config set redact_env API_KEY,DB_PASSWORD\n  jobcore config unset keep",
    )
    p.add_argument("action", choices=["ls", "get", "set", "unset"])
    p.add_argument("key", nargs="?", metavar="KEY")
    p.add_argument("value", nargs="?", metavar="VALUE")
    p.add_argument("--json", action="store_true", help="print JSON")


def doctor(commands: Commands) -> None:
    p = commands.add(
        "doctor",
        "verbs_admin:cmd_doctor",
        "check the state folder against the database and processes; --fix repairs",
        "  jobcore doctor\n  jobcore doctor --fix\n  jobcore doctor --json",
    )
    p.add_argument("--fix", action="store_true", help="repair what was found")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")


def completion(commands: Commands) -> None:
    p = commands.add(
        "completion",
        "verbs_admin:cmd_completion",
        "print the shell completion script",
        '  eval "$(jobcore completion bash)"\n  jobcore completion zsh > ~/.zfunc/_jobcore\n'
        "  jobcore completion fish | source",
    )
    p.add_argument("shell", choices=["bash", "zsh", "fish", "tcsh"])
