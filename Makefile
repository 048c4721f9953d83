# Witan: the two commands are `make demo` and `make test`; both set up .venv first if needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: setup demo test test-fast lint synth deploy bench layers clean

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(VENV)/bin/pip install --quiet -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(PY) -m local.demo

test: setup
	$(PY) -m pytest -n 2 --dist loadgroup -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

synth: setup
	WITAN_SKIP_LAYER_BUILD=$${WITAN_SKIP_LAYER_BUILD:-0} $(PY) -m infra.app

layers: setup
	$(PY) -m layers.build

deploy: setup layers
	npx --yes aws-cdk@2 deploy --app "$(PY) -m infra.app" --require-approval broadening

bench: setup
	$(PY) -m benchmarks

clean:
	rm -rf cdk.out .build .witan-local .pytest_cache .ruff_cache
