# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test test-browser lint format typecheck schema schema-check pytest bench clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/linkinsights serve --demo

test: $(STAMP) lint typecheck schema-check pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy

schema: $(STAMP)
	$(BIN)/linkinsights export-schema > schema.graphql

schema-check: $(STAMP)
	$(BIN)/linkinsights export-schema --check schema.graphql

# pytest exits 5 when it collected no test; that is not a failure of the code under test.
pytest: $(STAMP)
	$(BIN)/pytest -q || test $$? -eq 5

# GraphiQL and /dashboard in Debian's headless Chromium (apt-get install -y chromium);
# screenshots in BROWSER_SCREENSHOTS. Not part of `make test`, which needs no browser.
BROWSER_SCREENSHOTS ?= $(CURDIR)/.data/screenshots
test-browser: $(STAMP)
	@test -x /usr/bin/chromium || { echo "make test-browser needs /usr/bin/chromium: apt-get install -y chromium"; exit 1; }
	BROWSER_SCREENSHOTS=$(BROWSER_SCREENSHOTS) $(BIN)/pytest -q -s -p no:cacheprovider tests/browser
	@echo "screenshots: $(BROWSER_SCREENSHOTS)"

bench: $(STAMP)
	$(BIN)/python bench/redirect.py
	$(BIN)/python bench/batch.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/predictions.py
	$(BIN)/python bench/email_engagement.py
	$(BIN)/python bench/chaos.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
