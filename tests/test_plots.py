"""The standard figures: every group drawn, intervals drawn as given, bad columns and arguments named."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from cogsim import plots
from cogsim.errors import CogsimError


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _labels(ax) -> list[str]:
    return sorted(t.get_text() for t in ax.get_legend().get_texts())


def test_model_groups_absent_from_the_human_data_are_drawn():
    model = pd.DataFrame({"n": [1, 2, 1, 2], "acc": [0.9, 0.8, 0.7, 0.6], "cond": ["a", "a", "b", "b"]})
    human = model[model["cond"] == "a"]
    ax = plots.model_vs_human(model, human, x="n", y="acc", hue="cond")
    assert _labels(ax) == ["human cond=a", "model cond=a", "model cond=b"]
    ax = plots.model_vs_human(model, human.iloc[:0], x="n", y="acc", hue="cond")  # no human data at all
    assert _labels(ax) == ["model cond=a", "model cond=b"]


def test_a_nan_hue_is_refused_naming_the_column():
    model = pd.DataFrame({"n": [1, 2], "acc": [0.9, 0.8], "cond": ["a", None]})
    with pytest.raises(CogsimError, match="hue='cond'.*1 row"):
        plots.model_vs_human(model, model.iloc[:1], x="n", y="acc", hue="cond")


def test_an_interval_that_excludes_its_point_is_drawn_with_its_bounds():
    model = pd.DataFrame({"n": [1, 2], "acc": [0.5, 0.6], "lo": [0.55, 0.4], "hi": [0.7, 0.8]})
    ax = plots.model_vs_human(model, model, x="n", y="acc", yerr_low="lo", yerr_high="hi")
    (segments,) = [c.get_segments() for c in ax.collections if len(c.get_segments()) == 2]
    assert [sorted(s[:, 1].tolist()) for s in segments] == [[0.55, 0.7], [0.4, 0.8]]


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"x": "nope", "y": "acc"}, "x='nope'"),
        ({"x": "n", "y": "nope"}, "y='nope'"),
        ({"x": "n", "y": "acc", "hue": "nope"}, "hue='nope'"),
        ({"x": "n", "y": "acc", "yerr_low": "lo", "yerr_high": "hgh"}, "yerr_high='hgh'"),
        ({"x": "n", "y": "acc", "yerr_low": "lo"}, "yerr_high=None"),
        ({"x": "n", "y": "acc", "human_yerr": "sem_typo"}, "human_yerr='sem_typo'"),
    ],
)
def test_missing_columns_are_named(kwargs, named):
    d = pd.DataFrame({"n": [1, 2], "acc": [0.5, 0.6], "lo": [0.4, 0.5], "hi": [0.6, 0.7]})
    with pytest.raises(CogsimError, match=named):
        plots.model_vs_human(d, d, **kwargs)


def test_x_values_of_mixed_types_are_refused():
    d = pd.DataFrame({"n": [1, "two"], "acc": [0.5, 0.6]})
    with pytest.raises(CogsimError, match="x='n'.*int, str"):
        plots.model_vs_human(d, d, x="n", y="acc")


def test_panels_need_positive_counts_and_curve_takes_one_name():
    for kwargs in ({"n": 0}, {"n": -1}, {"n": 3, "ncols": 0}, {"n": 2.5}):
        with pytest.raises(CogsimError, match="allowed: an integer >= 1"):
            plots.panels(**kwargs)
    d = pd.DataFrame({"step": [0, 1], "acc": [0.1, 0.2]})
    ax = plots.curve(d, x="step", ys="acc")
    assert [line.get_label() for line in ax.get_lines()] == ["acc"]
    with pytest.raises(CogsimError, match="loss"):
        plots.curve(d, x="step", ys=["acc", "loss"])
    assert math.isclose(ax.get_lines()[0].get_ydata()[1], 0.2)
