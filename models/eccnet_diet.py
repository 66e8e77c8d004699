"""The "developmental diet": procedurally generated natural-like images to train the eccNET backbone.

ImageNet VGG16 weights cannot be downloaded here, so cogsim trains narrow VGG16-layout backbones on six kinds
of generated 48 x 48 grey images, classifying which generator made each image:

0. dead leaves: overlapping discs and rectangles (occlusion makes many T-junctions and almost no X-junctions;
   rectangles are axis-aligned 70 % of the time);
1. 1/f noise whose amplitude spectrum carries more energy at cardinal orientations (``1 + 0.5 cos 4 theta``);
2. shaded bumps and 3. shaded dents: spheres lit by a distant light (elevation 45 deg) whose azimuth
   depends on the diet;
4. straight and 5. curved contour fragments (straight ones near-cardinal half of the time), light or dark.

The backbone is "contrast only": its first-layer kernels sum to zero and it has no biases (a projection after
every optimiser step), so uniform regions, such as a display's background, give zero features; without this
the narrow networks trained here respond strongly to uniform fields and the dot-product attention map prefers
empty background to items. Before saving, :func:`calibrate` rescales every channel to a mean activation of 1
on the diet (Gatys et al. 2015), which fixes the otherwise arbitrary scale of each layer of a bias-free
network.

Diets: ``normal`` (light from above, azimuth jitter 20 deg), ``rot90`` (every image of the normal diet
rotated by 90 deg, so the light comes from the side) and ``isotropic`` (light azimuth uniform, which makes
bumps and dents ambiguous from shading alone).

Biases BUILT INTO the generator: light from above, the cardinal excess of orientation energy, the
T-junction-rich occlusion statistics, and the choice of categories (bump vs dent; straight vs curved).
Whether visual-search asymmetries follow from training on them is what the developmental_diet scenario
measures.

The shipped weights (``cogsim/weights/eccnet/diet_<diet>.npz``) were made with::

    python -m cogsim.models.eccnet_diet --diet normal --seed 0
    python -m cogsim.models.eccnet_diet --diet rot90 --seed 0
    python -m cogsim.models.eccnet_diet --diet isotropic --seed 0

Example:
  >>> import jax
  >>> x, y = diet_batch(jax.random.key(0), DietConfig(batch_size=4))
  >>> x.shape, y.shape
  ((4, 48, 48, 3), (4,))
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd

from cogsim import config as _config
from cogsim import train
from cogsim.errors import CogsimError
from cogsim.models import eccnet_backbone as bb

N_CLASSES = 6
CLASS_NAMES = ("dead_leaves", "noise_1f", "bumps", "dents", "straight", "curved")


@dataclasses.dataclass(frozen=True)
class DietConfig:
    """Training of one backbone on one diet."""

    diet: str = _config.field("normal", choices=("normal", "rot90", "isotropic"), doc="which diet")
    widths: tuple[int, int, int, int, int] = _config.field((8, 16, 32, 64, 64), low=1, doc="block widths")
    image_size: int = _config.field(
        48, low=32, high=256, doc="side of the training images (px, a multiple of 16)"
    )
    batch_size: int = _config.field(16, low=1)
    steps: int = _config.field(400, low=0)
    lr: float = _config.field(3e-3, low=0.0)
    log_every: int = _config.field(50, low=1)
    light_jitter_deg: float = _config.field(20.0, low=0.0, doc="azimuth jitter of the light (normal diet)")
    contrast_only: bool = _config.field(
        True, doc="zero-sum first-layer kernels and no biases, so that uniform fields give zero features"
    )


# --------------------------------------------------------------------------------------------- renderers
def _grid(n: int):
    c = jnp.arange(n, dtype=jnp.float32) + 0.5
    return jnp.meshgrid(c, c, indexing="ij")  # yy, xx


def _soft(d, half):
    return jnp.clip(half + 0.5 - d, 0.0, 1.0)


def dead_leaves(key, n: int, n_shapes: int = 24):
    """Occluding discs and rectangles of random grey levels (later shapes on top)."""
    yy, xx = _grid(n)
    k = jax.random.split(key, 8)
    cy = jax.random.uniform(k[0], (n_shapes,), minval=-4, maxval=n + 4)
    cx = jax.random.uniform(k[1], (n_shapes,), minval=-4, maxval=n + 4)
    size = n * jnp.exp(jax.random.uniform(k[2], (n_shapes,), minval=jnp.log(0.05), maxval=jnp.log(0.35)))
    aspect = jnp.exp(jax.random.uniform(k[3], (n_shapes,), minval=-0.8, maxval=0.8))
    is_rect = jax.random.bernoulli(k[4], 0.5, (n_shapes,))
    cardinal = jax.random.bernoulli(k[5], 0.7, (n_shapes,))
    theta = jnp.where(cardinal, 0.0, jax.random.uniform(k[6], (n_shapes,), maxval=jnp.pi))
    grey = jax.random.uniform(k[7], (n_shapes,))
    dy = yy[None] - cy[:, None, None]
    dx = xx[None] - cx[:, None, None]
    c, s = jnp.cos(theta)[:, None, None], jnp.sin(theta)[:, None, None]
    u, v = c * dx + s * dy, -s * dx + c * dy
    a = (size * aspect)[:, None, None]
    b = (size / aspect)[:, None, None]
    rect = (jnp.abs(u) < a / 2) & (jnp.abs(v) < b / 2)
    disc = (dx**2 + dy**2) < (size[:, None, None] / 2) ** 2
    inside = jnp.where(is_rect[:, None, None], rect, disc)
    top = jnp.max(jnp.where(inside, jnp.arange(n_shapes)[:, None, None], -1), axis=0)
    bg = jax.random.uniform(jax.random.fold_in(key, 99))
    return jnp.where(top >= 0, grey[jnp.maximum(top, 0)], bg)


def noise_1f(key, n: int, cardinal_gain: float = 0.5):
    """1/f noise with extra amplitude at cardinal orientations."""
    k1, k2 = jax.random.split(key)
    white = jax.random.normal(k1, (n, n))
    fy = jnp.fft.fftfreq(n)[:, None]
    fx = jnp.fft.fftfreq(n)[None, :]
    f = jnp.sqrt(fx**2 + fy**2)
    theta = jnp.arctan2(fy, fx)
    amp = jnp.where(f > 0, 1.0 / jnp.maximum(f, 1.0 / n), 0.0) * (1 + cardinal_gain * jnp.cos(4 * theta))
    img = jnp.real(jnp.fft.ifft2(jnp.fft.fft2(white) * amp))
    img = (img - img.mean()) / (img.std() + 1e-6)
    contrast = jax.random.uniform(k2, minval=0.1, maxval=0.3)
    return jnp.clip(0.5 + contrast * img, 0.0, 1.0)


def shaded_spheres(key, n: int, *, dent: bool, azimuth: jax.Array, n_spheres: int = 3):
    """Bumps (``dent=False``) or dents lit from ``azimuth`` (radians; 0 = from the top of the image)."""
    yy, xx = _grid(n)
    k = jax.random.split(key, 6)
    r = jax.random.uniform(k[0], (n_spheres, 1, 1), minval=0.08 * n, maxval=0.22 * n)
    cy = jax.random.uniform(k[1], (n_spheres, 1, 1), minval=0.15 * n, maxval=0.85 * n)
    cx = jax.random.uniform(k[2], (n_spheres, 1, 1), minval=0.15 * n, maxval=0.85 * n)
    present = jnp.arange(n_spheres)[:, None, None] < jax.random.randint(k[3], (), 1, n_spheres + 1)
    bg = jax.random.uniform(k[4], minval=0.2, maxval=0.8)
    contrast = jax.random.uniform(k[5], minval=0.3, maxval=0.6)
    ly, lx, lz = -jnp.cos(azimuth) * 0.7071, jnp.sin(azimuth) * 0.7071, 0.7071
    sign = -1.0 if dent else 1.0
    ny = (yy[None] - cy) / r
    nx = (xx[None] - cx) / r
    rho2 = ny**2 + nx**2
    nz = jnp.sqrt(jnp.clip(1 - rho2, 0.0, 1.0))
    shade = bg + contrast * (sign * (ny * ly + nx * lx) + nz * lz - 0.7071)
    inside = (rho2 < 1) & present
    top = jnp.max(jnp.where(inside, jnp.arange(n_spheres)[:, None, None], -1), axis=0)
    img = jnp.where(top >= 0, jnp.take_along_axis(shade, jnp.maximum(top, 0)[None], 0)[0], bg)
    return jnp.clip(img, 0.0, 1.0)


def contours(key, n: int, *, curved: bool, n_items: int = 5):
    """Straight segments or circular arcs, light on dark or dark on light."""
    yy, xx = _grid(n)
    k = jax.random.split(key, 10)

    def u(i, lo, hi):
        return jax.random.uniform(k[i], (n_items, 1, 1), minval=lo, maxval=hi)

    cy, cx = u(0, 0.1 * n, 0.9 * n), u(1, 0.1 * n, 0.9 * n)
    half = u(2, 0.5, 1.6)
    cardinal = jax.random.bernoulli(k[3], 0.5, (n_items, 1, 1))
    theta = jnp.where(
        cardinal,
        jax.random.randint(k[4], (n_items, 1, 1), 0, 2) * jnp.pi / 2
        + 0.1 * jax.random.normal(k[5], (n_items, 1, 1)),
        u(6, 0.0, jnp.pi),
    )
    length = u(7, 0.15 * n, 0.45 * n)
    c, s = jnp.cos(theta), jnp.sin(theta)
    if curved:
        rad = length / 2.0
        ox, oy = cx - s * rad, cy + c * rad
        dang = jnp.arctan2(yy[None] - oy, xx[None] - ox) - jnp.arctan2(cy - oy, cx - ox)
        dang = jnp.mod(dang + jnp.pi, 2 * jnp.pi) - jnp.pi
        d = jnp.where(
            jnp.abs(dang) < 0.5 * length / rad, jnp.abs(jnp.hypot(xx[None] - ox, yy[None] - oy) - rad), 1e3
        )
    else:
        dx, dy = xx[None] - cx, yy[None] - cy
        d = jnp.hypot(jnp.maximum(jnp.abs(c * dx + s * dy) - length / 2, 0.0), -s * dx + c * dy)
    cov = jnp.max(_soft(d, half), axis=0)
    bg = jax.random.uniform(k[8])
    delta = 0.5 + 0.3 * jax.random.uniform(k[9])
    fg = jnp.where(bg > 0.5, bg - delta, bg + delta)
    return jnp.clip(bg + (fg - bg) * cov, 0.0, 1.0)


def diet_image(key, label, cfg: DietConfig):
    """One image of class ``label`` (0..5) for the configured diet, in [0, 1], ``[n, n]``."""
    n = cfg.image_size
    k_img, k_az = jax.random.split(key)
    jitter = jnp.deg2rad(cfg.light_jitter_deg) * jax.random.normal(k_az)
    azimuth = jax.random.uniform(k_az, maxval=2 * jnp.pi) if cfg.diet == "isotropic" else jitter
    imgs = jnp.stack(
        [
            dead_leaves(k_img, n),
            noise_1f(k_img, n),
            shaded_spheres(k_img, n, dent=False, azimuth=azimuth),
            shaded_spheres(k_img, n, dent=True, azimuth=azimuth),
            contours(k_img, n, curved=False),
            contours(k_img, n, curved=True),
        ]
    )
    img = imgs[label]
    if cfg.diet == "rot90":
        img = jnp.rot90(img, 1)
    return img


def diet_batch(key, cfg: DietConfig):
    """``(images [b, n, n, 3] in 0-255, labels [b])``, balanced over the six classes in expectation."""
    k_lab, k_img = jax.random.split(key)
    labels = jax.random.randint(k_lab, (cfg.batch_size,), 0, N_CLASSES)
    keys = jax.random.split(k_img, cfg.batch_size)
    imgs = jax.vmap(lambda k, y: diet_image(k, y, cfg))(keys, labels)
    return jnp.repeat(imgs[..., None], 3, axis=-1) * 255.0, labels


# ---------------------------------------------------------------------------------------------- training
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
    cfg: DietConfig, *, key: jax.Array, checkpoint_dir=None, progress=None
) -> train.TrainResult:
    """Trains a VGG16-layout backbone (plus a linear head) to tell the diet's six generators apart.

    Args:
      cfg: the diet and training settings.
      key: root key; initialisation uses ``fold_in(key, 0)``, training ``fold_in(key, 1)``.
      checkpoint_dir: optional folder for resumable checkpoints (cogsim.train).
      progress: show a progress bar.

    Returns:
      :class:`cogsim.train.TrainResult`; ``result.params["backbone"]`` are Keras-named backbone parameters.

    Example:
      >>> import jax
      >>> res = train_backbone(DietConfig(steps=2, batch_size=2, log_every=1, image_size=32,
      ...                                 widths=(2, 2, 2, 2, 2)), key=jax.random.key(0), progress=False)
      >>> len(res.history)
      2
    """
    cfg = _config.validate(cfg)
    k_init, k_train = jax.random.fold_in(key, 0), jax.random.fold_in(key, 1)
    backbone = bb.init_params(k_init, widths=cfg.widths)
    project = None
    if cfg.contrast_only:
        backbone = contrast_only(backbone)

        def project(params, step, key):
            return {**params, "backbone": contrast_only(params["backbone"])}

    head = {
        "w": 0.01 * jax.random.normal(jax.random.fold_in(k_init, 1), (cfg.widths[-1], N_CLASSES)),
        "b": jnp.zeros((N_CLASSES,)),
    }
    opt = optax.adam(optax.cosine_decay_schedule(cfg.lr, max(cfg.steps, 1), alpha=0.1))
    # A Python loop over one jitted step: XLA:CPU runs convolution weight-gradients about ten times slower
    # inside a scanned loop (as cogsim.train.fit uses), so the scan of train.run_steps is avoided here.
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
    ``n_batches`` fresh diet batches (``fold_in(key, i)``) becomes 1 (see
    :func:`eccnet_backbone.normalize_activations`)."""
    x = jnp.concatenate([diet_batch(jax.random.fold_in(key, i), cfg)[0] for i in range(n_batches)])
    return bb.normalize_activations(backbone, bb.preprocess(x, bb.UNIT_PREPROCESS))


