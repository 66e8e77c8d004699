"""Semantic memory of a static graph: training on its facts (from both ends when ``reciprocal``) and
link-prediction scorers."""

from __future__ import annotations

import functools

import jax
import numpy as np
from jaxtyping import Int

from cogsim.errors import ConfigError

from ._config import Params, TensorBrainConfig
from ._layers import semantic_context
from ._train import train_memory
from ._triples import link_scorers, log_prob_tensor

#: Above this many triples (entities^2 x predicates) the scorers decode in batches instead of one tensor.
TENSOR_LIMIT = 50_000_000


def n_relations(cfg: TensorBrainConfig) -> int:
    """The graph's relations: ``n_predicates``, or half of it for a reciprocal memory.

    Example:
      >>> n_relations(TensorBrainConfig(n_predicates=6, reciprocal=True))
      3
    """
    if cfg.reciprocal and cfg.n_predicates % 2:
        raise ConfigError(
            "n_predicates", cfg.n_predicates, "an even number (relations, then reciprocals) when reciprocal"
        )
    return cfg.n_predicates // 2 if cfg.reciprocal else cfg.n_predicates


def reciprocal_triples(triples: Int[np.ndarray, "n 3"], n_relations: int) -> Int[np.ndarray, "m 3"]:
    """The facts ``(s, p, o)`` followed by their reciprocals ``(o, p + n_relations, s)``.

    Example:
      >>> reciprocal_triples(np.array([[0, 1, 2]]), 3).tolist()
      [[0, 1, 2], [2, 4, 0]]
    """
    t = np.asarray(triples)
    return np.concatenate([t, np.stack([t[:, 2], t[:, 1] + n_relations, t[:, 0]], axis=1)], axis=0)


def train_semantic_memory(
    cfg: TensorBrainConfig, triples: Int[np.ndarray, "n 3"], *, key: jax.Array, **train_kw
):
    """Trains a semantic memory (one context, ``a_bar``) on a graph's ``(s, p, o)`` facts.

    A reciprocal memory (``cfg.reciprocal``) learns every fact from both ends, ``(s, p, o)`` and
    ``(o, p^-1, s)``. The other keyword arguments go to :func:`train_memory`.

    Returns:
      :class:`cogsim.train.TrainResult`.

    Example:
      >>> import jax, numpy as np
      >>> cfg = TensorBrainConfig(n_entities=3, n_predicates=2, dim=8, wm_dim=8, reciprocal=True)
      >>> res = train_semantic_memory(cfg, np.array([[0, 0, 1]]), key=jax.random.key(0), num_steps=10,
      ...                             batch_size=2, log_every=10)
      >>> res.params["predicate"].shape
      (2, 8)
    """
    if cfg.n_times != 1:
        raise ConfigError("n_times", cfg.n_times, "1 for a semantic memory of a static graph")
    t = np.asarray(triples, np.int64)
    if cfg.reciprocal:
        t = reciprocal_triples(t, n_relations(cfg))
    rows = np.concatenate([np.zeros((len(t), 1), np.int64), t], axis=1)
    return train_memory(cfg, rows, key=key, **train_kw)


def semantic_log_prob_tensor(params: Params, cfg: TensorBrainConfig) -> np.ndarray:
    """Semantic memory's ``log P(s, p, o)`` over every triple, ``[N, n_predicates, N]`` (numpy)."""
    return np.asarray(_semantic_tensor(cfg, params))


@functools.partial(jax.jit, static_argnums=0)
def _semantic_tensor(cfg: TensorBrainConfig, params: Params) -> jax.Array:
    """One compiled program per config (and parameter shapes), reused across calls."""
    return log_prob_tensor(params, cfg, semantic_context(params))


def semantic_scorers(params: Params, cfg: TensorBrainConfig, *, tensor: np.ndarray | None = None):
    """``(score_tails(s, p), score_heads(p, o))`` for :func:`cogsim.kg.evaluate_link_prediction`.

    Tails of ``(s, p, ?)`` are ranked by the semantic memory's joint ``log P(s, p, o)`` (as ``P(o | s, p)``
    ranks them in the tucker memory); heads of ``(?, p, o)`` by the joint, or, in a reciprocal memory, as the
    tails of ``(o, p^-1, ?)``. Small graphs are scored from the full tensor (``tensor``, when already
    computed by :func:`semantic_log_prob_tensor`), large ones in batches.

    Example:
      >>> import jax, numpy as np
      >>> cfg = TensorBrainConfig(n_entities=4, n_predicates=2, dim=8, wm_dim=8, reciprocal=True)
      >>> from cogsim.models.tensor_brain import init_params
      >>> tails, heads = semantic_scorers(init_params(cfg, key=jax.random.key(0)), cfg)
      >>> tails(np.array([0]), np.array([0])).shape, heads(np.array([0]), np.array([1])).shape
      ((1, 4), (1, 4))
    """
    n_rel = n_relations(cfg)
    if cfg.n_entities**2 * cfg.n_predicates <= TENSOR_LIMIT:
        x = semantic_log_prob_tensor(params, cfg) if tensor is None else np.asarray(tensor)

        def tails(s, p):
            return x[s, p, :]

        if cfg.reciprocal:
            return tails, lambda p, o: x[o, np.asarray(p) + n_rel, :]
        return tails, lambda p, o: x[:, p, o].T
    tails, heads = link_scorers(params, cfg, semantic_context(params))
    if cfg.reciprocal:
        return tails, lambda p, o: tails(o, np.asarray(p) + n_rel)
    return tails, heads
