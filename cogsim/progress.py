"""Progress reports for long work: named stages and counted bars.

On a terminal a bar is a tqdm bar; elsewhere (logs, pipes, Slurm) each stage and each bar writes one status
line when it starts and one when it ends, so a log shows where a run is without a flood of updates. The
command line's ``--quiet`` turns every report off (:func:`configure`).

A scenario reports its stages like this::

    from cogsim import progress

    with progress.stage("fitting"):
        ...
    for chunk in progress.bar(chunks, desc="bootstrapping"):
        ...

Example:
  >>> import io
  >>> from cogsim import progress
  >>> out = io.StringIO()
  >>> progress.configure(enabled=True, stream=out)
  >>> with progress.stage("simulating"):
  ...     pass
  >>> out.getvalue().splitlines()[0]
  'cogsim: simulating ...'
  >>> progress.configure(enabled=True, stream=None)
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

_STATE: dict[str, Any] = {"enabled": True, "stream": None}


def configure(*, enabled: bool | None = None, stream: TextIO | None = None) -> None:
    """Turns reports on or off and sets where they go (default: standard error).

    Args:
      enabled: False silences every stage and bar (``--quiet``).
      stream: a text stream for the reports; None: ``sys.stderr`` at the time of writing.

    Example:
      >>> import io
      >>> out = io.StringIO()
      >>> configure(enabled=True, stream=out)
      >>> for _ in iterate(range(3), desc="trials"):
      ...     pass
      >>> print(out.getvalue().rstrip())  # not a terminal: one line at the start, one at the end
      cogsim: trials: 0 of 3 ...
      cogsim: trials: 3/3 done ...
      >>> configure(enabled=True, stream=None)  # back to standard error
    """
    if enabled is not None:
        _STATE["enabled"] = bool(enabled)
    _STATE["stream"] = stream


def enabled() -> bool:
    """Whether reports are on.

    Example:
      >>> configure(enabled=False)  # what --quiet does
      >>> enabled()
      False
      >>> configure(enabled=True)
      >>> enabled()
      True
    """
    return bool(_STATE["enabled"])


def _stream() -> TextIO:
    return _STATE["stream"] or sys.stderr


def _on_terminal() -> bool:
    stream = _stream()
    return bool(getattr(stream, "isatty", lambda: False)())


def _line(text: str) -> None:
    if not enabled():
        return
    stream = _stream()
    with contextlib.suppress(OSError, ValueError):  # a closed or broken stream never stops the work
        print(f"cogsim: {text}", file=stream, flush=True)


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Reports the stage ``name`` (one line at its start, one with its duration at its end).

    Example:
      >>> from cogsim import progress
      >>> progress.configure(enabled=False)
      >>> with progress.stage("comparing"):
      ...     x = 1 + 1
      >>> progress.configure(enabled=True)
    """
    t0 = time.perf_counter()
    _line(f"{name} ...")
    yield
    _line(f"{name} done ({time.perf_counter() - t0:.1f} s)")


class _LineBar:
    """A bar off the terminal: one line at the start, one at the end."""

    def __init__(self, total: int | None, desc: str):
        self.total, self.desc, self.n, self._t0 = total, desc, 0, time.perf_counter()
        of = f" of {total}" if total is not None else ""
        _line(f"{desc}: 0{of} ...")

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        of = f"/{self.total}" if self.total is not None else ""
        _line(f"{self.desc}: {self.n}{of} done ({time.perf_counter() - self._t0:.1f} s)")


class _NoBar:
    n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        pass


def bar(total: int | None = None, *, desc: str = "", show: bool | None = None) -> Any:
    """A progress counter with ``update(n)`` and ``close()``: tqdm on a terminal, status lines otherwise.

    Args:
      total: how many steps, if known.
      desc: what is counted.
      show: force the tqdm bar on (True) or off (False, status lines only); None: tqdm on a terminal.

    Example:
      >>> from cogsim import progress
      >>> progress.configure(enabled=False)
      >>> b = progress.bar(3, desc="points")
      >>> b.update(3); b.close()
      >>> progress.configure(enabled=True)
    """
    if not enabled():
        return _NoBar()
    if show if show is not None else _on_terminal():
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, leave=False, file=_stream())
    return _LineBar(total, desc)


def iterate(items: Iterable[Any], *, total: int | None = None, desc: str = "") -> Iterator[Any]:
    """Yields ``items`` while counting them on a :func:`bar`.

    Example:
      >>> from cogsim import progress
      >>> progress.configure(enabled=False)
      >>> list(progress.iterate(range(3), desc="seeds"))
      [0, 1, 2]
      >>> progress.configure(enabled=True)
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    b = bar(total, desc=desc)
    try:
        for item in items:
            yield item
            b.update(1)
    finally:
        b.close()
