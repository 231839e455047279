"""jobcore: detached background jobs whose recorded state is always the truth.

The package import is kept light (workers and the CLI start fast); the public helpers are
imported on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"
