"""eccNET: visual search with an eccentricity-dependent network (Gupta, Zhang, Wu, Wolfe & Kreiman 2021).

One search trial: the model fixates the display centre, sees a crop of side ``2 * (display + corner_bias)``
centred on the fixation (background outside the display), and computes a top-down attention map: each of the
search crop's conv3_3 / conv4_3 / conv5_3 maps (1/16 resolution, eccentricity-dependent pooling centred on
the fixation) is convolved with the matching target feature map (1/32) as a one-output 'same' kernel; the
three maps are min-max normalised, weighted by their raw maxima (normalised to sum 1, times the layer
switches), summed, and sharpened by three rounds of ``out += G_l(out) - G_u(out)`` (difference of
Gaussians). The map is resized to the crop (OpenCV's INTER_AREA upscaling), restricted to grid cells not yet
visited, and the next fixation is its arg-max. Inhibition of return is object based: the fixated cell is
repainted with the background and masked. The target is found when a 10 x 10 px window (1/3 deg) around the
fixation overlaps its cell; the budget is the number of cells + 1 saccades. ``n`` = saccades until found
(minimum 1; not found counts as the set size) and ``RT = 252.359 n + 376.271`` ms.

:func:`search` is the batched search (slots of trials in a jitted, masked scan; the translation-equivariant
stem computed only around the display); :func:`search_per_fixation` is the same model written as the
original's per-fixation Python loop. The displays come from :mod:`cogsim.tasks.search_displays`; the
backbones shipped with cogsim were trained on the diets of :mod:`cogsim.tasks.diets` (:func:`train_backbone`).

Modules (private; everything public is re-exported here): ``_pooling`` (eccentricity-dependent pooling),
``_backbone`` (VGG16 layout and readouts), ``_weights`` (loading and saving), ``_gabor`` (training-free
control), ``_extractor``, ``_maps`` (the attention map), ``_trial`` (one trial's settings and state),
``_stem`` (the local stem), ``_search`` (the batched loop), ``_quitting`` (a quitting rule for target-absent
trials), ``_per_fixation``, ``_experiments`` (the six experiments and the ablations), ``_diet`` (training on
the diets).

Example:
  >>> import jax
  >>> from cogsim.tasks import search_displays as sd
  >>> trials = sd.make_trials(sd.EXPERIMENTS[3], key=jax.random.key(0), ppd=10.0, n_trials=1, set_sizes=(1,))
  >>> model = Extractor.gabor(Geometry(ppd=10.0))
  >>> res = search(model, trials, SearchConfig())
  >>> res[["condition", "set_size", "n_saccades", "found"]].values.tolist()
  [['non_cross', 1, 1, True], ['cross', 1, 1, True]]
"""

from cogsim.models.eccnet._backbone import (
    CAFFE_PREPROCESS,
    ECC_SLOPES,
    LAYER_NAMES,
    UNIT_PREPROCESS,
    VGG16_WIDTHS,
    VGG_LAYOUT,
    Geometry,
    classifier_features,
    init_params,
    layer_means,
    normalize_activations,
    preprocess,
    search_features,
    target_features,
    widths_of,
)
from cogsim.models.eccnet._diet import (
    DietConfig,
    calibrate,
    contrast_only,
    diet_batch,
    export,
    train_and_export,
    train_backbone,
)
from cogsim.models.eccnet._experiments import VARIANTS, search_experiments, variant
from cogsim.models.eccnet._extractor import Extractor
from cogsim.models.eccnet._gabor import gabor_bank, gabor_features
from cogsim.models.eccnet._maps import (
    area_upsample_matrix,
    attention_map,
    dog_taps,
    embed_kernel,
    gaussian_taps,
)
from cogsim.models.eccnet._per_fixation import search_per_fixation
from cogsim.models.eccnet._pooling import (
    PoolingPlan,
    Ring,
    ecc_avg_pool,
    pooling_plan,
    ring_windows,
    uniform_plan,
)
from cogsim.models.eccnet._quitting import (
    QuitRule,
    fit_quit_rule,
    outcome_moments,
    quit_probabilities,
    simulate_quitting,
)
from cogsim.models.eccnet._search import search
from cogsim.models.eccnet._trial import MAX_CELLS, SearchConfig, rt_ms, target_kernels
from cogsim.models.eccnet._weights import check_weights, from_keras, load_npz, save_npz, shipped, weights_dir

__all__ = [
    "CAFFE_PREPROCESS",
    "ECC_SLOPES",
    "LAYER_NAMES",
    "MAX_CELLS",
    "UNIT_PREPROCESS",
    "VARIANTS",
    "VGG16_WIDTHS",
    "VGG_LAYOUT",
    "DietConfig",
    "Extractor",
    "Geometry",
    "PoolingPlan",
    "QuitRule",
    "Ring",
    "SearchConfig",
    "area_upsample_matrix",
    "attention_map",
    "calibrate",
    "classifier_features",
    "contrast_only",
    "diet_batch",
    "dog_taps",
    "ecc_avg_pool",
    "embed_kernel",
    "export",
    "fit_quit_rule",
    "from_keras",
    "gabor_bank",
    "gabor_features",
    "gaussian_taps",
    "init_params",
    "layer_means",
    "load_npz",
    "check_weights",
    "normalize_activations",
    "outcome_moments",
    "pooling_plan",
    "preprocess",
    "quit_probabilities",
    "ring_windows",
    "rt_ms",
    "save_npz",
    "search",
    "search_experiments",
    "search_features",
    "search_per_fixation",
    "shipped",
    "simulate_quitting",
    "target_features",
    "target_kernels",
    "train_and_export",
    "train_backbone",
    "uniform_plan",
    "variant",
    "weights_dir",
    "widths_of",
]
