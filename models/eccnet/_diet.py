"""Training eccNET backbones on the developmental diet of :mod:`cogsim.tasks.diets`.

ImageNet VGG16 weights cannot be downloaded here, so cogsim trains narrow VGG16-layout backbones to tell the
diet's six generators apart (a linear head on the global average of conv5_3), with :mod:`cogsim.train`'s
update step and checkpoints.

The backbone is "contrast only": its first-layer kernels sum to zero and it has no biases (a projection after
every optimiser step), so uniform regions, such as a display's background, give zero features; without this
the narrow networks trained here respond strongly to uniform fields and the dot-product attention map prefers
empty background to items. Before saving, :func:`calibrate` rescales every channel to a mean activation of 1
on the diet (Gatys et al. 2015), which fixes the otherwise arbitrary scale of each layer of a bias-free
network.

The shipped weights (``cogsim/weights/eccnet/diet_<diet>[_seed<seed>].npz``) were made with the default
:class:`DietConfig` of each diet and seeds 0, 1 and 2; :func:`train_and_export` remakes one, e.g.::

    from cogsim.models import eccnet
    eccnet.train_and_export(eccnet.DietConfig(diet="rot90"), "diet_rot90.npz", seed=0)

Example:
  >>> import jax
  >>> x, y = diet_batch(jax.random.key(0), DietConfig(batch_size=2, image_size=32))
  >>> x.shape, y.shape
  ((2, 32, 32, 3), (2,))
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from cogsim import config as cfglib
from cogsim import train
from cogsim.errors import CogsimError, ConfigError
from cogsim.models.eccnet import _backbone as bb
from cogsim.models.eccnet._weights import save_npz
from cogsim.tasks import diets


@dataclasses.dataclass(frozen=True)
class DietConfig:
    """Training of one backbone on one diet."""

    diet: str = cfglib.field("normal", choices=diets.DIETS, doc="which diet")
    widths: tuple[int, int, int, int, int] = cfglib.field((8, 16, 32, 64, 64), low=1, doc="block widths")
    image_size: int = cfglib.field(
        48, low=32, high=256, doc="side of the training images (px, a multiple of 16)"
    )
    batch_size: int = cfglib.field(16, low=1)
    steps: int = cfglib.field(400, low=0)
    lr: float = cfglib.field(3e-3, low=0.0, doc="Adam learning rate (> 0)")
    log_every: int = cfglib.field(50, low=1)
    light_jitter_deg: float = cfglib.field(20.0, low=0.0, doc="azimuth jitter of the light (normal diet)")
    contrast_only: bool = cfglib.field(
        True, doc="zero-sum first-layer kernels and no biases, so that uniform fields give zero features"
    )

    def __post_validate__(self):
        if not self.lr > 0:
            raise ConfigError("lr", self.lr, "a number > 0")


def diet_batch(key: jax.Array, cfg: DietConfig):
    """A training batch of the diet (:func:`cogsim.tasks.diets.diet_batch` with ``cfg``'s settings)."""
    return diets.diet_batch(
        key,
        batch_size=cfg.batch_size,
        diet=cfg.diet,
        image_size=cfg.image_size,
        light_jitter_deg=cfg.light_jitter_deg,
    )


def _loss(params, batch, key):
    del key
    x, y = batch
    feats = bb.classifier_features(params["backbone"], bb.preprocess(x, bb.UNIT_PREPROCESS))
    logits = feats @ params["head"]["w"] + params["head"]["b"]
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    acc = jnp.mean(jnp.argmax(logits, -1) == y)
    return loss, {"accuracy": acc}


def contrast_only(backbone: dict) -> dict:
    """Projects backbone parameters onto contrast-only features: the first layer's kernels sum to zero over
    space and input channels and every bias is zero, so a uniform field gives exactly zero features at every
    layer (a stand-in for the retina's luminance adaptation).

    Example:
      >>> p = contrast_only(bb.init_params(jax.random.key(0), widths=(2, 2, 2, 2, 2)))
      >>> float(abs(p["block1_conv1"]["kernel"].sum(axis=(0, 1, 2))).max()) < 1e-6
      True
    """
    out = {n: {"kernel": v["kernel"], "bias": jnp.zeros_like(v["bias"])} for n, v in backbone.items()}
    k = out["block1_conv1"]["kernel"]
    out["block1_conv1"] = {
        "kernel": k - jnp.mean(k, axis=(0, 1, 2), keepdims=True),
        "bias": out["block1_conv1"]["bias"],
    }
    return out


def train_backbone(
    cfg: DietConfig,
    *,
    key: jax.Array,
    checkpoint_dir: str | os.PathLike | None = None,
    progress: bool | None = None,
) -> train.TrainResult:
    """Trains a VGG16-layout backbone (plus a linear head) to tell the diet's six generators apart.

    Adam with a cosine-decayed learning rate; the step is :func:`cogsim.train.make_update`, checkpoints are
    :func:`cogsim.train.save_checkpoint`'s. The steps run one jitted call each rather than in the scan of
    :func:`cogsim.train.fit`: XLA:CPU runs convolution weight-gradients about ten times slower inside a
    scanned loop, and a scan of one step per call does not give the same float rounding as this loop (so it
    would not reproduce the shipped weights). The history is averaged over ``cfg.log_every`` steps.

    Args:
      cfg: the diet and training settings.
      key: root key; initialisation uses ``fold_in(key, 0)``, training ``fold_in(key, 1)``.
      checkpoint_dir: optional folder for resumable checkpoints (:func:`cogsim.train.fit`).
      progress: show a progress bar.

    Returns:
      :class:`cogsim.train.TrainResult`; ``result.params["backbone"]`` are Keras-named backbone parameters.

    Example:
      >>> import jax
      >>> res = train_backbone(DietConfig(steps=1, batch_size=1, log_every=1, image_size=32,
      ...                                 widths=(1, 1, 1, 1, 1)), key=jax.random.key(0), progress=False)
      >>> len(res.history)
      1
    """
    cfg = cfglib.validate(cfg)
    k_init, k_train = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
    backbone = bb.init_params(k_init, widths=cfg.widths)
    project = None
    if cfg.contrast_only:
        backbone = contrast_only(backbone)

        def project(params, step, key):
            return {**params, "backbone": contrast_only(params["backbone"])}

    head = {
        "w": 0.01 * jax.random.normal(jax.random.fold_in(k_init, 1), (cfg.widths[-1], diets.N_CLASSES)),
        "b": jnp.zeros((diets.N_CLASSES,)),
    }
    opt = optax.adam(optax.cosine_decay_schedule(cfg.lr, max(cfg.steps, 1), alpha=0.1))
    update = jax.jit(
        train.make_update(_loss, opt, batch_fn=lambda k, step: diet_batch(k, cfg), post_update=project)
    )
    state = train.init({"backbone": backbone, "head": head}, opt)
    history: list[dict] = []
    if checkpoint_dir is not None:
        restored = train.load_checkpoint(checkpoint_dir, state)
        if restored is not None:
            state, history = restored
    from tqdm.auto import tqdm

    done = int(state.step)
    bar = tqdm(total=cfg.steps, initial=done, disable=not progress, desc=f"diet {cfg.diet}", leave=False)
    acc: dict[str, list] = {}
    while done < cfg.steps:
        state, metrics = update(state, k_train)
        done += 1
        for k, v in metrics.items():
            acc.setdefault(k, []).append(v)
        bar.update(1)
        if done % cfg.log_every == 0 or done == cfg.steps:
            row = {"step": done, **{k: float(jnp.mean(jnp.stack(v))) for k, v in acc.items()}}
            history.append(row)
            acc = {}
            if checkpoint_dir is not None:
                train.save_checkpoint(checkpoint_dir, state, history)
    bar.close()
    return train.TrainResult(state.params, state, pd.DataFrame(history))


def calibrate(backbone: dict, cfg: DietConfig, *, key: jax.Array, n_batches: int = 4) -> dict:
    """Gatys-style normalisation of a trained contrast-only backbone: every channel's mean activation over
    ``n_batches`` fresh diet batches (``fold_in(key, i)``) becomes 1 (see :func:`normalize_activations`)."""
    x = jnp.concatenate([diet_batch(jax.random.fold_in(key, i), cfg)[0] for i in range(n_batches)])
    return bb.normalize_activations(backbone, bb.preprocess(x, bb.UNIT_PREPROCESS))


def export(
    backbone: dict,
    cfg: DietConfig,
    out: str | os.PathLike,
    *,
    seed: int,
    history: pd.DataFrame | None = None,
    seconds: float | None = None,
) -> Path:
    """Calibrates (when contrast only) and writes the backbone and its provenance ``meta`` record."""
    key = jax.random.key(seed)
    if cfg.contrast_only:
        backbone = calibrate(backbone, cfg, key=jax.random.fold_in(key, 2))
    last = history.iloc[-1].to_dict() if history is not None and len(history) else {}
    if not np.all(np.isfinite([v for v in last.values()])):
        raise CogsimError(f"training diverged: {last}")
    meta = {
        "preprocess": bb.UNIT_PREPROCESS,
        "diet": cfg.diet,
        "seed": seed,
        "config": cfglib.to_dict(cfg),
        "final": last,
        "train_seconds": seconds,
        "normalized": bool(cfg.contrast_only),
        "command": f"cogsim.models.eccnet.train_and_export(DietConfig(diet={cfg.diet!r}, steps={cfg.steps}), "
        f"out, seed={seed})",
    }
    out = Path(out)
    save_npz(out, backbone, meta=meta)
    return out


def train_and_export(
    cfg: DietConfig, out: str | os.PathLike, *, seed: int = 0, progress: bool | None = None
) -> Path:
    """Trains a backbone from ``jax.random.key(seed)`` (:func:`train_backbone`) and writes it with
    :func:`export` to ``out``, the way the shipped backbones were made.

    Example:
      >>> import tempfile, pathlib
      >>> cfg = DietConfig(steps=0, batch_size=2, image_size=32, widths=(2, 2, 2, 2, 2))  # untrained
      >>> path = train_and_export(cfg, pathlib.Path(tempfile.mkdtemp()) / "b.npz", progress=False)
      >>> from cogsim.models.eccnet import load_npz
      >>> load_npz(path)[1]["diet"]
      'normal'
    """
    t0 = time.time()
    res = train_backbone(cfg, key=jax.random.key(seed), progress=progress)
    return export(
        res.params["backbone"], cfg, out, seed=seed, history=res.history, seconds=round(time.time() - t0, 1)
    )
