"""``python -m jobcore`` is the ``jobcore`` command."""

from jobcore.cli.main import entry

entry()
