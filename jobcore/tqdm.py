"""``from jobcore.tqdm import tqdm``: the public path of :mod:`jobcore.api.tqdm`."""

from jobcore.api.tqdm import *  # noqa: F403
from jobcore.api.tqdm import __all__  # noqa: F401
