#!/usr/bin/env bash
# Every GPU check and benchmark, in one go and under 8 minutes:
#   1. tests: the kernel tests with the Pallas kernels compiled by Triton (COGSIM_TEST_COMPILED=1), not
#      interpreted, one pytest process per file in GPU_CHECK_TEST_FILES' order (the Mosaic GPU forward's
#      tests first: compiled on a Hopper GPU, skipped elsewhere), each stopped at its share of the budget
#      (time a file leaves unused goes to the next ones), so a failing or slow file hides no other;
#      the first run compiled about 8 s per test (17 flash-attention tests in 140 s on an H200) and the files
#      hold about 60 tests that compile, so a complete pass needs roughly 8 minutes
#      (GPU_CHECK_STAGES=tests GPU_CHECK_TEST_S=480; an estimate, not measured);
#   2. attention: benchmarks/attention.py inside one budget: correctness of the compiled kernel on a few
#      configurations first (the Triton kernel and the Mosaic GPU forward), then forward and forward+backward
#      TFLOP/s against XLA, cuDNN and jax's bundled Pallas mha (and, for Mosaic, jax's bundled Mosaic GPU
#      attention), in bfloat16 and in float32 with a bias (as the models call it); the JSON is rewritten
#      after every measurement, so a timeout keeps what was measured;
#   3. induction: benchmarks/induction_training.py (training steps/s against eager PyTorch on the same GPU,
#      8 vmapped seeds against 8 sequential runs);
#   4. eccnet: benchmarks/visual_search.py (batched search against the per-fixation loop, batch sizes 1
#      and 16);
#   5. oat (not in the default stages): OAT training time per epoch at the quick and the published size
#      (benchmarks/oat.py's bench_training), to plan the scanpath scenarios' paper presets;
#   6. paper (not in the default stages): `cogsim run NAME --preset paper` for each scenario named in
#      GPU_CHECK_PAPER (default dual_process), each run killed after GPU_CHECK_PAPER_S seconds; the run
#      folders go to $RESULTS/paper_runs/ (and, as one tar.gz, to $OUT).
# Results: benchmarks/results/{kernel_tests,attention,induction_training,visual_search,oat_training}_gpu.json, also
# copied into $OUT when that is set. Needs no network: it uses the Python environment it finds (jax with
# CUDA; torch with CUDA for the induction peer).
#
#   bash benchmarks/gpu_check.sh            # PYTHON=python3.12 bash benchmarks/gpu_check.sh to pick one
#   GPU_CHECK_STAGES="induction eccnet" bash benchmarks/gpu_check.sh     # some stages only
#   GPU_CHECK_ALLOW_CPU=1 GPU_CHECK_RESULTS=/tmp/r ...   # a dry run on a machine without a GPU
#   (there the attention stage runs benchmarks/attention.py --dry-run: tiny sizes, interpreted kernel)
# The compiled tests are stopped with SIGINT at their budget, so pytest still writes the results it has.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
TOTAL_S=${GPU_CHECK_TOTAL_S:-470}     # whole script, seconds (kept under 8 minutes)
TEST_S=${GPU_CHECK_TEST_S:-90}        # the compiled test files together
# path:weight, run in this order; a file's budget: the test time left times its weight over the weights left
TEST_FILES=${GPU_CHECK_TEST_FILES:-"tests/kernels/test_mosaic_attention.py:3 tests/kernels/test_mosaic_compile.py:1
  tests/kernels/test_flash_attention.py:4 tests/kernels/test_topk_attention.py:2 tests/test_attention.py:1"}
ATTN_S=${GPU_CHECK_ATTENTION_S:-150}  # benchmarks/attention.py's budget, correctness included
IND_S=${GPU_CHECK_INDUCTION_S:-90}    # benchmarks/induction_training.py (killed after this)
ECC_S=${GPU_CHECK_ECCNET_S:-90}       # benchmarks/visual_search.py (killed after this)
OAT_S=${GPU_CHECK_OAT_S:-90}          # OAT training epochs at both sizes (killed after this)
PAPER_S=${GPU_CHECK_PAPER_S:-240}     # each paper-preset scenario run (killed after this)
PAPER=${GPU_CHECK_PAPER:-"dual_process"}
STAGES=${GPU_CHECK_STAGES:-"tests attention induction eccnet"}
export PYTHONUNBUFFERED=1  # progress lines reach the log even when a stage is stopped
want() { [[ " $STAGES " == *" $1 "* ]]; }
RESULTS=${GPU_CHECK_RESULTS:-"$ROOT/benchmarks/results"}  # another folder for a dry run (required there)
START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }

