"""``python -m jobcore`` is the ``jobcore`` command."""

from jobcore.cli.command import entry

entry()
