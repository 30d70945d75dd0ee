PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run serve test bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) cli.py route --scenario data/sample --out out/sample

# the bundled sample on an embedded SQLite ledger (recovered on the next start); dev secrets unless set
SOURCEWISE_TOKEN ?= dev-token
SOURCEWISE_SHOPIFY_SECRET ?= dev-shopify-secret
SOURCEWISE_CT_AUTH ?= Bearer dev-commercetools
SOURCEWISE_MAGENTO_TOKEN ?= dev-magento
export SOURCEWISE_TOKEN SOURCEWISE_SHOPIFY_SECRET SOURCEWISE_CT_AUTH SOURCEWISE_MAGENTO_TOKEN
serve: $(STAMP)
	$(PY) cli.py serve --scenario data/sample --store sqlite:///out/serve/ledger.db --host 127.0.0.1 --port 8080

test: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) -m pytest benchmarks --benchmark-only --benchmark-json=out/bench.json -q

lint: $(STAMP)
	$(PY) -m ruff check .

clean:
	rm -rf $(VENV) out
