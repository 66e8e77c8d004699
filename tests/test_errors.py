"""cogsim.errors.check_count: the one check of whole-number arguments (sizes, resamples, starts, top_k), with
one wording: "<where>: got <name>=<value>; allowed: an integer >= <low>" (or "from <low> to <high>")."""

from __future__ import annotations

import re

import numpy as np
import pytest

from cogsim.errors import CogsimError, check_count


@pytest.mark.parametrize("value", [1, 7, np.int64(7), np.int32(7), np.uint8(7), np.int16(1)])
def test_python_and_numpy_integers_are_returned_as_plain_ints(value):
    got = check_count("f", "n", value)
    assert got == int(value) and type(got) is int


@pytest.mark.parametrize(
    "value, allowed",
    [
        (True, "an integer >= 1"),  # a bool is not a count, though it is an int
        (False, "an integer >= 1"),
        (np.True_, "an integer >= 1"),
        (3.0, "an integer >= 1"),  # integral floats are refused too
        (np.float64(3.0), "an integer >= 1"),
        (2.5, "an integer >= 1"),
        ("3", "an integer >= 1"),
        (None, "an integer >= 1"),
        (0, "an integer >= 1"),
        (-1, "an integer >= 1"),
        (np.int64(-4), "an integer >= 1"),
    ],
)
def test_what_is_not_a_whole_number_at_least_low_is_refused_naming_it(value, allowed):
    with pytest.raises(CogsimError) as err:
        check_count("fit", "n_starts", value)
    assert str(err.value) == f"fit: got n_starts={value!r}; allowed: {allowed}"


def test_low_sets_the_minimum_and_zero_may_be_allowed():
    assert check_count("diet_batch", "batch_size", 0, low=0) == 0
    with pytest.raises(CogsimError, match=re.escape("got batch_size=-1; allowed: an integer >= 0")):
        check_count("diet_batch", "batch_size", -1, low=0)
    assert check_count("fit", "n_boot", 10, low=10) == 10
    with pytest.raises(CogsimError, match=re.escape("fit: got n_boot=9; allowed: an integer >= 10")):
        check_count("fit", "n_boot", 9, low=10)


def test_high_is_an_inclusive_upper_limit_named_with_the_detail():
    assert check_count("topk_attention", "top_k", 8, high=8) == 8
    assert check_count("topk_attention", "top_k", np.int64(1), high=8) == 1
    for value in (9, np.int64(9), 0):
        with pytest.raises(CogsimError) as err:
            check_count("topk_attention", "top_k", value, high=8, detail=" (k_len=8, kernel limit 256)")
        allowed = "an integer from 1 to 8 (k_len=8, kernel limit 256)"
        assert str(err.value) == f"topk_attention: got top_k={value!r}; allowed: {allowed}"


def test_the_detail_follows_what_is_allowed():
    with pytest.raises(CogsimError) as err:
        check_count("fit", "cv", 1, low=2, detail=" (folds), or None")
    assert str(err.value) == "fit: got cv=1; allowed: an integer >= 2 (folds), or None"


def test_without_high_there_is_no_upper_limit():
    assert check_count("f", "n", 10**30) == 10**30
    assert check_count("f", "n", np.iinfo(np.int64).max) == np.iinfo(np.int64).max
