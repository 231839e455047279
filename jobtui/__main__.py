"""``jobtui [--home DIR]`` and ``python -m jobtui``: open the live dashboard."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jobcore import __version__
from jobcore.base.errors import JobcoreError
from jobcore.base.home import HOME_HELP


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="jobtui",
        description="Live dashboard of jobcore's background jobs (press ? inside for keys).",
    )
    parser.add_argument("--home", metavar="DIR", help=HOME_HELP)
    parser.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="HOST",
        help="also show the jobs of HOST, read through ssh (repeatable; config key: hosts)",
    )
    parser.add_argument("--version", action="version", version=f"jobtui {__version__}")
    args = parser.parse_args(argv)
    from jobtui.app import run  # Textual loads only once the arguments are good

    try:
        run(args.home, args.host)
    except JobcoreError as exc:
        print(f"jobtui: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
