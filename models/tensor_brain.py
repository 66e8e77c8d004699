"""The tensor brain (Tresp et al. 2020, 2023): semantic decoding for perception and memory.

Four layers:

1. **Sensory buffer**: the recent sensory input, decaying after stimulus offset (:func:`sensory_buffer`).
2. **Index layer**: one unit per concept, grouped into entities (subjects and objects), unary labels
   (classes, attributes), predicates and time (episode) indices. Unit ``i`` has an embedding ``a_i`` and a
   bias ``a_0,i``.
3. **Representation layer** ``q`` (the "blackboard"); the brain state is ``sigmoid(q)``.
4. **Working memory** ``h``: ``h' = B sigmoid(sigmoid(h) + V sigmoid(q))``, ``q' = W sigmoid(h') + input``.

Operations:

- *bottom-up* encoding ``P(Y = i | q) = softmax_i(beta (a_0,i + a_i^T sigmoid(q)))`` (:func:`bottom_up`); it
  is an attention read of the index layer (query ``sigmoid(q)``, keys and values the embeddings) and goes
  through :func:`cogsim.attention.dot_product_attention`, whose output is the "integral" selection
  ``sum_i P_i a_i``;
- *selection*: ``"sample"``, ``"argmax"``, ``"teacher"`` (given index) or ``"integral"``;
- *top-down* embodiment ``q <- r q + f a_k`` (:func:`embody`);
- *sequential triple decoding* (:func:`decode`, :func:`triple_log_probs`): context (time index ``a_t``, or the
  time-marginalised ``a_bar`` for semantic memory) -> subject -> its unary labels -> object -> predicate,
  i.e. ancestral sampling of ``P(s | u) P(o | s, u) P(p | s, o, u)``;
- *episodic memory*: ``q = a_t`` with no sensory input; *semantic memory*: ``q = a_bar = sum_t P(t) a_t``
  (:func:`semantic_context`), or the exact time marginal of the episodic distributions
  (:func:`marginal_log_prob_tensor`).

The model is plain functional JAX: parameters are a dict of arrays (a pytree), so :func:`cogsim.train.fit`
trains it and ``jax.vmap`` runs several seeds at once.

Example:
  >>> import jax
  >>> from cogsim.models import tensor_brain as tb
  >>> cfg = tb.TensorBrainConfig(n_entities=4, n_predicates=2, dim=8, wm_dim=8)
  >>> params = tb.init_params(cfg, key=jax.random.key(0))
  >>> out = tb.decode(params, cfg, tb.semantic_context(params), key=jax.random.key(1), mode="argmax")
  >>> [k for k in ("subject", "object", "predicate") if k in out]
  ['subject', 'object', 'predicate']
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, Float, Int

from cogsim import config as _config
from cogsim.attention import dot_product_attention
from cogsim.errors import CogsimError, ConfigError

Params = dict[str, Any]
MODES = ("sample", "argmax", "integral", "teacher")
GROUPS = ("entity", "predicate", "label", "time")


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
    """

    n_entities: int = _config.field(1, low=1, doc="entity indices")
    n_predicates: int = _config.field(1, low=1, doc="predicate indices")
    n_times: int = _config.field(1, low=1, doc="time (episode) indices")
    n_labels: int = _config.field(0, low=0, doc="unary label indices (classes, attributes)")
    dim: int = _config.field(64, low=1, doc="representation layer size (embedding size)")
    wm_dim: int = _config.field(128, low=1, doc="working-memory size")
    beta: float = _config.field(1.0, low=1e-6, doc="inverse temperature of the bottom-up softmax")
    embody_gain: float = _config.field(1.0, low=0.0, doc="f in q <- r q + f a_k")
    retain: float = _config.field(1.0, low=0.0, doc="r in q <- r q + f a_k")
    dropout: float = _config.field(0.0, low=0.0, high=0.95, doc="dropout on sigmoid(q) in training")
    init_scale: float = _config.field(0.1, low=1e-6, doc="std of the initial embeddings")


def init_params(cfg: TensorBrainConfig, *, key: jax.Array) -> Params:
    """Random initial parameters: embeddings and biases per index group, and the V, B, W maps.

    Example:
      >>> import jax
      >>> cfg = TensorBrainConfig(n_entities=3, n_predicates=2, dim=4, wm_dim=5)
      >>> p = init_params(cfg, key=jax.random.key(0))
      >>> p["entity"].shape, p["W"].shape
      ((3, 4), (5, 4))
    """
    cfg = _config.validate(cfg)
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
    return params


