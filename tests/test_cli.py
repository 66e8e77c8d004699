"""The command line as a user meets it: real subprocesses, exit codes, one-line errors, run folders."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import cogsim as _package
from cogsim import cli, store

ZL = str(Path(_package.__file__).parent / "data" / "zhang_luck2008_delayed_estimation" / "trials.csv")
SMALL = [
    "--set",
    "n_boot=10",
    "--set",
    "fit_steps=50",
    "--set",
    "per_participant=false",
    "--set",
    "models=fixed_capacity",
]


def cogsim(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "cogsim", *args], capture_output=True, text=True, cwd=cwd, timeout=300, env=env
    )


def _one_clean_line(res):
    assert "Traceback" not in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr


BAD_INPUT = [
    (["run", "no_such_scenario"], "unknown scenario 'no_such_scenario'"),
    (["run", "change_detection", "--set", "n_boot=abc"], "'n_boot': got 'abc'; allowed: an integer"),
    (["run", "change_detection", "--set", "bogus=1"], "'bogus': got '1'; allowed: a field of Config"),
    (
        ["run", "change_detection", "--set", "level=2"],
        "'level': got 2.0; allowed: values in [0.5, 0.999]",
    ),
    (["run", "change_detection", "--preset", "huge"], "unknown preset 'huge'"),
    (["data", "show", "nope"], "unknown dataset 'nope'"),
    (["sweep", "change_detection"], "give at least one --grid"),
    (["sweep", "change_detection", "--grid", "sim_K=1,x"], "'sim_K': got 'x'; allowed: a number"),
    (["compare", "/nonexistent/run"], "run folder '/nonexistent/run' does not exist"),
    (["run", "change_detection", "--set", "level=nan"], "'level': got nan; allowed: a finite number"),
    (["run", "change_detection", "--set", "workspace.lr=nan"], "'workspace.lr': got nan"),
    (["run", "change_detection", "--set", "models="], "'models': got (); allowed: a non-empty"),
    (["run", "iconic_memory", "--set", "n_trials=1000000000000"], "'n_trials'"),
    (["run", "change_detection", "--seed", "99999999999999999999"], "seed: got 99999999999999999999"),
    (["sweep", "change_detection", "--grid", "sim_K=nan,2"], "'sim_K': got nan; allowed: a finite"),
    (["sweep", "change_detection", "--grid", "fit_steps=50,60"], "not read by"),
    (["suite", "--only", "iconic_memory,nosuch"], "unknown scenario 'nosuch'"),
    (
        ["run", "change_detection", "--set", "models=fixed_capacity,fixed_capacity"],
        "'models': got ('fixed_capacity', 'fixed_capacity'); allowed: distinct values",
    ),
    (["run", "change_detection", "--set", "workspace.top_k_grid=[1,2"], "matching brackets"),
    (["run", "change_detection", "--set", "models=[fixed_capacity"], "'models': got '[fixed_capacity'"),
    (["suite", "--only", ""], "--only '': allowed: comma-separated scenario names"),
    (["suite", "--only", "iconic_memory,,"], "none empty"),
    (["run", "iconic_memory", "--seed", "1.5"], "cogsim run: error: argument --seed: invalid int value"),
    (["sweep", "iconic_memory", "--seeds", "1.5"], "argument --seeds: invalid int value: '1.5'"),
    (["sweep", "change_detection", "--grid", "sim_K=1", "--executor", "nosuch"], "invalid choice"),
    (["data", "show"], "the following arguments are required: name"),
    (["run", "iconic_memory", "--out", ""], "--out: got ''; allowed: a folder path"),
    (["sweep", "change_detection", "--grid", "sim_K=1,2", "--out", ""], "--out: got ''"),
    (["sweep", "change_detection", "--grid", "sim_K=1,1"], "1.0 given more than once; allowed: distinct"),
    (
        ["sweep", "change_detection", "--set", "sim_K=2", "--grid", "sim_K=1,2"],
        "'sim_K' given both with --set and in --grid",
    ),
    (
        ["fit", "delayed_estimation", "--data", ZL, "--models", "mixture3p[p_swap=1.5]"],
        "fix 'mixture3p': got p_swap=1.5; allowed: a number from 0.0 to 1.0",
    ),
    (
        ["fit", "delayed_estimation", "--data", ZL, "--models", "vp[tau=shared]"],
        "share 'vp': the model is not fitted per set size; allowed: a model with by_set_size",
    ),
    (["fit", "delayed_estimation", "--data", ZL, "--models", "vp[tau]"], "got 'vp[tau]' (item 'tau')"),
    (
        ["fit", "delayed_estimation", "--data", ZL, "--lr-test", "0"],
        "fit --lr-test: got 0; allowed: copies >= 1",
    ),
]

# Each case through the command's entry point (`cogsim.cli.main`, what `python -m cogsim` calls), all of
# them in one fresh process: a process per case spent most of its time importing JAX. The process's
# stderr (file descriptor 2, so that what JAX or a library writes there is seen too) is read per case.
# Real `python -m cogsim` processes exit 2 on bad values in the tests below (the property test, the
# backbone file, the suite's preset).
_BATCH = """
import json, os, sys, tempfile, traceback
from cogsim import cli
results = []
for argv in json.loads(sys.argv[1]):
    with tempfile.TemporaryFile(mode="w+") as err:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(err.fileno(), 2)
        try:
            code = cli.main(argv)
        except SystemExit as exc:
            code = exc.code
        except BaseException:
            traceback.print_exc()
            code = None
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
        err.seek(0)
        results.append([code, err.read()])
