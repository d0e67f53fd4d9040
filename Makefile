# The two commands a newcomer needs: `make demo` and `make test`.
# Both create .venv and install what they need on first use; later runs reuse it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/warmcase demo

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	mkdir -p build/typing && ln -sfn ../../adapters build/typing/warmcase_adapters
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Projection benchmark options; the issue's full size is PROJECTIONS_BENCH_ARGS='--events 1000000'.
PROJECTIONS_BENCH_ARGS ?= --events 100000

bench: $(STAMP)
	$(PY) -m benchmarks.commands
	$(PY) -m benchmarks.projections $(PROJECTIONS_BENCH_ARGS)
	$(PY) -m benchmarks.scale

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .hypothesis
