"""``--bg`` for any Python command-line program: re-run this very command as a jobcore job.

    import jobcore

    def main():
        jobcore.background()          # returns at once unless --bg is on the command line
        args = parser.parse_args()    # --bg is already gone from sys.argv
        ...

With ``--bg`` anywhere on the command line, the current command is launched again as a
detached job without that flag (every other argument stays where it was, so options that
must precede a subcommand still do), the job id and how to watch it are printed, and the
process exits. Inside a job the flag is just removed, so a job never launches itself again.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from jobcore.state.paths import ENV_JOB_ID


def _relaunch_argv(args: Sequence[str]) -> list[str]:
    """The argv that runs this program again the way it was started."""
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    if spec is not None and spec.name:
        module = spec.name.removesuffix(".__main__")
        return [sys.executable, "-m", module, *args]
    script = os.path.abspath(sys.argv[0])
    if script.endswith(".py"):
        return [sys.executable, script, *args]
    return [script, *args]


def background(flag: str = "--bg", *, name: str | None = None, exit: bool = True) -> str | None:
    """Launch the current command as a job if ``flag`` is in ``sys.argv``; see module doc.

    Returns None (and leaves the process running) when the flag is absent or we are already
    inside a job. Otherwise prints the job id to stdout and exits, or with ``exit=False``
    returns the id.
    """
    args = sys.argv[1:]
    if flag not in args:
        return None
    rest = [a for a in args if a != flag]
    sys.argv[1:] = rest
    if os.environ.get(ENV_JOB_ID):
        return None
    from jobcore.base.errors import JobcoreError
    from jobcore.ops.launcher import launch
    from jobcore.state.paths import resolve_home
    from jobcore.state.store import Store

    prog = os.path.basename(sys.argv[0]) or "job"
    try:
        state = resolve_home()
        with Store(state) as store:
            job = launch(state, store, _relaunch_argv(rest), name=name or prog)
    except JobcoreError as exc:
        print(f"{prog}: cannot start in the background: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    print(job.id)
    print(
        f"{prog} runs in the background as job {job.id}: "
        f"`jobcore attach {job.id}` to watch, `jobcore stop {job.id}` to stop",
        file=sys.stderr,
    )
    if exit:
        raise SystemExit(0)
    return job.id
