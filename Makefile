# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both run `setup` first; setup is idempotent and takes about a second once done.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.codeja-setup-$(shell cat pyproject.toml scripts/setup-system.sh scripts/setup-python.sh 2>/dev/null | sha256sum | cut -c1-12)
export CODEJA_HOME ?= $(HOME)/.cache/codeja
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup setup-test demo lint test test-fast bench clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup-system.sh scripts/setup-python.sh
	bash scripts/setup-system.sh
	bash scripts/setup-python.sh $(VENV)
	rm -f $(VENV)/.codeja-setup-*
	touch $@

# The test suite also needs llama-cpp-python[server] (built from source once, ~4 min).
setup-test: setup $(VENV)/.codeja-llamacpp

$(VENV)/.codeja-llamacpp: $(STAMP)
	bash scripts/setup-python.sh $(VENV) --llamacpp
	touch $@

# The tiny end-to-end recipe on CPU; ends by printing the path of report.html.
demo: setup
	$(VENV)/bin/codeja run recipes/tiny.yaml --run-dir runs/tiny

# ruff with the rules in pyproject.toml, over every Python folder; both test commands run it first.
LINT := $(VENV)/bin/ruff check src tests benchmarks scripts examples

lint: setup
	$(LINT)

# Lint, then the whole suite, the slow end-to-end tests included.
test: setup-test
	$(LINT)
	$(VENV)/bin/pytest -q

# Lint, then everything but the tests marked slow.
test-fast: setup-test
	$(LINT)
	$(VENV)/bin/pytest -q -m "not slow"

bench: setup
	$(PY) benchmarks/run_all.py

clean-venv:
	rm -rf $(VENV)
