"""Search display generation: argument checks (the displays themselves: tests/models/eccnet)."""

from __future__ import annotations

import jax
import pytest

from cogsim.errors import CogsimError
from cogsim.tasks import search_displays as sd


@pytest.mark.parametrize("size", [2.5, 0, True])
def test_a_set_size_that_is_not_a_whole_number_in_range_is_named(size):
    with pytest.raises(CogsimError, match=rf"set size {size} must be in \[1, "):
        sd.make_trials(sd.EXPERIMENTS[5], key=jax.random.key(0), ppd=15.0, n_trials=1, set_sizes=(size,))