echo "== environment"
"$PY" - <<'EOF'
import platform, jax
print("python", platform.python_version(), "| jax", jax.__version__, "| backend", jax.default_backend())
print("devices", jax.devices())
EOF
if [ "$("$PY" -c 'import jax; print(jax.default_backend())')" != "gpu" ] && [ -z "${GPU_CHECK_ALLOW_CPU:-}" ]; then
  echo "no GPU visible to jax: nothing to check (GPU_CHECK_ALLOW_CPU=1 for a dry run)" >&2
  exit 2
fi
if [ "$("$PY" -c 'import jax; print(jax.default_backend())')" != "gpu" ] && [ -z "${GPU_CHECK_RESULTS:-}" ]; then
  echo "a dry run needs GPU_CHECK_RESULTS=DIR: benchmarks/results holds the committed GPU records" >&2
  exit 2
fi
mkdir -p "$RESULTS"

# ---- make `import cogsim.kernels` work without network access
SHIM=$(mktemp -d)
trap 'rm -rf "$SHIM"' EXIT
if ! "$PY" -P -c "import cogsim.kernels" 2>/dev/null; then
  "$PY" -m pip install --quiet --no-deps --no-build-isolation -e . >"$SHIM/pip.log" 2>&1 \
    || echo "(editable install failed, using a path shim; see below)"
fi
if ! "$PY" -P -c "import jaxtyping" 2>/dev/null; then
  # Only used for shape annotations: a stand-in keeps the import working offline.
  cat >"$SHIM/jaxtyping.py" <<'EOF'
"""Stand-in for jaxtyping (annotations only)."""
from typing import Any as Array


class _Dtype:
    def __class_getitem__(cls, item):
        return Array


Float = Bool = Int = Integer = Shaped = Num = Real = Key = _Dtype
EOF
  echo "(jaxtyping missing: using an annotation stand-in)"
fi
if ! PYTHONPATH="$SHIM${PYTHONPATH:+:$PYTHONPATH}" "$PY" -P -c "import cogsim.kernels" 2>/dev/null; then
  mkdir -p "$SHIM/cogsim"
  cat >"$SHIM/cogsim/__init__.py" <<EOF
# cogsim.kernels lives in <repo>/kernels (setuptools package-dir); map it without installing.
__path__ = ["$ROOT/cogsim", "$ROOT"]
exec(compile(open("$ROOT/cogsim/__init__.py").read(), "$ROOT/cogsim/__init__.py", "exec"))
EOF
fi
export PYTHONPATH="$SHIM${PYTHONPATH:+:$PYTHONPATH}"
"$PY" -P -c "import cogsim.kernels, sys; print('cogsim.kernels from', cogsim.kernels.__file__)" || {
  cat "$SHIM/pip.log" 2>/dev/null; echo "cannot import cogsim.kernels" >&2; exit 1; }

