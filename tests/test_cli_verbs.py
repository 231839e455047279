"""Every command the parser builds names a verb function that imports and can be called."""

from __future__ import annotations

import argparse

from jobcore.cli.parser import COMMANDS, build_parser, commands_of
from jobcore.cli.words import verb_of


def test_every_command_names_an_importable_verb() -> None:
    assert commands_of(build_parser()) == {name for name, _ in COMMANDS}
    for name, _ in COMMANDS:
        parser = build_parser(name)
        assert commands_of(parser) == {name}
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        verb = sub.choices[name].get_default("verb")
        assert callable(verb_of(argparse.Namespace(verb=verb)))
