"""Sequential triple decoding, teacher-forced: per-stage log-distributions, the likelihood, the memory as a
tensor over all triples, and link-prediction scorers."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from cogsim.errors import CogsimError

from ._config import Params, TensorBrainConfig
from ._layers import bottom_up, embody, episodic_context, wm_readout, wm_update


def _stage_inputs(params: Params, q0: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """Embodies the context (time index or a_bar) into working memory; returns (q for the subject, h), ``n``
    rows each. A context of one row (the semantic memory's ``a_bar``, shared by every triple) is embodied
    once and broadcast to the ``n`` rows."""
    h = wm_update(params, jnp.broadcast_to(params["h0"], (q0.shape[0], params["h0"].shape[0])), q0)
    q = wm_readout(params, h)
    return jnp.broadcast_to(q, (n, q.shape[-1])), jnp.broadcast_to(h, (n, h.shape[-1]))


def core_product(params: Params, a_s: Float[Array, "n dim"], a_p: Float[Array, "n dim"]) -> jax.Array:
    """The Tucker product ``G x1 a_s x2 a_p`` (``[n, dim]``): the multiplicative subject-predicate
    interaction that the ``"tucker"`` memory adds to the object stage's representation."""
    return jnp.einsum("ijk,ni,nj->nk", params["core"], a_s, a_p)


def core_by_predicate(params: Params) -> jax.Array:
    """The core contracted with every predicate's embedding, ``G x2 a_p`` (``[n_predicates, dim, dim]``).

    Given as ``params["core_by_predicate"]``, the object stage reads ``a_s (G x2 a_p)`` from it: the same
    product as :func:`core_product`, at ``n_predicates dim^3 + n dim^2`` multiplications instead of
    ``n dim^3`` (cheaper when a batch of ``n`` triples has more rows than the graph has predicates).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from cogsim.models import tensor_brain as tb
      >>> cfg = tb.TensorBrainConfig(n_entities=3, n_predicates=2, dim=4, wm_dim=4, relational="tucker")
      >>> p = tb.init_params(cfg, key=jax.random.key(0))
      >>> s, r = jnp.array([0, 2]), jnp.array([1, 1])
      >>> by_p = jnp.einsum("ni,nik->nk", p["entity"][s], core_by_predicate(p)[r])
      >>> bool(jnp.allclose(by_p, core_product(p, p["entity"][s], p["predicate"][r]), atol=1e-6))
      True
    """
    return jnp.einsum("ijk,mj->mik", params["core"], params["predicate"])


def _tucker_log_probs(params, cfg, q0, s, p, keys):
    """Stages of the ``"tucker"`` memory: subject, (labels), predicate given subject, object given both."""
    q, h = _stage_inputs(params, q0, s.shape[0])
    out = {}
    out["subject"], _ = bottom_up(params, cfg, q, "entity", dropout_key=keys[0])
    a_s = params["entity"][s]
    q = embody(q, a_s, cfg)
    if "label" in params:
        out["label"], _ = bottom_up(params, cfg, q, "label", dropout_key=keys[3])
    h = wm_update(params, h, q)
    q = wm_readout(params, h)
    out["predicate"], _ = bottom_up(params, cfg, q, "predicate", dropout_key=keys[2])
    a_p = params["predicate"][p]
    q = embody(q, a_p, cfg)
    h = wm_update(params, h, q)
    if "core_by_predicate" in params:
        tucker = jnp.einsum("ni,nik->nk", a_s, params["core_by_predicate"][p])
    else:
        tucker = core_product(params, a_s, a_p)
    q = wm_readout(params, h) + tucker
    out["object"], _ = bottom_up(params, cfg, q, "entity", dropout_key=keys[1])
    return out


def triple_log_probs(
    params: Params,
    cfg: TensorBrainConfig,
    q0: Float[Array, "n dim"],
    s: Int[Array, " n"],
    o: Int[Array, " n"],
    *,
    p: Int[Array, " n"] | None = None,
    dropout_key: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """Teacher-forced sequential decoding of a triple's subject ``s``, object ``o`` (and predicate ``p``)
    in context ``q0`` (``[n, dim]``, or ``[1, dim]`` for one context shared by every triple).

    Returns log-distributions at each stage: ``"subject"`` [n, N] = log P(s | u), ``"object"`` [n, N],
    ``"predicate"`` [n, P], and ``"label"`` [n, L] = log P(label | s, u) when the model has unary labels. In
    the ``"additive"`` memory the object stage is log P(o | s, u) and the predicate stage log P(p | s, o, u)
    (``p`` is not needed); in the ``"tucker"`` memory the predicate stage is log P(p | s, u) and the object
    stage log P(o | s, p, u), so ``p`` is required and ``o`` is not used.
    """
    keys = list(jax.random.split(dropout_key, 4)) if dropout_key is not None else [None] * 4
    if cfg.relational == "tucker":
        if p is None:
            raise CogsimError("triple_log_probs: the 'tucker' memory decodes o after p; pass p=")
        return _tucker_log_probs(params, cfg, q0, s, p, keys)
    q, h = _stage_inputs(params, q0, s.shape[0])
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
    """Mean negative log-likelihood ``-log P(s, p, o)`` of ``(s, p, o)`` triples: ``P(s) P(o | s)
    P(p | s, o)`` (additive) or ``P(s) P(p | s) P(o | s, p)`` (tucker), plus the cross-entropy of each
    subject's unary labels, when ``labels`` [N, L] rows are given."""
    s, p, o = triples[:, 0], triples[:, 1], triples[:, 2]
    lp = triple_log_probs(params, cfg, q0, s, o, p=p, dropout_key=dropout_key)
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
    if cfg.relational == "tucker":
        m = cfg.n_predicates
        s, p = jnp.repeat(jnp.arange(n), m), jnp.tile(jnp.arange(m), n)
        lp = triple_log_probs(params, cfg, jnp.broadcast_to(q0, (n * m, q0.shape[-1])), s, s, p=p)
        rows = jnp.arange(n * m)
        joint = (lp["subject"][rows, s] + lp["predicate"][rows, p])[:, None] + lp["object"]  # [(s,p), N]
        return joint.reshape(n, m, n)
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


def link_scorers(params: Params, cfg: TensorBrainConfig, q0: Float[Array, "1 dim"]):
    """``(score_tails(s, p), score_heads(p, o))`` for :func:`cogsim.kg.evaluate_link_prediction`.

    Tails of ``(s, p, ?)`` are scored by ``log P(o, p | s)``, which ranks objects as ``P(o | s, p)`` does (in
    the tucker memory that is its object stage), heads of ``(?, p, o)`` by the joint ``log P(s, p, o)``.
    Both return ``[n, N]`` numpy arrays; memory grows as n x N rows, so large graphs need small batches.
    The scorers are compiled once per config and batch shape, not once per call.
    """
    q0 = jnp.asarray(q0)
    if cfg.relational == "tucker":
        tails_fn, heads_fn = _tucker_tails, _tucker_heads
    else:
        tails_fn, heads_fn = _additive_tails, _additive_heads
    return (
        lambda s, p: np.asarray(tails_fn(cfg, params, q0, jnp.asarray(s), jnp.asarray(p))),
        lambda p, o: np.asarray(heads_fn(cfg, params, q0, jnp.asarray(p), jnp.asarray(o))),
    )


@functools.partial(jax.jit, static_argnums=0)
def _additive_tails(cfg, params, q0, s, p):
    n_ent = cfg.n_entities
    ss = jnp.repeat(s, n_ent)
    oo = jnp.tile(jnp.arange(n_ent), s.shape[0])
    lp = triple_log_probs(params, cfg, jnp.broadcast_to(q0, (ss.shape[0], q0.shape[-1])), ss, oo)
    rows = jnp.arange(ss.shape[0])
    sc = lp["object"][rows, oo] + lp["predicate"][rows, jnp.repeat(p, n_ent)]
    return sc.reshape(s.shape[0], n_ent)


@functools.partial(jax.jit, static_argnums=0)
def _additive_heads(cfg, params, q0, p, o):
    n_ent = cfg.n_entities
    ss = jnp.tile(jnp.arange(n_ent), o.shape[0])
    oo = jnp.repeat(o, n_ent)
    lp = triple_log_probs(params, cfg, jnp.broadcast_to(q0, (ss.shape[0], q0.shape[-1])), ss, oo)
    rows = jnp.arange(ss.shape[0])
    sc = lp["subject"][rows, ss] + lp["object"][rows, oo] + lp["predicate"][rows, jnp.repeat(p, n_ent)]
    return sc.reshape(o.shape[0], n_ent)


@functools.partial(jax.jit, static_argnums=0)
def _tucker_tails(cfg, params, q0, s, p):
    return triple_log_probs(params, cfg, jnp.broadcast_to(q0, (s.shape[0], q0.shape[-1])), s, s, p=p)[
        "object"
    ]


@functools.partial(jax.jit, static_argnums=0)
def _tucker_heads(cfg, params, q0, p, o):
    n_ent = cfg.n_entities
    ss = jnp.tile(jnp.arange(n_ent), o.shape[0])
    pp, oo = jnp.repeat(p, n_ent), jnp.repeat(o, n_ent)
    lp = triple_log_probs(params, cfg, jnp.broadcast_to(q0, (ss.shape[0], q0.shape[-1])), ss, ss, p=pp)
    rows = jnp.arange(ss.shape[0])
    sc = lp["subject"][rows, ss] + lp["predicate"][rows, pp] + lp["object"][rows, oo]
    return sc.reshape(o.shape[0], n_ent)
