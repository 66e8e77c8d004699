"""The tensor brain's sizes and parameters: index-layer embeddings, working-memory maps, relational core."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp

from cogsim import config as cfglib

Params = dict[str, Any]
MODES = ("sample", "argmax", "integral", "teacher")
GROUPS = ("entity", "predicate", "label", "time")
#: How the relation enters triple decoding (see :class:`TensorBrainConfig`).
RELATIONAL = ("additive", "tucker")


@dataclasses.dataclass(frozen=True)
class TensorBrainConfig:
    """Sizes of the index groups and of the representation and working-memory layers.

    Attributes:
      n_entities: entity indices (subjects and objects).
      n_predicates: predicate indices.
      n_times: time (episode) indices; 1 for a purely semantic memory.
      n_labels: unary label indices (classes, attributes) decoded after an entity is embodied; 0 for none.
      dim: size of the representation layer q (and of every embedding a_i).
      wm_dim: size of the working memory h.
      beta: inverse temperature of the bottom-up softmax.
      embody_gain: f in the top-down step q <- r q + f a_k.
      retain: r in the top-down step.
      dropout: dropout on sigmoid(q) during training.
      init_scale: standard deviation of the initial embeddings.
      relational: how a triple is decoded. ``"additive"``: subject -> object -> predicate, each stage
        reading a representation that working memory forms by adding the embodied embeddings (the object
        is chosen before the relation is known, and subject and object meet only through a sum). ``"tucker"``:
        subject -> predicate -> object, and the object stage's representation also holds the multiplicative
        interaction of the embodied subject and predicate through a learned core tensor ``G`` (``q_o +=
        G x1 a_s x2 a_p``, Tucker 1966; Balazevic et al. 2019), so that ``P(o | s, p)`` is conditioned on the
        relation as in TuckER.
      reciprocal: a semantic memory that stores each fact from both ends: predicate indices
        ``n_predicates // 2 ..`` are the reciprocals of the first half (``(s, p, o)`` is also learned as
        ``(o, p^-1, s)``), so a head query ``(?, p, o)`` is answered by decoding from ``o`` as a tail query of
        ``p^-1`` (see :func:`train_semantic_memory` and :func:`semantic_scorers`); ``n_predicates`` must be
        even.
    """

    n_entities: int = cfglib.field(1, low=1, doc="entity indices")
    n_predicates: int = cfglib.field(1, low=1, doc="predicate indices")
    n_times: int = cfglib.field(1, low=1, doc="time (episode) indices")
    n_labels: int = cfglib.field(0, low=0, doc="unary label indices (classes, attributes)")
    dim: int = cfglib.field(64, low=1, doc="representation layer size (embedding size)")
    wm_dim: int = cfglib.field(128, low=1, doc="working-memory size")
    beta: float = cfglib.field(1.0, low=1e-6, doc="inverse temperature of the bottom-up softmax")
    embody_gain: float = cfglib.field(1.0, low=0.0, doc="f in q <- r q + f a_k")
    retain: float = cfglib.field(1.0, low=0.0, doc="r in q <- r q + f a_k")
    dropout: float = cfglib.field(0.0, low=0.0, high=0.95, doc="dropout on sigmoid(q) in training")
    init_scale: float = cfglib.field(0.1, low=1e-6, doc="std of the initial embeddings")
    relational: str = cfglib.field(
        "additive", choices=RELATIONAL, doc="triple decoding: additive s->o->p, or s->p->o with a Tucker core"
    )
    reciprocal: bool = cfglib.field(
        False, doc="each fact stored from both ends: the second half of the predicates are reciprocals"
    )


def init_params(cfg: TensorBrainConfig, *, key: jax.Array) -> Params:
    """Random initial parameters: embeddings and biases per index group, the V, B, W maps, and the core
    tensor ``G [dim, dim, dim]`` (entries of std ``1 / dim``) when ``cfg.relational == "tucker"``.

    Example:
      >>> import jax
      >>> cfg = TensorBrainConfig(n_entities=3, n_predicates=2, dim=4, wm_dim=5)
      >>> p = init_params(cfg, key=jax.random.key(0))
      >>> p["entity"].shape, p["W"].shape
      ((3, 4), (5, 4))
    """
    cfg = cfglib.validate(cfg)
    ks = jax.random.split(key, 8)
    d, m = cfg.dim, cfg.wm_dim

    def emb(k, n):
        return cfg.init_scale * jax.random.normal(k, (n, d))

    def lin(k, n_in, n_out):
        return jax.random.normal(k, (n_in, n_out)) * math.sqrt(1.0 / n_in)

    params = {
        "entity": emb(ks[0], cfg.n_entities),
        "entity_bias": jnp.zeros(cfg.n_entities),
        "predicate": emb(ks[1], cfg.n_predicates),
        "predicate_bias": jnp.zeros(cfg.n_predicates),
        "time": emb(ks[2], cfg.n_times),
        "time_bias": jnp.zeros(cfg.n_times),
        "V": lin(ks[3], d, m),
        "V_bias": jnp.zeros(m),
        "B": lin(ks[4], m, m),
        "B_bias": jnp.zeros(m),
        "W": lin(ks[5], m, d),
        "W_bias": jnp.zeros(d),
        "h0": jnp.zeros(m),
    }
    if cfg.n_labels:
        params["label"] = emb(ks[6], cfg.n_labels)
        params["label_bias"] = jnp.zeros(cfg.n_labels)
    if cfg.relational == "tucker":
        params["core"] = jax.random.normal(ks[7], (d, d, d)) / d
    return params
