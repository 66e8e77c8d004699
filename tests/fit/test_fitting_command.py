"""`cogsim fit` end to end on a test-only paradigm (the registry is monkeypatched)."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from cogsim import cli, fitting_command


def test_fit_writes_tables_comparison_figure_and_provenance(toy_paradigm, csv, tmp_path, capsys):
    out = tmp_path / "out"
    rc = cli.main(
        ["fit", "toy_estimation", "--data", str(csv), "--out", str(out), "--cv", "2", "--ci", "none"]
    )
    assert rc == 0, capsys.readouterr().err
    fits = pd.read_parquet(out / "fits.parquet")
    models = pd.read_parquet(out / "models.parquet")
    assert list(fits.columns) == [
        "model",
        "subject",
        "set_size",
        "parameter",
        "estimate",
        "ci_low",
        "ci_high",
    ]
    assert list(models.columns) == [
        "model",
        "subject",
        "loglik",
        "n_params",
        "n_trials",
        "aic",
        "bic",
        "cv_loglik",
        "converged",
        "grad_norm",
        "at_bound",
    ]
    assert sorted(models["subject"].unique()) == ["P01", "P02", "P03"] and len(models) == 6
    assert models["cv_loglik"].notna().all() and (models["cv_loglik"] < models["loglik"]).all()
    comp = json.loads((out / "comparison.json").read_text(), parse_constant=_not_json)  # strict JSON
    assert set(comp["models"]) == {"vm_mixture", "vm_per_set_size"}
    entry = comp["models"]["vm_mixture"]
    summed = models.query("model == 'vm_mixture'")["aic"].sum()
    assert entry["aic_sum"]["value"] == pytest.approx(summed)
    assert entry["aic_sum"]["ci"][0] <= summed <= entry["aic_sum"]["ci"][1]
    assert sum(comp["models"][m]["won_aic"]["value"] for m in comp["models"]) == 3
    for crit in ("bic", "aic"):  # random-effects model selection: 1 prior count per model + 3 participants
        group = comp["bms"][crit]["models"]
        assert sum(g["alpha"] for g in group.values()) == pytest.approx(2 + 3)
        assert sum(g["protected_exceedance"] for g in group.values()) == pytest.approx(1.0)
    printed = capsys.readouterr().out
    assert "random-effects BMS (BIC)" in printed
    n = len(pd.read_csv(csv, encoding="utf-8-sig"))  # what was read, before the fits: the extra column too
    assert f"data: {n} trials, 3 participants (subject), set sizes " in printed
    assert printed.index("data: ") < printed.index("vm_mixture") and "kept aside: note" in printed
    run = json.loads((out / "run.json").read_text())
    assert run["input"]["sha256"] == hashlib.sha256(csv.read_bytes()).hexdigest()
    assert run["input"]["path"].endswith("my trials.csv") and run["seed"] == 0
    assert run["config"]["models"] == ["vm_mixture", "vm_per_set_size"]
    assert (out / "figure.png").stat().st_size > 10_000


class Wavy:
    """A location with a ripple in its likelihood: a local maximum every pi / 4, the best near 1."""

    name, by_set_size, requires = "wavy", False, ()

    def __init__(self):
        from cogsim.fit import Param

        self.params = (Param("mu", default=0.0),)

    def loglik(self, p, t):
        import jax.numpy as jnp
        from jax.scipy.stats import norm

        return norm.logpdf(t["error_rad"], p["mu"] - 1.0, 1.0) + 2.0 * jnp.cos(8.0 * p["mu"])


def test_a_parquet_or_tsv_file_gives_the_csvs_fit_and_its_sha256_is_recorded(
    toy_paradigm, csv, tmp_path, capsys
):
    frame = pd.read_csv(csv, encoding="utf-8-sig")
    tsv, pq = tmp_path / "t.tsv", tmp_path / "t.parquet"
    frame.to_csv(tsv, sep="\t", index=False)
    frame.to_parquet(pq)
    tables = []
    for i, path in enumerate((csv, tsv, pq)):
        out = tmp_path / f"out{i}"
        args = ["fit", "toy_estimation", "--data", str(path), "--ci", "none", "--out", str(out)]
        assert cli.main(args) == 0, capsys.readouterr().err
        tables.append(pd.read_parquet(out / "models.parquet"))
        record = json.loads((out / "run.json").read_text())
        assert record["input"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    pd.testing.assert_frame_equal(tables[0], tables[1])
    pd.testing.assert_frame_equal(tables[0], tables[2])


def test_more_starts_find_the_better_maximum_and_are_recorded(toy_paradigm, csv, tmp_path, capsys):
    import jax

    from cogsim import fit

    toy_paradigm.models["wavy"] = Wavy()
    args = ["fit", "toy_estimation", "--data", str(csv), "--models", "wavy", "--ci", "none", "--seed", "3"]
    got = {}
    for n in (1, 16):
        out = tmp_path / f"out{n}"
        assert cli.main([*args, "--starts", str(n), "--out", str(out)]) == 0, capsys.readouterr().err
        assert json.loads((out / "run.json").read_text())["config"]["n_starts"] == n
        got[n] = pd.read_parquet(out / "models.parquet")["loglik"].to_numpy()
    assert (got[16] > got[1] + 1.0).all()  # the default start stays on its ripple; random starts leave it
    want = fit.fit(Wavy(), toy_paradigm.read(csv), n_starts=16, ci=None, key=jax.random.key(3)).summary
    np.testing.assert_array_equal(got[16], want["loglik"].to_numpy())


def test_agreement_sets_the_reported_fit_beside_fits_from_other_starts(toy_paradigm, csv, tmp_path, capsys):
    import jax

    from cogsim import fit, fitting_agreement

    toy_paradigm.models["wavy"] = Wavy()
    out = tmp_path / "o"
    args = ["fit", "toy_estimation", "--data", str(csv), "--models", "wavy,vm_mixture", "--ci", "none"]
    args += ["--seed", "3", "--starts", "2", "--agreement", "3", "--out", str(out)]
    assert cli.main(args) == 0, capsys.readouterr().err
    assert "wavy             agreement: " in capsys.readouterr().out
    models = pd.read_parquet(out / "models.parquet")
    wavy = models[models["model"] == "wavy"]
    trials, root = toy_paradigm.read(csv), jax.random.key(3)
    keys = [root] + [
        jax.random.fold_in(jax.random.fold_in(root, fitting_agreement.AGREEMENT_STREAM), i) for i in (1, 2)
    ]
    ll = np.stack([fit.fit(Wavy(), trials, n_starts=2, ci=None, key=k).summary["loglik"] for k in keys], 1)
    np.testing.assert_array_equal(wavy["loglik"], ll[:, 0])  # the reported fit is unchanged
    np.testing.assert_array_equal(wavy["agree_gap"], ll.max(1) - ll.min(1))
    np.testing.assert_array_equal(wavy["below_best"], ll.max(1) - ll[:, 0])
    assert (wavy["agree"] == (wavy["agree_gap"] <= 0.1)).all() and not wavy["agree"].all()
    assert models.query("model == 'vm_mixture'")["agree"].all()  # one maximum: every fit reaches it
    entry = json.loads((out / "comparison.json").read_text())["agreement"]
    assert entry["n_fits"] == 3 and entry["models"]["wavy"]["n_disagree"] == int((~wavy["agree"]).sum())
    assert entry["models"]["wavy"]["n_below_best"] == int((wavy["below_best"] > 0.1).sum())
    assert json.loads((out / "run.json").read_text())["config"]["agreement"] == 3


def test_list_shows_paradigms_models_and_columns(toy_paradigm, capsys):
    assert cli.main(["fit", "--list"]) == 0
    text = capsys.readouterr().out
    assert "toy_estimation" in text and "column error_rad" in text and "model  vm_per_set_size" in text
    assert "per set size" in text and "p_mem (0, 1), kappa (0, inf)" in text  # the bounds priors must cover


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "nope", "--data", "x.csv"], "paradigm 'nope' is unknown; allowed: toy_estimation"),
        (["fit", "toy_estimation"], "fit --data: missing"),
        (["fit", "toy_estimation", "--data", "CSV", "--models", "vm,x"], "fit --models: 'vm' is unknown"),
        (["fit", "toy_estimation", "--data", "DEG"], "row 1, column 'error_rad': got 40; allowed"),
        (["fit", "toy_estimation", "--data", "CSV", "--by", "session"], "missing column 'session'"),
        (["fit", "toy_estimation", "--data", "CSV", "--cv", "1"], "fit --cv: got 1"),
        (["fit", "toy_estimation", "--data", "CSV", "--ci", "laplace"], "fit --ci: got 'laplace'"),
        (
            ["fit", "toy_estimation", "--data", "CSV", "--hierarchical", "--ci", "profile"],
            "with --hierarchical",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(toy_paradigm, csv, tmp_path, capsys, argv, message):
    deg = tmp_path / "deg.csv"
    deg.write_text("subject,set_size,error_rad\n1,2,40\n")
    argv = [{"CSV": str(csv), "DEG": str(deg)}.get(a, a) for a in argv]
    assert cli.main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_run_refuses_cross_validation_with_hierarchical_before_reading_anything(tmp_path):
    from cogsim.errors import CogsimError

    with pytest.raises(CogsimError, match="fit cv: got 5 with hierarchical"):
        fitting_command.run("toy_estimation", tmp_path / "absent.csv", cv=5, hierarchical=True, out=tmp_path)
    assert not any(tmp_path.iterdir())


def test_comparison_without_cv_and_with_two_id_columns(tmp_path):
    table = pd.DataFrame(
        {
            "model": ["a", "a", "a", "b", "b", "b"],
            "experiment": ["E1", "E1", "E2"] * 2,
            "subject": [1, 2, 1] * 2,
            "aic": [10.0, 20.0, 30.0, 12.0, 15.0, 29.0],
            "bic": [11.0, 21.0, 31.0, 14.0, 18.0, 32.0],
            "cv_loglik": [np.nan] * 6,
        }
    )
    comp = fitting_command.comparison(table, ("experiment", "subject"))
    assert comp["best_aic"] == "b" and comp["best_bic"] == "a" and comp["n_participants"] == 3
    assert comp["models"]["b"]["won_aic"]["value"] == 2 and comp["models"]["a"]["aic_sum"]["value"] == 60
    assert comp["models"]["a"]["cv_loglik_sum"] == {"value": None, "ci": None}
    assert comp["bms"]["bic"]["n_participants"] == 3 and set(comp["bms"]["bic"]["models"]) == {"a", "b"}
    groups = comp["bms_groups"]  # within each experiment: 2 participants in E1, 1 in E2
    assert groups["by"] == ["experiment"] and list(groups["groups"]) == ["experiment=E1", "experiment=E2"]
    assert [g["bic"]["n_participants"] for g in groups["groups"].values()] == [2, 1]
    assert fitting_command.bms_group_lines(comp)[1].startswith("random-effects BMS (BIC), experiment=E2:")
    assert fitting_command.bms_line(comp).startswith("random-effects BMS (BIC): frequency")
    fits = pd.DataFrame({"model": ["a", "b"], "parameter": ["x", "y"], "estimate": [1.0, 2.0]})
    fitting_command.figure(comp, fits, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 5_000


def test_default_participants_nest_subjects_in_experiments_when_ids_repeat_and_say_so():
    from cogsim.fitting_command import default_by

    said = []
    repeated = pd.DataFrame({"experiment": [1, 1, 2, 2], "subject": ["a", "b", "a", "b"]})
    assert default_by(repeated, log=said.append) == ("experiment", "subject")
    assert len(said) == 1 and "--by subject" in said[0]
    said.clear()
    assert default_by(repeated.assign(subject=["a", "b", "c", "d"]), log=said.append) == ("subject",)
    assert default_by(repeated.drop(columns="experiment"), log=said.append) == ("subject",)
    assert said == []


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (["--seed", "-1"], "fit --seed: got -1; allowed: an integer from 0 to 4294967295"),
        (["--seed", str(2**32)], "fit --seed: got 4294967296"),
        (["--by", "set_size"], "fit --by: got 'set_size'; allowed: participant columns other than"),
        (["--models", ","], "fit --models: got ','; allowed: comma-separated model names"),
        (["--out", ""], "fit --out: got ''"),
        (["--starts", "0"], "fit --starts: got 0; allowed: an integer from 1 to 256"),
        (["--starts", "257"], "fit --starts: got 257; allowed: an integer from 1 to 256"),
        (["--agreement", "1"], "fit --agreement: got 1; allowed: an integer from 2 to 16, without --hier"),
        (["--agreement", "17"], "fit --agreement: got 17; allowed: an integer from 2 to 16"),
        (["--agreement", "2", "--hierarchical"], "fit --agreement: got 2 with --hierarchical; allowed:"),
        (["--agreement", "3", "--starts", "1"], "fit --agreement: got 3 with --starts 1; allowed: --starts"),
    ],
)
def test_bad_options_are_refused_before_fitting(toy_paradigm, csv, tmp_path, capsys, extra, match):
    args = ["fit", "toy_estimation", "--data", str(csv), "--ci", "none", "--out", str(tmp_path / "o")]
    assert cli.main([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("by", "match"),
    [
        ("subject,subject", "fit --by: got 'subject,subject'; allowed: distinct column names ('subject' "),
        ("session,subject", "my trials.csv: missing column 'session' (a by column); found: subject, "),
    ],
)
def test_by_columns_are_checked_before_anything_is_printed(toy_paradigm, csv, tmp_path, capsys, by, match):
    args = ["fit", "toy_estimation", "--data", str(csv), "--by", by, "--out", str(tmp_path / "o")]
    assert cli.main(args) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and match in printed.err and printed.err.count("\n") == 1


def test_an_out_folder_holding_a_fit_or_a_file_is_refused(toy_paradigm, csv, tmp_path, capsys):
    out = tmp_path / "o"
    args = ["fit", "toy_estimation", "--data", str(csv), "--models", "vm_mixture", "--ci", "none"]
    assert cli.main([*args, "--out", str(out)]) == 0
    before = (out / "fits.parquet").read_bytes()
    assert cli.main([*args, "--seed", "1", "--out", str(out)]) == 2
    assert "already holds a fit (fits.parquet" in capsys.readouterr().err
    assert (out / "fits.parquet").read_bytes() == before  # the earlier fit is kept
    (tmp_path / "f").write_text("x")
    assert cli.main([*args, "--out", str(tmp_path / "f")]) == 2
    assert "a file; allowed: a folder without a fit's outputs" in capsys.readouterr().err


@pytest.mark.parametrize("left", ["bms.parquet", "posterior.parquet", "group.parquet"])
def test_an_out_folder_holding_part_of_a_stopped_fit_is_refused(toy_paradigm, csv, tmp_path, capsys, left):
    # a run stopped after writing bms.parquet (or the posterior, the group table) and before fits.parquet:
    # until 2026-12-07 a later run into the folder kept the file and listed it among the files it wrote
    out = tmp_path / "o"
    out.mkdir()
    (out / left).write_bytes(b"earlier")
    (out / "notes.txt").write_text("mine")
    args = ["fit", "toy_estimation", "--data", str(csv), "--models", "vm_mixture", "--ci", "none"]
    assert cli.main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"already holds a fit ({left})" in err and err.count("\n") == 1
    assert (out / left).read_bytes() == b"earlier" and not (out / "fits.parquet").exists()
    assert cli.main([*args, "--out", str(tmp_path / "fresh")]) == 0  # a folder with only other files is fine
    (out / left).unlink()
    assert cli.main([*args, "--out", str(out)]) == 0 and (out / "notes.txt").read_text() == "mine"


def test_ppc_copies_that_would_not_fit_in_memory_are_refused(monkeypatch, csv, tmp_path, capsys):
    monkeypatch.setenv("COGSIM_MEMORY_BYTES", "1e6")
    args = ["fit", "delayed_estimation", "--data", str(csv), "--models", "uniform", "--ppc", "1000"]
    assert cli.main([*args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "fit --ppc: got 1000; the simulated copies need about" in err and "allowed: at most" in err
    assert not (tmp_path / "o" / "fits.parquet").exists()


def test_comparison_of_one_participant_has_values_but_no_cis():
    cols = {"model": ["a", "b"], "subject": [1, 1], "aic": [10.0, 12.0], "bic": [11.0, 13.0]}
    table = pd.DataFrame({**cols, "cv_loglik": [-5.0, -6.0]})
    comp = fitting_command.comparison(table, ("subject",))
    assert comp["models"]["b"]["aic_minus_best"] == {"value": 2.0, "ci": None}
    assert comp["best_aic"] == "a" and comp["n_participants"] == 1


def test_models_that_fit_alike_tie_instead_of_the_first_listed_winning():
    # participant 1: a and b equal but for float32 noise; participant 2: b wins by 3
    cols = {"model": ["a", "b", "c"] * 2, "subject": [1, 1, 1, 2, 2, 2]}
    aic = [165.2076, 165.2076 + 4e-6, 170.0, 50.0, 47.0, 60.0]
    table = pd.DataFrame({**cols, "aic": aic, "bic": aic, "cv_loglik": [-1.0] * 6})
    comp = fitting_command.comparison(table, ("subject",))
    m = comp["models"]
    assert [m[k]["won_aic"]["value"] for k in "abc"] == [0, 1, 0]
    assert [m[k]["tied_aic"]["value"] for k in "abc"] == [1, 1, 0]
    assert comp["best_aic"] == "b" and comp["tied_best_aic"] == []
    same = pd.DataFrame({**cols, "aic": aic[:3] * 2, "bic": aic[:3] * 2, "cv_loglik": [-1.0] * 6})
    comp = fitting_command.comparison(same, ("subject",))
    assert comp["best_aic"] == "a" and comp["tied_best_aic"] == ["b"]
    assert fitting_command._best(comp, "aic") == "a (tied within 0.01 with b)"


def test_families_and_each_participants_model_probabilities(toy_paradigm, csv, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["fit", "toy_estimation", "--data", str(csv), "--ci", "none", "--families", "one=vm_mixture"]
    assert cli.main([*args, "--out", str(out)]) == 0, capsys.readouterr().err
    assert "random-effects BMS by family (BIC)" in capsys.readouterr().out
    comp = json.loads((out / "comparison.json").read_text())
    fam = comp["bms_families"]
    assert fam["families"] == {"one": ["vm_mixture"], "vm_per_set_size": ["vm_per_set_size"]}
    for crit in ("bic", "aic"):  # one model per family: the families' results are the models'
        for name, model in (("one", "vm_mixture"), ("vm_per_set_size", "vm_per_set_size")):
            assert fam[crit]["models"][name]["alpha"] == pytest.approx(
                comp["bms"][crit]["models"][model]["alpha"]
            )
    who = pd.read_parquet(out / "bms.parquet")
    assert list(who.columns) == ["criterion", "subject", "model", "probability"]
    assert who.groupby(["criterion", "subject"])["probability"].sum().to_numpy() == pytest.approx(np.ones(6))
    assert json.loads((out / "run.json").read_text())["config"]["families"] == fam["families"]


@pytest.mark.parametrize(
    ("families", "match"),
    [
        (
            "one=vm_mixture+vm_per_set_size",
            "one family of all the fitted models; allowed: at least 2 families",
        ),
        ("one=nope", "fit --families 'one': got model 'nope'; allowed: one of the fitted models"),
        ("a=vm_mixture,b=vm_mixture", "model 'vm_mixture' is in families 'a' and 'b'"),
        ("a=vm_mixture,a=vm_per_set_size", "family 'a' is named twice"),
        ("vm_per_set_size=vm_mixture", "family name 'vm_per_set_size' is also a model outside it"),
        ("=vm_mixture", "(item '=vm_mixture'); allowed: comma-separated NAME=model+model+..."),
    ],
)
def test_bad_families_are_refused_before_fitting(toy_paradigm, csv, tmp_path, capsys, families, match):
    args = ["fit", "toy_estimation", "--data", str(csv), "--ci", "none", "--out", str(tmp_path / "o")]
    assert cli.main([*args, "--families", families]) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def _not_json(name):
    raise AssertionError(f"comparison.json holds {name}, which strict JSON does not allow")


def test_cv_says_how_many_folds_train_on_fewer_trials_than_a_fit_takes(toy_paradigm, csv, tmp_path, capsys):
    trials = pd.read_csv(csv)
    few = trials[trials["subject"] == "P01"].head(12).assign(subject="P04")  # folds of 3, 3, 2, 2, 2
    path = tmp_path / "few.csv"
    pd.concat([trials, few]).to_csv(path, index=False)
    args = [
        "fit",
        "toy_estimation",
        "--data",
        str(path),
        "--models",
        "vm_mixture",
        "--ci",
        "none",
        "--cv",
        "5",
    ]
    assert cli.main([*args, "--out", str(tmp_path / "o")]) == 0, capsys.readouterr().err
    assert (
        "vm_mixture: with --cv 5, 2 of 20 folds (of 1 of 4 participants) train on fewer than 10 trials, the "
        "least a fit takes (max(10, parameters + 1)); their cv_loglik rests on such fits\n"
    ) in capsys.readouterr().out
    assert (
        cli.main(["fit", "toy_estimation", "--data", str(csv), *args[4:], "--out", str(tmp_path / "p")]) == 0
    )
    assert "train on fewer than" not in capsys.readouterr().out  # 100 trials and more: every fold is enough
