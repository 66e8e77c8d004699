"""Memory caps: a config whose largest arrays would not fit in this machine's memory is refused before any
computation, with one line naming the field, its value, the bytes needed and the bytes available.

A scenario declares what a config needs with a function ``memory_bytes(config) -> {field: bytes}``: for each
size field that drives a stage of the computation, the bytes of the arrays that stage holds at once, counted
from the shapes in the code (e.g. ``n_trials x reads x dim x 4`` bytes of float32 readout). Stages run one
after another, so the need of a config is the largest entry. A vectorised sweep's chunk needs its number of
points times the bytes ``sweep_point_bytes(config)`` declares for one point.

The memory available is ``MemAvailable`` of ``/proc/meminfo`` (free plus reclaimable memory; on other
systems the free physical pages), or the number of bytes in the environment variable ``COGSIM_MEMORY_BYTES``
(for tests, or to reserve memory for other work). The static ``high`` of each field stays as an absolute
sanity bound; this check adds what this machine can actually run. The estimates count the dominant arrays
only; their measured ratios to the peak resident memory are in ``docs/memory.md``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

from cogsim.errors import CogsimError, ConfigError

#: the environment variable that overrides the memory available (bytes)
MEMORY_ENV = "COGSIM_MEMORY_BYTES"


def available_bytes() -> tuple[int | None, str]:
    """The memory a run may use, in bytes, and where the number comes from (None when it is unknown).

    Example:
      >>> import os
      >>> os.environ["COGSIM_MEMORY_BYTES"] = "2e9"
      >>> available_bytes()
      (2000000000, 'COGSIM_MEMORY_BYTES')
      >>> del os.environ["COGSIM_MEMORY_BYTES"]
    """
    text = os.environ.get(MEMORY_ENV, "").strip()
    if text:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not value >= 1 or value == float("inf"):
            raise CogsimError(f"{MEMORY_ENV}: got {text!r}; allowed: a positive number of bytes (e.g. 8e9)")
        return int(value), MEMORY_ENV
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"), "free physical memory"
    except (ValueError, OSError, AttributeError):
        return None, "unknown"


def format_bytes(n: float) -> str:
    """``n`` bytes in readable units.

    Example:
      >>> format_bytes(3 * 2**30), format_bytes(1500)
      ('3.0 GiB', '1.5 KiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _get(cfg: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _largest_fitting(cfg: Any, name: str, need: Callable[[Any], Mapping[str, int]], avail: int) -> int | None:
    """The largest value of the integer field ``name`` whose estimate fits ``avail`` (bisection), if any."""
    value = _get(cfg, name)
    if "." in name or isinstance(value, bool) or not isinstance(value, int):
        return None
    f = {f.name: f for f in dataclasses.fields(cfg)}[name]
    lo = f.metadata.get("low")
    lo = max(int(lo) if lo is not None else 0, 0)

    def fits(v: int) -> bool:
        return need(dataclasses.replace(cfg, **{name: v})).get(name, 0) <= avail

    if not fits(lo):
        return None
    hi = value
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid)
    return lo


def check_fits(cfg: Any, need: Callable[[Any], Mapping[str, int]]) -> None:
    """Raises a one-line ConfigError when the largest entry of ``need(cfg)`` exceeds the memory available
    (:func:`available_bytes`); does nothing when that is unknown.

    Args:
      cfg: the config about to run.
      need: ``memory_bytes``-style function: ``{field: bytes}`` for each stage's size field.

    Raises:
      ConfigError: naming the field, its value, the estimate, the memory available and what to lower.

    Example:
      >>> import dataclasses, os
      >>> @dataclasses.dataclass(frozen=True)
      ... class C:
      ...     n: int = 10
      >>> os.environ["COGSIM_MEMORY_BYTES"] = "1000"
      >>> check_fits(C(n=10), lambda c: {"n": 8 * c.n})
      >>> check_fits(C(n=1000), lambda c: {"n": 8 * c.n})
      Traceback (most recent call last):
      ...
      cogsim.errors.ConfigError: config field 'n': got 1000; allowed: a size whose arrays fit in memory: \
this needs about 7.8 KiB, 1000 B are available (COGSIM_MEMORY_BYTES); lower n to at most 125
      >>> del os.environ["COGSIM_MEMORY_BYTES"]
    """
    estimates = {k: int(v) for k, v in need(cfg).items()}
    avail, source = available_bytes()
    if not estimates or avail is None:
        return
    name, est = max(estimates.items(), key=lambda kv: kv[1])
    if est <= avail:
        return
    best = _largest_fitting(cfg, name, need, avail)
    advice = f"lower {name}" + (f" to at most {best}" if best is not None else "")
    raise ConfigError(
        name,
        _get(cfg, name),
        f"a size whose arrays fit in memory: this needs about {format_bytes(est)}, "
        f"{format_bytes(avail)} are available ({source}); {advice}",
    )


def check_scenario(mod: Any, cfg: Any) -> None:
    """:func:`check_fits` with the scenario's ``memory_bytes`` (nothing to check when it declares none)."""
    need = getattr(mod, "memory_bytes", None)
    if need is not None:
        check_fits(cfg, need)


def check_sweep_chunk(mod: Any, cfg: Any, points: int) -> None:
    """Raises a one-line CogsimError when a vectorised sweep chunk of ``points`` points (the scenario's
    ``sweep_point_bytes(cfg)`` each) exceeds the memory available; nothing to check when it declares none.

    Example:
      >>> import os, types
      >>> mod = types.SimpleNamespace(sweep_point_bytes=lambda cfg: 1000)
      >>> os.environ["COGSIM_MEMORY_BYTES"] = "1e6"
      >>> check_sweep_chunk(mod, None, 1000)
      >>> check_sweep_chunk(mod, None, 5000)
      Traceback (most recent call last):
      ...
      cogsim.errors.CogsimError: sweep: chunk_size: got 5000 points at once; allowed: a chunk whose arrays \
fit in memory: this needs about 4.8 MiB, 976.6 KiB are available (COGSIM_MEMORY_BYTES); lower chunk_size to \
at most 1000
      >>> del os.environ["COGSIM_MEMORY_BYTES"]
    """
    per_point = getattr(mod, "sweep_point_bytes", None)
    if per_point is None:
        return
    each = int(per_point(cfg))
    avail, source = available_bytes()
    if avail is None or each * points <= avail:
        return
    raise CogsimError(
        f"sweep: chunk_size: got {points} points at once; allowed: a chunk whose arrays fit in memory: this "
        f"needs about {format_bytes(each * points)}, {format_bytes(avail)} are available ({source}); "
        f"lower chunk_size to at most {max(avail // max(each, 1), 1)}"
    )
