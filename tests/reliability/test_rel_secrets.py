"""Secrets a job carries are masked in every place that stores or shows text derived from it.

Three secrets, each put where users put them: the password of a credentialed URL (the README's
own ``git clone {}``), the value of a secret-named variable of the launching shell used in the
command, and a value named with ``--redact-env``. Each is in the command line, an ``--on-done``
callback and its output, a ``::item`` line, a batch item (its log prefix, its error line). The
test counts the (secret, place) pairs where a secret is readable.
"""

from __future__ import annotations

import html
import json
import os
import re
import sys
from pathlib import Path

from jobcore.state.paths import StateDir
from jobtui.app import JobApp
from tests.conftest import CLI, run_cli_in, wait_for
from tests.tui.conftest import open_detail, wait_until

URL_PASSWORD = "u7RlT0kenQx4"
ENV_SECRET = "e9nvS3cretZp"
NAMED_VALUE = "r4dactV4lueK"
SECRETS = {
    "URL user:password@": URL_PASSWORD,
    "secret-named env var (API_TOKEN)": ENV_SECRET,
    "--redact-env value": NAMED_VALUE,
}
CARRIER = f"https://alice:{URL_PASSWORD}@git.example/repo.git?key={ENV_SECRET}&hook={NAMED_VALUE}"
"""One argument carrying all three, as a shell would have expanded ``$API_TOKEN``."""
SHOWN = ("fetched", "pushing", "clone")
"""A word of each job's detail pane (log or current item): it has been drawn."""


def _launch(cli: CLI, tmp_path: Path) -> tuple[str, str, str]:
    """Two one-command jobs and a batch, launched from a shell holding the secrets."""
    env = {**os.environ, "API_TOKEN": ENV_SECRET, "HOOK_ID": NAMED_VALUE}

    def run(*args: str) -> str:
        return run_cli_in(env, "run", "-q", "--redact-env", "HOOK_ID", *args).stdout.strip()

    one = run(
        "--on-done",
        f"echo callback sees '{CARRIER}'",
        "--",
        "sh",
        "-c",
        'echo "::item fetching $1"; echo "fetched $1"',
        "sh",
        CARRIER,
    )
    reported = run(
        "--", "sh", "-c", '"$0" -m jobcore progress --item "pushing $1"', sys.executable, CARRIER
    )
    items = tmp_path / "repos.txt"
    items.write_text(CARRIER + "\n")
    batch = run(
        "--each",
        str(items),
        "--",
        "sh",
        "-c",
        'echo "fatal: could not clone $1"; exit 128',
        "sh",
        "{}",
    )
    for job_id in (one, reported, batch):
        wait_for(lambda j=job_id: cli.show(j)["status"] in {"completed", "failed"}, timeout=60)
    wait_for(lambda: '"callback"' in cli("events", "--json", one).stdout)
    return one, reported, batch


def _screen_text(app: JobApp) -> str:
    """Every character the dashboard draws (read from its SVG screenshot)."""
    svg = app.export_screenshot()
    text = html.unescape("\n".join(re.findall(r"<text[^>]*>(.*?)</text>", svg)))
    return text.replace("\xa0", " ")


async def _dashboard(state: StateDir, ids: tuple[str, ...]) -> str:
    """What the dashboard shows: its tables, and the detail pane of each job."""
    screens = []
    async with JobApp(state).run_test(size=(240, 60)) as pilot:
        app = pilot.app
        for job_id in ids:
            await open_detail(pilot, app, job_id)
            # Its title, then its log tail or current item, are drawn.
            await wait_until(pilot, lambda j=job_id: f"{j} ·" in _screen_text(app))
            await wait_until(pilot, lambda: any(w in _screen_text(app) for w in SHOWN))
            screens.append(_screen_text(app))
            await pilot.press("escape")
    return "\n".join(screens)


def _places(cli: CLI, state: StateDir, ids: tuple[str, ...]) -> dict[str, str]:
    """The text of every place that stores or shows something of the jobs."""
    batch = ids[-1]

    def out(*args: str) -> str:
        return cli(*args).stdout

    return {
        "log file": "".join(state.log_path(j).read_text(errors="replace") for j in ids),
        "job.json": "".join(state.record_path(j).read_text() for j in ids),
        "ls": out("ls", "--all"),
        "ls --json": out("ls", "--all", "--json"),
        "show": "".join(out("show", j) for j in ids),
        "show --json": "".join(out("show", "--json", j) for j in ids),
        "failures": out("failures"),
        "failures --json": out("failures", "--json"),
        "events": out("events"),
        "events --json": out("events", "--json"),
        "logs": "".join(out("logs", j) for j in ids) + out("logs", batch, "--item", CARRIER),
        "logs --json": "".join(out("logs", "--json", j) for j in ids),
    }


def _in_clear(secret: str, text: str) -> bool:
    """The secret, or a start of it long enough to recognise (a cell may cut it short)."""
    return secret[:6] in text


async def test_secrets_are_masked_in_every_place(cli: CLI, state: StateDir, tmp_path) -> None:
    ids = _launch(cli, tmp_path)
    places = _places(cli, state, ids)
    places["dashboard"] = await _dashboard(state, ids)
    assert json.loads(places["failures --json"]), "the batch item must have failed"
    leaks = [
        f"{kind} in {place}"
        for place, text in places.items()
        for kind, secret in SECRETS.items()
        if _in_clear(secret, text)
    ]
    total = len(places) * len(SECRETS)
    print(f"secrets in clear: {len(leaks)} of {total} (secret, place) pairs")
    assert not leaks, "\n".join(leaks)
