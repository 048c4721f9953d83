# Witan: the two commands are `make demo` and `make test`; both set up .venv first if needed.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: setup demo test test-fast lint typecheck synth deploy bench layers clean console

$(VENV)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip==25.3
	$(VENV)/bin/pip install --quiet -r requirements.lock
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

setup: $(VENV)/.installed

# The council console: npm ci from console/package-lock.json (exact versions), then the build copies our
# source and the vendored npm files into the shared layer's witan/console/site/ (not committed).
CONSOLE_SITE := layers/shared/python/witan/console/site/index.html
$(CONSOLE_SITE): console/package.json console/package-lock.json console/build.mjs $(wildcard console/src/*)
	cd console && npm ci --no-audit --no-fund --ignore-scripts && node build.mjs

console: $(CONSOLE_SITE)

demo: setup console
	$(PY) -m local.demo

test: setup console
	$(PY) -m pytest -n 2 --dist loadgroup -q

lint: setup typecheck
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# mypy, strict on the domain package (config in pyproject.toml, with the AWS and library stubs).
typecheck: setup
	$(VENV)/bin/mypy -p witan

synth: setup
	WITAN_SKIP_LAYER_BUILD=$${WITAN_SKIP_LAYER_BUILD:-0} $(PY) -m infra.app

layers: setup
	$(PY) -m layers.build

deploy: setup console layers
	npx --yes aws-cdk@2 deploy --app "$(PY) -m infra.app" --require-approval broadening

bench: setup
	$(PY) -m benchmarks

# Headless Chromium for the browser tests (tests/e2e): without it `make test` skips them and says so;
# CI (.ci/run) requires them. Debian has the `chromium` package; on Ubuntu it is `chromium-browser`
# (a snap). Asks for sudo when not root; on other systems install Chromium by hand.
.PHONY: browser
browser:
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then \
		echo "Chromium: $$(command -v chromium || command -v chromium-browser)"; \
	elif command -v apt-get >/dev/null; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && ($$SUDO apt-get install -y -qq chromium || $$SUDO apt-get install -y -qq chromium-browser); \
	else \
		echo "Install Chromium (chromium or chromium-browser on PATH) to run the browser tests" >&2; exit 1; \
	fi

clean:
	rm -rf cdk.out .build .witan-local .pytest_cache .ruff_cache console/node_modules layers/shared/python/witan/console/site
