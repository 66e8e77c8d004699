"""The optax training loop: one step, scanned chunks of steps, and :func:`fit` around them."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from cogsim.errors import CogsimError
from cogsim.train._checkpoint import load_best, load_checkpoint, load_meta, save_checkpoint
from cogsim.train._early_stopping import EarlyStopping, Tracker

LossFn = Callable[[Any, Any, jax.Array], tuple[jax.Array, Mapping[str, jax.Array]]]
BatchFn = Callable[[jax.Array, jax.Array], Any]


class TrainState(NamedTuple):
    """Parameters, optimiser state and the step counter.

    Example:
      >>> import jax.numpy as jnp, optax
      >>> state = TrainState(jnp.zeros(2), optax.sgd(0.1).init(jnp.zeros(2)), jnp.zeros((), jnp.int32))
      >>> state.params.shape, int(state.step)
      ((2,), 0)
    """

    params: Any
    opt_state: Any
    step: jax.Array


def init(params: Any, optimizer: optax.GradientTransformation) -> TrainState:
    """A fresh training state at step 0.

    Example:
      >>> import jax.numpy as jnp, optax
      >>> int(init(jnp.zeros(2), optax.sgd(0.1)).step)
      0
    """
    return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))


def make_update(
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
    *,
    batch_fn: BatchFn,
    post_update: Callable[[Any, jax.Array, jax.Array], Any] | None = None,
) -> Callable[[TrainState, jax.Array], tuple[TrainState, dict[str, jax.Array]]]:
    """Builds ``update(state, key) -> (state, metrics)`` for one step.

    Step ``t`` uses ``fold_in(key, t)``, split into the keys of the batch, the loss and ``post_update``.

    Args:
      loss_fn: ``(params, batch, key) -> (loss, metrics)``.
      optimizer: an optax transformation.
      batch_fn: ``(key, step) -> batch``.
      post_update: optional ``(params, step, key) -> params`` applied after the optimiser step (e.g. the
        periodic re-initialisation of embeddings in forgetting schedules).

    Example:
      >>> import jax, jax.numpy as jnp, optax
      >>> loss = lambda w, b, k: (jnp.sum((w - b) ** 2), {})
      >>> upd = make_update(loss, optax.sgd(0.25), batch_fn=lambda k, t: jnp.ones(2))
      >>> s, m = upd(init(jnp.zeros(2), optax.sgd(0.25)), jax.random.key(0))
      >>> s.params.tolist(), float(m["loss"])
      ([0.5, 0.5], 2.0)
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

    Example:
      >>> import jax, jax.numpy as jnp, optax
      >>> loss = lambda w, b, k: (jnp.sum((w - b) ** 2), {})
      >>> upd = make_update(loss, optax.sgd(0.25), batch_fn=lambda k, t: jnp.ones(2))
      >>> s, m = run_steps(upd, init(jnp.zeros(2), optax.sgd(0.25)), jax.random.key(0), 3)
      >>> int(s.step), m["loss"].shape
      (3, (3,))
    """
    return jax.lax.scan(lambda s, _: update(s, key), state, None, length=num_steps)


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """The trained parameters, the final state and the logged history (one row per logging point).

    With early stopping, ``params`` are those of the best logging point, ``best_step`` its step.

    Example:
      >>> import jax, jax.numpy as jnp, optax
      >>> from cogsim.train import EarlyStopping
      >>> loss = lambda w, b, k: (jnp.sum((w - b) ** 2), {})
      >>> res = fit(loss, jnp.zeros(1), optax.sgd(2.0), batch_fn=lambda k, t: jnp.ones(1),
      ...           key=jax.random.key(0), num_steps=6, log_every=1, progress=False,
      ...           early_stopping=EarlyStopping("loss", patience=2))
      >>> res.history["loss"].round(2).tolist(), res.best_step, res.params.tolist()
      ([1.0, 9.0, 81.0], 1, [4.0])
    """

    params: Any
    state: TrainState
    history: pd.DataFrame
    best_step: int | None = None


def _step_wise(update):
    """``chunk(state, key, n)`` running ``n`` jitted single steps in Python, metrics stacked per step."""
    step = jax.jit(update)

    def chunk(state, key, n):
        rows = []
        for _ in range(n):
            state, m = step(state, key)
            rows.append(m)
        return state, {k: jnp.stack([r[k] for r in rows]) for k in rows[0]}

    return chunk


def _key_data(key: jax.Array) -> list:
    """The raw data of ``key`` (typed or legacy uint32 key) as nested lists, for the checkpoint's record."""
    try:
        data = jax.random.key_data(key) if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key) else key
        return np.asarray(data).tolist()
    except (AttributeError, TypeError):
        raise CogsimError(f"fit: key={key!r} is not allowed; use a jax.random.key") from None


