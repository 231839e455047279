"""How the state folder is named: ``--home``, else ``$JOBCORE_HOME``, else the user data folder.

Kept free of imports beyond ``os``: ``jobcore run`` reads it before it knows whether it will
hand its launch to the dispatcher (docs/decisions/0028-hand-the-launch-to-the-dispatcher.md),
and platformdirs alone costs 12 ms of a 20 ms start.
"""

from __future__ import annotations

import os
import sys

ENV_HOME = "JOBCORE_HOME"
HOME_HELP = f"state folder (default: ${ENV_HOME}, else the user data folder)"
"""The ``--home`` option's help, the same in ``jobcore`` and ``jobtui``."""
APP_NAME = "jobcore"
"""The folder's name under the user data folder."""


def folder_named(home: str | None) -> str | None:
    """The state folder ``--home`` (or its absence) names, as ``resolve_home`` finds it, for
    the cases this can tell without platformdirs; None for the others (not Linux, no
    absolute ``$HOME``). ``tests/test_home.py`` holds it to platformdirs' answer."""
    named = home or os.environ.get(ENV_HOME)
    if named and "~" in named and not (os.path.isabs(named) or named.startswith("~/")):
        return None  # pathlib expands "./~" and "~user" its own way: ``resolve_home`` decides
    if named:
        folder = os.path.expanduser(named)
    elif sys.platform != "linux":
        return None
    elif os.path.isabs(data := os.environ.get("XDG_DATA_HOME", "")):
        folder = os.path.join(data, APP_NAME)
    elif os.path.isabs(os.environ.get("HOME", "")):
        folder = os.path.join(os.path.expanduser("~/.local/share"), APP_NAME)
    else:
        return None
    return folder if os.path.isabs(folder) else os.path.join(os.getcwd(), folder)
