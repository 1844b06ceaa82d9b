# The few things people do; each is a thin wrapper around infra/dev.py (see README.md).
.PHONY: help demo test test-embedded lint bench
.DEFAULT_GOAL := help

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-14s %s\n", $$1, $$2}'

demo:  ## run rtcc with demo logins and a simulated fleet on http://127.0.0.1:8000/ (PORT=8001 to move it)
	python3 infra/dev.py demo --port $(or $(PORT),8000)

test:  ## the whole suite, against real services and on the embedded default
	python3 infra/dev.py test

test-embedded:  ## the suite on the embedded default only (no services)
	python3 infra/dev.py test --embedded-only

lint:  ## the CI gates (ruff check, ruff format --check, ...); sets up .venv first if needed
	python3 infra/dev.py lint

bench:  ## list the benchmarks (each script's docstring says how to run it)
	@ls bench/*.py
