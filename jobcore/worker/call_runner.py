"""Run the items of a Python batch: calls of ``package.module:function`` in a pool.

Kept apart from the command runner so a shell batch's worker never imports
concurrent.futures and multiprocessing (docs/decisions/0015-light-start-path-imports.md).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import TYPE_CHECKING

from jobcore.base.errors import Pause
from jobcore.state.items import ItemRecord, Outcome
from jobcore.state.logs import item_prefix
from jobcore.worker import call_output
from jobcore.worker.calls import call_item

if TYPE_CHECKING:
    from jobcore.base.redact import Redactor

REAP_EVERY_S = 0.5
"""How often the worker looks for exited orphans to reap (a scan of its children)."""


class CallRunner:
    """Items as calls of a Python function in a thread or process pool."""

    def __init__(
        self,
        target: str,
        cwd: str,
        parallel: int,
        processes: bool,
        redact: Redactor | None = None,
    ) -> None:
        from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

        self.target = target
        self.cwd = cwd
        self.redact = redact
        self._streams = (sys.stdout, sys.stderr)
        """The worker's own streams, back in place when the batch is over."""
        if processes:
            # spawn: pool processes must not inherit the worker's database or slot locks.
            self.executor: Executor = ProcessPoolExecutor(
                parallel,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=call_output.install,
                initargs=(redact,),
            )
        else:
            call_output.install(redact)
            self.executor = ThreadPoolExecutor(parallel)
        self.futures: dict[Future[str | None], ItemRecord] = {}
        self._next_reap = 0.0

    @property
    def running(self) -> int:
        return len(self.futures)

    def start(self, record: ItemRecord) -> Outcome | None:
        shown = record.item if self.redact is None else self.redact.text(record.item)
        prefix = item_prefix(record.item, record.idx, shown)
        future = self.executor.submit(
            call_item, self.target, self.cwd, record.item, record.idx, prefix
        )
        self.futures[future] = record
        return None

    def wait(self, timeout: float) -> list[tuple[ItemRecord, Outcome]]:
        self._reap_adopted()
        if not self.futures:
            time.sleep(timeout)
            return []
        done, _ = wait(list(self.futures), timeout=timeout, return_when=FIRST_COMPLETED)
        ended = []
        for future in done:
            record = self.futures.pop(future)
            exc = future.exception()
            if exc is None:
                ended.append((record, Outcome(ok=True, result=future.result())))
            elif isinstance(exc, Pause):
                ended.append((record, Outcome(ok=False, error=exc.reason, pause=exc)))
            else:
                error = f"{type(exc).__name__}: {exc}".strip()
                ended.append((record, Outcome(ok=False, error=error[:500])))
        return ended

    def _reap_adopted(self) -> None:
        """Reap orphans re-parented to the worker (a child subreaper) once they have exited.

        Only the main thread's children that are not pool processes: the kernel re-parents
        an orphan to the subreaper's first live thread, while a call's own subprocesses are
        children of the pool thread that started them, their exit status theirs to collect.
        Linux lists a thread's children in /proc; elsewhere nothing is adopted.
        """
        now = time.monotonic()
        if now < self._next_reap:
            return
        self._next_reap = now + REAP_EVERY_S
        pid = os.getpid()
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as fh:
                children = [int(child) for child in fh.read().split()]
        except OSError:
            return
        pool = {proc.pid for proc in multiprocessing.active_children()}
        for child in children:
            if child not in pool:
                with contextlib.suppress(ChildProcessError):
                    os.waitid(os.P_PID, child, os.WEXITED | os.WNOHANG)

    def interrupt_all(self, grace: float) -> list[tuple[ItemRecord, Outcome]]:
        """Give up on running calls (threads cannot be interrupted: their results are dropped);
        calls that already finished keep their outcome."""
        ended = self.wait(0) if self.futures else []
        ended += [(r, Outcome(ok=False, error="interrupted")) for r in self.futures.values()]
        self.futures.clear()
        return ended

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        sys.stdout, sys.stderr = self._streams