with open(sys.argv[2], "w") as out:
    json.dump(results, out)
"""


@pytest.fixture(scope="module")
def bad_input_results(tmp_path_factory):
    out = tmp_path_factory.mktemp("bad_input") / "results.json"
    cases = json.dumps([args for args, _ in BAD_INPUT])
    res = subprocess.run(
        [sys.executable, "-c", _BATCH, cases, str(out)], capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr[-4000:]
    return [
        subprocess.CompletedProcess(a, code, "", err)
        for (a, _), (code, err) in zip(BAD_INPUT, json.loads(out.read_text()), strict=True)
    ]


@pytest.mark.parametrize(
    "case", range(len(BAD_INPUT)), ids=[f"args{i}-{n}" for i, (_, n) in enumerate(BAD_INPUT)]
)
def test_bad_input_exits_2_with_one_clear_line(case, bad_input_results):
    res = bad_input_results[case]
    assert res.returncode == 2, res.stderr
    assert BAD_INPUT[case][1] in res.stderr
    _one_clean_line(res)


def test_a_file_that_is_no_backbone_as_weights_exits_2(tmp_path):
    text = tmp_path / "weights.txt"
    text.write_text("not weights\n")
    res = cogsim("run", "visual_search_asymmetry", "--set", f"weights={text}", "--out", str(tmp_path / "o"))
    assert res.returncode == 2 and "not a NumPy .npz archive" in res.stderr, res.stderr
    _one_clean_line(res)
    assert not (tmp_path / "o").exists()  # the --out it had to create for the writability check is gone


def test_help_everywhere():
    for args in ([], ["run"], ["sweep"], ["data"], ["compare"], ["suite"], ["info"]):
        res = cogsim(*args, "--help")
        assert res.returncode == 0 and "usage:" in res.stdout


def test_help_and_the_statistics_module_leave_the_heavy_libraries_unimported():
    """`cogsim --help` starts at once (no JAX, NumPy or pandas) and scipy.stats loads only when a statistic is
    computed: every command, and every test that starts one, pays for what it imports."""
    code = (
        "import sys\n"
        "from cogsim import cli\n"
        "try:\n"
        "    cli.main(['--help'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0\n"
        "heavy = ('jax', 'numpy', 'pandas', 'scipy', 'matplotlib')\n"
        "print('after help:', [m for m in heavy if m in sys.modules])\n"
        "from cogsim import compare\n"
        "print('after compare:', 'scipy.stats' in sys.modules)\n"
        "print(round(compare.mean_ci([1.0, 2.0, 3.0])[0], 1), 'scipy.stats' in sys.modules)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "after help: []" in res.stdout and "after compare: False" in res.stdout
    assert "2.0 True" in res.stdout  # the first statistic imports it


def test_the_listing_read_from_the_sources_says_what_the_imported_modules_say():
    from cogsim import cli_listing, scenario_info, scenario_registry

    for name in scenario_registry.names():
        assert cli_listing.summary(name) == scenario_info.summary(name), name
    plain = 'DESCRIPTION = ("a" "b")\nPRESETS = {"quick": C(n=1), "paper": C()}\n'
    assert cli_listing._static_values(plain) == {"description": "ab", "presets": ["quick", "paper"]}
    for changed in (
        'DESCRIPTION = "a"\nPRESETS = {k: C() for k in ("quick",)}\n',  # computed
        'DESCRIPTION = "a"\nPRESETS = {"quick": C()}\nPRESETS["paper"] = C()\n',  # changed later
        'DESCRIPTION = "a"\nPRESETS = {"quick": C()}\nPRESETS.update(paper=C())\n',
        'DESCRIPTION = "a" + B\nPRESETS = {"quick": C()}\n',
        'DESCRIPTION = "a"\nPRESETS = {"quick": C()}\nPRESETS = {"paper": C()}\n',  # assigned twice
    ):
        assert cli_listing._static_values(changed) is None, changed  # imported instead


@pytest.fixture(scope="module")
def info_text():
    """``cogsim info change_detection``'s text output (one command for the tests that read it)."""
    return cogsim("info", "change_detection").stdout


