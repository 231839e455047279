"""The public Python API, re-exported from ``jobcore``: progress, tqdm, background, submit."""
