"""Training episodic and semantic memory by maximum likelihood through :mod:`cogsim.train`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Float, Int

from cogsim import config as cfglib
from cogsim import train
from cogsim.errors import CogsimError

from ._config import Params, TensorBrainConfig, init_params
from ._layers import episodic_context
from ._triples import triple_nll


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
        a true ``"stop"`` entry in the returned dict ends training there (early stopping);
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

    cfg = cfglib.validate(cfg)
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
        extra = dict(on_log(done, state.params, row) or {}) if on_log is not None else {}
        stop = bool(extra.pop("stop", False))
        row.update(extra)
        history.append(row)
        if stop:
            break
    return train.TrainResult(state.params, state, pd.DataFrame(history))
