"""``folder_named`` (the handed-off ``jobcore run``'s way to name the state folder without
platformdirs) agrees with ``resolve_home`` whenever it answers.

A disagreement would send a ``jobcore run`` to the dispatcher of another folder than the
one the full CLI would use (docs/decisions/0028-hand-the-launch-to-the-dispatcher.md).
Everything here is computed, nothing is created: ``resolve_home`` itself makes the folder,
so its choice is taken from the same expression it uses (``Path(home).expanduser()`` for a
``--home``, else ``default_home()``), and from platformdirs directly where no
``$JOBCORE_HOME`` names the folder.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import platformdirs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jobcore.base.home import APP_NAME, ENV_HOME, folder_named
from jobcore.state.paths import default_home

UNSET = None

JOBCORE_HOMES = (UNSET, "", "/srv/jobs/state", "/srv/jobs/state/", "rel/state", "~", "~/jc")
XDG_DATA_HOMES = (UNSET, "", "rel/data", "~/data", "/xdg/data", "/xdg/data/", "//xdg//data")
HOMES = (UNSET, "", "/home/u", "/", "/home/u/", "//", "rel/home", "~")

MATRIX = list(itertools.product(JOBCORE_HOMES, XDG_DATA_HOMES, HOMES))


def _set(monkeypatch: pytest.MonkeyPatch, name: str, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(name, raising=False)
    else:
        monkeypatch.setenv(name, value)


def _absolute(path: str | os.PathLike[str]) -> str:
    return str(Path(path).absolute())


def _full_cli_pick() -> str | None:
    """The folder ``resolve_home(None)`` would check and create (it is not called: it
    would make folders like ``/.local/share/jobcore``); None where it picks none (``~``
    with ``$HOME`` itself ``~``: pathlib raises, the full CLI says "internal error")."""
    try:
        return _absolute(default_home())
    except RuntimeError:
        return None


@pytest.fixture(autouse=True)
def _somewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Relative names resolve against a known folder."""
    monkeypatch.chdir(tmp_path)


def test_the_default_folder_is_the_one_the_full_cli_picks() -> None:
    """Every combination of the matrix (one test, not 392: pytest-xdist hands out the first
    quarter of a run's items in one block, which would pile the slow handoff tests on one
    worker)."""
    for jobcore_home, xdg_data_home, home in MATRIX:
        where = f"JOBCORE_HOME={jobcore_home!r} XDG_DATA_HOME={xdg_data_home!r} HOME={home!r}"
        with pytest.MonkeyPatch.context() as monkeypatch:
            _set(monkeypatch, ENV_HOME, jobcore_home)
            _set(monkeypatch, "XDG_DATA_HOME", xdg_data_home)
            _set(monkeypatch, "HOME", home)
            named = folder_named(None)
            if jobcore_home:
                answers = _plain(jobcore_home)
            else:  # the cases it is documented to answer without platformdirs (on Linux)
                answers = os.path.isabs(xdg_data_home or "") or os.path.isabs(home or "")
            if answers:
                assert named is not None, where
            picked = _full_cli_pick()
            if named is None or picked is None:
                continue  # the full CLI finds the folder itself (or none): nothing to agree on
            assert _absolute(named) == picked, where
            if not jobcore_home:
                expected = platformdirs.user_data_path(APP_NAME, appauthor=False)
                assert _absolute(named) == _absolute(expected), where


def test_a_given_relative_folder_is_made_absolute_as_the_full_cli_does() -> None:
    assert folder_named("some/rel") == str(Path("some/rel").expanduser().absolute())


def _plain(name: str) -> bool:
    """A folder name ``folder_named`` answers for: no ``~`` but a leading ``~/``, or absolute
    (pathlib turns ``./~`` into ``~`` and then expands it; ``~user`` is its to refuse)."""
    return "~" not in name or name.startswith("~/") or os.path.isabs(name)


_PART = st.sampled_from(["a", "b", ".", "..", "~", "~a", "x y", "é", ""])


@given(
    given_home=st.lists(_PART, min_size=1, max_size=4).map("/".join),
    leading=st.sampled_from(["", "/", "~/", "./"]),
    environment=st.sampled_from([UNSET, "/env/state", "rel/env"]),
)
def test_a_given_folder_wins_and_names_what_the_full_cli_would(
    given_home: str, leading: str, environment: str | None
) -> None:
    named_home = leading + given_home
    with pytest.MonkeyPatch.context() as monkeypatch:
        _set(monkeypatch, ENV_HOME, environment)
        monkeypatch.setenv("HOME", "/home/someone")
        named = folder_named(named_home)
        try:
            expected = Path(named_home).expanduser() if named_home else default_home()
        except RuntimeError:  # `~a` names no user: the full CLI fails on it (not a choice)
            return
        if _plain(named_home):
            assert named is not None
        assert named is None or _absolute(named) == _absolute(expected)


@pytest.mark.parametrize("name", ["./~", "./~/state"])
@pytest.mark.parametrize("given_as", ["--home", ENV_HOME])
def test_a_folder_named_dot_slash_tilde_is_the_same_folder_for_both(
    monkeypatch: pytest.MonkeyPatch, name: str, given_as: str
) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    if given_as == ENV_HOME:
        monkeypatch.setenv(ENV_HOME, name)
        named, expected = folder_named(None), default_home()
    else:
        monkeypatch.delenv(ENV_HOME, raising=False)
        named, expected = folder_named(name), Path(name).expanduser()
    # pathlib drops "./" and then expands "~": the client must not name another folder
    assert named is None or _absolute(named) == _absolute(expected)
