# The few things people do. Each verb is a thin wrapper; see README.md.
.PHONY: demo test test-embedded lint bench

demo:
	python3 infra/dev.py demo

test:
	python3 infra/dev.py test

test-embedded:
	python3 infra/dev.py test --embedded-only

lint:
	python3 infra/dev.py lint

bench:
	@ls bench/*.py
