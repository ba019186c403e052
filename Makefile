# lendstack: two commands on a fresh machine.
#   make demo   sets up and runs the main job on the embedded SQLite default
#   make test   sets up and passes every test: lint, types, dependency rules, pytest on SQLite AND PostgreSQL
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck contracts pytest postgres-binaries bench clean

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

demo: $(STAMP)
	$(BIN)/lendstack demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

# The test session starts a throwaway PostgreSQL cluster (lendstack.store.pgtemp) and removes it
# after; every storage test runs on both backends.
pytest: $(STAMP) postgres-binaries
	$(BIN)/pytest -q -n 2 --dist loadfile

test: lint typecheck contracts pytest

bench: $(STAMP) postgres-binaries
	$(BIN)/lendstack bench servicing

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache lendstack.db*
