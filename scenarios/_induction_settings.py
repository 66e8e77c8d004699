"""Settings shared by the scenarios built on :mod:`cogsim.models.induction` (defaults: Reddy's setting).

A scenario's ``Config`` subclasses :class:`InductionSettings` and adds (or re-declares with other defaults)
its own fields; :func:`task_config` and :func:`train_config` turn it into the model's configs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cogsim import config as cfglib
from cogsim.models import induction as ind


@dataclasses.dataclass(frozen=True)
class InductionSettings:
    """Task and training fields of an induction scenario's config (defaults: Reddy's setting)."""

    K: int = cfglib.field(512, low=1, doc="classes")
    L: int = cfglib.field(32, low=2, doc="labels")
    N: int = cfglib.field(8, low=1, doc="item-label pairs per context")
    D: int = cfglib.field(63, low=1, doc="content dimension")
    N_max: int = cfglib.field(32, low=1, doc="position slots are 2 N_max + 1")
    eps: float = cfglib.field(0.1, low=0.0, doc="within-class noise")
    lr: float = cfglib.field(0.01, low=0.0, doc="SGD learning rate")
    batch_size: int = cfglib.field(128, low=1, doc="sequences per step")
    weight_decay: float = cfglib.field(1e-6, low=0.0, doc="multiplicative weight decay per step")
    n_test: int = cfglib.field(10_000, low=1, doc="sequences per test set")
    eval_chunk: int = cfglib.field(1000, low=1, doc="test sequences per forward pass")
    n_seeds: int = cfglib.field(6, low=1, doc="seeds (trained at once under jax.vmap)")


def _shared_fields(cls: type, cfg: Any) -> dict[str, Any]:
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cls) if hasattr(cfg, f.name)}


def task_config(cfg: Any, **overrides: Any) -> ind.TaskConfig:
    """The model's task config from the same-named fields of ``cfg`` (a scenario config), then ``overrides``.

    Example:
      >>> task_config(InductionSettings(K=64, L=8, N=4), B=2).K
      64
    """
    return ind.TaskConfig(**{**_shared_fields(ind.TaskConfig, cfg), **overrides})


def train_config(cfg: Any, **overrides: Any) -> ind.TrainConfig:
    """The model's training config from the same-named fields of ``cfg`` (a scenario config), then
    ``overrides``.

    Example:
      >>> train_config(InductionSettings(lr=0.1), num_steps=10).lr
      0.1
    """
    return ind.TrainConfig(**{**_shared_fields(ind.TrainConfig, cfg), **overrides})
