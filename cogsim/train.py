"""One optax training loop shared by every trained model.

The loop is functional: parameters are a pytree (for Flax NNX models, the ``nnx.State`` from
``nnx.split``), the loss is ``loss_fn(params, batch, key) -> (loss, metrics)``, and batches come from a
pure function ``batch_fn(key, step)`` (every cogsim task generates its data in JAX). Steps run inside
``jax.lax.scan`` in chunks of ``log_every``; the key of step ``t`` is ``fold_in(key, t)``, so results do not
depend on the chunking, on checkpointing, or on whether several seeds are trained at once under ``jax.vmap``.

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

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from cogsim.errors import CogsimError
from cogsim.store import atomic_write_bytes, atomic_write_text

LossFn = Callable[[Any, Any, jax.Array], tuple[jax.Array, Mapping[str, jax.Array]]]
BatchFn = Callable[[jax.Array, jax.Array], Any]


class TrainState(NamedTuple):
    """Parameters, optimiser state and the step counter."""

    params: Any
    opt_state: Any
    step: jax.Array


def init(params: Any, optimizer: optax.GradientTransformation) -> TrainState:
    """A fresh training state at step 0."""
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))


def make_update(
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
    *,
    batch_fn: BatchFn,
    post_update: Callable[[Any, jax.Array, jax.Array], Any] | None = None,
) -> Callable[[TrainState, jax.Array], tuple[TrainState, dict[str, jax.Array]]]:
    """Builds ``update(state, key) -> (state, metrics)`` for one step.

    Args:
      loss_fn: ``(params, batch, key) -> (loss, metrics)``.
      optimizer: an optax transformation.
      batch_fn: ``(key, step) -> batch``.
      post_update: optional ``(params, step, key) -> params`` applied after the optimiser step (e.g. the
        periodic re-initialisation of embeddings in forgetting schedules).
    """

    def update(state: TrainState, key: jax.Array) -> tuple[TrainState, dict[str, jax.Array]]:
        k_step = jax.random.fold_in(key, state.step)
        k_batch, k_loss, k_post = jax.random.split(k_step, 3)
        batch = batch_fn(k_batch, state.step)
        (loss, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, batch, k_loss)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        if post_update is not None:
            params = post_update(params, state.step, k_post)
        metrics = {"loss": loss, **dict(metrics)}
        return TrainState(params, opt_state, state.step + 1), metrics

    return update


def run_steps(update, state: TrainState, key: jax.Array, num_steps: int) -> tuple[TrainState, dict]:
    """Runs ``num_steps`` updates in one ``lax.scan``; returns the state and the per-step metrics.

    Pure and jittable, so ``jax.vmap`` over keys (and initial states) trains several seeds at once.
    """
    return jax.lax.scan(lambda s, _: update(s, key), state, None, length=num_steps)


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """The trained parameters, the final state and the logged history (one row per logging point)."""

    params: Any
    state: TrainState
    history: pd.DataFrame


# ------------------------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: str | os.PathLike, state: TrainState, history: list[dict[str, Any]]) -> None:
    """Writes the state's leaves as .npz (no pickle) plus the history, atomically."""
    import io

    leaves = jax.tree_util.tree_leaves(state)
    buf = io.BytesIO()
    np.savez(buf, **{f"leaf_{i}": np.asarray(x) for i, x in enumerate(leaves)})
    path = Path(path)
    atomic_write_bytes(path / "state.npz", buf.getvalue())
    atomic_write_text(path / "history.json", json.dumps(history, default=float))


def load_checkpoint(
    path: str | os.PathLike, like: TrainState
) -> tuple[TrainState, list[dict[str, Any]]] | None:
    """Restores a checkpoint into the structure of ``like``; None when there is none."""
    path = Path(path)
    if not (path / "state.npz").exists():
        return None
    leaves, treedef = jax.tree_util.tree_flatten(like)
    with np.load(path / "state.npz") as z:
        stored = [z[f"leaf_{i}"] for i in range(len(z.files))]
    if len(stored) != len(leaves) or any(s.shape != np.shape(x) for s, x in zip(stored, leaves, strict=True)):
        raise CogsimError(f"checkpoint {str(path)!r} does not match this model/optimizer (shapes differ)")
    state = jax.tree_util.tree_unflatten(
        treedef, [jnp.asarray(s, dtype=jnp.asarray(x).dtype) for s, x in zip(stored, leaves, strict=True)]
    )
    history = json.loads((path / "history.json").read_text()) if (path / "history.json").exists() else []
    return state, history


def fit(
    loss_fn: LossFn,
    params: Any,
    optimizer: optax.GradientTransformation,
    *,
    batch_fn: BatchFn,
    key: jax.Array,
    num_steps: int,
    log_every: int = 100,
    eval_fn: Callable[[Any, jax.Array], Mapping[str, jax.Array]] | None = None,
    post_update: Callable[[Any, jax.Array, jax.Array], Any] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    progress: bool | None = None,
    callback: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Trains for ``num_steps`` steps, logging mean metrics (and ``eval_fn``) every ``log_every`` steps.

    Args:
      loss_fn: ``(params, batch, key) -> (loss, metrics)``.
      params: initial parameters (any pytree).
      optimizer: an optax transformation.
      batch_fn: ``(key, step) -> batch``.
      key: the run's key; step ``t`` uses ``fold_in(key, t)``.
      num_steps: total number of optimiser steps.
      log_every: steps per scanned chunk and per history row.
      eval_fn: ``(params, key) -> metrics`` evaluated at each logging point (e.g. test accuracies).
      post_update: see :func:`make_update`.
      checkpoint_dir: where to save; an existing checkpoint there is resumed from.
      checkpoint_every: steps between checkpoints (a multiple of ``log_every``; default every log point).
      progress: tqdm bar (default: when stderr is a terminal).
      callback: called with ``(step, row)`` after each logging point.

    Returns:
      :class:`TrainResult` with the history as a DataFrame (column ``step`` = steps done).
    """
    if num_steps < 0 or log_every < 1:
        raise CogsimError(f"fit: num_steps={num_steps} must be >= 0 and log_every={log_every} >= 1")
    update = make_update(loss_fn, optimizer, batch_fn=batch_fn, post_update=post_update)
    state = init(params, optimizer)
    history: list[dict[str, Any]] = []
    if checkpoint_dir is not None:
        restored = load_checkpoint(checkpoint_dir, state)
        if restored is not None:
            state, history = restored
    chunk = jax.jit(run_steps, static_argnums=(0, 3))
    eval_jit = jax.jit(eval_fn) if eval_fn is not None else None
    every = checkpoint_every or log_every
    import sys

    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    done = int(state.step)
    bar = tqdm(total=num_steps, initial=done, disable=not show, desc="train", leave=False)
    last_ckpt = done
    eval_key = jax.random.fold_in(key, 2**31 - 1)  # disjoint from the step keys fold_in(key, t)
    while done < num_steps:
        n = min(log_every, num_steps - done)
        state, metrics = chunk(update, state, key, n)
        done += n
        row: dict[str, Any] = {"step": done}
        row.update({k: float(jnp.mean(v)) for k, v in metrics.items()})
        if eval_jit is not None:
            row.update(
                {k: float(v) for k, v in eval_jit(state.params, jax.random.fold_in(eval_key, done)).items()}
            )
        history.append(row)
        if callback is not None:
            callback(done, row)
        bar.update(n)
        if checkpoint_dir is not None and (done - last_ckpt >= every or done == num_steps):
            save_checkpoint(checkpoint_dir, state, history)
            last_ckpt = done
    bar.close()
    return TrainResult(state.params, state, pd.DataFrame(history))
