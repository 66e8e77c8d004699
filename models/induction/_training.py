"""Training one network (or many at once under ``jax.vmap``) on Reddy's task through :mod:`cogsim.train`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from cogsim import config as cfglib
from cogsim import train
from cogsim.errors import ConfigError
from cogsim.models.induction._evaluation import evaluate
from cogsim.models.induction._network import NetConfig, forward, init_item_embedding, init_params
from cogsim.tasks.reddy_sequences import TaskConfig, make_world, sample_batch


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Plain SGD as in the paper: ``p <- (1 - wd) p - lr * grad``."""

    lr: float = cfglib.field(0.01, low=0.0, doc="SGD learning rate (> 0)")
    batch_size: int = cfglib.field(128, low=1, doc="sequences per step (fresh every step)")
    weight_decay: float = cfglib.field(1e-6, low=0.0, doc="multiplicative weight decay per step")
    num_steps: int = cfglib.field(20000, low=1, doc="optimiser steps")
    log_every: int = cfglib.field(500, low=1, doc="steps between evaluations")
    n_test: int = cfglib.field(2000, low=1, doc="sequences per test set (paper: 10,000)")
    eval_chunk: int = cfglib.field(1000, low=1, doc="test sequences per forward pass")

    def __post_validate__(self):
        if not self.lr > 0:
            raise ConfigError("lr", self.lr, "a number > 0 (0 would leave the network untrained)")


class ForgetSchedule(NamedTuple):
    """Re-initialise the item embedding every ``reset_every`` steps while ``step < until``.

    ``reset_every = 0``: never (standard training); ``until < 0``: for the whole run (active forgetting);
    ``until > 0``: temporary forgetting. Fields may be traced arrays (vmapped conditions).
    """

    reset_every: Any = 0
    until: Any = -1


NO_FORGETTING = ForgetSchedule()


def optimizer(cfg: TrainConfig) -> optax.GradientTransformation:
    """SGD with the paper's multiplicative decay: ``p <- (1 - wd) p - lr * g``."""
    if cfg.lr == 0:
        return optax.sgd(0.0)
    return optax.chain(optax.add_decayed_weights(cfg.weight_decay / cfg.lr), optax.sgd(cfg.lr))


def make_loss_fn(task: TaskConfig, net: NetConfig = NetConfig()) -> Callable:  # noqa: B008 (frozen)
    """``loss_fn(params, batch, key) -> (loss, {"acc": ...})``: mean cross-entropy of the target label."""

    def loss_fn(params, batch, key):
        logits = forward(params, batch["tokens"], task, net, last_only=True)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["target"]).mean()
        acc = jnp.mean(jnp.argmax(logits, -1) == batch["target"])
        return loss, {"acc": acc}

    return loss_fn


def make_post_update(task: TaskConfig, schedule: ForgetSchedule) -> Callable:
    """``post_update(params, step, key)`` re-initialising the item embedding on the forgetting schedule.

    The reset happens after the update of step ``t`` when ``(t + 1) % reset_every == 0`` and (for temporary
    forgetting) ``t < until``.
    """

    def post_update(params, step, key):
        if "item_embed" not in params:
            return params
        every = jnp.asarray(schedule.reset_every)
        until = jnp.asarray(schedule.until)
        due = (every > 0) & ((step + 1) % jnp.maximum(every, 1) == 0) & ((until < 0) | (step < until))
        fresh = init_item_embedding(key, task.D)
        return {**params, "item_embed": jnp.where(due, fresh, params["item_embed"])}

    return post_update


