"""Reliability tests (issue 8): real processes, real signals, real SQLite files, each bounded."""
