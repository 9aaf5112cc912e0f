# Ludus: `make run` starts everything on this machine; `make test` runs the format check, the
# linter (100-column lines), mypy on every package and the whole pytest suite (which includes
# the OpenAPI schema diff against docs/openapi.yaml; `make schema` regenerates it).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run test install lint fmt schema bench migrate demo clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[test]'
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

clean:
	rm -rf $(VENV) var staticfiles test-output