def run(
    key: jax.Array,
    task: TaskConfig,
    net: NetConfig = NetConfig(),  # noqa: B008 (frozen)
    tcfg: TrainConfig = TrainConfig(),
    *,
    schedule: ForgetSchedule = NO_FORGETTING,
    extra_sets: Callable[[TaskConfig], Mapping[str, tuple[str, jax.Array]]] | None = None,
    eval_task: TaskConfig | None = None,
) -> tuple[dict[str, Any], dict[str, jax.Array]]:
    """Trains one network; pure and jittable, so ``jax.vmap`` over ``key`` trains several seeds at once.

    Evaluates every ``tcfg.log_every`` steps (and at step 0) with :func:`evaluate`. The key splits into the
    world, the initial parameters, the training steps (``cogsim.train.run_steps``) and the test sets.

    Args:
      key: the run's key.
      task: the training distribution (traced ``eps``/``alpha``/``p_B``/``p_C`` allowed).
      net: the network.
      tcfg: optimiser and schedule of evaluation.
      schedule: item-embedding forgetting (needs ``net.item_embedding``).
      extra_sets: ``task -> {name: (mode, class_logits[, context_logits])}`` extra accuracies to log.
      eval_task: the task used for the test sets (default: ``task``).

    Returns:
      ``(params, history)``: history maps each metric (plus ``loss``, ``acc``: training means over the
      preceding window, and ``step``) to an array of ``num_steps // log_every + 1`` values.

    Example:
      >>> import jax
      >>> task = TaskConfig(K=16, L=4, N=2, D=7, N_max=2, B=1)
      >>> net = NetConfig(n_layers=1, mlp_layers=1)
      >>> tc = TrainConfig(num_steps=2, log_every=1, batch_size=4, n_test=8, eval_chunk=8)
      >>> _, hist = jax.jit(lambda k: run(k, task, net, tc))(jax.random.key(0))
      >>> hist["ic_acc"].shape
      (3,)
    """
    eval_task = task if eval_task is None else eval_task
    k_world, k_init, k_train, k_test = jax.random.split(key, 4)
    world = make_world(k_world, task)
    params = init_params(k_init, task, net)
    opt = optimizer(tcfg)
    update = train.make_update(
        make_loss_fn(task, net),
        opt,
        batch_fn=lambda k, step: sample_batch(k, world, task, tcfg.batch_size),
        post_update=make_post_update(task, schedule) if net.item_embedding else None,
    )
    extras = extra_sets(eval_task) if extra_sets is not None else None
    ev = lambda p: evaluate(
        p, world, k_test, eval_task, net, n_test=tcfg.n_test, chunk=tcfg.eval_chunk, extra_sets=extras
    )
    n_logs = tcfg.num_steps // tcfg.log_every

    # One scan of n_logs + 1 iterations, each "evaluate, then train log_every steps", so that the evaluation
    # is traced (and compiled) once; the training of the last iteration is skipped by zero-length masking.
    def chunk(carry, i):
        state, last = carry
        row = ev(state.params)
        row.update({"loss": last[0], "acc": last[1]})
        new, m = train.run_steps(update, state, k_train, tcfg.log_every)
        keep = i < n_logs
        state = jax.tree_util.tree_map(lambda a, b: jnp.where(keep, a, b), new, state)
        return (state, (jnp.mean(m["loss"]), jnp.mean(m["acc"]))), row

    nan = jnp.float32(jnp.nan)
    (state, _), hist = jax.lax.scan(chunk, (train.init(params, opt), (nan, nan)), jnp.arange(n_logs + 1))
    hist["step"] = jnp.arange(n_logs + 1) * tcfg.log_every
    return state.params, hist


# task fields that may vary under jax.vmap (K and B when the task allocates K_max classes)
TRACEABLE = ("K", "B", "eps", "alpha", "p_B", "p_C")


