"""A small third-party-style CLI that offers --bg through jobcore.background()."""

import argparse
import os

import jobcore


def main() -> None:
    jobcore.background()
    parser = argparse.ArgumentParser(prog="bgcli")
    parser.add_argument("--verbose", action="store_true", help="must precede the subcommand")
    sub = parser.add_subparsers(dest="cmd", required=True)
    greet = sub.add_parser("greet")
    greet.add_argument("name")
    args = parser.parse_args()
    suffix = " (verbose)" if args.verbose else ""
    print(f"hello {args.name}{suffix} in job {os.environ.get('JOBCORE_JOB_ID', '-')}")


if __name__ == "__main__":
    main()
