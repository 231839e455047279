"""The dispatcher's side of a ``jobcore run`` handed to it (``jobcore.cli.handoff``): the
line launched as ``jobcore run`` would launch it where it was typed, with what it would
print returned instead (docs/decisions/0028-hand-the-launch-to-the-dispatcher.md)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Mapping

from jobcore.base.errors import JobcoreError
from jobcore.base.handoff import Request
from jobcore.cli.context import Context
from jobcore.cli.handoff import taken
from jobcore.cli.main import error_line
from jobcore.cli.quick import parse_run
from jobcore.cli.verbs_run import launch_line, report_launch
from jobcore.state.launch_env import SET_BY_WORKER
from jobcore.state.paths import StateDir
from jobcore.state.store import Store


def _launching_env(env: Mapping[str, str]) -> dict[str, str]:
    """What of an environment shapes a launch made in it, beyond the job's own environment:
    jobcore's settings (``JOBCORE_CGROUP``...) and the time zone ``--at`` is read in."""
    return {
        name: value
        for name, value in env.items()
        if (name.startswith("JOBCORE_") and name not in SET_BY_WORKER) or name == "TZ"
    }


def launch_request(state: StateDir, store: Store, request: Request) -> tuple[int, str, str] | None:
    """Launch the request's line: its exit code, stdout and stderr; None for a line this does
    not take (the client then launches it itself), or one typed where jobcore's settings or
    the time zone differ from the dispatcher's."""
    args = parse_run(request.argv)
    if args is None or not taken(args):
        return None
    if _launching_env(request.env) != _launching_env(os.environ):
        return None
    args.launch_token = request.token
    ctx = Context.of(state, store)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            job = launch_line(args, ctx, here=request.cwd, environ=request.env)
            report_launch(args, ctx, job)
            code = 0
        except JobcoreError as exc:
            print(error_line(str(exc)), file=sys.stderr)
            code = exc.exit_code
    return code, out.getvalue(), err.getvalue()
