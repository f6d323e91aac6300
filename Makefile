# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# `make run` is for people at a terminal; deployments keep the JSON default (docs/deploy.md).
LOG_FORMAT ?= text

.PHONY: run test test-clock setup lint bench lock clean translations

# Installs are re-run only when their manifests change (stamp files). Every package comes at
# the exact version and hash requirements.lock names; the project itself adds nothing to it.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.stamp-python: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# Resolve requirements.lock again from pyproject.toml: an upgrade is that file's diff.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet pip-tools
	.venv-lock/bin/pip-compile --quiet --extra test --generate-hashes --strip-extras \
		--allow-unsafe --no-emit-index-url --no-emit-find-links \
		-o requirements.lock pyproject.toml
	rm -rf .venv-lock

node_modules/.stamp-npm: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(VENV)/.stamp-python node_modules/.stamp-npm

# A random SECRET_KEY and AUDIT_KEY are written into .env on the first run and kept after that
# (a new SECRET_KEY would sign everyone out; a new AUDIT_KEY would fail the audit trail's check).
run: setup
	@(umask 077; touch .env)
	@for name in SECRET_KEY AUDIT_KEY; do \
		grep -q "^$$name=" .env && continue; \
		[ -z "$$(tail -c 1 .env)" ] || echo >> .env; \
		echo "$$name=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(48))')" >> .env; \
		echo "wrote a random $$name into .env"; \
	done
	$(BIN)/sightline db upgrade
	$(BIN)/sightline demo --if-empty
	LOG_FORMAT=$(LOG_FORMAT) $(BIN)/sightline serve --host $(HOST) --port $(PORT)

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The engine under a clock years ahead and years behind: nothing may read the real date.
# (On SQLite: PostgreSQL keeps its own clock, and the engine never asks it the time.)
test-clock: setup
	SIGHTLINE_TEST_DATABASE_URL= faketime '2029-03-01 10:00:00' \
		$(BIN)/python -m pytest -q tests/engine tests/forms $(PYTEST_ARGS)
	SIGHTLINE_TEST_DATABASE_URL= faketime '2021-02-01 08:00:00' \
		$(BIN)/python -m pytest -q tests/engine tests/forms $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check engine forms webapp config tests
	$(BIN)/lint-imports
	$(BIN)/mypy engine forms webapp

# Extract the texts to translate and update every language's catalog (webapp: the pages, forms:
# the forms' chrome); translators then edit the .po files. Catalogs are
# compiled in memory when the app starts (engine/base/i18n.py): no .mo files to build.
translations: setup
	for room in webapp forms; do \
		$(BIN)/pybabel -q extract -F babel.cfg --no-location --omit-header -k _ -k gettext \
			-k ngettext:1,2 -k pgettext:1c,2 -o $$room/translations/messages.pot $$room || exit 1; \
		for po in $$room/translations/*/LC_MESSAGES/messages.po; do \
			[ -f "$$po" ] || continue; \
			$(BIN)/pybabel -q update --no-fuzzy-matching -i $$room/translations/messages.pot \
				-o $$po -l $$(basename $$(dirname $$(dirname $$po))); \
		done; \
	done

bench: setup
	$(BIN)/sightline bench

clean:
	rm -rf $(VENV) node_modules data
