"""OAT: the object-level attention transformer for visual-search scanpaths (Fang et al., ECCV 2024).

A display is a set of ``N`` objects on a grid; a scanpath is the sequence of objects fixated. OAT encodes one
token per object plus one *target token*, and decodes the scanpath with a pointer over the encoder tokens:
pointing at the target token ends the scanpath (EOS).

- Object token = ``[appearance (d/2), position code (d/2)]``. The position code concatenates rows of a
  fixed table ``W`` (``K x ceil(d/6)``; ``K`` = grid extent) for the object's row, column and an
  ``is_target`` flag, truncated to ``d/2``. ``W`` is learned offline (:func:`learn_positional_table`) so that
  ``cos(W_i, W_j) = exp(-(i - j)^2 / (2 sigma^2))`` with ``sigma = 2``, with a penalty keeping the row norms
  equal (Adam, lr 0.01, 10,000 steps): neighbours at distance 0..5 have cosine 1, .883, .607, .325, .135,
  .044. In the encoder only the target token has ``is_target = 1``; in the decoder a fixation on the target
  object has it.
- Appearance is pluggable (``OATConfig.appearance``): ``"cnn"`` runs each object crop (pixels in [0, 1],
  centred by subtracting 0.5) through the published small CNN (conv 3->16 5x5, ReLU, max-pool; conv 16->32
  3x3, ReLU, max-pool; linear); ``"embedding"`` looks up a learned vector per appearance id (what is known
  without images, e.g. "a distractor cover" or "target cover k"); ``"none"`` leaves the appearance half
  zero, so the model sees layout and target position only.
- Decoder input: a BOS token (blank appearance at the grid centre), then the fixated objects, plus the usual
  1-D sinusoidal code of fixation order. Post-norm encoder and decoder layers (ReLU feed-forward, dropout)
  whose attention runs through :func:`cogsim.attention.dot_product_attention` (named
  ``oat.encoder.<i>.self``, ``oat.decoder.<i>.self``, ``oat.decoder.<i>.cross``).
- Pointer: ``pointer_heads`` scores ``(W_e e_i)^T (W_d d_t) / sqrt(pointer_dk)`` over the ``N + 1`` encoder
  tokens plus a constant PAD slot, mixed by a ``Linear(heads -> 1)``. Index ``N`` (the target token) is EOS,
  ``N + 1`` is PAD and ``N + 2`` BOS (as in the original code). PAD is masked out of every softmax, and EOS
  at the first step, so a scanpath has at least one fixation.
- Training: teacher-forced cross-entropy over the pointer (PAD targets ignored), Adam with gradient clipping,
  early stopping on the validation behaviour delta; scanpaths whose length lies outside mean +- 3 SD are
  dropped (:func:`length_filter`). Inference: greedy and sampled decoding with a key-value cache;
  :func:`sample` draws many scanpaths per display in one call: the display is encoded once, and at each step
  the samples of a display are the queries of one cross-attention and pointer call against its memory.

Beside the model: the scanpath baselines it is held up against (:func:`random_baseline`, :func:`centre_out`,
:func:`nn_walk`, :func:`target_template`) and a similarity-guided searcher that generates reference
scanpaths for synthetic displays (:func:`searcher_scanpaths`). Training runs through :func:`cogsim.train.fit`
and a saved model is its config plus its state in cogsim's checkpoint format (:func:`save`, :func:`load`).

Differences from the PyTorch original: attention-probability dropout is not applied (residual and
feed-forward dropout are), the PAD slot is masked in training as it is in decoding, and crop pixels are
centred before the CNN.

Example:
  >>> import jax, numpy as np
  >>> from cogsim.models import oat
  >>> cfg = oat.OATConfig(n_rows=2, n_cols=3, d_model=16, n_heads=2, d_ff=16, n_encoder_layers=1,
  ...                     n_decoder_layers=1, appearance="none", pe_steps=200)
  >>> model = oat.OAT(cfg, key=jax.random.key(0))
  >>> disp = oat.grid_displays(np.array([4]), n_rows=2, n_cols=3)
  >>> paths = oat.greedy(model, disp, max_len=5)
  >>> len(paths[0]) >= 1
  True
"""

from cogsim.models.oat._baselines import centre_out, nn_walk, random_baseline, target_template
from cogsim.models.oat._config import APPEARANCES, MAX_POSITIONS, NEG, OATConfig
from cogsim.models.oat._data import (
    Displays,
    encode_scanpaths,
    grid_displays,
    length_filter,
    special_tokens,
    tokens_to_scanpaths,
)
from cogsim.models.oat._decoding import greedy, sample
from cogsim.models.oat._io import config_to_dict, load, load_meta, save
from cogsim.models.oat._layers import CropCNN, pointer_mask, sinusoid
from cogsim.models.oat._model import OAT, sequence_loss, teacher_forced_logits, teacher_forced_loss
from cogsim.models.oat._positional import (
    PositionTable,
    gaussian_similarity,
    learn_positional_table,
    neighbour_cosines,
)
from cogsim.models.oat._searcher import searcher_scanpaths
from cogsim.models.oat._training import FitResult, TrainData, fit

__all__ = [
    "APPEARANCES",
    "CropCNN",
    "Displays",
    "FitResult",
    "MAX_POSITIONS",
    "NEG",
    "OAT",
    "OATConfig",
    "PositionTable",
    "TrainData",
    "centre_out",
    "config_to_dict",
    "encode_scanpaths",
    "fit",
    "gaussian_similarity",
    "greedy",
    "grid_displays",
    "learn_positional_table",
    "length_filter",
    "load",
    "load_meta",
    "neighbour_cosines",
    "nn_walk",
    "pointer_mask",
    "random_baseline",
    "sample",
    "save",
    "searcher_scanpaths",
    "sequence_loss",
    "sinusoid",
    "special_tokens",
    "target_template",
    "teacher_forced_logits",
    "teacher_forced_loss",
    "tokens_to_scanpaths",
]
