"""Early stopping on a logged score: keep the best parameters, stop after ``patience`` logging points."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from cogsim.errors import CogsimError


class Tracker(NamedTuple):
    """Early-stopping state: the best score (as a quantity to minimise), its step and parameters, and the
    number of logging points since it.

    Example:
      >>> es = EarlyStopping("acc", patience=3, mode="max")
      >>> t = es.update(Tracker(), {"acc": 0.8}, step=100, params="p100")
      >>> t = es.update(t, {"acc": 0.7}, step=200, params="p200")
      >>> t
      Tracker(best=-0.8, best_step=100, best_params='p100', since_best=1)
    """

    best: float = math.inf
    best_step: int = 0
    best_params: Any = None
    since_best: int = 0


@dataclasses.dataclass(frozen=True)
class EarlyStopping:
    """Stops training when ``metric`` has not improved for ``patience`` logging points.

    Args:
      metric: the history column to watch (a training metric or a key of ``eval_fn``'s result).
      patience: logging points without improvement before training stops.
      mode: ``"min"`` (lower is better) or ``"max"``.

    A score that is not finite never counts as an improvement; of equal scores the first is kept.
    :func:`cogsim.train.fit` returns the parameters of the best logging point and its step.

    Example:
      >>> es = EarlyStopping("val_loss", patience=2)
      >>> t = Tracker()
      >>> for i, v in enumerate([3.0, 1.0, 2.0, 1.5, 0.5]):
      ...     t = es.update(t, {"val_loss": v}, step=i + 1, params=f"params {i + 1}")
      ...     if es.should_stop(t):
      ...         break
      >>> i + 1, t.best_step, t.best_params
      (4, 2, 'params 2')
    """

    metric: str
    patience: int
    mode: str = "min"

    def __post_init__(self):
        if self.patience < 1:
            raise CogsimError(f"EarlyStopping: patience={self.patience}; allowed: >= 1")
        if self.mode not in ("min", "max"):
            raise CogsimError(f"EarlyStopping: mode={self.mode!r}; allowed: 'min' or 'max'")

    def score(self, row: Mapping[str, Any]) -> float:
        """The row's score as a quantity to minimise (``inf`` when not finite)."""
        if self.metric not in row:
            raise CogsimError(f"EarlyStopping: metric {self.metric!r} is not logged; logged: {sorted(row)}")
        v = float(row[self.metric])
        v = v if self.mode == "min" else -v
        return v if math.isfinite(v) else math.inf

    def update(self, t: Tracker, row: Mapping[str, Any], *, step: int, params: Any) -> Tracker:
        """The tracker after a logging point at ``step`` with the logged ``row`` and current ``params``."""
        s = self.score(row)
        if s < t.best:
            return Tracker(s, step, params, 0)
        return t._replace(since_best=t.since_best + 1)

    def should_stop(self, t: Tracker) -> bool:
        """Whether ``patience`` logging points have passed since the best one."""
        return t.since_best >= self.patience
