"""``python -m jobcore.worker STATE_DIR JOB_ID CLAIM [SLOT_FD]``: a spawned worker's entry.

The one place below the operations layer that imports it: a program's entry wires its parts.
"""

import os
import sys

from jobcore.ops.worker_process import main

code = main()
sys.stdout.flush()
sys.stderr.flush()
# Threads of a Python batch that were given up on (stop) must not keep the worker alive.
os._exit(code)
