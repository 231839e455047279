"""What every verb is handed: the state folder and its store, opened on first use."""

from __future__ import annotations

from jobcore.state.paths import StateDir, resolve_home
from jobcore.state.store import Store


class Context:
    """What every command needs: the state folder and an open store, opened on first use."""

    def __init__(self, home: str | None, create: bool = True) -> None:
        self._home = home
        self._create = create
        """Whether a missing state folder is made (writing commands) or refused (reading)."""
        self._state: StateDir | None = None
        self._store: Store | None = None

    @classmethod
    def of(cls, state: StateDir, store: Store) -> Context:
        """A context over a state folder and store already open (the dispatcher's)."""
        ctx = cls(str(state.root))
        ctx._state, ctx._store = state, store
        return ctx

    @property
    def state(self) -> StateDir:
        if self._state is None:
            self._state = resolve_home(self._home, self._create)
        return self._state

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.state)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def reconciled(ctx: Context) -> Store:
    """The store after the liveness check every reading command makes (which also starts a
    dispatcher if jobs wait and none runs: after a reboot, any command gets the queue going)."""
    from jobcore.ops.dispatch import check

    check(ctx.store)
    return ctx.store