def export(
    backbone: dict, cfg: DietConfig, out, *, seed: int, history=None, seconds: float | None = None
) -> Path:
    """Calibrates (when contrast-only) and writes the backbone with its provenance ``meta`` record."""
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
        "config": _config.to_dict(cfg),
        "final": last,
        "train_seconds": seconds,
        "normalized": bool(cfg.contrast_only),
        "command": f"python -m cogsim.models.eccnet_diet --diet {cfg.diet} --seed {seed} --steps {cfg.steps}",
    }
    out = Path(out)
    bb.save_npz(out, backbone, meta=meta)
    return out


def main(argv=None) -> int:
    """``python -m cogsim.models.eccnet_diet --diet normal --seed 0 [--steps N] [--out FILE]``."""
    p = argparse.ArgumentParser(description="Train an eccNET backbone on a developmental diet.")
    p.add_argument("--diet", default="normal", choices=("normal", "rot90", "isotropic"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=DietConfig().steps)
    p.add_argument(
        "--out", default=None, help="output .npz (default: the shipped file, diet_<diet>[_seed<seed>].npz)"
    )
    args = p.parse_args(argv)
    cfg = DietConfig(diet=args.diet, steps=args.steps)
    name = f"diet_{args.diet}" + ("" if args.seed == 0 else f"_seed{args.seed}")
    out = Path(args.out) if args.out else bb.weights_dir() / f"{name}.npz"
    t0 = time.time()
    res = train_backbone(cfg, key=jax.random.key(args.seed))
    out = export(
        res.params["backbone"],
        cfg,
        out,
        seed=args.seed,
        history=res.history,
        seconds=round(time.time() - t0, 1),
    )
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB); final {res.history.iloc[-1].to_dict()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