def test_list_data_and_info(info_text):
    assert "change_detection" in cogsim("list").stdout
    out = cogsim("data", "list").stdout
    assert "rouder2008_change_detection" in out and "umls" in out
    show = cogsim("data", "show", "rouder2008_change_detection").stdout
    assert "GPL-2" in show and "Rouder" in show
    assert "n_boot" in info_text


def test_list_and_info_as_json(info_text):
    rows = json.loads(cogsim("list", "--json").stdout)
    assert {"name", "description", "presets"} <= set(rows[0]) and "change_detection" in [
        r["name"] for r in rows
    ]
    info = json.loads(cogsim("info", "change_detection", "--json").stdout)
    assert "rouder2008_change_detection" in [d["name"] for d in info["data"]]
    assert "quick" in info["presets"] and info["presets"]["quick"]["expected_runtime"]
    assert any(k.endswith("/results.parquet") for k in info["writes"]) and info["swap_data"]
    assert "expected run time" in info_text and "writes:" in info_text
    assert "rouder2008_change_detection" in info_text


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two real runs started at once (seeds 0 and 1) into one --out."""
    out = tmp_path_factory.mktemp("runs")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cogsim", "run", "change_detection", *SMALL, "--seed", str(seed)]
            + ["--out", str(out), "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (0, 1)
    ]
    results = [(p, *p.communicate(timeout=600)) for p in procs]
    for p, _, err in results:
        assert p.returncode == 0, err
    return out


def test_two_concurrent_runs_into_one_out_keep_both(two_runs):
    parent = two_runs / "change_detection"
    folders = sorted(p for p in parent.iterdir() if p.name != "latest")
    assert len(folders) == 2, folders
    seeds = sorted(json.loads((f / "run.json").read_text())["seed"] for f in folders)
    assert seeds == [0, 1]
    assert store.resolve_run_folder(parent / "latest") in folders


def test_compare_accepts_a_run_folder_or_latest(two_runs):
    parent = two_runs / "change_detection"
    run_dir = store.resolve_run_folder(parent / "latest")
    record = json.loads((run_dir / "run.json").read_text())
    assert record["scenario"] == "change_detection" and record["config"]["n_boot"] == 10
    assert record["versions"]["jax"] and record["run_id"] == run_dir.name
    before = (run_dir / "comparison.json").read_text()
    for where in (run_dir, parent / "latest"):
        res = cogsim("compare", str(where))
        assert res.returncode == 0 and "verdict" in res.stdout, res.stderr
    assert json.loads((run_dir / "comparison.json").read_text()) == json.loads(before)


def test_ctrl_c_during_a_run_exits_130_and_leaves_latest_at_the_last_complete_run(two_runs):
    parent = two_runs / "change_detection"
    latest = store.resolve_run_folder(parent / "latest")
    before = sorted(p.name for p in parent.iterdir())
    proc = subprocess.Popen(
        [sys.executable, "-m", "cogsim", "run", "change_detection", *SMALL, "--seed", "7"]
        + ["--out", str(two_runs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a test run started in the background (`cmd &` in a script) would otherwise hand
        # the child an ignored SIGINT, which Python keeps ignoring
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    line = ""
    while "simulating ..." not in line:  # the run has started computing
        line = proc.stderr.readline()
        assert line or proc.poll() is None, "the run ended before it started simulating"
    proc.send_signal(signal.SIGINT)  # at once: with a warm compilation cache the small run ends within 0.5 s
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err and "resume" not in err
    assert sorted(p.name for p in parent.iterdir()) == before  # nothing new, no temporary folder left
    assert store.resolve_run_folder(parent / "latest") == latest


def test_a_read_only_out_fails_in_under_a_second(tmp_path, capsys):
    if os.geteuid() == 0:  # permissions do not stop root: use a file system that refuses new entries
        out = Path("/sys/cogsim-read-only-test")
        if not Path("/sys").is_dir():
            pytest.skip("running as root and no read-only file system to write to")
    else:
        out = tmp_path / "ro"
        out.mkdir()
        out.chmod(0o555)
    t0 = time.perf_counter()
    rc = cli.main(["run", "change_detection", "--out", str(out / "runs")])
    elapsed = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert rc == 2 and "is not a writable folder" in err and str(out / "runs") in err
    assert elapsed < 1.0, elapsed
    res = cogsim("run", "change_detection", "--out", str(out / "runs"))
    assert res.returncode == 2 and "is not a writable folder" in res.stderr
    _one_clean_line(res)


def test_a_run_too_large_for_the_memory_exits_2_naming_the_field_and_the_bytes(tmp_path, monkeypatch, capsys):
    env = {**os.environ, "COGSIM_MEMORY_BYTES": "1e9"}
    res = cogsim("run", "iconic_memory", "--set", "n_trials=200000", "--out", str(tmp_path / "runs"), env=env)
    assert res.returncode == 2, res.stderr
    assert "'n_trials': got 200000; allowed: a size whose arrays fit in memory" in res.stderr
    assert "953.7 MiB are available (COGSIM_MEMORY_BYTES); lower n_trials to at most" in res.stderr
    _one_clean_line(res)
    assert not (tmp_path / "runs").exists()  # no run folder, nor the --out created to check it writable
    # the check comes before any computation: under a second once the scenario is imported
    from cogsim import scenario_registry

    scenario_registry.get("iconic_memory")
    monkeypatch.setenv("COGSIM_MEMORY_BYTES", "1e9")
    t0 = time.perf_counter()
    rc = cli.main(["run", "iconic_memory", "--set", "n_trials=200000", "--out", str(tmp_path / "runs")])
    elapsed = time.perf_counter() - t0
    assert rc == 2 and "'n_trials': got 200000" in capsys.readouterr().err
    assert elapsed < 1.0, elapsed
    # with more memory the same size passes the memory check and stops at the next one (out is a file)
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("COGSIM_MEMORY_BYTES", "1e12")
    rc = cli.main(["run", "iconic_memory", "--set", "n_trials=200000", "--out", str(tmp_path / "f")])
    err = capsys.readouterr().err
    assert rc == 2 and "is not a writable folder" in err and "memory" not in err


def test_an_out_that_is_a_file_fails_with_one_line(tmp_path):
    (tmp_path / "f").write_text("x")
    res = cogsim("run", "change_detection", "--out", str(tmp_path / "f"))
    assert res.returncode == 2 and "is not a writable folder" in res.stderr
    _one_clean_line(res)


def test_damaged_run_folders_fail_compare_with_one_line(two_runs, tmp_path):
    import shutil

    src = store.resolve_run_folder(two_runs / "change_detection" / "latest")
    bad_parquet = tmp_path / "a"
    shutil.copytree(src, bad_parquet)
    (bad_parquet / "results.parquet").write_bytes(b"not parquet")
    bad_json = tmp_path / "b"
    shutil.copytree(src, bad_json)
    (bad_json / "run.json").write_text("{broken")
    for folder, needle in ((bad_parquet, "results.parquet"), (bad_json, "run.json")):
        res = cogsim("compare", str(folder))
        assert res.returncode == 2 and needle in res.stderr and "not" in res.stderr
        _one_clean_line(res)


def test_a_run_records_its_tables_hashes_and_compare_refuses_a_replaced_table(two_runs, tmp_path):
    import shutil

    src = store.resolve_run_folder(two_runs / "change_detection" / "latest")
    record = json.loads((src / "run.json").read_text())
    assert record["files"]["results.parquet"]["sha256"] == store.file_sha256(src / "results.parquet")
    assert record["files"]["human.parquet"]["sha256"] == store.file_sha256(src / "human.parquet")
    swapped = tmp_path / "swapped"
    shutil.copytree(src, swapped)
    shutil.copy(src / "human.parquet", swapped / "results.parquet")  # valid Parquet, not this run's
    res = cogsim("compare", str(swapped))
    assert res.returncode == 2, res.stderr
    assert "results.parquet does not match the run (sha256" in res.stderr and str(swapped) in res.stderr
    _one_clean_line(res)
    # without the record (deleted by hand) another run's table would be scored under this run's name
    del record["files"]
    (swapped / "run.json").write_text(json.dumps(record))
    before = (swapped / "comparison.json").read_bytes()
    res = cogsim("compare", str(swapped))
    assert res.returncode == 2, res.stderr
    assert "run.json' files: got null; allowed: the SHA-256 record of results.parquet" in res.stderr
    _one_clean_line(res)
    assert (swapped / "comparison.json").read_bytes() == before  # not re-scored


def test_compare_refuses_a_run_json_without_the_runs_config(two_runs, tmp_path):
    import shutil

    src = store.resolve_run_folder(two_runs / "change_detection" / "latest")
    record = json.loads((src / "run.json").read_text())
    for i, (config, needle) in enumerate(
        [
            (None, "config: got null; allowed: the config the run wrote"),
            ("drop", "config: got null; allowed: the config the run wrote"),
            ({k: v for k, v in record["config"].items() if k not in ("n_boot", "sim_K")}, "got no "),
        ]
    ):
        folder = tmp_path / str(i)
        shutil.copytree(src, folder)
        edited = {k: v for k, v in record.items() if k != "config"}
        if config != "drop":
            edited["config"] = config
        (folder / "run.json").write_text(json.dumps(edited))
        before = (folder / "comparison.json").read_bytes()
        res = cogsim("compare", str(folder))
        assert res.returncode == 2 and needle in res.stderr, res.stderr
        _one_clean_line(res)
        assert (folder / "comparison.json").read_bytes() == before  # not re-scored under the defaults
        if i == 2:
            assert "n_boot" in res.stderr and "sim_K" in res.stderr


def test_compare_refuses_a_results_table_that_is_a_directory(two_runs, tmp_path):
    import shutil

    folder = tmp_path / "r"
    shutil.copytree(store.resolve_run_folder(two_runs / "change_detection" / "latest"), folder)
    (folder / "results.parquet").unlink()
    (folder / "results.parquet").mkdir()
    res = cogsim("compare", str(folder))
    assert res.returncode == 2 and "results.parquet': got a directory" in res.stderr, res.stderr
    _one_clean_line(res)


def test_suite_with_an_unknown_preset_stops_before_running_anything(tmp_path):
    res = cogsim("suite", "--preset", "nosuch", "--only", "iconic_memory", "--out", str(tmp_path / "r"))
    assert res.returncode == 2 and "unknown preset 'nosuch'" in res.stderr, res.stderr
    _one_clean_line(res)
    assert not (tmp_path / "r").exists()


def test_a_sweep_out_that_is_a_file_names_out(tmp_path):
    (tmp_path / "f").write_text("x")
    res = cogsim("sweep", "change_detection", "--grid", "sim_K=1,2", "--out", str(tmp_path / "f"))
    assert res.returncode == 2 and "--out" in res.stderr and "(it is a file)" in res.stderr, res.stderr
    _one_clean_line(res)


def test_an_invalid_pjrt_nproc_stops_fit_with_one_line():
    for value in ("abc",):  # the other bad values: tests/test_cpu_threads.py, in-process
        res = cogsim("fit", "--list", env={**os.environ, "PJRT_NPROC": value})
        assert res.returncode == 2 and f"PJRT_NPROC: got '{value}'" in res.stderr, res.stderr
        _one_clean_line(res)
    res = cogsim("fit", "--list", env={**os.environ, "PJRT_NPROC": "2"})
    assert res.returncode == 0, res.stderr


def test_a_closed_pipe_ends_quietly():
    proc = subprocess.Popen(
        [sys.executable, "-m", "cogsim", "data", "show", "rouder2008_change_detection"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert proc.returncode == 0 and "Traceback" not in err and err.strip() == ""


def test_internal_errors_are_one_line_and_the_traceback_is_behind_debug(monkeypatch, capsys):
    from cogsim import cli_listing

    def broken(name):
        raise RuntimeError("something inside broke")

    monkeypatch.setattr(cli_listing, "summary", broken)
    assert cli.main(["list"]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: something inside broke" in err and "--debug" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert cli.main(["list", "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "report it" in err


# ----------------------------------------------------------- bad values for every field of every scenario
def _leaf_fields(cls, prefix=""):
    """(dotted name, type, metadata, default) of every leaf field of a config class."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out += _leaf_fields(tp, f"{prefix}{f.name}.")
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            out.append((prefix + f.name, tp, f.metadata, default))
    return out


