# Two commands: `make run` serves the site, `make test` runs the whole suite.
# Both create .venv and install what they need; nothing is expected to be
# installed by hand beforehand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test fuzz setup migrate bench clean lint

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

migrate: setup
	$(PY) manage.py migrate --noinput

run: setup
	./scripts/run.sh

test: setup
	./scripts/test.sh

# The fuzz campaign: Atheris on the parsers plus the Hypothesis properties, large budget.
fuzz: setup
	./scripts/fuzz.sh

bench: setup
	$(PY) bench/http_auth.py
	./scripts/ensure_haproxy.sh
	$(PY) bench/hub_scale.py

lint: setup
	$(PY) -m mypy .

clean:
	rm -rf $(VENV) .run node_modules
