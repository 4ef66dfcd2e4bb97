# The two commands a new machine needs: `make demo` and `make test`.
# Both create .venv when missing and install carerun into it; nothing else is assumed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean browser

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/carerun demo --out demo-output

# Browser tests open the report and the map in Debian's headless Chromium; install it when
# missing (needs root and the Debian registry). Where it cannot be installed they skip, saying why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq chromium >/dev/null) ; } || \
	  echo "note: chromium is not installed and could not be; browser tests will skip"

test: $(STAMP) browser
	$(BIN)/python -m pytest -q
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/mypy

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/matrix.py --json benchmarks/results/matrix.json

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
