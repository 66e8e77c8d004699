"""Former home of the sweep executors, now :mod:`cogsim.sweep.executors`; this name stays an alias of it."""

import sys

from cogsim.sweep import executors as _executors

sys.modules[__name__] = _executors
