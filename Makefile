# jupyterlab-remote: `make demo` and `make test` work on a fresh Debian machine (as root, or
# as a user with the system packages already present). Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
export PATH := $(BIN):$(PATH)
PYTEST_ARGS ?=

.PHONY: help system-deps bench-system-deps install frontend demo test lint typecheck pytest clean bench bench-peers

help:
	@echo "make demo   - start a local demo SSH host and JupyterLab with the extension"
	@echo "make test   - install everything and run lint, typecheck and all tests"
	@echo "make bench  - benchmarks against the peers (root; ~15 min) -> bench/RESULTS.md"
	@echo "make soak   - one hour of network faults under a printing remote kernel (root) -> bench/soak-latest.md"

system-deps:
	sh scripts/system-deps.sh

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml labextension/package.json labextension/yarn.lock
	$(BIN)/pip install -q 'jupyterlab>=4.6,<5' 'hatchling>=1.21' 'hatch-jupyter-builder>=0.9' editables
	sh labextension/yarnrc.sh
	$(BIN)/pip install -q --no-build-isolation -e '.[test,demo]'
	$(BIN)/jupyter labextension develop --overwrite . >/dev/null
	touch $@

install: system-deps $(VENV)/.installed

frontend: install
	cd labextension && jlpm build

demo: install
	$(BIN)/python -m scripts.demo

lint: install
	$(BIN)/ruff check jupyter_remote tests scripts bench
	$(BIN)/ruff format --check jupyter_remote tests scripts bench || true

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

test: install
	$(BIN)/ruff check jupyter_remote tests scripts bench
	$(BIN)/mypy
	$(BIN)/jupyter server extension list 2>&1 | grep -E "jupyter_remote.*OK"
	$(BIN)/jupyter labextension list 2>&1 | grep -E "jupyterlab-remote.*enabled.*OK"
	cd labextension && jlpm test --silent
	cd labextension && jlpm typecheck
	$(BIN)/python scripts/check_dist.py
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)
	sh ui-tests/run.sh

clean:
	rm -rf $(VENV) labextension/node_modules labextension/lib jupyter_remote/labextension .demo \
		ui-tests/node_modules ui-tests/.jupyter-data ui-tests/.testhost ui-tests/test-results \
		ui-tests/playwright-report

# Benchmarks (not part of `make test`): the peers and py-spy live in their own venv.
BENCH_PEERS := bench/.venv-peers
BENCH_ARGS ?=

$(BENCH_PEERS)/.installed: bench/requirements-peers.txt
	rm -rf $(BENCH_PEERS)
	$(PYTHON) -m venv $(BENCH_PEERS)
	$(BENCH_PEERS)/bin/pip install -q -U pip
	$(BENCH_PEERS)/bin/pip install -q -r bench/requirements-peers.txt
	touch $@

bench-peers: $(BENCH_PEERS)/.installed

bench-system-deps:
	sh scripts/system-deps.sh bench

bench: bench-system-deps $(VENV)/.installed bench-peers
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Soak (not part of `make test`; root): one remote kernel printing through an hour of link
# cuts and silent drops. SOAK_SECONDS=300 SOAK_FAULT_EVERY=60 for a short run; SOAK_ARGS for
# the rest (python -m bench.soak --help). Figures -> bench/soak-latest.{json,md}.
.PHONY: soak
soak: install
	$(BIN)/python -m bench.soak $(SOAK_ARGS)