# ---- 1. compiled kernel tests
TEST_RC=0
if want tests; then
echo "== compiled kernel tests (budget ${TEST_S}s, at $(elapsed)s)"
JUNIT=()
if "$PY" -P -c "import pytest" 2>/dev/null; then
  TEST_END=$(( $(date +%s) + TEST_S ))
  WEIGHTS_LEFT=0
  for item in $TEST_FILES; do WEIGHTS_LEFT=$(( WEIGHTS_LEFT + ${item##*:} )); done
  i=0
  for item in $TEST_FILES; do
    file=${item%:*} weight=${item##*:} i=$(( i + 1 ))
    left=$(( TEST_END - $(date +%s) ))
    b=$(( left * weight / WEIGHTS_LEFT ))
    WEIGHTS_LEFT=$(( WEIGHTS_LEFT - weight ))
    [ "$b" -ge 10 ] || b=10  # every file starts, even when the ones before used the time
    echo "-- $file (budget ${b}s)"
    junit="$SHIM/junit_$i.xml"
    file_start=$(date +%s)
    COGSIM_TEST_COMPILED=1 timeout -s INT --kill-after=15 "$b" "$PY" -P -m pytest "$file" -q -m "not slow" \
      -p no:cacheprovider --durations=5 --junitxml="$junit"
    rc=$?
    echo "   $file rc=$rc in $(( $(date +%s) - file_start ))s"
    [ "$rc" -eq 0 ] || [ "$rc" -eq 5 ] || TEST_RC=$rc  # 5: nothing ran (every test skipped)
    JUNIT+=("$file=$b=$rc=$junit")
  done
else
  echo "pytest is not installed: tests skipped"
  TEST_RC=3
fi
"$PY" - "$RESULTS/kernel_tests_gpu.json" "$TEST_RC" "${JUNIT[@]}" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
dst, rc, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
COUNTS = ("tests", "failures", "errors", "skipped")
TIMED_OUT = (2, 124, 130, 137)  # interrupted (pytest's 2 after SIGINT), timeout, killed
out = {"returncode": rc, "compiled": True, "files": []}
for run in runs:
    name, budget, file_rc, src = run.split("=", 3)
    file_rc = int(file_rc)
    one = {"file": name, "budget_s": int(budget), "returncode": file_rc, "timed_out": file_rc in TIMED_OUT}
    try:
        root = ET.parse(src).getroot()
        suite = root if root.tag == "testsuite" else root.find("testsuite")
        one.update({k: int(suite.get(k, 0)) for k in COUNTS})
        one["time_s"] = float(suite.get("time", 0))
        one["problems"] = [
            {"test": f"{c.get('classname')}::{c.get('name')}", "message": (p.get("message") or "")[:1500]}
            for c in suite.iter("testcase") for p in list(c) if p.tag in ("failure", "error")
        ]
    except Exception as e:  # no report (killed, missing pytest)
        one["report_error"] = repr(e)
    out["files"].append(one)
files = out["files"]
out["timed_out"] = any(f["timed_out"] for f in files)
out.update({k: sum(f.get(k, 0) for f in files) for k in COUNTS})
out["time_s"] = round(sum(f.get("time_s", 0.0) for f in files), 2)
out["problems"] = [p for f in files for p in f.get("problems", [])]
json.dump(out, open(dst, "w"), indent=1)
print("tests:", {k: out.get(k) for k in (*COUNTS, "returncode", "timed_out")})
for f in files:
    print("  ", f["file"], {k: f.get(k) for k in (*COUNTS, "returncode", "timed_out")})
EOF
fi

# ---- 2-4. benchmarks, each with its budget (never past TOTAL_S)
budget() { local left=$(( TOTAL_S - $(elapsed) - 15 )); echo $(( $1 < left ? $1 : (left > 30 ? left : 30) )); }
BENCH_RC=0
run_bench() {  # name seconds command...: killed after that many seconds
  local name=$1 b=$2; shift 2
  echo "== $name (killed after ${b}s, at $(elapsed)s)"
  timeout --kill-after=10 "$b" "$@"
  local rc=$?
  echo "   $name rc=$rc"
  [ "$rc" -eq 0 ] || BENCH_RC=$rc
}
if want paper; then
  for name in $PAPER; do
    run_bench "paper preset of $name" "$(budget "$PAPER_S")" "$PY" -P -m cogsim.cli run "$name" --preset paper \
      --out "$RESULTS/paper_runs"
  done
fi
if want attention; then
  B=$(budget "$ATTN_S")
  DRY=()
  [ "$("$PY" -c 'import jax; print(jax.default_backend())')" = "gpu" ] || DRY=(--dry-run)
  run_bench "attention (--budget-s ${B}, +30s to finish)" $(( B + 30 )) "$PY" -P benchmarks/attention.py --budget-s "$B" "${DRY[@]}" \
    --out "$RESULTS/attention_gpu.json"
fi
if want induction; then
  run_bench induction "$(budget "$IND_S")" "$PY" -P benchmarks/induction_training.py --steps 100 \
    --out "$RESULTS/induction_training_gpu.json" --note "benchmarks/gpu_check.sh"
fi
if want eccnet; then
  run_bench eccnet "$(budget "$ECC_S")" "$PY" -P benchmarks/visual_search.py --experiments 2 5 --trials 8 \
    --batch-sizes 1 16 --threads 2 --out "$RESULTS/visual_search_gpu.json"
fi
if want oat; then
  run_bench oat "$(budget "$OAT_S")" "$PY" -P - "$RESULTS/oat_training_gpu.json" <<'EOF'
import json, sys
sys.path.insert(0, "benchmarks")
import jax
import oat as bench

train, _, _ = bench._data()
out = {"device": str(jax.devices()[0]), "jax": jax.__version__, "training": []}
for size in ("quick", "paper"):  # the first epoch compiles; the JSON is rewritten after each size
    out["training"].append(bench.bench_training(size, train, epochs=3))
    json.dump(out, open(sys.argv[1], "w"), indent=1)
    print(out["training"][-1])
EOF
fi

if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT"
  for f in kernel_tests attention induction_training visual_search oat_training; do
    cp "$RESULTS/${f}_gpu.json" "$RESULTS/${f}_gpu.partial.json" "$OUT"/ 2>/dev/null || true
  done
  [ -d "$RESULTS/paper_runs" ] && tar -czf "$OUT/paper_runs.tar.gz" -C "$RESULTS" paper_runs
fi
echo "== done in $(elapsed)s: tests rc=$TEST_RC, benchmarks rc=$BENCH_RC"
[ "$TEST_RC" -eq 0 ] && [ "$BENCH_RC" -eq 0 ]
