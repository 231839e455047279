"""The installed ``jobcore`` command: a plain ``run`` handed to the live dispatcher, anything
else (or a run no dispatcher took) run here by ``jobcore.cli.main``."""

from __future__ import annotations

import os
import sys

from jobcore.cli.handoff import hand_off


def entry() -> None:
    code, token = hand_off(sys.argv[1:])
    if code is not None:
        os._exit(code)
    from jobcore.cli.main import entry as run_here

    run_here(launch_token=token)
