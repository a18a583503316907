# mmstan developer entry points. Everything runs in the active virtualenv, or in .venv.
PY := $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV)/bin/python,$(CURDIR)/.venv/bin/python)

.PHONY: install test test-fast lint demo clean

install:
	bash tools/install.sh

lint: install
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest

test-fast: lint
	$(PY) -m pytest -m "not slow"

demo: install
	$(PY) tools/demo.py

clean:
	rm -rf work_dirs .pytest_cache
