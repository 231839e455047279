"""Run the benchmarks, print one table, write ``benchmarks/results.json``.

    python -m benchmarks                 # every benchmarks/bench_*.py
    python -m benchmarks launch logs     # only bench_launch.py and bench_logs.py
    python -m benchmarks --exclude tui   # all but bench_tui.py

Each ``bench_*.py`` module exposes ``run() -> list[dict]``; a row has the keys ``figure``,
``jobcore``, ``peer_name``, ``peer``, ``unit``, ``ratio`` and ``target`` (and optionally
``note``, or ``met`` to decide the verdict itself). A module that fails to import or raises
becomes an error row and the others still run. Benchmarks print figures; they never fail the
build, so the exit code is 0 unless the command line was wrong.

Targets are read like this: ``<= 1.5x`` (a trailing ``x``, or the word ``flat``) compares
the ratio; a plain ``== 0`` or ``<= 50`` compares the jobcore figure itself.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import importlib
import json
import math
import os
import platform
import re
import sqlite3
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
PREFIX = "bench_"

_TARGET = re.compile(r"(<=|>=|==|<|>)\s*(-?[0-9]*\.?[0-9]+)\s*(x)?", re.IGNORECASE)
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
}


def available() -> list[str]:
    """Short names of the bench modules next to this file (``launch`` for bench_launch.py)."""
    return sorted(p.stem[len(PREFIX) :] for p in HERE.glob(f"{PREFIX}*.py"))


def select(names: Sequence[str], exclude: Sequence[str] = ()) -> list[str]:
    """The modules to run: the named ones (``launch`` or ``bench_launch``), else all."""
    known = available()
    wanted = [n.removeprefix(PREFIX).removesuffix(".py") for n in names] or known
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise SystemExit(
            f"benchmarks: unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    skip = {n.removeprefix(PREFIX).removesuffix(".py") for n in exclude}
    return [n for n in wanted if n not in skip]


def load(name: str) -> Callable[[], list[dict[str, Any]]]:
    module = importlib.import_module(f"{__package__ or 'benchmarks'}.{PREFIX}{name}")
    return module.run


def error_row(name: str, exc: BaseException) -> dict[str, Any]:
    return {
        "figure": f"{PREFIX}{name}: ERROR",
        "jobcore": None,
        "peer_name": None,
        "peer": None,
        "unit": "",
        "ratio": None,
        "target": "",
        "error": f"{type(exc).__name__}: {exc}",
    }


def met(row: dict[str, Any]) -> bool | None:
    """Whether a row meets its target; None when there is nothing to judge."""
    if "met" in row:
        return row["met"]
    if row.get("error"):
        return False
    match = _TARGET.search(row.get("target") or "")
    if not match:
        return None
    op, bound, x = match.group(1), float(match.group(2)), match.group(3)
    on_ratio = bool(x) or "flat" in row["target"].lower() or "ratio" in row["target"].lower()
    value = row.get("ratio") if on_ratio else row.get("jobcore")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return _COMPARE[op](float(value), bound)


def run_benches(
    benches: Sequence[tuple[str, Callable[[], list[dict[str, Any]]] | None]],
    log: Callable[[str], None] = lambda _: None,
) -> list[dict[str, Any]]:
    """Run each bench (a None callable means: import ``bench_<name>`` now); never raises."""
    rows: list[dict[str, Any]] = []
    for name, fn in benches:
        log(f"running {PREFIX}{name} ...")
        start = time.perf_counter()
        try:
            produced = list((fn or load(name))())
            for item in produced:
                if not isinstance(item, dict) or "figure" not in item:
                    raise TypeError(f"run() returned a row that is not a result dict: {item!r}")
        except Exception as exc:
            log("".join(traceback.format_exception(exc)).rstrip())
            produced = [error_row(name, exc)]
        seconds = time.perf_counter() - start
        log(f"  {PREFIX}{name}: {seconds:.1f} s")
        stamp = dt.datetime.now().astimezone().isoformat(timespec="seconds")
        for item in produced:
            item = dict(item)
            item["module"] = name
            item["met"] = met(item)
            item["measured_at"] = stamp
            rows.append(item)
    return rows


def _num(value: Any) -> str:
    if value is None:
        return "-"
    value = float(value)
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def table(rows: Sequence[dict[str, Any]]) -> str:
    """The one table: figure | jobcore | peer (name) | ratio | target | met?"""
    headers = ["figure", "jobcore", "peer (name)", "ratio", "target", "met?"]
    body = []
    for r in rows:
        unit = r.get("unit") or ""
        if r.get("error"):
            jobcore = "ERROR: " + str(r["error"])[:80]
        else:
            jobcore = f"{_num(r.get('jobcore'))} {unit}".strip()
        peer = "-"
        if r.get("peer") is not None:
            peer = f"{_num(r['peer'])} {unit}".strip()
            if r.get("peer_name"):
                peer += f" ({r['peer_name']})"
        elif r.get("peer_name"):
            peer = f"- ({r['peer_name']})"
        ratio = "-" if r.get("ratio") is None else f"{float(r['ratio']):.2f}x"
        verdict = {True: "yes", False: "NO", None: "-"}[r.get("met", met(r))]
        body.append(
            [str(r.get("figure", "?")), jobcore, peer, ratio, r.get("target") or "-", verdict]
        )
    widths = [
        max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(headers)
    ]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    for b in body:
        lines.append(" | ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def write_results(
    rows: Sequence[dict[str, Any]], path: Path, modules: Sequence[str], merge: bool
) -> dict[str, Any]:
    """Write the rows as JSON; with ``merge``, rows of modules not run now are kept."""
    kept: list[dict[str, Any]] = []
    if merge and path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
            kept = [r for r in old.get("rows", []) if r.get("module") not in modules]
        except (OSError, ValueError, AttributeError):
            kept = []
    data = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "modules_run": list(modules),
        "rows": [*kept, *rows],
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="NAME",
        help="skip this benchmark (repeatable)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="JSON file to write")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(available()))
        return 0
    names = select(args.names, args.exclude)
    start = time.perf_counter()
    # Users run installed code, which has its bytecode: measure that, not compile time.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(Path(__file__).resolve().parent.parent / "jobcore", quiet=1)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    rows = run_benches([(n, None) for n in names], log=log)
    print(table(rows))
    # A partial run (names given) keeps the other modules' earlier rows in the file.
    write_results(rows, args.output, names, merge=bool(args.names or args.exclude))
    log(f"{len(rows)} rows in {time.perf_counter() - start:.0f} s; written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
