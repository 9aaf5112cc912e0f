# Ludus: `make run` starts everything on this machine; `make test` runs the format check, the
# linter (100-column lines), mypy on every package and the whole pytest suite (which includes
# the OpenAPI schema diff against docs/openapi.yaml; `make schema` regenerates it).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install lint fmt schema bench migrate demo clean core-check

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Everything: the ranking core, the service extra and the test and dev tools.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[service,test,dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo

run: install
	$(PY) manage.py serve --demo --host $(HOST) --port $(PORT)

lint: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

fmt: install
	$(VENV)/bin/ruff format .

# The committed API schema; tests/arena/test_api_schema.py fails when it is out of date.
schema: install
	$(PY) manage.py spectacular --file docs/openapi.yaml --validate --fail-on-warn

test: install lint
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: install
	$(PY) -m pip install --quiet -e '.[bench]'
	for f in bench/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

# The ranking library alone: a fresh venv with only the core distribution and its test
# extra (no Django, no Celery) runs `python -m ranking rate` from outside the source tree and
# the ranking tests. Too slow for the suite (a fresh install, then tests/ranking): CI runs it.
CORE_VENV ?= var/core-venv
core-check:
	rm -rf $(CORE_VENV)
	$(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install --quiet '.[test]'
	$(CORE_VENV)/bin/python tests/ranking/core_check.py
	$(CORE_VENV)/bin/python -m pytest -q -p no:cacheprovider tests/ranking

clean:
	rm -rf $(VENV) var staticfiles test-output
