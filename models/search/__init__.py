"""Models of visual search response times and errors, in the form ``cogsim.fit`` fits.

Trial columns: ``set_size``, ``target_present`` (0/1), ``correct`` (0/1), ``rt_ms``. Models:
:data:`CGS` (Competitive Guided Search, Moran et al. 2013), :data:`SERIAL` (serial self-terminating search)
and :data:`PARALLEL` (unlimited-capacity parallel search). Each has an exact per-trial likelihood of the RT
and the response and a step-by-step simulator.

Example:
  >>> import jax, jax.numpy as jnp
  >>> from cogsim.models import search
  >>> sorted(search.MODELS)
  ['cgs', 'parallel', 'serial']
  >>> p = {q.name: jnp.float32(q.default) for q in search.CGS.params}
  >>> t = search.CGS.design(4, key=jax.random.key(0))
  >>> sorted(jax.jit(search.CGS.simulate)(p, t, key=jax.random.key(1)))  # compiled once, not op by op
  ['correct', 'rt_ms']
"""

from cogsim.models.search._baselines import Parallel, SerialSelfTerminating
from cogsim.models.search._cgs import CGS_MODEL as CGS
from cogsim.models.search._cgs import cgs_outcome_probs, design
from cogsim.models.search._timing import CONTAMINANT, MAX_ITEMS, RT_MAX_S, mixture_loglik, responded_present

SERIAL = SerialSelfTerminating()
PARALLEL = Parallel()
MODELS = {m.name: m for m in (CGS, SERIAL, PARALLEL)}

__all__ = [
    "CGS",
    "CONTAMINANT",
    "MAX_ITEMS",
    "MODELS",
    "PARALLEL",
    "RT_MAX_S",
    "SERIAL",
    "cgs_outcome_probs",
    "design",
    "mixture_loglik",
    "responded_present",
]
