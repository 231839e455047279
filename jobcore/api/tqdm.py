"""A drop-in ``tqdm`` that also reports to the jobcore job it runs in.

    from jobcore.tqdm import tqdm

Code already written for tqdm needs only that import changed: the bar behaves as before,
and inside a job its count, total and description also reach the job (throttled). The job
follows the outermost bar (position 0); a nested bar is the current item's text. Inside a
batch item the bars are the item's own progress. Outside a
job it is plain tqdm. tqdm itself is not a jobcore dependency; this module needs it installed.
"""

from __future__ import annotations

from typing import Any

from tqdm import tqdm as _tqdm

from jobcore.base.progress_parse import ProgressUpdate, nested_label
from jobcore.state.reporter import for_current_job

__all__ = ["tqdm"]


class tqdm(_tqdm):
    """tqdm.tqdm, plus a Reporter that writes n/total/desc to the job on each refresh."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._job_reporter = for_current_job()
        super().__init__(*args, **kwargs)

    def _report(self, force: bool) -> None:
        if self._job_reporter is None:
            return
        total = int(self.total) if self.total is not None else None
        if abs(getattr(self, "pos", 0)):
            # A nested bar (drawn below another): what the current item is doing.
            label = nested_label(self.desc or None, int(self.n), total)
            self._job_reporter.update(ProgressUpdate(item=label))
        else:
            self._job_reporter.update(
                ProgressUpdate(done=int(self.n), total=total, item=self.desc or None)
            )
        if force:
            self._job_reporter.close()

    def display(self, *args: Any, **kwargs: Any) -> Any:
        self._report(force=False)
        return super().display(*args, **kwargs)

    def close(self) -> None:
        reporter = getattr(self, "_job_reporter", None)
        if reporter is not None:
            self._report(force=True)
            reporter.store.close()
            self._job_reporter = None
        super().close()
