"""The declared parameter-recovery settings of the working-memory models: one table, read by
``benchmarks/recovery.py`` and by the recovery tests.

:data:`RECOVERY_RANGES` gives, per model, the range each parameter of a simulated participant is drawn from
(uniformly); the ranges and their sources are in docs/fitting.md ("Parameter and model recovery"), declared
before the first run and not moved after a result. :data:`MAIN_PARAMETERS` names the parameters whose
recovery the acceptance criterion (r > 0.9 over 50 participants x 500 trials) applies to; a base-rate
variant's main parameters are its base model's. :data:`RECOVERY_SEED` and :data:`RECOVERY_STARTS` are the
benchmark's defaults, so that a test at the benchmark's sizes reproduces its numbers.

Example:
  >>> from cogsim.models import working_memory as wm
  >>> wm.RECOVERY_RANGES["slots_averaging"]
  {'K': (1.5, 5.0), 'sd1_rad': (0.15, 0.6)}
"""

from __future__ import annotations

#: model -> parameter -> (low, high), drawn uniformly per simulated participant
RECOVERY_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "mixture2p": {"p_mem": (0.3, 0.98), "sd_rad": (0.15, 0.8)},
    "mixture3p": {"p_mem": (0.3, 0.98), "p_swap": (0.02, 0.3), "sd_rad": (0.15, 0.8)},
    "slots_averaging": {"K": (1.5, 5.0), "sd1_rad": (0.15, 0.6)},
    "vp": {"J1": (10.0, 60.0), "alpha": (0.5, 2.0), "tau": (3.0, 40.0)},
    "workspace": {"K": (1.5, 5.0), "sd1_rad": (0.1, 0.5), "s": (0.1, 3.0)},
    "fixed_capacity": {"K": (1.5, 5.0), "a": (0.8, 0.99), "g": (0.3, 0.7)},
    "fixed_capacity_base_rate": {"K": (1.5, 5.0), "a": (0.8, 0.99), "g": (0.3, 0.7), "g_shift": (0.0, 1.0)},
    "sdt": {"d1": (2.0, 6.0), "alpha": (0.3, 1.2), "c": (-0.5, 0.5)},
    "sdt_base_rate": {"d1": (2.0, 6.0), "alpha": (0.3, 1.2), "c": (-0.5, 0.5), "c_shift": (0.0, 1.0)},
}

#: model -> the parameters the acceptance criterion r > 0.9 applies to
MAIN_PARAMETERS: dict[str, tuple[str, ...]] = {
    "mixture2p": ("p_mem", "sd_rad"),
    "mixture3p": ("p_mem", "p_swap", "sd_rad"),
    "slots_averaging": ("K", "sd1_rad"),
    "vp": ("J1", "alpha"),
    "workspace": ("K", "sd1_rad"),
    "fixed_capacity": ("K",),
    "fixed_capacity_base_rate": ("K",),
    "sdt": ("d1", "alpha"),
    "sdt_base_rate": ("d1", "alpha"),
}

RECOVERY_SEED = 0
RECOVERY_STARTS = 2
