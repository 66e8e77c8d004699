"""One optax training loop shared by every trained model.

The loop is functional: parameters are a pytree (for Flax NNX models, the ``nnx.State`` from
``nnx.split``), the loss is ``loss_fn(params, batch, key) -> (loss, metrics)``, and batches come from a
pure function ``batch_fn(key, step)`` (every cogsim task generates its data in JAX). Steps run inside
``jax.lax.scan`` in chunks of ``log_every`` (or, with ``scan=False``, as jitted single steps); the key of
step ``t`` is ``fold_in(key, t)``, so results do not depend on the chunking, on checkpointing, or on whether
several seeds are trained at once under ``jax.vmap``.

- :func:`fit`: the loop with logging, evaluation, progress bar, checkpoints and resume, early stopping;
- :func:`make_update`, :func:`run_steps`, :func:`init`, :class:`TrainState`: its pieces, for loops that
  must stay pure (e.g. training many seeds and settings in one vmapped, jitted call);
- :func:`save_checkpoint`, :func:`load_checkpoint`, :func:`save_pytree`, :func:`load_pytree`: the one
  pickle-free checkpoint format, ``.npz`` arrays named by their pytree path (``params/attn/0/Wq``);
- :class:`EarlyStopping`: the rule (metric, patience, mode).

Example:
  >>> import jax, jax.numpy as jnp, optax
  >>> from cogsim import train
  >>> def batch_fn(key, step):
  ...     x = jax.random.normal(key, (32, 2))
  ...     return x, x @ jnp.array([2.0, -1.0])
  >>> def loss_fn(w, batch, key):
  ...     x, y = batch
  ...     loss = jnp.mean((x @ w - y) ** 2)
  ...     return loss, {"loss": loss}
  >>> res = train.fit(loss_fn, jnp.zeros(2), optax.sgd(0.1), batch_fn=batch_fn, key=jax.random.key(0),
  ...                 num_steps=200, log_every=50, progress=False)
  >>> bool(res.history["loss"].iloc[-1] < 1e-3)
  True
"""

from cogsim.train._checkpoint import (
    load_best,
    load_checkpoint,
    load_pytree,
    path_names,
    save_checkpoint,
    save_pytree,
)
from cogsim.train._early_stopping import EarlyStopping, Tracker
from cogsim.train._loop import (
    BatchFn,
    LossFn,
    TrainResult,
    TrainState,
    fit,
    init,
    make_update,
    run_steps,
)

__all__ = [
    "BatchFn",
    "EarlyStopping",
    "LossFn",
    "TrainResult",
    "TrainState",
    "Tracker",
    "fit",
    "init",
    "load_best",
    "load_checkpoint",
    "load_pytree",
    "make_update",
    "path_names",
    "run_steps",
    "save_checkpoint",
    "save_pytree",
]