def run_vmapped(
    key: jax.Array,
    task: TaskConfig,
    net: NetConfig = NetConfig(),  # noqa: B008 (frozen)
    tcfg: TrainConfig = TrainConfig(),
    *,
    points: Mapping[str, jax.Array],
    n_seeds: int,
    schedules: ForgetSchedule | None = None,
    extra_sets: Callable[[TaskConfig], Mapping[str, tuple[str, jax.Array]]] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`run` for ``n_points`` task settings x ``n_seeds`` seeds: one jitted call of two nested
    ``jax.vmap`` (settings outside, seeds inside).

    Seed ``s`` uses ``fold_in(key, s)`` at every setting (common random numbers: the same world,
    initialisation and batches across settings, so differences are paired). The settings are not validated
    here: check each one concretely (``cogsim.config.validate``) before tracing it.

    Args:
      key: the root key.
      task: the base task; ``points`` replace its fields (allocate classes with ``K_max`` to vary ``K``).
      net, tcfg: network and training settings (shared by all settings).
      points: ``{field: values [n_points]}`` with fields from :data:`TRACEABLE`.
      n_seeds: seeds per setting.
      schedules: per-setting forgetting schedules (fields of length ``n_points``; default: none).
      extra_sets: see :func:`run`.

    Returns:
      the history of :func:`run` with leading axes ``[n_points, n_seeds]``, as NumPy arrays.

    Example:
      >>> import jax.numpy as jnp
      >>> task = TaskConfig(K=16, L=4, N=2, D=7, N_max=2, B=1)
      >>> net = NetConfig(n_layers=1, mlp_layers=1)
      >>> tc = TrainConfig(num_steps=1, log_every=1, batch_size=4, n_test=8, eval_chunk=8)
      >>> h = run_vmapped(jax.random.key(0), task, net, tc, points={"eps": jnp.array([0.1, 0.5])}, n_seeds=2)
      >>> h["ic_acc"].shape
      (2, 2, 2)
    """
    bad = [k for k in points if k not in TRACEABLE]
    if bad:
        raise ConfigError(f"points.{bad[0]}", points[bad[0]], f"one of {list(TRACEABLE)}")
    vals = {k: jnp.asarray(v, jnp.int32 if k in ("K", "B") else jnp.float32) for k, v in points.items()}
    n_points = len(next(iter(vals.values())))
    if schedules is None:
        schedules = ForgetSchedule(jnp.zeros(n_points, jnp.int32), -jnp.ones(n_points, jnp.int32))
    sched = ForgetSchedule(*(jnp.asarray(x, jnp.int32) for x in schedules))

    def one(point, sch, seed):
        t = dataclasses.replace(task, **point)
        return run(
            jax.random.fold_in(key, seed), t, net, tcfg, schedule=sch, extra_sets=extra_sets, eval_task=t
        )[1]

    f = jax.jit(jax.vmap(jax.vmap(one, (None, None, 0)), (0, 0, None)))
    out = f(vals, sched, jnp.arange(n_seeds))
    return {k: np.asarray(v) for k, v in out.items()}


def fit(
    task: TaskConfig,
    net: NetConfig = NetConfig(),  # noqa: B008 (frozen)
    tcfg: TrainConfig = TrainConfig(),
    *,
    key: jax.Array,
    schedule: ForgetSchedule = NO_FORGETTING,
    progress: bool | None = None,
    checkpoint_dir: str | None = None,
) -> train.TrainResult:
    """One run through :func:`cogsim.train.fit` (progress bar, checkpoints), history as a DataFrame.

    Uses the same key derivation as :func:`run`, so both give the same training trajectory.

    Example:
      >>> import jax
      >>> task = TaskConfig(K=16, L=4, N=2, D=7, N_max=2, B=1)
      >>> tc = TrainConfig(num_steps=2, log_every=1, batch_size=4, n_test=8, eval_chunk=8)
      >>> res = fit(task, NetConfig(n_layers=1, mlp_layers=1), tc, key=jax.random.key(0), progress=False)
      >>> list(res.history["step"])
      [1, 2]
    """
    k_world, k_init, k_train, k_test = jax.random.split(key, 4)
    world = make_world(k_world, task)
    params = init_params(k_init, task, net)
    return train.fit(
        make_loss_fn(task, net),
        params,
        optimizer(tcfg),
        batch_fn=lambda k, step: sample_batch(k, world, task, tcfg.batch_size),
        key=k_train,
        num_steps=tcfg.num_steps,
        log_every=tcfg.log_every,
        eval_fn=lambda p, k: evaluate(p, world, k_test, task, net, n_test=tcfg.n_test, chunk=tcfg.eval_chunk),
        post_update=make_post_update(task, schedule) if net.item_embedding else None,
        checkpoint_dir=checkpoint_dir,
        progress=progress,
    )


def history_frame(hist: Mapping[str, Any], **labels: Any) -> pd.DataFrame:
    """A tidy DataFrame from a (possibly vmapped: leading seed axis) history of :func:`run`.

    Example:
      >>> history_frame({"step": np.arange(2), "ic_acc": np.ones((3, 2))}, B=1).shape
      (6, 4)
    """
    hist = {k: np.asarray(v) for k, v in hist.items()}
    step = hist.pop("step")
    if step.ndim > 1:
        step = step.reshape(-1, step.shape[-1])[0]
    any_v = next(iter(hist.values()))
    if any_v.ndim == 1:
        hist = {k: v[None] for k, v in hist.items()}
    n_seeds = next(iter(hist.values())).shape[0]
    rows = []
    for s in range(n_seeds):
        df = pd.DataFrame({k: v[s] for k, v in hist.items()})
        df.insert(0, "step", step)
        df.insert(0, "seed", s)
        rows.append(df)
    out = pd.concat(rows, ignore_index=True)
    for k, v in labels.items():
        out[k] = v
    return out
