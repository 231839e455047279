"""What a job's output looks like in the dashboard: colours drawn, other escapes dropped."""

from __future__ import annotations

from pathlib import Path

from rich.color import Color
from textual.widgets import Static

from jobcore.state.paths import StateDir
from jobtui.app import JobApp
from tests.conftest import CLI
from tests.tui.conftest import open_detail, wait_until

SIZE = (120, 30)
RED = Color.parse("color(1)")


def _drawn(strip) -> tuple[str, set[Color]]:  # type: ignore[no-untyped-def]
    """The characters a strip puts on the screen, and the foreground colours among them."""
    text = "".join(segment.text for segment in strip)
    colours = {s.style.color for s in strip if s.style is not None and s.style.color}
    return text, colours


async def test_log_pane_draws_colours_and_drops_clear_and_title(cli: CLI, state: StateDir) -> None:
    job_id = cli.run("printf", r"before\n\033[2J\033]0;pwned\007\033[31mred\033[0m\nafter\n")
    cli.wait_status(job_id, {"completed"})
    app = JobApp(state)
    async with app.run_test(size=SIZE) as pilot:
        await open_detail(pilot, app, job_id)
        log = app.query_one("#detail-log")
        await wait_until(pilot, lambda: "after" in log.lines)
        y = next(i for i, line in enumerate(log.lines) if "red" in line)
        text, colours = _drawn(log.render_line(y - log.scroll_offset.y))
        assert text.rstrip() == "red"  # no "[2J", no "pwned", no U+FFFD in their place
        assert RED in colours
        assert log.virtual_size.width >= len("before")


async def test_live_line_keeps_colours_and_drops_a_title(
    cli: CLI, state: StateDir, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    script = (
        r'printf "\r\033]0;pwned\007\033[31mcopy\033[0m 1/2"; sleep 0.1;'
        r' printf "\r\033]0;pwned\007\033[31mcopy\033[0m 2/2";'
        f" while [ ! -e {gate} ]; do sleep 0.02; done; echo"
    )
    job_id = cli.run("sh", "-c", script)
    try:
        cli.wait_status(job_id, {"running"})
        app = JobApp(state)
        async with app.run_test(size=SIZE) as pilot:
            await open_detail(pilot, app, job_id)
            live = app.query_one("#detail-live", Static)
            await wait_until(pilot, lambda: live.display and "2/2" in str(live.render()), 10)
            rendered = live.render()
            assert str(rendered).startswith("copy 2/2")
            assert any(
                "color(1)" in str(span.style) or "red" in str(span.style) for span in rendered.spans
            )
    finally:
        gate.touch()


def test_table_cells_show_no_escape_sequence_from_the_output() -> None:
    """A current item or a reason comes from the command's output (``::item``, its last line):
    in a table cell it is plain text."""
    from jobtui.columns import one_line

    assert one_line("\x1b]0;pwned\x07\x1b[2J\x1b[31mclip-7\x1b[0m.mov\r\n") == "clip-7.mov"