# ------------------------------------------------------------------------------------------- operations
def _group(params: Params, group: str) -> tuple[jax.Array, jax.Array]:
    if group not in GROUPS or group not in params:
        have = [g for g in GROUPS if g in params]
        raise CogsimError(f"tensor brain: index group {group!r} is not in this model; have {have}")
    return params[group], params[f"{group}_bias"]


def bottom_up(
    params: Params,
    cfg: TensorBrainConfig,
    q: Float[Array, "n dim"],
    group: str,
    *,
    dropout_key: jax.Array | None = None,
) -> tuple[Float[Array, "n indices"], Float[Array, "n dim"]]:
    """Bottom-up encoding: log P(Y = i | q) over one index group, and the integral ``sum_i P_i a_i``.

    Args:
      params: model parameters.
      cfg: the model config (``beta``, ``dropout``).
      q: ``[n, dim]`` representation-layer pre-activations.
      group: "entity", "predicate", "label" or "time".
      dropout_key: when given, dropout ``cfg.dropout`` is applied to sigmoid(q) (training).

    Returns:
      ``(log_probs [n, n_indices], integral [n, dim])``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> cfg = TensorBrainConfig(n_entities=3, n_predicates=1, dim=4, wm_dim=4)
      >>> p = init_params(cfg, key=jax.random.key(0))
      >>> logp, a_bar = bottom_up(p, cfg, jnp.zeros((2, 4)), "entity")
      >>> logp.shape, round(float(jnp.exp(logp).sum(-1)[0]), 4)
      ((2, 3), 1.0)
    """
    emb, bias = _group(params, group)
    gamma = jax.nn.sigmoid(q)
    if dropout_key is not None and cfg.dropout > 0:
        keep = jax.random.bernoulli(dropout_key, 1.0 - cfg.dropout, gamma.shape)
        gamma = jnp.where(keep, gamma / (1.0 - cfg.dropout), 0.0)
    kv = emb[None, :, None, :]
    out, stats = dot_product_attention(
        gamma[None, :, None, :],
        kv,
        kv,
        bias=(cfg.beta * bias)[None, None, None, :],
        scale=cfg.beta,
        return_stats=True,
        name=f"tensor_brain/{group}",
    )
    scores = cfg.beta * (gamma @ emb.T + bias)
    log_probs = scores - stats.logsumexp[0, 0][:, None]
    return log_probs, out[0, :, 0, :]


def embody(q: Float[Array, "n dim"], a: Float[Array, "n dim"], cfg: TensorBrainConfig) -> jax.Array:
    """Top-down embodiment ``q <- r q + f a_k`` of a selected index's embedding.

    Example:
      >>> import jax.numpy as jnp
      >>> embody(jnp.ones((1, 2)), jnp.ones((1, 2)), TensorBrainConfig(retain=0.5, embody_gain=2.0)).tolist()
      [[2.5, 2.5]]
    """
    return cfg.retain * q + cfg.embody_gain * a


def wm_update(params: Params, h: Float[Array, "n wm"], q: Float[Array, "n dim"]) -> jax.Array:
    """Working memory ``h' = B sigmoid(sigmoid(h) + V sigmoid(q))``."""
    inner = jax.nn.sigmoid(h) + jax.nn.sigmoid(q) @ params["V"] + params["V_bias"]
    return jax.nn.sigmoid(inner) @ params["B"] + params["B_bias"]


def wm_readout(params: Params, h: Float[Array, "n wm"]) -> jax.Array:
    """The working memory's contribution to the next representation: ``W sigmoid(h)``."""
    return jax.nn.sigmoid(h) @ params["W"] + params["W_bias"]


