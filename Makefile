# Two commands set everything up from a fresh clone: `make demo` and `make test`.
# Only python3 (>= 3.11) and make are assumed; everything else comes from PyPI into .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint docs docs-tables docs-diagram bench bench-cold-start package lock template focus-check build-IngestFunction clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python3 >= 3.11 is required (found %s)" % sys.version.split()[0])'
	@echo "Setting up $(VENV) (once, about 1-2 minutes): pip, then this project with its dev and CLI dependencies"
	@echo "  (boto3, httpx, pyarrow, duckdb, sqlglot, rich, altair, vl-convert, playwright, pytest, moto, ruff, mypy) from PyPI..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@echo "Installed into $(VENV)."
	@touch $@

demo: $(STAMP)
	@echo "usage-lake demo: the simulator, a 7-day back-fill into ./lake, then the totals (a few seconds)"
	$(BIN)/usage-lake demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

# The house rules: ruff (style, imports) and mypy (types) clean on src/. CI runs it before the tests.
lint: $(STAMP)
	$(BIN)/ruff check src
	$(BIN)/mypy

# The documentation site (MkDocs + Material, offline): docs/ -> build/site, --strict (a broken link, a missing page or a
# stale generated page fails). docs/tables.md is rendered from usage_lake.lake.schema first.
docs: $(STAMP) docs-tables
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict
	@echo "docs: build/site/index.html"

docs-tables: $(STAMP)
	$(BIN)/python docs/hooks/tables.py

# The architecture picture (docs/assets/deployed.svg) from its Mermaid source, the README's diagram. Needs node, npx and
# a Chromium (PUPPETEER_EXECUTABLE_PATH, default Debian's); not part of `make docs`, which uses the committed SVG.
docs-diagram:
	mkdir -p build
	printf '{"executablePath": "%s", "args": ["--no-sandbox"]}' "$${PUPPETEER_EXECUTABLE_PATH:-/usr/bin/chromium}" > build/puppeteer.json
	PUPPETEER_SKIP_DOWNLOAD=1 npx -y @mermaid-js/mermaid-cli -p build/puppeteer.json -i docs/assets/deployed.mmd -o docs/assets/deployed.svg -b white

# Benchmarks (figures, not tests): the transform on one core and on two, a 31-day backfill, budgets, the cold start.
bench: $(STAMP)
	$(BIN)/python bench/bench_transform.py
	$(BIN)/python bench/bench_budgets.py
	$(BIN)/python bench/bench_reports.py
	$(BIN)/python bench/bench_cold_start.py

# The Lambda's cold start: dist/lambda.zip (built if stale) under Python 3.13, against a bare `import pyarrow`.
bench-cold-start: $(STAMP)
	$(BIN)/python bench/bench_cold_start.py

# The Lambda artifact (python3.13, x86_64, no Docker): dist/lambda.zip from infra/lambda-requirements.lock + src/.
# Needs only python3 with pip and PyPI; reused while the lock, infra/package.py and src/ are unchanged.
package:
	$(PYTHON) infra/package.py build

# Re-resolve pyproject's runtime dependencies into the lock files (then `make package`).
lock:
	$(PYTHON) infra/package.py lock

# Regenerate infra/template.yaml's Glue columns (from usage_lake.lake.schema) and named queries (from infra/queries/).
template: $(STAMP)
	$(BIN)/python infra/sync_template.py

# The FinOps Foundation's focus-validator on a week of the simulator's `focus` table (Parquet and the CSV export);
# infra/focus_check.py fails on any failed rule docs/focus.md does not document. focus-validator 2.x needs Python >= 3.12
# and pins numpy < 2, so it gets its own venv (3.12 has numpy 1.26 wheels; on 3.13 pip builds numpy from source) and a
# pyarrow that still runs on numpy 1.x. Only PyPI is needed; the validator runs offline (--block-download).
FOCUS_VENV   := build/focus-venv
FOCUS_PINS   := focus-validator==2.2.1 pyarrow==22.0.0
FOCUS_PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12 2>/dev/null) \
                  $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13 2>/dev/null))

$(FOCUS_VENV)/.installed: Makefile
	@test -n "$(FOCUS_PYTHON)" || { echo "focus-check needs Python 3.12 or 3.13 (focus-validator 2.x requires >= 3.12); set FOCUS_PYTHON=/path/to/python3.12" >&2; exit 1; }
	rm -rf $(FOCUS_VENV)
	$(FOCUS_PYTHON) -m venv $(FOCUS_VENV)
	$(FOCUS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check $(FOCUS_PINS)
	@touch $@

focus-check: $(STAMP) $(FOCUS_VENV)/.installed
	$(BIN)/python infra/focus_check.py --validator $(FOCUS_VENV)/bin/focus-validator --work build/focus-check

# `sam build` (BuildMethod: makefile, CodeUri: the repository root) calls this with ARTIFACTS_DIR set:
# the very zip `make package` builds, unpacked for SAM to deploy.
build-IngestFunction:
	$(PYTHON) infra/package.py build
	$(PYTHON) -m zipfile -e dist/lambda.zip "$(ARTIFACTS_DIR)"

clean:
	rm -rf $(VENV) build dist lake *.egg-info src/*.egg-info