def _bad_texts(tp, meta, default):
    """Command-line values that validation must reject for a field of type ``tp``."""
    import types
    import typing

    origin, args = typing.get_origin(tp), typing.get_args(tp)
    optional = origin in (typing.Union, types.UnionType) and type(None) in args
    if optional:
        tp = next(a for a in args if a is not type(None))
        origin, args = typing.get_origin(tp), typing.get_args(tp)
    low, high, choices = meta.get("low"), meta.get("high"), meta.get("choices")
    if choices is not None:
        return ["zz_not_a_choice"]
    if origin is typing.Literal:
        return ["zz_not_a_choice"]
    if tp is bool:
        return ["maybe"]
    if tp is int:
        bad = ["abc", "1.5", "nan", str(2**31 if high is None else high + 1)]
        return bad + ([str(low - 1)] if low is not None else [])
    if tp is float:
        bad = ["nan", "inf", "-inf", "abc"]
        return bad + ([repr(high + abs(high) + 1.0)] if high is not None else [])
    if origin is tuple and args and args[-1] is Ellipsis:
        bad = [] if optional or not default or meta.get("allow_empty") else [""]
        if args[0] in (int, float):
            bad += ["abc", "nan" if args[0] is float else "1.5"]
        return bad
    return []  # free strings and the like: any text is a value


