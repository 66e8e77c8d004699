"""How the fitting layer compiles its two large programs: the multi-start solver
(:mod:`cogsim.fit._solve`) and the profile-interval search (:mod:`cogsim.fit._profile`).

Both are long ``while_loop``\\s over a model's likelihood and gradient; on a CPU a first fit spends most of
its time compiling them. :data:`COMPILER_OPTIONS` is passed to XLA for these programs only (other programs,
and anything else in the process, keep XLA's defaults); the measurements behind it are in the fitting log,
"XLA's elemental emitters for the solver".
"""

from __future__ import annotations

import jax

#: XLA options for the solver's and the profile search's programs: the CPU backend's elemental emitters
#: instead of its fusion emitters (ignored by other backends)
COMPILER_OPTIONS: dict[str, bool] = {"xla_cpu_use_fusion_emitters": False}


def jit(fun):
    """``jax.jit(fun)`` compiled with :data:`COMPILER_OPTIONS`.

    Example:
      >>> import jax.numpy as jnp
      >>> float(jit(lambda x: jnp.sin(x) ** 2 + jnp.cos(x) ** 2)(0.3))
      1.0
    """
    return jax.jit(fun, compiler_options=COMPILER_OPTIONS)
