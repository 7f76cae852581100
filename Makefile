# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint render bench bench-quick clean

# setuptools tells every editable install of a package-dir mapping (pyreference.sql is sql/)
# to mind same-named folders: information only, silenced so `make` output stays clean.
# The install compiles the per-row read path with mypyc (setup.py, pyreference/native.py),
# so it runs again whenever one of those sources changes.
NATIVE_SOURCES := $(shell $(PYTHON) pyreference/native.py)

$(VENV)/.installed: pyproject.toml setup.py pyreference/native.py $(NATIVE_SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo 'Installing pyreference; compiling its read path with mypyc takes about a minute.'
	PYTHONWARNINGS='ignore:Editable installation' $(BIN)/python -m pip install --quiet -e '.[test,bench,web]'
	@$(BIN)/pyreference --version  # says whether the read path compiled
	touch $@

demo: $(VENV)/.installed  ## the demo fleet on embedded SQLite
	$(BIN)/pyreference demo
	@echo 'The command is $(BIN)/pyreference (or run: source $(BIN)/activate, then pyreference --help).'

test: $(VENV)/.installed  ## lint, types, rendering check, then every test on SQLite and Postgres
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy pyreference
	$(BIN)/pyreference render --check
	$(BIN)/pytest
	@echo 'The unit tests again, on the Python sources of the compiled modules:'
	PYREFERENCE_PURE_PYTHON=1 $(BIN)/pytest -q tests/unit

lint: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

render: $(VENV)/.installed
	$(BIN)/pyreference render

bench-quick: $(VENV)/.installed
	$(BIN)/pyreference bench --quick

bench: $(VENV)/.installed
	$(BIN)/pyreference bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache pyreference.db build pyreference/native-build.json
	find . -name "*.so" -not -path "./$(VENV)/*" -delete
