"""The ``jobcore`` command: the parser, the verbs and how they print."""
