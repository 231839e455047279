"""jobcore: detached background jobs whose recorded state is always the truth.

The package import is kept light, the public helpers below imported on first use
(docs/decisions/0015-light-start-path-imports.md).

    from jobcore import progress     # report progress from a Python loop
    from jobcore import background   # give your own CLI a --bg flag
    from jobcore import submit       # a Python batch as a detached job
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is 3 ms, a seventh of a handed-off run (decision 0028)
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "progress": "jobcore.api.progress",
    "Progress": "jobcore.api.progress",
    "background": "jobcore.api.background",
    "submit": "jobcore.api.submit",
    "Pause": "jobcore.base.errors",
}

__all__ = ["Pause", "Progress", "__version__", "background", "progress", "submit"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jobcore' has no attribute {name!r}")
    return getattr(__import__(module, fromlist=[name]), name)  # importlib costs a start 0.5 ms
