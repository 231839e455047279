"""The full-screen log (L): the whole log from its end, search with / n N, follow, top."""

from __future__ import annotations

from pathlib import Path

from jobcore.state.paths import StateDir
from jobtui.app import JobApp
from jobtui.widgets.log_view import LogLines, LogScreen
from tests.conftest import CLI
from tests.tui.conftest import select, wait_until

SIZE = (100, 30)
SCRIPT = (
    "i=0; while [ $i -lt 12000 ]; do echo \"line $i\"; i=$((i+1)); done; "
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