def select(
    log_probs: Float[Array, "n indices"],
    emb: Float[Array, "indices dim"],
    integral: Float[Array, "n dim"],
    *,
    mode: str,
    key: jax.Array | None = None,
    teacher: Int[Array, " n"] | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Selects one index per row and returns ``(index [n], embedding to embody [n, dim])``.

    ``"integral"`` embodies the probability-weighted mean embedding and reports the argmax index.
    """
    if mode not in MODES:
        raise ConfigError("mode", mode, f"one of {list(MODES)}")
    if mode == "teacher":
        if teacher is None:
            raise CogsimError("tensor brain: mode='teacher' needs the teacher indices")
        idx = jnp.asarray(teacher)
    elif mode == "sample":
        if key is None:
            raise CogsimError("tensor brain: mode='sample' needs a key")
        idx = jax.random.categorical(key, log_probs, axis=-1)
    else:
        idx = jnp.argmax(log_probs, axis=-1)
    a = integral if mode == "integral" else emb[idx]
    return idx, a


def buffer_strength(t: Float[Array, "..."], *, onset: float = 0.0, offset: float, tau: float) -> jax.Array:
    """Strength of the sensory buffer at time ``t`` (seconds): 0 before ``onset``, 1 while the stimulus is
    shown, then ``exp(-(t - offset) / tau)`` after ``offset``.

    Example:
      >>> import jax.numpy as jnp
      >>> round(float(buffer_strength(jnp.asarray(0.35), offset=0.05, tau=0.3)), 4)  # exp(-1)
      0.3679
    """
    t = jnp.asarray(t, jnp.float32)
    return jnp.where(t < onset, 0.0, jnp.where(t <= offset, 1.0, jnp.exp(-(t - offset) / tau)))


def sensory_buffer(
    stimulus: Float[Array, "... dim"],
    t: Float[Array, "..."],
    *,
    onset: float = 0.0,
    offset: float,
    tau: float,
) -> jax.Array:
    """The decaying sensory buffer: ``stimulus * buffer_strength(t)`` (``t`` broadcasts over leading axes).

    Example:
      >>> import jax.numpy as jnp
      >>> [round(float(x), 3) for x in sensory_buffer(jnp.ones((2, 3)), jnp.asarray([0.0, 10.0]), offset=0.05,
      ...                                              tau=0.3).sum(-1)]
      [3.0, 0.0]
    """
    return jnp.asarray(stimulus) * buffer_strength(t, onset=onset, offset=offset, tau=tau)[..., None]


# -------------------------------------------------------------------------------------------- contexts
def episodic_context(params: Params, t: Int[Array, " n"]) -> jax.Array:
    """Episodic memory: the representation ``q = a_t`` of past time index ``t`` (``[n, dim]``)."""
    return params["time"][jnp.asarray(t)]


def semantic_context(params: Params, weights: Float[Array, " times"] | None = None) -> jax.Array:
    """Semantic memory: ``a_bar = sum_t P(t) a_t``, the time-marginalised representation (``[1, dim]``).

    ``weights`` is P(t) (uniform when None). With a single time index this is that index's embedding, the
    context of a purely semantic memory.
    """
    a = params["time"]
    w = jnp.full((a.shape[0],), 1.0 / a.shape[0]) if weights is None else jnp.asarray(weights)
    return (w @ a)[None, :]


# -------------------------------------------------------------------------------------- triple decoding
def _stage_inputs(params: Params, q0: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Embodies the context (time index or a_bar) into working memory; returns (q for the subject, h)."""
    h = wm_update(params, jnp.broadcast_to(params["h0"], (q0.shape[0], params["h0"].shape[0])), q0)
    return wm_readout(params, h), h


def triple_log_probs(
    params: Params,
    cfg: TensorBrainConfig,
    q0: Float[Array, "n dim"],
    s: Int[Array, " n"],
    o: Int[Array, " n"],
    *,
    dropout_key: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """Teacher-forced sequential decoding of subject ``s`` then object ``o`` in context ``q0``.

    Returns log-distributions at each stage: ``"subject"`` [n, N] = log P(s | u), ``"object"`` [n, N] =
    log P(o | s, u), ``"predicate"`` [n, P] = log P(p | s, o, u), and ``"label"`` [n, L] = log P(label | s, u)
    when the model has unary labels.
    """
    keys = list(jax.random.split(dropout_key, 4)) if dropout_key is not None else [None] * 4
    q, h = _stage_inputs(params, q0)
    out = {}
    out["subject"], _ = bottom_up(params, cfg, q, "entity", dropout_key=keys[0])
    q = embody(q, params["entity"][s], cfg)
    if "label" in params:
        out["label"], _ = bottom_up(params, cfg, q, "label", dropout_key=keys[3])
    h = wm_update(params, h, q)
    q = wm_readout(params, h)
    out["object"], _ = bottom_up(params, cfg, q, "entity", dropout_key=keys[1])
    q = embody(q, params["entity"][o], cfg)
    h = wm_update(params, h, q)
    q = wm_readout(params, h)
    out["predicate"], _ = bottom_up(params, cfg, q, "predicate", dropout_key=keys[2])
    return out


def triple_nll(
    params: Params,
    cfg: TensorBrainConfig,
    q0: Float[Array, "n dim"],
    triples: Int[Array, "n 3"],
    *,
    labels: Float[Array, "entities n_labels"] | None = None,
    dropout_key: jax.Array | None = None,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Mean negative log-likelihood ``-log P(s) P(o | s) P(p | s, o)`` of ``(s, p, o)`` triples (plus the
    cross-entropy of each subject's unary labels, when ``labels`` [N, L] rows are given)."""
    s, p, o = triples[:, 0], triples[:, 1], triples[:, 2]
    lp = triple_log_probs(params, cfg, q0, s, o, dropout_key=dropout_key)
    rows = jnp.arange(triples.shape[0])
    nll_s = -lp["subject"][rows, s]
    nll_o = -lp["object"][rows, o]
    nll_p = -lp["predicate"][rows, p]
    loss = jnp.mean(nll_s + nll_o + nll_p)
    metrics = {
        "nll_subject": jnp.mean(nll_s),
        "nll_object": jnp.mean(nll_o),
        "nll_predicate": jnp.mean(nll_p),
    }
    if labels is not None and "label" in lp:
        y = jnp.asarray(labels)[s]
        y = y / jnp.maximum(y.sum(-1, keepdims=True), 1.0)
        nll_l = -jnp.sum(y * lp["label"], axis=-1)
        loss = loss + jnp.mean(nll_l)
        metrics["nll_label"] = jnp.mean(nll_l)
    return loss, metrics


def log_prob_tensor(params: Params, cfg: TensorBrainConfig, q0: Float[Array, "1 dim"]) -> jax.Array:
    """The whole memory as a tensor: ``log P(s, p, o | u)`` for every triple, shape ``[N, P, N]``.

    This is the tensor view of the model: semantic memory (``q0 = a_bar``) gives the prior over triples,
    episodic memory (``q0 = a_t``) the triples of episode ``t``.
    """
    n = cfg.n_entities
    s = jnp.repeat(jnp.arange(n), n)
    o = jnp.tile(jnp.arange(n), n)
    lp = triple_log_probs(params, cfg, jnp.broadcast_to(q0, (n * n, q0.shape[-1])), s, o)
    rows = jnp.arange(n * n)
    joint = lp["subject"][rows, s][:, None] + lp["object"][rows, o][:, None] + lp["predicate"]  # [(s,o), P]
    return joint.reshape(n, n, cfg.n_predicates).transpose(0, 2, 1)


def marginal_log_prob_tensor(
    params: Params, cfg: TensorBrainConfig, weights: Float[Array, " times"] | None = None
) -> jax.Array:
    """Exact semantic memory as the time marginal ``log sum_t P(t) P(s, p, o | a_t)``, ``[N, P, N]``."""
    t_all = jnp.arange(cfg.n_times)
    w = jnp.full((cfg.n_times,), 1.0 / cfg.n_times) if weights is None else jnp.asarray(weights)
    per_t = jax.lax.map(lambda t: log_prob_tensor(params, cfg, episodic_context(params, t[None])), t_all)
    return jax.scipy.special.logsumexp(per_t + jnp.log(w)[:, None, None, None], axis=0)


def decode(
    params: Params,
    cfg: TensorBrainConfig,
    q0: Float[Array, "n dim"],
    *,
    key: jax.Array | None = None,
    mode: str = "sample",
    teacher: dict[str, Int[Array, " n"]] | None = None,
) -> dict[str, jax.Array]:
    """Free sequential decoding (ancestral sampling) of one triple per context row.

    The order is the tensor brain's: subject, then its unary labels (argmax label, when the model has
    labels), then object, then predicate; each selected index is embodied before the next step.

    Args:
      params, cfg: the model.
      q0: ``[n, dim]`` contexts (``episodic_context`` / ``semantic_context``).
      key: needed for ``mode="sample"``.
      mode: "sample", "argmax", "integral" or "teacher" (then ``teacher`` gives "subject"/"object" indices;
        the predicate is decoded by argmax).
      teacher: per-stage teacher indices; a stage present here is teacher-forced whatever ``mode`` is.

    Returns:
      dict with ``order`` (stage names in decoding order), the selected ``subject``, ``label``, ``object``,
      ``predicate`` indices ``[n]``, their log-probabilities ``logp_<stage>`` and ``surprisal`` (nats, summed
      over subject, object and predicate).

    Example:
      >>> import jax
      >>> cfg = TensorBrainConfig(n_entities=5, n_predicates=2, n_labels=3, dim=8, wm_dim=8)
      >>> p = init_params(cfg, key=jax.random.key(0))
      >>> out = decode(p, cfg, semantic_context(p), key=jax.random.key(1))
      >>> out["order"]
      ('subject', 'label', 'object', 'predicate')
    """
    if mode not in MODES:
        raise ConfigError("mode", mode, f"one of {list(MODES)}")
    if mode == "sample" and key is None:
        raise CogsimError("tensor brain: mode='sample' needs a key")
    out = _decode_jit(params, cfg, jnp.asarray(q0), key, mode, dict(teacher or {}))
    order = (
        ("subject", "label", "object", "predicate")
        if "label" in params
        else ("subject", "object", "predicate")
    )
    return {**out, "order": order}


@functools.partial(jax.jit, static_argnames=("cfg", "mode"))
def _decode_jit(params, cfg, q0, key, mode, teacher):
    k_s, k_o, k_p = jax.random.split(key, 3) if key is not None else (None, None, None)

    def pick(log_probs, emb, integral, stage, k):
        if stage in teacher:
            return select(log_probs, emb, integral, mode="teacher", teacher=teacher[stage])
        return select(log_probs, emb, integral, mode="argmax" if mode == "teacher" else mode, key=k)

    rows = jnp.arange(q0.shape[0])
    out: dict[str, Any] = {}
    order = ["subject"]
    q, h = _stage_inputs(params, q0)
    lp_s, int_s = bottom_up(params, cfg, q, "entity")
    s, a_s = pick(lp_s, params["entity"], int_s, "subject", k_s)
    q = embody(q, a_s, cfg)
    if "label" in params:
        lp_l, _ = bottom_up(params, cfg, q, "label")
        out["label"] = jnp.argmax(lp_l, axis=-1)
        out["label_probs"] = jnp.exp(lp_l)
        order.append("label")
    h = wm_update(params, h, q)
    q = wm_readout(params, h)
    lp_o, int_o = bottom_up(params, cfg, q, "entity")
    o, a_o = pick(lp_o, params["entity"], int_o, "object", k_o)
    q = embody(q, a_o, cfg)
    h = wm_update(params, h, q)
    q = wm_readout(params, h)
    lp_p, int_p = bottom_up(params, cfg, q, "predicate")
    p, _ = pick(lp_p, params["predicate"], int_p, "predicate", k_p)
    order += ["object", "predicate"]
    out.update(
        {
            "subject": s,
            "object": o,
            "predicate": p,
            "logp_subject": lp_s[rows, s],
            "logp_object": lp_o[rows, o],
            "logp_predicate": lp_p[rows, p],
        }
    )
    out["surprisal"] = -(out["logp_subject"] + out["logp_object"] + out["logp_predicate"])
    return out


# ------------------------------------------------------------------------------------------------ training
def train_memory(
    cfg: TensorBrainConfig,
    triples: Int[np.ndarray, "n 4"],
    *,
    key: jax.Array,
    num_steps: int,
    batch_size: int = 256,
    lr: float = 0.01,
    weight_decay: float = 0.0,
    labels: Float[np.ndarray, "entities n_labels"] | None = None,
    log_every: int = 100,
    on_log=None,
    params: Params | None = None,
):
    """Trains episodic/semantic memory by maximum likelihood on ``(t, s, p, o)`` rows.

    Each row's context is ``a_t`` (use ``t = 0`` everywhere with ``n_times = 1`` for a semantic memory of a
    static graph). Adam (AdamW with ``weight_decay``); batches are drawn uniformly with replacement; steps run
    in ``lax.scan`` chunks of ``log_every`` with the step keys of :func:`cogsim.train.fit`.

    Args:
      on_log: optional ``(step, params, row) -> dict | None`` called after each chunk (e.g. an evaluation);
        a returned dict is merged into that history row.

    Returns:
      :class:`cogsim.train.TrainResult`.

    Example:
      >>> import jax, numpy as np
      >>> cfg = TensorBrainConfig(n_entities=3, n_predicates=1, dim=8, wm_dim=8)
      >>> rows = np.array([[0, 0, 0, 1], [0, 1, 0, 2]])
      >>> res = train_memory(cfg, rows, key=jax.random.key(0), num_steps=200, batch_size=2, lr=0.05,
      ...                    log_every=100)
      >>> bool(res.history["loss"].iloc[-1] < res.history["loss"].iloc[0])
      True
    """
    import pandas as pd

    from cogsim import train

    cfg = _config.validate(cfg)
    data = jnp.asarray(np.asarray(triples, np.int32))
    if data.ndim != 2 or data.shape[1] != 4:
        raise CogsimError(
            f"train_memory: triples must be [n, 4] rows of (t, s, p, o); got shape {data.shape}"
        )
    if num_steps < 1 or log_every < 1:
        raise CogsimError(f"train_memory: num_steps={num_steps} and log_every={log_every} must be >= 1")
    k_init, k_train = jax.random.split(key)
    params = init_params(cfg, key=k_init) if params is None else params
    lab = None if labels is None else jnp.asarray(labels, jnp.float32)

    def batch_fn(k, step):
        return data[jax.random.randint(k, (batch_size,), 0, data.shape[0])]

    def loss_fn(prm, batch, k):
        q0 = episodic_context(prm, batch[:, 0])
        return triple_nll(prm, cfg, q0, batch[:, 1:], labels=lab, dropout_key=k if cfg.dropout > 0 else None)

    opt = optax.adamw(lr, weight_decay=weight_decay) if weight_decay else optax.adam(lr)
    update = train.make_update(loss_fn, opt, batch_fn=batch_fn)
    state = train.init(params, opt)
    chunk = jax.jit(train.run_steps, static_argnums=(0, 3))
    history, done = [], 0
    while done < num_steps:
        n = min(log_every, num_steps - done)
        state, metrics = chunk(update, state, k_train, n)
        done += n
        row = {"step": done, **{k: float(jnp.mean(v)) for k, v in metrics.items()}}
        if on_log is not None:
            row.update(on_log(done, state.params, row) or {})
        history.append(row)
    return train.TrainResult(state.params, state, pd.DataFrame(history))


def link_scorers(params: Params, cfg: TensorBrainConfig, q0: Float[Array, "1 dim"]):
    """``(score_tails(s, p), score_heads(p, o))`` for :func:`cogsim.kg.evaluate_link_prediction`.

    Tails of ``(s, p, ?)`` are scored by ``log P(o | s) + log P(p | s, o)`` (= log P(o, p | s), which ranks
    objects as P(o | s, p) does); heads of ``(?, p, o)`` by ``log P(s) + log P(o | s) + log P(p | s, o)``.
    Both return ``[n, N]`` numpy arrays; memory grows as n x N rows, so large graphs need small batches.
    """
    n_ent = cfg.n_entities

    @jax.jit
    def _tails(s, p):
        ss = jnp.repeat(s, n_ent)
        oo = jnp.tile(jnp.arange(n_ent), s.shape[0])
        lp = triple_log_probs(params, cfg, jnp.broadcast_to(q0, (ss.shape[0], q0.shape[-1])), ss, oo)
        rows = jnp.arange(ss.shape[0])
        sc = lp["object"][rows, oo] + lp["predicate"][rows, jnp.repeat(p, n_ent)]
        return sc.reshape(s.shape[0], n_ent)

    @jax.jit
    def _heads(p, o):
        ss = jnp.tile(jnp.arange(n_ent), o.shape[0])
        oo = jnp.repeat(o, n_ent)
        lp = triple_log_probs(params, cfg, jnp.broadcast_to(q0, (ss.shape[0], q0.shape[-1])), ss, oo)
        rows = jnp.arange(ss.shape[0])
        sc = lp["subject"][rows, ss] + lp["object"][rows, oo] + lp["predicate"][rows, jnp.repeat(p, n_ent)]
        return sc.reshape(o.shape[0], n_ent)

    return (
        lambda s, p: np.asarray(_tails(jnp.asarray(s), jnp.asarray(p))),
        lambda p, o: np.asarray(_heads(jnp.asarray(p), jnp.asarray(o))),
    )
