"""Progress from Python: ``for x in progress(items)`` or ``with progress(total=n) as p``.

The same script works in two places. Inside a jobcore job (``JOBCORE_JOB_ID`` is set) it
reports to the job through a throttled Reporter, a few writes per second at most. Outside a
job it draws a plain one-line bar on stderr when stderr is a terminal, and stays silent
otherwise. The loop itself pays for a counter increment: the clock is read only every
``_stride`` items, and the stride adapts so the clock is read about every millisecond.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from jobcore.base.progress_parse import ProgressUpdate
from jobcore.view import fmt

if TYPE_CHECKING:
    from jobcore.state.reporter import Reporter

T = TypeVar("T")

BAR_INTERVAL_S = 0.1
BAR_WIDTH = 30


class _Sink:
    """Where progress goes: the job's database, a terminal bar, or nowhere."""

    interval = 0.25

    def show(self, bar: Progress[object], final: bool) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def close(self) -> None:
        pass


class _JobSink(_Sink):
    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self._errors_sent = 0

    def show(self, bar: Progress[object], final: bool) -> None:
        errors = bar.errors - self._errors_sent
        for _ in range(errors):
            self.reporter.update(ProgressUpdate(error="item failed"))
        self._errors_sent = bar.errors
        self.reporter.update(ProgressUpdate(done=bar.n, total=bar.total, item=bar.label()))

    def close(self) -> None:
        self.reporter.close()
        self.reporter.store.close()


class _TerminalSink(_Sink):
    interval = BAR_INTERVAL_S

    def __init__(self) -> None:
        self.start = time.monotonic()

    def show(self, bar: Progress[object], final: bool) -> None:
        elapsed = time.monotonic() - self.start
        rate = bar.n / elapsed if elapsed > 0 else None
        if bar.total:
            filled = int(BAR_WIDTH * min(bar.n, bar.total) / bar.total)
            gauge = "#" * filled + "." * (BAR_WIDTH - filled)
            eta = fmt.duration((bar.total - bar.n) / rate) if rate else fmt.UNKNOWN
            text = f"[{gauge}] {fmt.progress(bar.n, bar.total)} {fmt.rate(rate)} ETA {eta}"
        else:
            text = f"{bar.n} done {fmt.rate(rate)}"
        if bar.label():
            text = f"{bar.label()}: {text}"
        if bar.errors:
            text += f" ({bar.errors} failed)"
        sys.stderr.write(fmt.ERASE_LINE + text + ("\n" if final else ""))
        sys.stderr.flush()


def _sink_for_here() -> _Sink | None:
    from jobcore.state.reporter import for_current_job

    # Progress throttles by itself: the reporter writes whenever it is shown something.
    reporter = for_current_job(interval=0.0)
    if reporter is not None:
        return _JobSink(reporter)
    if sys.stderr is not None and sys.stderr.isatty():
        return _TerminalSink()
    return None


class Progress(Generic[T]):
    """Counts items done (and failed) and reports them; see the module docstring."""

    def __init__(
        self,
        iterable: Iterable[T] | None = None,
        total: int | None = None,
        desc: str | None = None,
    ) -> None:
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.iterable = iterable
        self.total = total
        self.desc = desc
        self.n = 0
        """Items done so far."""
        self.errors = 0
        """Items that failed (``fail``)."""
        self.item: str | None = None
        """What is being worked on now: set_item's text, else the last value looped over."""
        self._current: object = None
        self._sink = _sink_for_here()
        self._interval = self._sink.interval if self._sink else float("inf")
        self._last = time.monotonic()
        self._last_tick = self._last
        self._stride = 1
        self._next_check = 1
        self._closed = False
        if self._sink is not None:
            self._sink.show(self, final=False)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[T]:
        if self.iterable is None:
            raise TypeError("progress() was given no iterable to loop over")
        try:
            for value in self.iterable:
                yield value
                self.n += 1
                if self.n >= self._next_check:
                    self._current = value
                    self._tick()
        finally:
            self.close()

    def _tick(self) -> None:
        """Called every ``_stride`` items: adapt the stride, report if the interval passed."""
        now = time.monotonic()
        if now - self._last_tick < 0.001:
            self._stride *= 2
        elif self._stride > 1 and now - self._last_tick > 0.01:
            self._stride //= 2
        self._last_tick = now
        self._next_check = self.n + self._stride
        if self._sink is not None and now - self._last >= self._interval:
            if self.iterable is not None and self._current is not None:
                self.item = str(self._current)[:200]
            self._last = now
            self._sink.show(self, final=False)  # type: ignore[arg-type]

    def label(self) -> str | None:
        """The current item as shown: ``desc: item``, either alone, or None."""
        parts = [p for p in (self.desc, self.item) if p]
        return ": ".join(parts) or None

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items done."""
        self.n += n
        if self.n >= self._next_check:
            self._tick()

    def set_item(self, text: str) -> None:
        """Say what is being worked on now."""
        self.item = text

    def set_total(self, total: int) -> None:
        """Set (or grow) the number of items."""
        self.total = total

    def fail(self, item: object, error: object) -> None:
        """Count one failed item, with its error (it is also printed to stderr)."""
        self.errors += 1
        print(f"jobcore: failed: {item}: {error}", file=sys.stderr)
        if self._sink is not None:
            self._sink.show(self, final=False)  # type: ignore[arg-type]

    def close(self) -> None:
        """Report the final state (always written, never throttled)."""
        if self._closed:
            return
        self._closed = True
        if self._sink is not None:
            self._sink.show(self, final=True)  # type: ignore[arg-type]
            self._sink.close()

    def __enter__(self) -> Progress[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(
    iterable: Iterable[T] | None = None, total: int | None = None, desc: str | None = None
) -> Progress[T]:
    """Wrap an iterable (or use as a context manager) to report progress; see module doc."""
    return Progress(iterable, total=total, desc=desc)
