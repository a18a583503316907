# mmstan developer entry points. Everything runs in the active virtualenv, or in .venv.
PY := $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV)/bin/python,$(CURDIR)/.venv/bin/python)
# pytest-xdist processes; a test file's tests stay on one (they share its fixtures).
PYTEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile

.PHONY: install test test-fast lint demo clean

install:
	bash tools/install.sh

lint: install
	$(PY) -m ruff check .

test: lint
	$(PYTEST)

test-fast: lint
	$(PYTEST) -m "not slow"

demo: install
	$(PY) tools/demo.py

clean:
	rm -rf work_dirs .pytest_cache
