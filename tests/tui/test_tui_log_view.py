"""The full-screen log (L): the whole log from its end, search with / n N, follow, top."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from jobcore.state.paths import StateDir
from jobtui.app import JobApp
from jobtui.widgets.log_screen import LogScreen
from jobtui.widgets.log_view import LogLines
from tests.conftest import CLI, wait_for
from tests.tui.conftest import open_detail, select, wait_until

SIZE = (100, 30)
SCRIPT = (
    'i=0; while [ $i -lt 12000 ]; do echo "line $i"; i=$((i+1)); done; '
    "printf '\\033[2J\\033]0;pwned\\007\\033[31mred\\033[0m\\n'; "
    "while [ ! -e go ]; do sleep 0.05; done; echo after-go"
)


def shown(lines: LogLines) -> list[str]:
    """The log's lines as drawn on screen."""
    return [lines.render_line(y).text.rstrip() for y in range(lines.size.height)]


async def test_the_log_view_searches_follows_and_goes_to_the_top(
    cli: CLI, state: StateDir, tmp_path: Path
) -> None:
    job_id = cli.run("sh", "-c", SCRIPT, opts=("--cwd", str(tmp_path)))
    cli.wait_status(job_id, {"running"})
    log_path = state.log_path(job_id)
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: b"red" in log_path.read_bytes())
        await select(pilot, app, job_id)
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen))
        lines = app.screen.query_one(LogLines)
        # Opened at its end, following; the escape sequences drew nothing but the colour.
        await wait_until(pilot, lambda: "red" in shown(lines))
        assert not any("pwned" in line or "\x1b" in line for line in shown(lines))
        assert lines.follow and not lines.log_file.complete  # only the end was read

        # New output shows while following.
        (tmp_path / "go").touch()
        await wait_until(pilot, lambda: "after-go" in shown(lines), 10)

        # / searches back from the bottom, N goes further back, n forward again.
        await pilot.press("slash", *"line 11999", "enter")
        await wait_until(pilot, lambda: lines.current is not None)
        assert lines.log_file.line(lines.current) == "line 11999"
        assert not lines.follow  # a search stops following
        await pilot.press("slash", *"line 12", "enter")
        await wait_until(pilot, lambda: lines.log_file.line(lines.current or 0) == "line 1299")
        await pilot.press("N")
        await wait_until(pilot, lambda: lines.log_file.line(lines.current or 0) == "line 1298")
        await pilot.press("n", "n")
        await wait_until(pilot, lambda: lines.log_file.line(lines.current or 0) == "line 1299")
        assert any(line == "line 1299" for line in shown(lines))  # scrolled into view

        # A search starts from the lines in view, and reads back as far as its match is;
        # g goes to the very first line.
        await pilot.press("slash", *"line 5", "enter")
        await wait_until(pilot, lambda: lines.log_file.line(lines.current or 0) == "line 599")
        await pilot.press("g")
        await wait_until(pilot, lambda: shown(lines)[0] == "line 0")
        assert lines.log_file.complete

        # f follows again, at the bottom; escape goes back to the dashboard.
        await pilot.press("f")
        await wait_until(pilot, lambda: "after-go" in shown(lines))
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is app.dashboard)


async def test_the_log_view_of_a_job_without_a_log_says_so(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("true")
    cli.wait_status(job_id, {"completed"})
    state.log_path(job_id).unlink()
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen))
        lines = app.screen.query_one(LogLines)
        await wait_until(pilot, lambda: shown(lines)[0] == "no log yet")
        await pilot.press("slash", *"x", "enter", "n", "G")
        assert app.is_running and isinstance(app.screen, LogScreen)


async def test_a_log_replaced_by_a_symlink_under_the_view_is_not_followed(
    cli: CLI, state: StateDir
) -> None:
    job_id = cli.run("sh", "-c", "echo one; echo two")
    cli.wait_status(job_id, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("L")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen))
        lines = app.screen.query_one(LogLines)
        await wait_until(pilot, lambda: shown(lines)[:2] == ["one", "two"])
        log_path = state.log_path(job_id)
        moved = log_path.with_name("moved.log")
        log_path.rename(moved)  # the view's descriptor still reads this file
        log_path.symlink_to("/etc/passwd")  # a planted link where the log was
        moved.write_bytes(b"")  # truncated: the view opens the path afresh, and refuses
        await wait_until(pilot, lambda: shown(lines)[0].startswith("the log is gone"))
        assert "refusing" in shown(lines)[0] and app.is_running


