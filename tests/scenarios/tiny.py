"""Tiny settings of every scenario, for the tests: the quick preset with a few fields made small.

:data:`TINY` maps a scenario name to ``Config`` field overrides of its quick preset (dotted keys reach nested
configs), small enough that ``simulate`` and ``compare`` take seconds: they check that the scenario runs end
to end, not what it finds. They are test settings, not presets: no result of them is reported anywhere.

Usage in a test::

    from tests.scenarios.tiny import tiny

    cfg = tiny("change_detection")                 # quick preset + TINY["change_detection"]
    cfg = tiny("change_detection", n_boot=20)      # ... + more overrides
"""

from __future__ import annotations

import importlib
from typing import Any

from cogsim import config as cfglib

# a few training steps with tiny batches and test sets (the induction-head scenarios)
_SMOKE = {"num_steps": 4, "log_every": 2, "n_test": 16, "eval_chunk": 16, "n_seeds": 1, "batch_size": 8}

TINY: dict[str, dict[str, Any]] = {
    "attentional_blink": {
        "trials": 150,
        "lags": (1, 2, 3, 4, 7, 8),
        "fit_grid_ms": (300.0, 450.0, 600.0),
        "fit_boot": 50,
    },
    "book_cover_scanpaths": {
        "d_model": 24,
        "n_heads": 2,
        "d_ff": 24,
        "n_layers": 1,
        "max_epochs": 1,
        "patience": 1,
        "n_samples": 4,
        "max_len": 12,  # one decoding chunk (compact_every): a few compilations instead of a dozen
        "appearance": "none",  # layout only, so that the tests cover appearance="none"
        "folds": 0,  # one model on the training collages (the quick preset cross-validates)
        "holdout_every": 0,
        "train_last": 24,
        "eval_last": 68,
    },
    "change_detection": {
        "models": ("fixed_capacity",),
        "n_boot": 30,
        "fit_steps": 600,
        "per_participant": False,
    },
    "delayed_estimation": {"models": ("uniform", "mixture2p"), "max_subjects": 2, "n_boot": 50},
    "developmental_diet": {
        "ppd": (20.0,),
        "n_trials": 1,
        "experiments": (2,),
        "diets": ("normal", "rot90"),
        "seeds": (0, 1),
    },
    "dual_process": {**_SMOKE, "reset_every": 2, "forget_until": 2},
    "episodic_recall": {
        "n_episodes": (4, 8),
        "n_seeds": 1,
        "epochs": 60,
        "min_steps": 200,
        "dim": 8,
        "wm_dim": 16,
    },
    "family_trees": {"n_seeds": 1, "n_test_large": 10, "num_steps": 50, "dim": 8, "wm_dim": 8},
    "icl_abrupt_learning": {**_SMOKE, "failure_case": False},
    "icl_data_dependence": {
        **_SMOKE,
        "Bs": (0, 2),
        "Ks": (32, 256),
        "epss": (0.1,),
        "alphas": (0.0, 1.0),
        "p_Bs": (1.0,),
        "p_Cs": (0.0, 0.5),
    },
    "iconic_memory": {
        "n_trials": 100,
        "n_fit_trials": 40,
        "tau_grid": (0.1, 0.3, 1.0),
        "k_grid": (4.0, 5.0),
        "n_boot": 50,
    },
    "kg_semantic_memory": {
        "dim": 16,
        "wm_dim": 16,
        "num_steps": 60,
        "eval_every": 30,
        "n_boot": 20,
        "search_budget": 2,
        "relational": "tucker",
    },
    "search_rt_distributions": {
        "tasks": ("conjunction",),
        "models": ("cgs", "serial", "eccnet"),
        "max_subjects": 2,
        "max_trials": 300,
        "n_sim": 500,
        "n_starts": 1,
        "n_boot": 50,
        "ecc_displays": 1,
    },
    "semantic_verification": {"dim": 16, "wm_dim": 16, "num_steps": 300, "n_seeds": 1, "umls": False},
    "sparse_factor_world": {
        "n_vars": 8,
        "n_factors": 5,
        "train_sizes": (8, 32),
        "seeds": 1,
        "train_steps": 20,
        "seq_len": 3,
        "slot_dim": 8,
        "top_k": 3,
        "n_test": 16,
        "batch": 8,
    },
    "synthetic_shelf_search": {
        "d_model": 24,
        "n_heads": 2,
        "d_ff": 24,
        "n_layers": 1,
        "epochs": 1,
        "patience": 10,
        "n_val_displays": 0,
        "n_train_displays": 20,
        "n_eval_displays": 4,
        "eval_paths_per_display": 3,
        "n_samples": 3,
        "similar_levels": (0, 8),
        "models": ("cnn",),
    },
    "visual_search_asymmetry": {
        "ppd": (20.0,),
        "n_trials": 1,
        "experiments": (2,),
        "ablations": ("last_layer",),
        "ablation_trials": None,
    },
}


def tiny(name: str, **more: Any) -> Any:
    """Scenario ``name``'s quick preset with :data:`TINY` ``[name]`` and then ``more`` applied (validated)."""
    mod = importlib.import_module(f"cogsim.scenarios.{name}")
    return cfglib.replace(mod.PRESETS["quick"], **{**TINY[name], **more})
