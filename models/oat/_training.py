"""Teacher-forced training of OAT through :func:`cogsim.train.fit`, with early stopping."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from cogsim import train
from cogsim._compare_scanpath import behaviour_delta, behaviour_vector
from cogsim.errors import CogsimError
from cogsim.models.oat._data import Displays, _as_jax, encode_scanpaths
from cogsim.models.oat._decoding import greedy
from cogsim.models.oat._model import OAT, sequence_loss


@dataclasses.dataclass(frozen=True)
class TrainData:
    """Training scanpaths: displays (one row per display) and token sequences pointing at them.

    Attributes:
      displays: the displays ``[D, ...]``.
      seqs: ``[S, L]`` tokens from :func:`encode_scanpaths`.
      display_index: ``[S]`` display of each scanpath.
    """

    displays: Displays
    seqs: np.ndarray
    display_index: np.ndarray


@dataclasses.dataclass(frozen=True)
class FitResult:
    """The trained model (best validation epoch), the per-epoch history and the best epoch."""

    model: OAT
    history: list[dict[str, float]]
    best_epoch: int


def fit(
    model: OAT,
    data: TrainData,
    *,
    key: jax.Array,
    epochs: int,
    batch_size: int = 20,
    lr: float = 1e-4,
    clip: float = 1.0,
    validation: tuple[Displays, Sequence[Sequence[Sequence[int]]]] | None = None,
    patience: int = 30,
    max_len: int = 60,
    select: str = "delta",
    log: Callable[[str], None] | None = None,
    progress: bool | None = None,
) -> FitResult:
    """Trains with teacher forcing (Adam, gradient clipping) and early stopping on a validation score.

    Each epoch is one pass over a fresh permutation of the scanpaths (the last partial batch is dropped), run
    as one scanned chunk of :func:`cogsim.train.fit` (one logging point per epoch). With ``validation =
    (displays, human scanpaths per display)`` two scores are logged after every epoch: ``val_delta``, the
    behaviour delta of the greedy scanpath of each display (the published criterion), and ``val_nll``, the
    teacher-forced cross-entropy of the held-out scanpaths. The epoch with the lowest ``select`` score
    ("delta" or "nll") is kept and training stops after ``patience`` epochs without improvement
    (:class:`cogsim.train.EarlyStopping`). ``log`` receives one line per epoch; ``progress`` shows a progress
    bar (default: when stderr is a terminal).

    Returns:
      :class:`FitResult`.
    """
    if select not in ("delta", "nll"):
        raise CogsimError(f"oat.fit: select={select!r} is not allowed; choose 'delta' or 'nll'")
    n = len(data.seqs)
    if n < batch_size:
        raise CogsimError(f"oat.fit: {n} training scanpaths, fewer than batch_size={batch_size}")
    spe = n // batch_size
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    disp = _as_jax(data.displays)
    seqs = jnp.asarray(data.seqs)
    didx = jnp.asarray(data.display_index, jnp.int32)
    perm_key = jax.random.fold_in(key, 1)

    def batch_fn(k, step):
        perm = jax.random.permutation(jax.random.fold_in(perm_key, step // spe), n)
        idx = jax.lax.dynamic_slice_in_dim(perm, (step % spe) * batch_size, batch_size)
        return disp.take(didx[idx]), seqs[idx]

    def loss_fn(p, batch, k):
        m = nnx.merge(graphdef, p, rest)
        return sequence_loss(m, batch[0], batch[1], key=k)

    eval_fn, early = None, None
    if validation is not None:
        v_disp, v_human = validation
        v_targets = np.asarray(v_disp.target)
        h_all = [s for paths in v_human for s in paths]
        h_tg = [int(t) for t, paths in zip(v_targets, v_human, strict=True) for _ in paths]
        human_bv = behaviour_vector(h_all, h_tg)
        n_obj = int(np.shape(v_disp.rows)[1])
        v_seqs = jnp.asarray(encode_scanpaths(h_all, n_obj, max(len(s) for s in h_all)))
        v_batch = _as_jax(v_disp).take(jnp.asarray([i for i, paths in enumerate(v_human) for _ in paths]))
        v_loss = jax.jit(lambda p: sequence_loss(nnx.merge(graphdef, p, rest), v_batch, v_seqs)[0])

        def eval_fn(p, k):
            paths = greedy(nnx.merge(graphdef, p, rest), v_disp, max_len=max_len)
            return {
                "val_delta": behaviour_delta(behaviour_vector(paths, v_targets), human_bv),
                "val_nll": float(v_loss(p)),
            }

        early = train.EarlyStopping("val_delta" if select == "delta" else "val_nll", patience)

    def epoch_row(row):
        return {"epoch": row["step"] // spe, **{k: v for k, v in row.items() if k != "step"}}

    def callback(step, row):
        if log is not None:
            r = epoch_row(row)
            log("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()))

    res = train.fit(
        loss_fn,
        params,
        optax.chain(optax.clip_by_global_norm(clip), optax.adam(lr)),
        batch_fn=batch_fn,
        key=key,
        num_steps=epochs * spe,
        log_every=spe,
        eval_fn=eval_fn,
        jit_eval=False,
        early_stopping=early,
        callback=callback,
        progress=progress,
    )
    history = [epoch_row(r) for r in res.history.to_dict("records")]
    best_epoch = res.best_step // spe if validation is not None else len(history)
    return FitResult(nnx.merge(graphdef, res.params, rest), history, best_epoch)
