"""Free sequential decoding (ancestral sampling) of one triple per context."""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, Int

from cogsim.errors import CogsimError, ConfigError

from ._config import MODES, Params, TensorBrainConfig
from ._layers import bottom_up, embody, select, wm_readout, wm_update
from ._triples import _stage_inputs, core_product


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
    labels), then object, then predicate (``"tucker"`` memory: predicate, then object); each selected index
    is embodied before the next step.

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
      >>> from cogsim.models import tensor_brain as tb
      >>> cfg = TensorBrainConfig(n_entities=5, n_predicates=2, n_labels=3, dim=8, wm_dim=8)
      >>> p = tb.init_params(cfg, key=jax.random.key(0))
      >>> out = decode(p, cfg, tb.semantic_context(p), key=jax.random.key(1))
      >>> out["order"]
      ('subject', 'label', 'object', 'predicate')
    """
    if mode not in MODES:
        raise ConfigError("mode", mode, f"one of {list(MODES)}")
    if mode == "sample" and key is None:
        raise CogsimError("tensor brain: mode='sample' needs a key")
    out = _decode_jit(params, cfg, jnp.asarray(q0), key, mode, dict(teacher or {}))
    rest = ("predicate", "object") if cfg.relational == "tucker" else ("object", "predicate")
    order = (("subject", "label") if "label" in params else ("subject",)) + rest
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
    q, h = _stage_inputs(params, q0, q0.shape[0])
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
    if cfg.relational == "tucker":  # predicate, then the object given subject and predicate
        lp_p, int_p = bottom_up(params, cfg, q, "predicate")
        p, a_p = pick(lp_p, params["predicate"], int_p, "predicate", k_p)
        q = embody(q, a_p, cfg)
        h = wm_update(params, h, q)
        q = wm_readout(params, h) + core_product(params, a_s, a_p)
        lp_o, int_o = bottom_up(params, cfg, q, "entity")
        o, _ = pick(lp_o, params["entity"], int_o, "object", k_o)
    else:
        lp_o, int_o = bottom_up(params, cfg, q, "entity")
        o, a_o = pick(lp_o, params["entity"], int_o, "object", k_o)
        q = embody(q, a_o, cfg)
        h = wm_update(params, h, q)
        q = wm_readout(params, h)
        lp_p, int_p = bottom_up(params, cfg, q, "predicate")
        p, _ = pick(lp_p, params["predicate"], int_p, "predicate", k_p)
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
