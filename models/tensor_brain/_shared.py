"""Semantic memories of different sizes and settings trained in one compiled program.

A settings search trains several semantic memories of one graph that differ in size (``dim``), in whether
each fact is stored from both ends (``reciprocal``: twice the predicates), in dropout, learning rate, weight
decay and initial scale. On a small graph, compiling one training program per candidate costs more than
training it. :class:`SharedTrainer` runs every candidate of one relational form in one program: its
parameters are padded to the largest size and masked (padded embedding dimensions are multiplied by 0, a
predicate the candidate does not have gets log-probability about -1e30), and dropout, learning rate and weight
decay are inputs of the program, not constants. A padded candidate computes the same function as the
unpadded model of its settings (masked entries get no gradient); the numbers differ from a separately
compiled run only in the order of floating-point sums and in the random draws (initial parameters and dropout
masks are drawn at the padded size, from the same distributions).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Int

from cogsim import config as cfglib
from cogsim import train
from cogsim.errors import CogsimError

from ._config import Params, TensorBrainConfig, init_params
from ._layers import semantic_context
from ._semantic import n_relations, reciprocal_triples
from ._triples import core_by_predicate, log_prob_tensor, triple_nll

_NEG = -1e30
_VARIABLE = ("dim", "n_predicates", "dropout", "init_scale", "reciprocal")


class SharedRun(NamedTuple):
    """One candidate's training in a :class:`SharedTrainer`: its optimiser state (padded parameters, learning
    rate and weight decay inside), its masks, dropout rate and training rows, and its step key."""

    state: train.TrainState
    dim_mask: jax.Array
    predicate_mask: jax.Array
    dropout: jax.Array
    rows: jax.Array
    n_rows: jax.Array
    key: jax.Array


def _masked(params: Params, dim_mask: jax.Array, predicate_mask: jax.Array) -> Params:
    """The padded parameters as the candidate's model sees them (padded entries 0, absent predicates out)."""
    out = dict(params)
    for group in ("entity", "predicate", "time", "label"):
        if group in out:
            out[group] = params[group] * dim_mask
    out["predicate"] = out["predicate"] * predicate_mask[:, None]
    out["predicate_bias"] = jnp.where(predicate_mask, params["predicate_bias"], _NEG)
    out["V"] = params["V"] * dim_mask[:, None]
    out["W"] = params["W"] * dim_mask
    out["W_bias"] = params["W_bias"] * dim_mask
    if "core" in out:
        out["core"] = params["core"] * dim_mask[:, None, None] * dim_mask[None, :, None] * dim_mask
    return out


def _fast(params: Params) -> Params:
    """The parameters with the Tucker core contracted with the predicates once per step
    (:func:`core_by_predicate`), for the object stage to read; the same model."""
    return {**params, "core_by_predicate": core_by_predicate(params)} if "core" in params else params


def _optimizer(lr: float = 0.0, weight_decay: float = 0.0) -> optax.GradientTransformation:
    """AdamW with its learning rate and weight decay held in the optimiser state (AdamW with weight decay 0
    is Adam)."""
    return optax.inject_hyperparams(optax.adamw)(learning_rate=lr, weight_decay=weight_decay)


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 4))
def _run_steps(cfg: TensorBrainConfig, batch_size: int, use_dropout: bool, run: SharedRun, num_steps: int):
    def loss_fn(prm, batch, k):
        prm = _fast(_masked(prm, run.dim_mask, run.predicate_mask))
        c = dataclasses.replace(cfg, dropout=run.dropout)  # a traced rate; rate 0 keeps every unit
        q0 = semantic_context(prm)  # one context row, embodied once for the whole batch
        return triple_nll(prm, c, q0, batch[:, 1:], dropout_key=k if use_dropout else None)

    def batch_fn(k, step):
        return run.rows[jax.random.randint(k, (batch_size,), 0, run.n_rows)]

    update = train.make_update(loss_fn, _optimizer(), batch_fn=batch_fn)
    return train.run_steps(update, run.state, run.key, num_steps)


