"""``python -m jobcore`` is the ``jobcore`` command."""

from jobcore.cli import entry

entry()
