"""A next-state predictor over one slot per variable, built on a consciousness-prior workspace.

:class:`Predictor` reads a state ``x [B, T, n]`` (one slot per variable) and a cue ``[B, T, F]`` through a
:class:`cogsim.models.bottleneck.Workspace` and predicts the change of every variable with a per-slot linear
readout. With ``sparse_update`` only the slots in the conscious state predict a change (the others are
predicted to stay put): the consciousness prior's bet that a transition touches few variables.
:func:`fit_grid` trains many predictors at once (one per training size and seed, under ``jax.vmap``) through
:mod:`cogsim.train` and evaluates each on held-out sequences.

Example:
  >>> import jax, jax.numpy as jnp
  >>> from flax import nnx
  >>> from cogsim.models import bottleneck as bn
  >>> cfg = bn.BottleneckConfig(variant="bottleneck", n_slots=6, slot_dim=8, top_k=2)
  >>> model = Predictor(cfg, n_factors=4, rngs=nnx.Rngs(0))
  >>> pred, trace = model(jnp.zeros((2, 3, 6)), jnp.zeros((2, 3, 4)), key=jax.random.key(0))
  >>> pred.shape
  (2, 3, 6)
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jaxtyping import Array, Float, Int

from cogsim import train
from cogsim.models import bottleneck as bn

__all__ = ["Predictor", "fit_grid"]


class Predictor(nnx.Module):
    """A workspace over one slot per variable plus a per-slot readout of the change of that variable.

    With ``sparse_update`` only the slots in the conscious state predict a change (the others are predicted
    to stay put): the consciousness prior's bet that a transition touches few variables. The straight-through
    gate of :class:`cogsim.models.bottleneck.Step` lets this readout teach the selection. With
    ``change_gate`` every slot's predicted change is multiplied by a learned gate ``sigmoid(w . slot + b)``:
    the same "variables that do not fire stay put" default for a network without a selection (``dense``).
    """

    def __init__(
        self,
        cfg: bn.BottleneckConfig,
        n_factors: int,
        *,
        sparse_update: bool = True,
        change_gate: bool = False,
        rngs: nnx.Rngs,
    ):
        self.ws = bn.Workspace(cfg, in_features=1, context_features=n_factors, rngs=rngs)
        self.head = nnx.Linear(cfg.slot_dim, 1, rngs=rngs)
        self.sparse_update = sparse_update
        self.change_gate = change_gate
        if change_gate:  # created after the others: their initial values do not change
            self.gate_head = nnx.Linear(cfg.slot_dim, 1, rngs=rngs)

    def __call__(self, x: jax.Array, cue: jax.Array, *, key: jax.Array, noise=None):
        """``x [B, T, n]`` observed states, ``cue [B, T, F]`` -> (predicted change ``[B, T, n]``, trace)."""
        trace = self.ws.unroll(x[..., None], cue, key=key, noise=noise)
        pred = self.head(trace.slots)[..., 0]
        if self.change_gate:
            pred = pred * jax.nn.sigmoid(self.gate_head(trace.slots)[..., 0])
        return (pred * trace.gate if self.sparse_update else pred), trace


def fit_grid(
    cfg: bn.BottleneckConfig,
    n_factors: int,
    *,
    init_keys: jax.Array,
    train_keys: jax.Array,
    n_train: Int[Array, " runs"],
    x: Float[Array, "runs pool t1 n"],
    cue: Float[Array, "runs pool t f"],
    tests: Mapping[str, Mapping[str, np.ndarray]],
    sparse_update: bool = True,
    change_gate: bool = False,
    lr: float = 0.01,
    batch: int = 32,
    train_steps: int = 400,
    eval_noise: float = 0.0,
) -> tuple[dict[str, np.ndarray], int]:
    """Trains one :class:`Predictor` per run at once (``jax.vmap``) with Adam and evaluates each on ``tests``.

    Run ``i`` initialises from ``init_keys[i]``, trains with :mod:`cogsim.train` from ``train_keys[i]`` on
    batches of ``batch`` sequences drawn uniformly from its first ``n_train[i]`` sequences ``x[i]`` (states,
    ``T + 1`` steps) and ``cue[i]``; the loss is the squared error of the predicted change plus
    ``cfg.verifier_weight`` times the workspace's InfoNCE verifier loss.

    Args:
      cfg: the workspace (``n_slots`` = number of variables).
      n_factors: width of the cue.
      init_keys: ``[runs]`` initialisation keys.
      train_keys: ``[runs]`` training keys.
      n_train: ``[runs]`` training-set sizes.
      x: ``[runs, pool, T + 1, n]`` each run's pool of state sequences.
      cue: ``[runs, pool, T, F]`` their cues.
      tests: split name -> ``{"x": [m, T + 1, n], "cue": [m, T, F], "active": [m, T, n]}`` (``active``: the
        variables the firing factors touch).
      sparse_update: see :class:`Predictor`.
      change_gate: see :class:`Predictor`.
      lr: Adam learning rate.
      batch: sequences per step.
      train_steps: Adam steps.
      eval_noise: selection noise at test (0 = argmax).

    Returns:
      ``(metrics, n_params)``: per run, ``final_loss`` (mean squared error over the last tenth of training)
      and per split ``sse_<split>`` (squared error of the predicted change), ``sse0_<split>`` (that of
      predicting no change), ``precision_<split>`` / ``recall_<split>`` of the selected slots against
      ``active``; the parameter count of one predictor.

    Example:
      >>> import jax, jax.numpy as jnp, numpy as np
      >>> from cogsim.models import bottleneck as bn
      >>> cfg = bn.BottleneckConfig(variant="bottleneck", n_slots=4, slot_dim=4, top_k=2)
      >>> rng = np.random.default_rng(0)
      >>> d = {"x": rng.normal(size=(8, 3, 4)).astype(np.float32), "cue": np.ones((8, 2, 3), np.float32),
      ...      "active": np.ones((8, 2, 4), np.float32)}
      >>> keys = jax.random.split(jax.random.key(0), 2)
      >>> res, n_params = fit_grid(cfg, 3, init_keys=keys, train_keys=keys, n_train=jnp.array([4, 8]),
      ...                          x=jnp.stack([d["x"]] * 2), cue=jnp.stack([d["cue"]] * 2),
      ...                          tests={"seen": d}, batch=4, train_steps=3)
      >>> res["sse_seen"].shape, sorted(res)[:2]
      ((2,), ['final_loss', 'precision_seen'])
    """
    graphdef, abstract = nnx.split(
        nnx.eval_shape(
            lambda: Predictor(
                cfg, n_factors, sparse_update=sparse_update, change_gate=change_gate, rngs=nnx.Rngs(0)
            )
        )
    )
    opt = optax.adam(lr)

    def loss_fn(params, b, k):
        model = nnx.merge(graphdef, params)
        pred, trace = model(b["x"][:, :-1], b["cue"], key=k)
        mse = jnp.mean((pred - (b["x"][:, 1:] - b["x"][:, :-1])) ** 2)
        ver = model.ws.verifier_loss(trace)
        return mse + cfg.verifier_weight * ver, {"mse": mse, "verifier": ver}

    def run(init_key, train_key, n, px, pc):
        params = nnx.split(
            Predictor(
                cfg, n_factors, sparse_update=sparse_update, change_gate=change_gate, rngs=nnx.Rngs(init_key)
            )
        )[1]

        def batch_fn(k, step):
            idx = jax.random.randint(k, (batch,), 0, n)
            return {"x": px[idx], "cue": pc[idx]}

        update = train.make_update(loss_fn, opt, batch_fn=batch_fn)
        state, hist = train.run_steps(update, train.init(params, opt), train_key, train_steps)
        model = nnx.merge(graphdef, state.params)
        out = {"final_loss": jnp.mean(hist["mse"][-max(1, train_steps // 10) :])}
        for split, d in tests.items():
            pred, trace = model(
                d["x"][:, :-1], d["cue"], key=jax.random.fold_in(train_key, 7), noise=eval_noise
            )
            delta = d["x"][:, 1:] - d["x"][:, :-1]
            out[f"sse_{split}"] = jnp.sum((pred - delta) ** 2)
            out[f"sse0_{split}"] = jnp.sum(delta**2)
            p, r = bn.precision_recall(trace.selected, d["active"])
            out[f"precision_{split}"], out[f"recall_{split}"] = jnp.mean(p), jnp.mean(r)
        return out

    res = jax.jit(jax.vmap(run), compiler_options=bn.compiler_options())(
        init_keys, train_keys, n_train, x, cue
    )
    n_params = int(sum(np.prod(v.shape) for v in jax.tree_util.tree_leaves(abstract)))
    return {k: np.asarray(v) for k, v in res.items()}, n_params
