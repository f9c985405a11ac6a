# Two commands on a fresh machine (README): `make repro` and `make test`. Both are idempotent:
# setup steps are file targets and rerun only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHECKOV_VENV := .venv-checkov
# The project's venv comes first, so dvc.yaml's `qwen-iac` commands resolve to it.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: setup repro test lint clean-venv

setup: $(VENV)/.installed $(CHECKOV_VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# CPU machines: torch 2.13.0 is taken from local disk here; a GPU machine gets the CUDA build from PyPI.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c requirements.lock -e '.[test]'
	$(BIN)/python -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['tool']['qwen-iac']['no-deps'])" \
		| xargs $(BIN)/pip install --quiet --no-deps -c requirements.lock
	touch $@

$(CHECKOV_VENV)/.installed: pyproject.toml requirements-checkov.lock
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -c requirements-checkov.lock \
		"$$($(PYTHON) -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['tool']['qwen-iac']['checkov'])")"
	touch $@

# (1) The main job: the whole pipeline on the embedded default (CPU, offline).
repro: setup
	dvc repro

# (2) The test suite (CPU; GPU tests skip with the reason).
test: setup
	$(BIN)/ruff check stages corpus tests benchmarks
	$(BIN)/python -m pytest -ra --durations=15

lint: setup
	$(BIN)/ruff check stages corpus tests benchmarks
