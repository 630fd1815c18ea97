# Two commands matter: `make run` and `make test`. Everything else is what they use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: install lock audit run test lint typecheck check-deploy bench drill drill-ci ci clean

$(INSTALLED): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	touch $(INSTALLED)

install: $(INSTALLED)

## make lock: pin every package of the dev environment (after changing pyproject.toml)
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	{ echo "# Every package of the dev environment at the versions CI tests (pip freeze); installs use it"; \
	  echo "# as constraints. Regenerate after changing pyproject.toml: make lock"; \
	  $(BIN)/python -m pip freeze --exclude-editable; } > requirements.lock
	touch $(INSTALLED)

## make audit: known vulnerabilities in requirements.lock (pip-audit)
audit: install
	bash .ci/audit

## make run: embedded PostgreSQL (unless DATABASE_URL), migrate, seed, web + worker + beat
run: install
	$(BIN)/python -m registry.local_services run

## make test: the whole suite against real PostgreSQL and Redis (PYTEST_ARGS to narrow it)
test: install
	$(BIN)/python -m registry.local_services test -- $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy .

## production settings must pass Django's deployment checks with no warnings
check-deploy: install
	env $$($(BIN)/python -m registry.generate_keys) DJANGO_ENV=production \
	  ALLOWED_HOSTS=registry.example CELERY_BROKER_URL=redis://127.0.0.1:6379/0 \
	  EMAIL_URL=smtp+tls://127.0.0.1:587 PUBLIC_BASE_URL=https://registry.example \
	  $(BIN)/python manage.py check --deploy --fail-level WARNING

## make bench: scale figures against PostgreSQL's own COPY (BENCH_RECORDINGS=3000000 for the full run)
bench: install
	$(BIN)/python bench/run.py

## make drill: production fault drills, each on its own loopback stack (~25 min on 2 cores)
drill: install
	$(BIN)/python drills/run.py

## make drill-ci: the same drills shortened for CI (1-minute soak, shorter outages)
drill-ci: install
	$(BIN)/python drills/run.py --ci

ci: lint typecheck check-deploy test

clean:
	rm -rf $(VENV) staticfiles .mypy_cache .ruff_cache .pytest_cache
