"""CPU per launch of a command run N times in a loop, detached descendants included.

    python -m benchmarks.loop_cpu N [--drain CMD ...] -- COMMAND...

Runs COMMAND N times one after the other, then each ``--drain`` command (say ``tsp -w``),
then waits for every descendant. It is a child subreaper, so what the command leaves running
detached (a jobcore worker, nq's waiting job, tsp's server) is re-parented here and its CPU
lands in this process's children's rusage once reaped. Prints the CPU seconds per launch.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36


def main(argv: list[str]) -> int:
    count = int(argv[0])
    split = argv.index("--")
    drains = [
        cmd.split()
        for flag, cmd in zip(argv[1:split:2], argv[2:split:2], strict=True)
        if flag == "--drain"
    ]
    command = argv[split + 1 :]
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    for _ in range(count):
        subprocess.run(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    for drain in drains:
        subprocess.run(
            drain,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print((usage.ru_utime + usage.ru_stime) / count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
