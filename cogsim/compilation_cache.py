"""JAX's persistent compilation cache for cogsim's commands.

A scenario compiles its jitted functions anew in every process: a third of ``synthetic_shelf_search``'s
quick run and about as much of ``icl_abrupt_learning``'s is XLA compilation. With the cache on, a rerun of
the same scenario (any seed or value that does not change an array's shape) loads the compiled programs
from disk instead. The compiled programs are the same, so the numbers are the same.

``cogsim run``, ``cogsim suite``, ``cogsim sweep`` and ``cogsim fit`` turn it on with :func:`enable`. Where
the cache lives:

- ``COGSIM_COMPILATION_CACHE=off`` (or ``0``, ``false``, ``no``, empty): no cache;
- ``COGSIM_COMPILATION_CACHE=/some/dir``: that folder;
- otherwise ``$XDG_CACHE_HOME/cogsim/jax`` (``~/.cache/cogsim/jax``).

A cache that JAX was already given (``JAX_COMPILATION_CACHE_DIR`` or ``jax.config``) is left as it is.
The folder is kept under :data:`MAX_SIZE_BYTES` by dropping the least recently used programs (a size set in
``jax.config`` is kept). Deleting the folder is always safe.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV = "COGSIM_COMPILATION_CACHE"
_OFF = {"", "0", "off", "false", "no", "none"}

#: programs that compile faster than this are not written (JAX's own default is 1 s; most of cogsim's
#: scenario programs compile in 0.1-5 s). Not 0: with a size limit, JAX reads every entry of the folder
#: before each write, so a write costs more the fuller the folder (docs/fitting_log.md, "Every compiled
#: program into the persistent cache", reverted)
MIN_COMPILE_TIME_S = 0.1

#: the folder's size limit (the quick suite fills about 35 MB)
MAX_SIZE_BYTES = 2 * 1024**3


def default_directory() -> Path | None:
    """The folder :func:`enable` would use, from ``COGSIM_COMPILATION_CACHE`` and ``XDG_CACHE_HOME``; None
    when the variable turns the cache off (or no home folder can be found).

    Example:
      >>> import os
      >>> from unittest import mock
      >>> with mock.patch.dict(os.environ, {"COGSIM_COMPILATION_CACHE": "off"}):  # restored afterwards
      ...     default_directory() is None
      True
    """
    value = os.environ.get(ENV)
    if value is not None:
        return None if value.strip().lower() in _OFF else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = Path.home() / ".cache"
        except RuntimeError:  # no home directory to be found: no cache
            return None
    return Path(base) / "cogsim" / "jax"


def enable(
    directory: str | os.PathLike | None = None, *, max_size_bytes: int = MAX_SIZE_BYTES
) -> Path | None:
    """Turns on JAX's persistent compilation cache in ``directory`` (default: :func:`default_directory`),
    holding at most ``max_size_bytes`` (least recently used programs are dropped first).

    Returns the folder in use, or None when the cache stays off (turned off by ``COGSIM_COMPILATION_CACHE``,
    or a folder that cannot be created: a one-line warning, and the command runs without it). A cache
    folder already given to JAX is kept and returned.

    Example:
      >>> import tempfile
      >>> from cogsim import compilation_cache
      >>> folder = compilation_cache.enable(tempfile.mkdtemp())  # later compilations are stored there
    """
    import jax

    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    path = Path(directory).expanduser() if directory is not None else default_directory()
    if path is None:
        return None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"cogsim: compilation cache off ({path}: {exc.strerror or exc})", file=sys.stderr)
        return None
    from jax.experimental.compilation_cache import compilation_cache

    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_S)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    if jax.config.jax_compilation_cache_max_size == -1:  # JAX's default: no limit
        jax.config.update("jax_compilation_cache_max_size", int(max_size_bytes))
    compilation_cache.reset_cache()  # JAX decides on its cache at the first compilation; decide again
    return path