def title(app: JobApp) -> str:
    return str(app.screen.query_one("#log-title", Static).content)


async def test_w_wraps_long_lines_and_l_opens_the_log_from_the_detail(
    cli: CLI, state: StateDir
) -> None:
    long = "".join(f"{i:03d}" for i in range(80))  # 240 cells: three rows
    job_id = cli.run("sh", "-c", f"echo first; echo {long}; echo last")
    cli.wait_status(job_id, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, job_id)
        await pilot.press("L")  # from the detail as from the list
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen))
        lines = app.screen.query_one(LogLines)
        w = lines.size.width
        await wait_until(pilot, lambda: shown(lines)[:3] == ["first", long[:w], "last"])
        await pilot.press("w")
        await wait_until(pilot, lambda: "wrapped" in title(app))
        assert shown(lines)[:5] == ["first", long[:w], long[w : 2 * w], long[2 * w :], "last"]
        await pilot.press("w")
        await wait_until(pilot, lambda: shown(lines)[:3] == ["first", long[:w], "last"])
        assert "wrapped" not in title(app)


async def test_wrapped_at_the_bottom_the_last_line_stays_on_screen(
    cli: CLI, state: StateDir
) -> None:
    script = "i=0; while [ $i -lt 200 ]; do printf '%0300d\\n' $i; i=$((i+1)); done; echo end"
    job_id = cli.run("sh", "-c", script)
    cli.wait_status(job_id, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await select(pilot, app, job_id)
        await pilot.press("L", "w")
        await wait_until(pilot, lambda: isinstance(app.screen, LogScreen))
        lines = app.screen.query_one(LogLines)
        await wait_until(pilot, lambda: lines.wrap and "end" in shown(lines))
        assert shown(lines)[-1] == "end" and shown(lines)[-2].endswith("199")


ITEM_SCRIPT = (
    'case "$0" in bad) echo "bad says no"; exit 2;; esac; '
    'i=0; while [ $i -lt 300 ]; do echo "$0 line $i"; i=$((i+1)); done; '
    'while [ ! -e "$GATE" ]; do sleep 0.05; done'
)


async def test_i_shows_one_batch_items_lines_at_a_time(
    cli: CLI, state: StateDir, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    items = tmp_path / "items.txt"
    items.write_text("bad\npart-A\npart-B\n")
    gate = tmp_path / "gate"
    monkeypatch.setenv("GATE", str(gate))
    job_id = cli.run("sh", "-c", ITEM_SCRIPT, "{}", opts=("--each", str(items), "-j", "3"))
    log_path = state.log_path(job_id)
    try:
        needles = (b"part-B line 299", b"part-A line 299", b"bad says no")
        wait_for(lambda: log_path.exists() and all(n in log_path.read_bytes() for n in needles))
        app = JobApp(state)
        async with app.run_test(size=SIZE) as pilot:
            await select(pilot, app, job_id)
            await pilot.press("L")
            await wait_until(pilot, lambda: isinstance(app.screen, LogScreen))
            lines = app.screen.query_one(LogLines)
            await wait_until(pilot, lambda: len(lines.log_file) > 0)
            seen = []
            for _ in range(4):  # running items in order, then the failed one, then all
                await pilot.press("i")
                await wait_until(pilot, lambda: title(app) != (seen[-1] if seen else ""))
                seen.append(title(app))
                rows = [row for row in shown(lines) if row]
                item = app.screen.item  # type: ignore[attr-defined]
                if item is not None:
                    assert rows and all(row.startswith(f"[{item}] ") for row in rows)
            chosen = [s.split(" · ")[2] for s in seen[:3]]
            assert chosen == ["item part-A", "item part-B", "item bad"]
            assert "item" not in seen[3]
            # Unfiltered again: a run of the log's own lines as written, whichever items wrote
            # them (not where the view stands, which depends on how the items interleaved).
            written = "\n".join(line for line in log_path.read_text().splitlines() if line)
            assert app.screen.item is None and "\n".join(rows) in written  # type: ignore[attr-defined]
    finally:
        gate.touch()
    cli.wait_status(job_id, {"failed"})
