# Two entry points (see README): `make demo` and `make test`. Everything else is plumbing.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
UV      := $(PY) -m uv
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The hub's parts that users run live outside /root (mode 0700) and outside the work tree.
HUB_HOME ?= /opt/llmbench-hub
HUB_PY   ?= /usr/bin/python3
HUB_SRC  := pyproject.toml config.yaml hub_config/install.sh \
	$(shell find llmbench_jupyter -type f ! -path '*/__pycache__/*' ! -name '*.pyc')

.PHONY: demo test install install-test install-hub hub hub-deps chromium lint typecheck labext-test \
	bench-accuracy clean

$(BIN)/python:
	@$(UV) --version >/dev/null 2>&1 || $(PY) -m pip install --quiet uv
	$(UV) venv --quiet --allow-existing --python $(PY) $(VENV)

# An editable install leaves the project's own modules uncompiled, and with
# PYTHONDONTWRITEBYTECODE=1 Python never caches them: every process, each bench worker
# included, would spend ~0.12 s compiling them. A stale .pyc is simply not used.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(UV) pip install --quiet --python $(BIN)/python --compile-bytecode -e .
	$(BIN)/python -m compileall -q -j 0 llmbench_jupyter
	@touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(UV) pip install --quiet --python $(BIN)/python --compile-bytecode -e '.[test]'
	@touch $@

# The browser tests drive Debian's Chromium (never Playwright's own browser downloads).
chromium:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y chromium; }

$(VENV)/.installed-hub: pyproject.toml $(VENV)/.installed
	$(UV) pip install --quiet --python $(BIN)/python --compile-bytecode -e '.[hub]'
	@touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test
install-hub: $(VENV)/.installed-hub

## The users' side of the hub (root-owned, world-readable): configurable-http-proxy from
## npm in $(HUB_HOME)/node_modules, and $(HUB_HOME)/venv built from $(HUB_PY) with this
## package (a wheel of the work tree, rebuilt when a source file changes), JupyterLab,
## ipykernel and the hub's own jupyterhub version.
hub-deps: $(HUB_HOME)/venv/.installed
$(HUB_HOME)/venv/.installed: $(HUB_SRC) | $(VENV)/.installed-hub
	$(SUDO) bash hub_config/install.sh $(HUB_HOME) \
		"$$($(PY) -c 'import uv; print(uv.find_uv_bin())')" $(HUB_PY)

## Multi-user JupyterHub on http://127.0.0.1:8000 (see hub_config/README.md): sign up as
## $$LLMBENCH_HUB_ADMIN first, then approve the others at /hub/authorize.
hub: install-hub hub-deps
	$(if $(SUDO),sudo -E,) env LLMBENCH_HUB_HOME=$(HUB_HOME) LLMBENCH_HUB_ADMIN=$${LLMBENCH_HUB_ADMIN:-admin} \
		$(BIN)/jupyterhub -f hub_config/jupyterhub_config.py

## The main job on the embedded defaults: SQLite + the built-in simulated endpoint, no keys;
## then JupyterLab (this venv's kernel, package active) on a copy of the quickstart notebook
## in $(DEMO_DIR): JupyterLab saves outputs into the notebooks it opens, and the tracked
## ones must stay clean. Existing copies are kept (they may hold your edits).
DEMO_DIR ?= $(HOME)/llmbench-notebooks
LAB      ?= $(abspath $(BIN))/jupyter lab --ip=127.0.0.1 $(if $(SUDO),,--allow-root)
demo: install
	$(BIN)/llmbench bench --provider local-sim --runs 5 --warmup 1
	@mkdir -p "$(DEMO_DIR)" && cp -n notebooks/*.ipynb "$(DEMO_DIR)/"
	@echo "notebooks copied to $(DEMO_DIR) (the repository's copies stay untouched)"
	cd "$(DEMO_DIR)" && $(LAB) quickstart.ipynb

## The whole test suite (PostgreSQL, the notebooks under nbval and papermill, the browser
## tests), then lint and type checks. nbval and papermill use the venv's `python3` kernelspec.
test: install-test chromium hub-deps
	@test -f $(VENV)/share/jupyter/kernels/python3/kernel.json || \
		$(BIN)/python -m ipykernel install --sys-prefix
	$(BIN)/python -m pytest -q -ra
	$(MAKE) labext-test
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check llmbench_jupyter tests benchmarks hub_config
	$(BIN)/ruff format --check llmbench_jupyter tests benchmarks hub_config
	$(BIN)/mypy

## The lab extension's own tests (Jest) and lint, with the machine's node through jlpm
## (the install already built it into the package: hatch-jupyter-builder, see pyproject).
labext-test: install-test
	cd labextension && $(abspath $(BIN))/jlpm install --immutable
	cd labextension && $(abspath $(BIN))/jlpm test
	cd labextension && $(abspath $(BIN))/jlpm lint:check

lint: install-test
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check llmbench_jupyter tests benchmarks hub_config
	$(BIN)/ruff format --check llmbench_jupyter tests benchmarks hub_config

typecheck: install-test
	$(BIN)/mypy

## Timing accuracy and client CPU per chunk: llmbench vs bare aiohttp vs litellm.
bench-accuracy: install
	$(BIN)/python benchmarks/timing_accuracy.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