def _cases():
    from cogsim import scenario_registry

    cases = []
    for name in scenario_registry.names():
        for field, tp, meta, default in _leaf_fields(scenario_registry.get(name).Config):
            cases += [(name, field, text) for text in _bad_texts(tp, meta, default)]
    return cases


def test_every_bad_value_of_every_scenario_field_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    """In-process over the whole list: each value is rejected before any computation."""
    from cogsim import scenario_registry

    for name in scenario_registry.names():
        mod = scenario_registry.get(name)
        monkeypatch.setattr(mod, "simulate", lambda *a, **k: pytest.fail("a bad value reached simulate"))
    cases = _cases()
    assert len({c[0] for c in cases}) == len(scenario_registry.names())
    for name, field, text in cases:
        rc = cli.main(["run", name, "--set", f"{field}={text}", "--out", str(tmp_path)])
        err = capsys.readouterr().err
        assert rc == 2, (name, field, text, err)
        assert len(err.strip().splitlines()) == 1 and f"'{field}" in err, (name, field, text, err)
    assert not any(tmp_path.iterdir())  # nothing was written


def _generated_bad(tp, meta):
    """A hypothesis strategy of out-of-range or non-finite numbers for numeric fields (None otherwise)."""
    import types
    import typing

    from hypothesis import strategies as st

    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        tp = next(a for a in args if a is not type(None))
    low, high = meta.get("low"), meta.get("high")
    if meta.get("choices") is not None:
        return None
    if tp is int:
        cap = 2**31 - 1 if high is None else high
        above = st.integers(min_value=cap + 1)
        return (above | st.integers(max_value=low - 1)) if low is not None else above
    if tp is float:
        bad = st.sampled_from([float("nan"), float("inf"), float("-inf")])
        if high is not None:
            bad |= st.floats(min_value=high, exclude_min=True, allow_infinity=False)
        if low is not None:
            bad |= st.floats(max_value=low, exclude_max=True, allow_infinity=False)
        return bad.map(repr)
    return None


