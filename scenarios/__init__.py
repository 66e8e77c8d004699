"""Behavioural scenarios: one module per paradigm, each simulating a classic experiment and comparing it
with human data through the same small protocol.

A scenario module defines:

- ``DESCRIPTION``: one line.
- ``Config``: a frozen dataclass (defaults = the published setting) and
  ``PRESETS = {"quick": ..., "paper": ...}``.
- ``simulate(config, *, key) -> pandas.DataFrame``: tidy results.
- ``reference(config=None) -> cogsim.reference.Reference``: the reference table (human data from
  :mod:`cogsim.data`, or a user's file) and its kind: trial level, published means, or none.
- ``compare(sim, human) -> cogsim.compare.Comparison``.
- ``plot(sim, human, ax=None)``: a matplotlib Axes or Figure.

Optionally, for vectorised sweeps, ``sweep_point(config, *, key) -> dict[str, jax.Array]`` (pure JAX, scalar
outputs) and ``SWEEP_VECTORIZED = ("field", ...)``: fields that may be traced (varied under ``jax.vmap``).

Modules are discovered by name: adding ``scenarios/my_paradigm.py`` registers ``my_paradigm``. The contract
is written as a ``typing.Protocol`` in :mod:`cogsim.scenario_protocol`; looking scenarios up by name is the
application layer's job (:mod:`cogsim.scenario_registry`, used by the runner, sweeps and the command line).
"""
