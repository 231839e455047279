"""``jobcore run`` without argparse: the quick parser answers as argparse would, or not at all,
and a plain ``run`` loads none of the modules it was written to leave out
(docs/decisions/0024-lean-run-path.md)."""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jobcore.cli import words
from jobcore.cli.parser import build_parser
from jobcore.cli.quick import parse_run
from jobcore.procs.programs import _which

PLAIN = [
    ["run", "--", "true"],
    ["run", "-q", "--", "true"],
    ["run", "true"],
    ["run", "-q", "--group", "FULL", "--", "true"],
    ["--home", "/tmp/h", "run", "-q", "--", "sh", "-c", "echo hi"],
    ["--home=/tmp/h", "run", "--home", "/tmp/i", "--", "x"],
    ["run", "--name", "nightly", "--env", "A=1", "--env=B=2", "--cwd", "/tmp", "--", "make"],
    ["run", "--each", "items.txt", "-j", "4", "--retries", "2", "--backoff", "0.5", "--", "x"],
    ["run", "--after", "abcde,fghij", "--after", "kmnpq", "--priority", "3", "--hold", "x"],
    ["run", "--delay", "10m", "--redact-env", "TOKEN", "--on-done", "echo done", "--", "y"],
    ["run", "--call", "m:f", "--processes", "--each", "-", "--cluster", "local"],
    ["run", "--name", "", "--", "--name", "x"],
    ["run", "-q"],
    ["run"],
    ["run", "--follow", "--at", "12:00", "--", "--"],
]
"""Lines people type, each of which the quick parser must take (not hand to argparse)."""

TOKENS = [
    *("run", "--", "true", "x", "", "-", "-q", "--quiet", "-j", "4", "-4", "1_0", " 5 ", "1.5"),
    *("--name", "--name=n", "--nam", "--env", "A=1", "--env=", "--group", "--group=g", "--home"),
    *("--home=/h", "/h", "--priority", "--priority=-2", "--backoff", "nan", "--hold", "--hold=1"),
    *("-qj4", "-j4", "-j=4", "--after", "--each", "--help", "-h", "--host", "--version", "--cwd"),
    *("--redact-env", "--on-done", "--follow", "--processes", "-x", "--x", "--=", "--call"),
]


def _argparse(argv: list[str]) -> dict[str, str] | str:
    """argparse's answer: the namespace's values, or 'exit' where it exits (help, errors)."""
    try:
        return _values(build_parser("run").parse_args(argv))
    except SystemExit:
        return "exit"


def _values(namespace: object) -> dict[str, str]:
    """A namespace's values as text (``--backoff nan`` is equal to itself there)."""
    return {name: repr(value) for name, value in vars(namespace).items()}


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_plain_lines_are_parsed_quickly_as_argparse_parses_them(argv: list[str]) -> None:
    quick = parse_run(argv)
    assert quick is not None, "a plain run line went to argparse"
    assert _values(quick) == _argparse(argv)


def test_any_line_gets_argparse_answer_or_goes_to_argparse(
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = random.Random(12)
    taken = 0
    for _ in range(3000):
        argv = [rng.choice(TOKENS) for _ in range(rng.randint(0, 7))]
        if rng.random() < 0.8:
            argv.insert(rng.randint(0, len(argv)), "run")
        quick = parse_run(argv)
        if quick is None:
            continue
        taken += 1
        assert _values(quick) == _argparse(argv), argv
    capsys.readouterr()  # argparse's usage lines for the lines left to it
    assert taken > 300


def test_a_quick_answer_is_fresh_each_time() -> None:
    first = parse_run(["run", "--env", "A=1", "x"])
    second = parse_run(["run", "x"])
    assert first is not None and second is not None
    assert first.env == ["A=1"] and second.env == [] and second.after == []


def test_the_names_of_argparse_constants_are_argparse_own() -> None:
    assert words.SUPPRESS == argparse.SUPPRESS
    assert words.REMAINDER == argparse.REMAINDER


@pytest.mark.parametrize("path", ["/usr/bin:/bin", "/bin::/usr/bin:/bin", "", "/nonexistent"])
@pytest.mark.parametrize("name", ["sh", "true", "no-such-program-here", "bin"])
def test_which_answers_as_shutil_which(name: str, path: str) -> None:
    assert _which(name, path) == shutil.which(name, path=path)


LEFT_OUT = ("argparse", "gettext", "locale", "shutil", "ctypes", "importlib.util", "dataclasses")
"""What a plain ``run`` must not import: argparse and what its help formatter loads, ctypes
(a fork is marked through /proc/self/mem), ``shutil.which``'s module, a package-wide
importlib."""

_RUN_AND_LIST = """
import io, json, sys, contextlib
from jobcore.procs import forking
forking.allow()
from jobcore.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(sys.argv[1:], close_store=False)
print(json.dumps([code, sorted(sys.modules)]))
"""


@pytest.mark.parametrize("group", [None, "FULL"], ids=["forks", "queues"])
def test_a_plain_run_imports_none_of_what_it_leaves_out(tmp_path: Path, group: str | None) -> None:
    env = {**os.environ, "JOBCORE_HOME": str(tmp_path)}
    if group is not None:
        subprocess.run(
            [sys.executable, "-m", "jobcore", "group", "add", group, "--parallel", "1"],
            env=env,
            check=True,
            capture_output=True,
        )
    argv = ["run", "-q", *(["--group", group] if group else []), "--", "true"]
    out = subprocess.run(
        [sys.executable, "-c", _RUN_AND_LIST, *argv],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    code, modules = json.loads(out.splitlines()[-1])
    assert code == 0
    assert not set(LEFT_OUT) & set(modules)