def test_property_bad_values_through_the_real_command_line(tmp_path):
    """Hypothesis draws a scenario, a field and a bad value (out of range, non-finite, wrong type, empty);
    each goes through a real `python -m cogsim run` and must end with exit 2 and one line."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from cogsim import scenario_registry

    fields = [
        (name, field, tp, meta, default)
        for name in scenario_registry.names()
        for field, tp, meta, default in _leaf_fields(scenario_registry.get(name).Config)
        if _bad_texts(tp, meta, default)
    ]

    def bad_value(item):
        name, field, tp, meta, default = item
        texts = st.sampled_from(_bad_texts(tp, meta, default))
        numbers = _generated_bad(tp, meta)
        values = texts | numbers.map(str) if numbers is not None else texts
        return values.map(lambda text: (name, field, text))

    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.sampled_from(fields).flatmap(bad_value))
    def check(case):
        name, field, text = case
        res = cogsim("run", name, "--set", f"{field}={text}", "--out", str(tmp_path))
        assert res.returncode == 2, (case, res.stderr[-2000:])
        assert f"'{field}" in res.stderr
        _one_clean_line(res)

    check()


def test_the_closing_line_of_a_run_lists_the_files_its_folder_holds(tmp_path, monkeypatch, capsys):
    import types

    import pandas as pd

    from cogsim import runner
    from cogsim.comparison import Comparison, Metric

    folder = tmp_path / "change_detection" / "r1"
    folder.mkdir(parents=True)
    names = ["run.json", "results.parquet", "human.parquet", "comparison.json", "figure.png"]
    tables = {"model_vs_human": pd.DataFrame({"x": [1]})}
    for name in names + [f"{t}.csv" for t in tables]:
        (folder / name).write_text("")
    comp = Comparison((Metric("m", 1.0),), tables=tables, data_kind="trial_level")
    fake = types.SimpleNamespace(folder=folder, wall_time_s=1.0, comparison=comp)
    monkeypatch.setattr(runner, "run", lambda *a, **k: fake)
    assert cli.main(["run", "change_detection", "--out", str(tmp_path), "--quiet"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("wrote "))
    assert line == f"wrote {folder}/ ({', '.join(names)}, model_vs_human.csv)"
    for t in ("a", "b", "c"):
        (folder / f"{t}.csv").write_text("")
    assert cli.written(folder) == ", ".join(names) + " and 4 tables (*.csv)"  # one line however many


def test_the_closing_line_names_every_file_of_a_real_run_folder(two_runs):
    folder = store.resolve_run_folder(two_runs / "change_detection" / "latest")
    listed = cli.written(folder).split(", ")
    # the files (a compare of this run in another test may have added the folder previous/, not named)
    assert sorted(listed) == sorted(p.name for p in folder.iterdir() if p.is_file()), listed
    assert "human.parquet" in listed and "model_vs_human.csv" in listed


@pytest.mark.parametrize(
    "args, needles",
    [
        (
            ["suite", "--only", "iconic_memory,iconic_memory"],
            ["--only 'iconic_memory,iconic_memory'", "'iconic_memory' is given twice"],
        ),
        (["suite", "--only", "iconic_memorx"], ["--only 'iconic_memorx'", "did you mean 'iconic_memory'?"]),
        (["info", "iconic_memorx"], ["unknown scenario 'iconic_memorx' (did you mean 'iconic_memory'?)"]),
        (["data", "show", "umlz"], ["unknown dataset 'umlz' (did you mean 'umls'?)"]),
    ],
)
def test_bad_names_exit_2_naming_the_option_and_the_closest_name(args, needles, tmp_path, capsys):
    if args[0] == "suite":
        args = [*args, "--out", str(tmp_path / "runs")]
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert all(n in err for n in needles), err
    assert not (tmp_path / "runs").exists()


def test_suite_exit_status_and_no_traceback_without_debug(tmp_path, monkeypatch, capsys):
    from cogsim.errors import DataError
    from cogsim.scenarios import iconic_memory

    def bad(config, *, key):
        raise DataError("the data file 'x.csv' is malformed")

    monkeypatch.setattr(iconic_memory, "simulate", bad)
    out = ["--out", str(tmp_path)]
    assert cli.main(["--quiet", "suite", "--only", "iconic_memory", *out]) == 2  # nothing ran: bad input
    res = capsys.readouterr()
    assert "Traceback" not in res.out + res.err and "x.csv' is malformed" in res.err
    monkeypatch.setattr(iconic_memory, "simulate", lambda config, *, key: 1 / 0)
    assert cli.main(["--quiet", "suite", "--only", "iconic_memory", *out]) == 1  # a failed run
    res = capsys.readouterr()
    assert "Traceback" not in res.out and "ERROR: ZeroDivisionError" in res.out
    assert cli.main(["--quiet", "--debug", "suite", "--only", "iconic_memory", *out]) == 1
    assert "Traceback" in capsys.readouterr().out


def test_ctrl_c_in_a_suite_says_which_runs_were_kept(tmp_path, fake, monkeypatch, capsys):
    from cogsim.scenarios import iconic_memory

    def interrupted(config, *, key):
        raise KeyboardInterrupt

    monkeypatch.setattr(iconic_memory, "simulate", interrupted)
    rc = cli.main(["--quiet", "suite", "--only", "change_detection,iconic_memory", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 130 and "finished runs kept: change_detection; REPORT.md lists them" in err, err
    assert "## change_detection" in (tmp_path / "REPORT.md").read_text()


@pytest.mark.parametrize(
    "args, needle",
    [(["info"], "scenario name"), (["info"], "--preset PRESET  preset"), (["data", "show"], "dataset name")],
)
def test_positional_names_and_options_have_help(args, needle, capsys):
    with pytest.raises(SystemExit):
        cli.main([*args, "-h"])
    assert needle in capsys.readouterr().out


def test_the_module_docstring_names_every_suite_and_info_option():
    for option in ("--only", "--seed S", "info NAME [--preset P]"):
        assert option in cli.__doc__.split("cogsim sweep")[0], option
