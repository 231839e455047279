"""``python -m jobcore`` is the ``jobcore`` command."""

import sys

from jobcore.cli import main

sys.exit(main())
