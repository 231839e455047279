"""Benchmarks of jobcore against its peers; run them with ``python -m benchmarks``.

Not part of the test suite: they print figures (and write ``benchmarks/results.json``), and
never decide whether the build passes. See ``benchmarks/run.py``.
"""