def _run_meta(key: jax.Array, early_stopping: EarlyStopping | None) -> dict[str, Any]:
    es = None if early_stopping is None else [early_stopping.metric, early_stopping.mode]
    return {"key": _key_data(key), "early_stopping": es}


def _resume(checkpoint_dir, state, history, meta, num_steps, early_stopping, params) -> Tracker:
    """Checks a restored checkpoint against this run and replays early stopping over its history.

    Raises:
      CogsimError: a different key, fewer ``num_steps`` than already done, or early stopping other than that
        of the run that wrote the checkpoint (its best parameters would be unknown or for another metric).
    """
    where = str(checkpoint_dir)
    done = int(state.step)
    if num_steps < done:
        raise CogsimError(
            f"fit: num_steps={num_steps} is below the {done} steps already done in the checkpoint in "
            f"{where!r}; allowed: num_steps >= {done} (or another checkpoint_dir)"
        )
    saved = load_meta(checkpoint_dir)
    if saved is not None and saved.get("key") != meta["key"]:
        raise CogsimError(
            f"fit: key (data {meta['key']}) differs from the key {saved.get('key')} of the run that wrote "
            f"the checkpoint in {where!r}; allowed: the same key (or another checkpoint_dir)"
        )
    tracker = Tracker()
    if early_stopping is None:
        return tracker
    for row in history:
        tracker = early_stopping.update(tracker, row, step=row["step"], params=None)
    best = load_best(checkpoint_dir, params)
    es = meta["early_stopping"]
    unknown = saved is None and best is None and tracker.best_step > 0
    if (saved is not None and saved.get("early_stopping") != es) or unknown:
        was = "none" if saved is None or saved.get("early_stopping") is None else saved["early_stopping"]
        raise CogsimError(
            f"fit: early_stopping={es} differs from the early stopping ({was}) of the run that wrote the "
            f"checkpoint in {where!r}, so the best parameters of its {len(history)} logged points are "
            "unknown; allowed: the same early stopping (or another checkpoint_dir)"
        )
    return tracker._replace(best_params=best)