@functools.partial(jax.jit, static_argnums=0)
def _tensor(cfg: TensorBrainConfig, params: Params, dim_mask: jax.Array, predicate_mask: jax.Array):
    prm = _fast(_masked(params, dim_mask, predicate_mask))
    return log_prob_tensor(prm, cfg, semantic_context(prm))


@functools.partial(jax.jit, static_argnums=0)
def _init(cfg: TensorBrainConfig, key: jax.Array, init_scale: jax.Array, dim: jax.Array) -> Params:
    """:func:`init_params` of the padded config, its normal draws taken from one stream (one random-number
    kernel to compile instead of one per array), scaled for the candidate's ``init_scale`` and ``dim``."""
    shapes = jax.eval_shape(lambda k: init_params(cfg, key=k), key)
    p = {k: jnp.zeros(v.shape, v.dtype) for k, v in shapes.items()}
    drawn = [k for k in ("entity", "predicate", "time", "label", "V", "B", "W", "core") if k in p]
    z = jax.random.normal(key, (sum(p[k].size for k in drawn),))
    start = 0
    for k in drawn:
        p[k] = z[start : start + p[k].size].reshape(p[k].shape)
        start += p[k].size
    for group in ("entity", "predicate", "time", "label"):
        if group in p:
            p[group] = p[group] * init_scale
    p["V"] = p["V"] / jnp.sqrt(dim)  # std sqrt(1 / dim) over the candidate's own inputs
    p["B"] = p["B"] / np.sqrt(cfg.wm_dim)
    p["W"] = p["W"] / np.sqrt(cfg.wm_dim)
    if "core" in p:
        p["core"] = p["core"] / dim  # std 1 / dim
    return p


@functools.partial(jax.jit, static_argnums=0)
def _start(cfg: TensorBrainConfig, key, init_scale, dim, lr, weight_decay):
    """The initial training state and the steps' key in one compiled program (``key`` split into the initial
    parameters' and the steps' keys, as in :func:`train_memory`)."""
    k_init, k_train = jax.random.split(key)
    params = _init(cfg, k_init, init_scale, dim)
    return train.init(params, _optimizer(lr, weight_decay)), k_train


