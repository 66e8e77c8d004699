"""The scenarios' data fields take any trial file in the paradigm's schema (simulated files here, written by
tests/simulated_trials.py): other set sizes, ids as written (``007`` and ``7`` are two participants), and a
delayed-estimation CSV beside the packaged data sets, named by its stem, its sha256 recorded in run.json."""

import hashlib
import json

import jax
import pytest

from cogsim import config as cfglib
from cogsim import runner
from cogsim.errors import DataError
from cogsim.scenarios import change_detection as cd
from cogsim.scenarios import delayed_estimation as de
from cogsim.scenarios import search_rt_distributions as srd
from tests import simulated_trials as sim

IDS = {1: "007", 2: "7", 3: "obs ü"}


def test_delayed_estimation_runs_a_csv_named_by_its_stem_and_records_its_sha256(tmp_path):
    trials = sim.delayed_estimation((2, 20), n_per=30, n_sub=3)  # 20: beyond workspace's tables (1-16)
    path = tmp_path / "my lab.csv"
    trials.assign(subject=trials.subject.map(IDS)).to_csv(path, index=False)
    res = runner.run(
        "delayed_estimation",
        overrides=[f"datasets={path}", "models=uniform,mixture2p,workspace", "n_boot=20"],
        out=tmp_path / "runs",
    )
    fits = res.results[res.results.kind == "fit"]
    assert set(fits.dataset) == {"my lab"} and set(fits.model) == {"uniform", "mixture2p"}
    assert sorted(fits[fits.model == "mixture2p"].unit) == sorted(IDS.values())
    record = json.loads((res.folder / "run.json").read_text())
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["data_files"] == [{"dataset": "my lab", "path": str(path.resolve()), "sha256": sha}]
    assert record["skipped_models"] == {
        "my lab.workspace": "set sizes up to 20; model workspace covers 1 to 16"
    }
    # the paper preset's verdict is about the packaged data, not this file
    assert res.comparison.paper is None
    skipped = res.comparison.tables["skipped_models"]  # printed with the summary, not only in run.json
    assert skipped.to_dict("records") == [
        {
            "dataset": "my lab",
            "model": "workspace",
            "reason": "set sizes up to 20; model workspace covers 1 to 16",
        }
    ]
    names = [m.name for m in res.comparison.metrics]
    assert "my lab.guess_rate_rise" in names and "my lab.mixture2p.delta_aic" in names
    assert set(res.human.dataset) == {"zhang_luck2008", "vandenberg2012", "my lab"}


def test_delayed_estimation_datasets_refuse_a_missing_file_and_duplicate_names(tmp_path):
    with pytest.raises(cfglib.ConfigError, match="datasets.*existing .csv, .tsv or .parquet files"):
        cfglib.validate(de.Config(datasets=("zhang_luck2008", str(tmp_path / "missing.csv"))))
    (tmp_path / "a").mkdir()
    sim.delayed_estimation((2,), n_per=20, n_sub=1).to_csv(tmp_path / "x.csv", index=False)
    sim.delayed_estimation((2,), n_per=20, n_sub=1).to_csv(tmp_path / "a" / "x.csv", index=False)
    with pytest.raises(cfglib.ConfigError, match="distinct names"):
        cfglib.validate(de.Config(datasets=(str(tmp_path / "x.csv"), str(tmp_path / "a" / "x.csv"))))


def test_change_detection_csv_with_other_set_sizes_and_zero_padded_ids(tmp_path):
    trials = sim.change_detection((3, 6, 10))
    path = tmp_path / "cd.csv"
    trials.assign(subject=trials.subject.map(IDS)).to_csv(path, index=False)
    cfg = cd.Config(data=str(path), n_boot=10, fit_steps=100, per_participant=True)
    assert sorted(cd.trials(str(path)).subject.unique()) == sorted(IDS.values())
    out = cd.simulate(cfg, key=jax.random.key(0))
    comp = cd.compare(out, cd.reference(cfg).table)
    assert comp.metrics and sorted(set(cd._counts(str(path)).set_size.tolist())) == [3, 6, 10]


def test_search_csv_with_other_set_sizes_and_string_ids(tmp_path):
    trials = sim.visual_search((5, 10, 20), n_sub=3)
    path = tmp_path / "vs.csv"
    trials.assign(subject=trials.subject.map(IDS)).to_csv(path, index=False)
    cfg = srd.Config(data=str(path), models=("serial",), n_sim=200, n_starts=1, n_boot=20)
    out = srd.simulate(cfg, key=jax.random.key(0))
    fits = out[out.kind == "fit"]
    assert sorted(fits.subject) == sorted(IDS.values())
    assert sorted(out[out.kind == "trial"].set_size.unique()) == [5, 10, 20]
    comp = srd.compare(out, srd.reference(cfg).table, n_boot=20).with_context(data_kind="trial_level")
    assert comp.schema_problems() == []


def test_change_detection_workspace_beyond_its_training_names_the_field_and_the_largest_set_size(tmp_path):
    path = tmp_path / "cd.csv"
    sim.change_detection((3, 6, 10), n_sub=1).to_csv(path, index=False)
    cfg = cd.Config(data=str(path), models=("workspace",), n_boot=10, fit_steps=100, per_participant=False)
    with pytest.raises(cfglib.ConfigError, match=r"'models'.*set sizes 1-8 .*these data reach 10"):
        cd.simulate(cfg, key=jax.random.key(0))


def test_change_detection_csv_needs_both_trial_kinds_per_set_size_and_takes_one_participant(tmp_path):
    trials = sim.change_detection((3, 6, 10), n_sub=2)
    path = tmp_path / "cd.csv"
    trials[~((trials.set_size == 10) & (trials.change == 1))].to_csv(path, index=False)
    with pytest.raises(DataError) as err:
        cd.trials(str(path))
    assert str(err.value).startswith(
        f"{path}: row 121, column 'change': got 0 on every trial of set_size=10;"
    )
    trials[trials.subject == 1].to_csv(path, index=False)
    table = cd.reference(cd.Config(data=str(path))).table  # one participant: no SEM, no warning
    assert len(table) == 3 and table.filter(like="sem").isna().all().all()


def test_search_csv_of_one_set_size_is_compared_without_slopes(tmp_path):
    path = tmp_path / "one.csv"
    sim.visual_search((8,), n_sub=2).to_csv(path, index=False)
    cfg = srd.Config(data=str(path), n_boot=20)
    human = srd.reference(cfg).table
    copy = human[srd.COLUMNS].assign(kind="trial", model="serial")  # the data as a model's trials: no fit
    comp = srd.compare(copy, human, n_boot=20).with_context(data_kind="trial_level")
    assert comp.schema_problems() == [] and "serial.all.slope_present" not in {m.name for m in comp.metrics}


@pytest.mark.parametrize(
    ("mod", "field"), [(cd, "data"), (srd, "data"), (de, "datasets")], ids=["cd", "search_rt", "de"]
)
def test_a_csv_with_an_upper_case_suffix_is_a_csv(tmp_path, mod, field):
    path = tmp_path / "MY_TRIALS.CSV"
    path.write_text("subject\n1\n")
    value = (str(path),) if field == "datasets" else str(path)
    assert getattr(cfglib.validate(mod.Config(**{field: value})), field) == value
