"""Sequential triple decoding, teacher-forced: per-stage log-distributions, the likelihood, the memory as a
tensor over all triples, and link-prediction scorers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, Int

from ._config import Params, TensorBrainConfig
from ._layers import bottom_up, embody, episodic_context, wm_readout, wm_update


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