class SharedTrainer:
    """Trains the semantic memories ``cfgs`` (one relational form, one graph) in one compiled program.

    Args:
      cfgs: the candidates' model configs; they may differ in ``dim``, ``reciprocal`` (and so
        ``n_predicates``), ``dropout`` and ``init_scale``, and must agree on everything else.
      triples: the graph's training facts ``(s, p, o)``.
      batch_size: facts per step.

    Example:
      >>> import jax, numpy as np
      >>> from cogsim.models import tensor_brain as tb
      >>> cfgs = [tb.TensorBrainConfig(n_entities=3, n_predicates=1, dim=4, wm_dim=8),
      ...         tb.TensorBrainConfig(n_entities=3, n_predicates=2, dim=8, wm_dim=8, reciprocal=True)]
      >>> trainer = tb.SharedTrainer(cfgs, np.array([[0, 0, 1], [1, 0, 2]]), batch_size=4)
      >>> run = trainer.start(0, key=jax.random.key(0), lr=0.01, weight_decay=0.0)
      >>> run, losses = trainer.steps(run, 5)
      >>> trainer.log_prob_tensor(0, run).shape, trainer.params(0, run)["entity"].shape
      ((3, 1, 3), (3, 4))
    """

    def __init__(
        self, cfgs: Sequence[TensorBrainConfig], triples: Int[np.ndarray, "n 3"], *, batch_size: int
    ):
        cfgs = [cfglib.validate(c) for c in cfgs]
        if not cfgs:
            raise CogsimError("SharedTrainer: no candidate configs")
        fixed = {
            f.name: getattr(cfgs[0], f.name) for f in dataclasses.fields(cfgs[0]) if f.name not in _VARIABLE
        }
        for i, c in enumerate(cfgs):
            for name, value in fixed.items():
                if getattr(c, name) != value:
                    raise CogsimError(
                        f"SharedTrainer: candidate {i} has {name}={getattr(c, name)!r}; every candidate "
                        f"needs {name}={value!r} (only {', '.join(_VARIABLE)} may differ)"
                    )
            if c.n_times != 1:
                raise CogsimError(
                    f"SharedTrainer: candidate {i} has n_times={c.n_times}; a semantic memory has 1"
                )
        relations = {n_relations(c) for c in cfgs}
        if len(relations) != 1:
            raise CogsimError(
                f"SharedTrainer: the candidates have {sorted(relations)} relations; need one graph"
            )
        self.cfgs = tuple(cfgs)
        self.n_relations = relations.pop()
        any_reciprocal = any(c.reciprocal for c in cfgs)
        self.cfg = dataclasses.replace(
            cfgs[0],
            dim=max(c.dim for c in cfgs),
            n_predicates=self.n_relations * (2 if any_reciprocal else 1),
            dropout=0.0,  # each candidate's rate is an input of the program
            init_scale=1.0,
            reciprocal=any_reciprocal,
        )
        self.batch_size = int(batch_size)
        self.use_dropout = any(c.dropout > 0 for c in cfgs)
        facts = np.asarray(triples, np.int64)
        self._rows = {}
        n_max = 2 * len(facts) if any_reciprocal else len(facts)
        for rec in {c.reciprocal for c in cfgs}:
            t = reciprocal_triples(facts, self.n_relations) if rec else facts
            rows = np.zeros((n_max, 4), np.int32)
            rows[: len(t), 1:] = t
            self._rows[rec] = (jnp.asarray(rows), jnp.asarray(len(t), jnp.int32))

    def start(self, i: int, *, key: jax.Array, lr: float, weight_decay: float) -> SharedRun:
        """Candidate ``i``'s initial state (``key`` split into the initial parameters' and the steps' keys, as
        in :func:`train_memory`)."""
        c = self.cfgs[i]
        state, k_train = _start(
            self.cfg, key, *(jnp.float32(x) for x in (c.init_scale, c.dim, lr, weight_decay))
        )
        rows, n_rows = self._rows[c.reciprocal]
        return SharedRun(
            state,
            (jnp.arange(self.cfg.dim) < c.dim).astype(jnp.float32),
            jnp.arange(self.cfg.n_predicates) < c.n_predicates,
            jnp.float32(c.dropout),
            rows,
            n_rows,
            k_train,
        )

    def steps(self, run: SharedRun, num_steps: int) -> tuple[SharedRun, Any]:
        """Trains ``num_steps`` more steps; returns the new run and the per-step losses."""
        state, metrics = _run_steps(self.cfg, self.batch_size, self.use_dropout, run, int(num_steps))
        return run._replace(state=state), metrics["loss"]

    @property
    def tensor_size(self) -> int:
        """Entries of the padded log-probability tensor (entities^2 x predicates)."""
        return self.cfg.n_entities**2 * self.cfg.n_predicates

    def log_prob_tensor(self, i: int, run: SharedRun) -> np.ndarray:
        """Candidate ``i``'s ``log P(s, p, o)`` over its own predicates, ``[N, n_predicates, N]``."""
        x = _tensor(self.cfg, run.state.params, run.dim_mask, run.predicate_mask)
        return np.asarray(x[:, : self.cfgs[i].n_predicates, :])

    def params(self, i: int, run: SharedRun) -> Params:
        """Candidate ``i``'s parameters at its own size (numpy), for the model of config ``cfgs[i]``."""
        c = self.cfgs[i]
        p = jax.tree.map(np.asarray, _masked(run.state.params, run.dim_mask, run.predicate_mask))
        d, m = c.dim, c.n_predicates
        out = dict(p)
        for group in ("entity", "time", "label"):
            if group in out:
                out[group] = p[group][:, :d]
        out["predicate"] = p["predicate"][:m, :d]
        out["predicate_bias"] = p["predicate_bias"][:m]
        out["V"] = p["V"][:d]
        out["W"] = p["W"][:, :d]
        out["W_bias"] = p["W_bias"][:d]
        if "core" in out:
            out["core"] = p["core"][:d, :d, :d]
        return out
