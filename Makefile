# Two entry points: `make reproduce` (set up, run the quick study) and `make test` (set up, run the tests).
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=

.PHONY: setup reproduce test test-slow

setup:
	@bash scripts/setup.sh

reproduce: setup
	$(PY) experiments/run_all.py $(ARGS)

test: setup
	$(PY) -m pytest -n 2 --durations=25 $(ARGS)

test-slow: setup
	$(PY) -m pytest -m slow $(ARGS)
