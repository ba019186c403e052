# lendstack: two commands on a fresh machine.
#   make demo   sets up and runs the main job on the embedded SQLite default
#   make test   sets up and passes every test: lint, types, dependency rules, pytest on SQLite AND PostgreSQL
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck contracts pytest postgres-binaries chromium web-assets bench clean

VENDOR := src/lendstack/web/static/vendor

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian's PostgreSQL server, for the tests' throwaway cluster; nothing to do when it is there.
postgres-binaries:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "installing Debian's postgresql for the test cluster"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; \
	fi

# The console's front-end libraries (Apache ECharts, htmx) from the npm registry, pinned by
# package-lock.json, copied next to the console's own static files. Nothing is fetched at run time.
$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/echarts/dist/echarts.min.js node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	touch $@

web-assets: $(VENDOR)/.installed

# Debian's chromium, for the console's end-to-end tests (Playwright drives it; no browser download),
# and a CJK font so Chinese text renders in the browser screenshots and in PDF reports.
chromium:
	@if ! [ -x /usr/bin/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		echo "installing Debian's chromium and a CJK font for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; \
	fi

demo: $(STAMP) web-assets
	$(BIN)/lendstack demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

# The test session starts a throwaway PostgreSQL cluster (lendstack.store.pgtemp) and removes it
# after; every storage test runs on both backends.
pytest: $(STAMP) postgres-binaries chromium web-assets
	$(BIN)/pytest -q -n 2 --dist loadfile

test: lint typecheck contracts pytest

bench: $(STAMP) postgres-binaries
	$(BIN)/lendstack bench servicing

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache lendstack.db* node_modules $(VENDOR)