def fit(
    loss_fn: LossFn,
    params: Any,
    optimizer: optax.GradientTransformation,
    *,
    batch_fn: BatchFn,
    key: jax.Array,
    num_steps: int,
    log_every: int = 100,
    eval_fn: Callable[[Any, jax.Array], Mapping[str, Any]] | None = None,
    post_update: Callable[[Any, jax.Array, jax.Array], Any] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    progress: bool | None = None,
    callback: Callable[[int, dict[str, float]], None] | None = None,
    scan: bool = True,
    jit_eval: bool = True,
    early_stopping: EarlyStopping | None = None,
) -> TrainResult:
    """Trains for ``num_steps`` steps, logging mean metrics (and ``eval_fn``) every ``log_every`` steps.

    Args:
      loss_fn: ``(params, batch, key) -> (loss, metrics)``.
      params: initial parameters (any pytree).
      optimizer: an optax transformation.
      batch_fn: ``(key, step) -> batch``.
      key: the run's key; step ``t`` uses ``fold_in(key, t)``.
      num_steps: total number of optimiser steps.
      log_every: steps per chunk and per history row.
      eval_fn: ``(params, key) -> metrics`` evaluated at each logging point (e.g. test accuracies).
      post_update: see :func:`make_update`.
      checkpoint_dir: where to save; an existing checkpoint there is resumed from. A resumed run must use
        the same ``key`` and early stopping (metric and mode) as the run that wrote the checkpoint, and a
        ``num_steps`` at least the steps already done; otherwise :class:`CogsimError`.
      checkpoint_every: steps between checkpoints (a multiple of ``log_every``; default every log point).
      progress: tqdm bar (default: when stderr is a terminal).
      callback: called with ``(step, row)`` after each logging point.
      scan: run each chunk as one ``lax.scan`` (True) or as jitted single steps in a Python loop (False:
        for steps that compile or run badly inside a loop, e.g. convolution gradients on XLA:CPU). Both
        use the same step keys.
      jit_eval: jit ``eval_fn`` (False for evaluations that run Python code, e.g. decoding loops).
      early_stopping: stop when its metric has not improved for its patience (in logging points) and
        return the parameters of the best logging point (the initial ones, ``best_step = 0``, when no
        point had a finite score).

    Returns:
      :class:`TrainResult` with the history as a DataFrame (column ``step`` = steps done).

    Example:
      >>> import jax, jax.numpy as jnp, optax
      >>> loss = lambda w, b, k: (jnp.sum((w - b) ** 2), {"w": w[0]})
      >>> res = fit(loss, jnp.zeros(1), optax.sgd(0.25), batch_fn=lambda k, t: jnp.ones(1),
      ...           key=jax.random.key(0), num_steps=4, log_every=2, progress=False)
      >>> res.history.round(3)
         step   loss      w
      0     2  0.625  0.250
      1     4  0.039  0.812
      >>> res.params.tolist()
      [0.9375]
    """
    if num_steps < 0 or log_every < 1:
        raise CogsimError(f"fit: num_steps={num_steps} must be >= 0 and log_every={log_every} >= 1")
    update = make_update(loss_fn, optimizer, batch_fn=batch_fn, post_update=post_update)
    state = init(params, optimizer)
    history: list[dict[str, Any]] = []
    tracker = Tracker()
    meta = None
    if checkpoint_dir is not None:
        meta = _run_meta(key, early_stopping)
        restored = load_checkpoint(checkpoint_dir, state)
        if restored is not None:
            state, history = restored
            tracker = _resume(checkpoint_dir, state, history, meta, num_steps, early_stopping, params)
    if scan:
        scanned = jax.jit(run_steps, static_argnums=(0, 3))
        chunk = lambda state, key, n: scanned(update, state, key, n)
    else:
        chunk = _step_wise(update)
    evaluate = (jax.jit(eval_fn) if jit_eval else eval_fn) if eval_fn is not None else None
    every = checkpoint_every or log_every
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    done = int(state.step)
    bar = tqdm(total=num_steps, initial=done, disable=not show, desc="train", leave=False)
    last_ckpt = done
    eval_key = jax.random.fold_in(key, 2**31 - 1)  # disjoint from the step keys fold_in(key, t)
    stopped = early_stopping is not None and history and early_stopping.should_stop(tracker)
    while done < num_steps and not stopped:
        n = min(log_every, num_steps - done)
        state, metrics = chunk(state, key, n)
        done += n
        row: dict[str, Any] = {"step": done}
        row.update({k: float(jnp.mean(v)) for k, v in metrics.items()})
        if evaluate is not None:
            row.update(
                {k: float(v) for k, v in evaluate(state.params, jax.random.fold_in(eval_key, done)).items()}
            )
        history.append(row)
        if early_stopping is not None:
            tracker = early_stopping.update(tracker, row, step=done, params=state.params)
            stopped = early_stopping.should_stop(tracker)
        if callback is not None:
            callback(done, row)
        bar.update(n)
        if checkpoint_dir is not None and (done - last_ckpt >= every or done == num_steps or stopped):
            best = tracker.best_params if early_stopping is not None else None
            save_checkpoint(checkpoint_dir, state, history, best=best, meta=meta)
            last_ckpt = done
    bar.close()
    if early_stopping is None:
        return TrainResult(state.params, state, pd.DataFrame(history))
    if tracker.best_params is None:  # no logging point had a finite score: the initial parameters
        return TrainResult(params, state, pd.DataFrame(history), 0)
    return TrainResult(tracker.best_params, state, pd.DataFrame(history), tracker.best_step)
