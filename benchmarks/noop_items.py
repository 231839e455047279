"""A no-op item function for the ``--call`` batch benchmark (``benchmarks.noop_items:noop``)."""


def noop(item: str) -> None:
    """Do nothing with the item: what is left of a batch is jobcore's own bookkeeping."""
    return None
