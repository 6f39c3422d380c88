#!/usr/bin/env bash
# The GPU check (docs/gpu.md): benchmarks/bench_gpu.py's gpu preset on a GPU machine without network, in one
# command.
#
#   bash scripts/gpu-check.sh prepare        # here, where PyPI answers: fills .gpu-check/ (git-ignored)
#   bash scripts/gpu-check.sh run [ARGS...]  # there: installs from .gpu-check/ offline, runs the benchmark;
#                                            # ARGS go to bench_gpu.py (e.g. --shapes llama-3.2-1b)
#
# prepare: wheels of what codeja's training path needs beyond torch (TRL, datasets, megatron-core, pydantic;
#   transformers, peft and accelerate as tested here), at the versions installed in this checkout's Python,
#   for the GPU machine's Python (GPU_CHECK_PYVER, default 3.12) on x86-64 Linux (30 MiB); codeja's own
#   wheel; the tokenizer of the bundled tiny model (no weights: the benchmark builds random Llama shapes).
# run: pip-installs those wheels into the machine's Python without an index (what the machine has at a
#   suitable version stays), runs bench_gpu.py under a time limit (GPU_CHECK_TIMEOUT, default 510 s), and
#   writes bench_gpu.json, bench_gpu.md and bench_gpu.log into $OUT (default ./gpu-check-out).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=.gpu-check
WHEELS=$DIR/wheels
# Installed together with their dependencies on the GPU machine, pinned to this checkout's versions.
TOP="transformers trl datasets peft accelerate megatron-core pydantic"
# Their dependencies that such a machine may lack or hold at an unsuitable version (not huggingface-hub: the
# machine's 1.x satisfies transformers, and 2.x would bring more).
DEPS="pydantic-core annotated-types typing-inspection typing-extensions dill multiprocess fsspec xxhash regex
      tokenizers safetensors"

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 2
}

prepare() {
  local py=${PYTHON:-}
  [ -n "$py" ] || { [ -x .venv/bin/python ] && py=.venv/bin/python; } || py=python3
  local pyver=${GPU_CHECK_PYVER:-3.12}
  rm -rf "$DIR"
  mkdir -p "$WHEELS"
  # pins: the versions this checkout's Python has (the ones the test suite passes with)
  local pins
  pins=$("$py" - $TOP $DEPS <<'EOF'
import sys
from importlib import metadata
missing = []
for name in sys.argv[1:]:
    try:
        print(f"{name}=={metadata.version(name)}")
    except metadata.PackageNotFoundError:
        missing.append(name)
if missing:
    sys.exit(f"not installed in {sys.executable}: {' '.join(missing)} (set PYTHON to codeja's environment)")
EOF
)
  echo "$pins" | head -n "$(echo $TOP | wc -w)" > "$DIR/requirements.txt"
  local plat=()
  for p in manylinux1 manylinux2014 manylinux_2_17 manylinux_2_24 manylinux_2_27 manylinux_2_28 \
           manylinux_2_31 manylinux_2_34 manylinux_2_35 manylinux_2_39; do
    plat+=(--platform "${p}_x86_64")
  done
  # shellcheck disable=SC2086
  "$py" -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver" --implementation cp \
    "${plat[@]}" -d "$WHEELS" $pins
  # codeja's wheel, built from a copy so that setuptools' build/ and egg-info stay out of the checkout
  local src
  src=$(mktemp -d)
  cp -r pyproject.toml README.md src "$src/"
  "$py" -m pip wheel -q --no-deps -w "$WHEELS" "$src"
  rm -rf "$src"
  PYTHONPATH=$PWD/src "$py" benchmarks/bench_gpu.py --tokenizer tiny --export-tokenizer "$DIR/tokenizer" \
    >/dev/null
  local commit
  commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  git diff --quiet HEAD 2>/dev/null || commit="$commit-dirty"
  echo "$commit" > "$DIR/commit"
  local mib
  mib=$(du -sm "$DIR" | cut -f1)
  echo "$DIR: $(ls "$WHEELS" | wc -l) wheels, tokenizer, commit $(cat "$DIR/commit"); ${mib} MiB"
  [ "$mib" -lt 56 ] || echo "warning: $DIR is ${mib} MiB; a device run carries 64 MiB, tree included" >&2
  echo "next, on the GPU machine: bash scripts/gpu-check.sh run   (carry: $DIR; timeout 600 s)"
}

run() {
  if [ ! -f "$DIR/requirements.txt" ]; then
    echo "no $DIR/requirements.txt: run 'bash scripts/gpu-check.sh prepare' first" >&2
    exit 2
  fi
  local py=${PYTHON:-python3}
  local out=${OUT:-gpu-check-out}
  mkdir -p "$out"
  export PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  fi
  local t0=$SECONDS
  if ! "$py" -m pip install -q --no-index --no-compile --find-links "$WHEELS" -r "$DIR/requirements.txt"; then
    echo "gpu-check: resolving against this machine's packages failed (above);" \
         "installing the carried wheels without dependency checks instead" >&2
    "$py" -m pip install -q --no-index --no-compile --no-deps "$WHEELS"/*.whl
  fi
  "$py" -m pip install -q --no-index --no-compile --no-deps --force-reinstall "$WHEELS"/codeja-*.whl
  echo "gpu-check: installed in $((SECONDS - t0)) s"
  export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
  export PYTHONUNBUFFERED=1
  export CODEJA_GIT_COMMIT; CODEJA_GIT_COMMIT=$(cat "$DIR/commit")
  export CODEJA_HOME=${CODEJA_HOME:-/tmp/codeja-home}
  local work=${GPU_CHECK_WORK:-/tmp/bench-gpu}
  rm -rf "$work"
  set -o pipefail
  # benchmarks/bench_gpu.py imports the installed codeja (src/ is not on the path), as a user's script would.
  timeout "${GPU_CHECK_TIMEOUT:-510}" "$py" benchmarks/bench_gpu.py --tokenizer "$DIR/tokenizer" \
    --out-dir "$out" --work-dir "$work" "$@" 2>&1 | tee "$out/bench_gpu.log"
}

case "${1:-}" in
  prepare) shift; prepare "$@" ;;
  run) shift; run "$@" ;;
  *) usage ;;
esac
