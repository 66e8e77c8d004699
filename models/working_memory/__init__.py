"""Models of visual working memory, in the form ``cogsim.fit`` fits (parameters, per-trial log-likelihood in
pure JAX, simulator).

Delayed estimation (trial columns ``set_size``, ``error_rad``; ``nontargets`` for swaps): :data:`UNIFORM`,
:data:`MIXTURE2P` (Zhang & Luck 2008), :data:`MIXTURE3P` (Bays et al. 2009), :data:`SLOTS_AVERAGING`
(Zhang & Luck 2008), :data:`VP` (van den Berg et al. 2012) and :data:`WORKSPACE` (the consciousness-prior
workspace as a process model). Change detection (``set_size``, ``change``, ``correct``; ``base_rate``):
:data:`FIXED_CAPACITY` (Rouder et al. 2008), :data:`SDT` and their base-rate variants.

Example:
  >>> import jax.numpy as jnp
  >>> from cogsim.models import working_memory as wm
  >>> trials = {"set_size": jnp.array([1, 6]), "error_rad": jnp.array([0.1, 2.5])}
  >>> ll = wm.MIXTURE2P.loglik({"p_mem": jnp.array(0.9), "sd_rad": jnp.array(0.3)}, trials)
  >>> ll.shape
  (2,)
"""

from cogsim.models.working_memory._change_detection import (
    FIXED_CAPACITY,
    FIXED_CAPACITY_BASE_RATE,
    SDT,
    SDT_BASE_RATE,
)
from cogsim.models.working_memory._circular import kappa_from_j, kappa_from_sd, sd_from_kappa, vm_logpdf
from cogsim.models.working_memory._mixture import MIXTURE2P, MIXTURE3P, UNIFORM
from cogsim.models.working_memory._model import Spec, WMModel
from cogsim.models.working_memory._recovery import (
    MAIN_PARAMETERS,
    RECOVERY_RANGES,
    RECOVERY_SEED,
    RECOVERY_STARTS,
)
from cogsim.models.working_memory._slots import SLOTS_AVERAGING
from cogsim.models.working_memory._vp import VP
from cogsim.models.working_memory._workspace import WORKSPACE

DELAYED_ESTIMATION = {m.name: m for m in (UNIFORM, MIXTURE2P, MIXTURE3P, SLOTS_AVERAGING, VP, WORKSPACE)}
CHANGE_DETECTION = {m.name: m for m in (FIXED_CAPACITY, SDT, FIXED_CAPACITY_BASE_RATE, SDT_BASE_RATE)}

__all__ = [
    "CHANGE_DETECTION",
    "DELAYED_ESTIMATION",
    "FIXED_CAPACITY",
    "FIXED_CAPACITY_BASE_RATE",
    "MAIN_PARAMETERS",
    "MIXTURE2P",
    "MIXTURE3P",
    "RECOVERY_RANGES",
    "RECOVERY_SEED",
    "RECOVERY_STARTS",
    "SDT",
    "SDT_BASE_RATE",
    "SLOTS_AVERAGING",
    "UNIFORM",
    "VP",
    "WORKSPACE",
    "Spec",
    "WMModel",
    "kappa_from_j",
    "kappa_from_sd",
    "sd_from_kappa",
    "vm_logpdf",
]
