"""The detached worker: runs one job's command or batch and records what happens to it."""
