# pwguard: every target does the steps it needs on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8080

.PHONY: install browsers node run test lint bench dist bundle clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml setup.py server/pwguard/rules/_walk.c
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

browsers:
	tools/system-deps.sh test

run: install
	$(BIN)/pwguard serve --rules rules --port $(PORT)

test: install browsers node
	$(BIN)/pytest

lint: install node
	$(BIN)/ruff check server tests tools bench
	$(BIN)/mypy
	$(BIN)/pwguard lint rules
	npx --no-install web-ext lint --source-dir extension --self-hosted

bench: install node
	tools/system-deps.sh bench
	$(BIN)/python -m bench

bundle: install
	$(BIN)/pwguard bundle --rules rules --out extension/rules.bundled.json

dist: install node bundle
	$(BIN)/python tools/dist.py

clean:
	rm -rf $(VENV) node_modules dist build .pytest_cache .mypy_cache .ruff_cache
	rm -f server/pwguard/rules/_walk.*.so
