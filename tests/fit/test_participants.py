"""default_by: the participant columns of ``cogsim fit`` without ``--by`` (files built from the packaged
Wolfe et al. 2010 rows)."""

import pandas as pd
import pytest

from cogsim import data
from cogsim.fit._participants import default_by
from cogsim.models import paradigms

COLUMNS = ["task", "subject", "set_size", "target_present", "correct", "rt_ms"]


def _three_tasks_one_subject(n=150):
    w = data.load("visual_search_wolfe2010")
    w = w[w.subject == 1]
    return w[w.groupby("task").cumcount() < n][COLUMNS].reset_index(drop=True)


def test_visual_search_units_are_task_x_subject_and_the_choice_is_logged():
    said = []
    t = paradigms.get("visual_search").read(_three_tasks_one_subject())
    assert default_by(t, log=said.append) == ("task", "subject")
    assert len(said) == 1 and "task x subject, 3 in all" in said[0] and "--by subject" in said[0]


def test_visual_search_units_nest_in_experiment_when_subject_ids_repeat():
    t = _three_tasks_one_subject()
    two = pd.concat([t.assign(experiment="E1"), t.assign(experiment="E2")], ignore_index=True)
    said = []
    read = paradigms.get("visual_search").read(two)
    assert default_by(read, log=said.append) == ("task", "experiment", "subject")
    assert any("6 in all" in s for s in said)


def test_visual_search_without_a_task_column_and_other_paradigms_keep_subject():
    t = paradigms.get("visual_search").read(_three_tasks_one_subject().drop(columns="task"))
    said = []
    assert default_by(t, log=said.append) == ("subject",) and said == []
    de = pd.DataFrame({"subject": [1, 1, 2], "set_size": 2, "error_rad": 0.1, "task": ["a", "b", "a"]})
    assert default_by(paradigms.get("delayed_estimation").read(de), log=said.append) == ("subject",)


@pytest.mark.parametrize(("by", "n"), [(None, 3), (("subject",), 1)])
def test_cogsim_fit_visual_search_fits_each_task_separately_unless_by_pools(tmp_path, by, n):
    from cogsim.fitting_command import run

    path = tmp_path / "three_tasks.csv"
    _three_tasks_one_subject().to_csv(path, index=False)
    folder = run(
        "visual_search", path, models="parallel", by=by, ci=None, out=tmp_path / "o", log=lambda _: None
    )
    fits = pd.read_parquet(folder / "fits.parquet")
    cols = [c for c in ("task", "subject") if c in fits.columns]
    assert fits[cols].drop_duplicates().shape[0] == n


def test_nested_participant_labels_never_collide():
    from cogsim.fit._participants import labels

    f = pd.DataFrame({"experiment": ["a", "a/b", "1"], "subject": ["b/c", "c", "2"]})
    nested = labels(f, ("experiment", "subject"))
    assert nested.nunique() == 3 and nested.iloc[2] == "1/2"
    assert labels(f, ("subject",)).tolist() == ["b/c", "c", "2"]


def test_the_data_line_does_not_call_a_by_column_kept_aside():
    from cogsim.fit._participants import data_line

    t = pd.DataFrame({"subject": [1, 2], "set_size": [2, 4], "stimulus": ["a", "b"], "note": ""})
    t.attrs["extra_columns"] = ["stimulus", "note"]
    assert data_line(t, ("stimulus", "subject")).endswith(
        "(stimulus x subject), set sizes 2, 4; extra columns kept aside: note"
    )
