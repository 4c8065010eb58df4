"""Progress of long runs: a tqdm bar when tqdm is installed, lines on stderr otherwise, or the
caller's own callback ``callback(stage, done, total)``."""

from __future__ import annotations

import sys
from typing import Callable, Optional, Union

ProgressCallback = Callable[[str, int, int], None]
Progress = Union[bool, ProgressCallback, None]

try:  # optional: Debian's python3-tqdm
    from tqdm.auto import tqdm as _tqdm
except ImportError:  # pragma: no cover - depends on the machine
    _tqdm = None


class _Bar:
    """One tqdm bar per stage; short stages (under half a second) never show one."""

    def __init__(self) -> None:
        self._bar = None
        self._stage: Optional[str] = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            self._stage = stage
            self._bar = _tqdm(total=total or None, desc=f"civgrid {stage}", unit="step", delay=0.5, leave=False)
        assert self._bar is not None
        if total and self._bar.total != total:
            self._bar.total = total
        if done > self._bar.n:
            self._bar.update(done - self._bar.n)  # shows the bar only once `delay` has passed

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class _Lines:
    """A line on stderr per stage, for terminals without tqdm."""

    def __init__(self) -> None:
        self._stage: Optional[str] = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self._stage = stage
            print(f"civgrid: {stage} ...", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


class Reporter:
    """The callback given to the engine for one run; ``close()`` when the run ends."""

    def __init__(self, progress: Progress) -> None:
        self._own = None
        self.callback: Optional[ProgressCallback] = None
        if callable(progress):
            self.callback = progress
        elif progress:
            self._own = _Bar() if _tqdm is not None else _Lines()
            self.callback = self._own

    def close(self) -> None:
        if self._own is not None:
            self._own.close()

    def __enter__(self) -> Optional[ProgressCallback]:
        return self.callback

    def __exit__(self, *exc: object) -> None:
        self.close()
