# The two commands that matter: `make run` (the service) and `make test` (the suite).
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# A Python >= 3.12: $(PYTHON) if given, else python3.13 / python3.12 / python3 that really run,
# else the newest pyenv version that qualifies.
define FIND_PYTHON
ok() { "$$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }; \
for c in python3.13 python3.12 python3; do \
  p=$$(command -v $$c 2>/dev/null) && ok "$$p" && { echo "$$p"; exit 0; }; \
done; \
if command -v pyenv >/dev/null 2>&1; then \
  for v in $$(pyenv versions --bare 2>/dev/null | sort -rV); do \
    p="$$(pyenv root)/versions/$$v/bin/python3"; \
    [ -x "$$p" ] && ok "$$p" && { echo "$$p"; exit 0; }; \
  done; \
fi
endef
PY = $(or $(PYTHON),$(shell $(FIND_PYTHON)))
# The README walkthrough's project: `make run` prints a portal link for it.
WALKTHROUGH_PROJECT := 0190a000-0000-7000-8000-000000000042

.PHONY: venv run test lint format bench migrate clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -x $(BIN)/python ] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	  echo "Removing $(VENV): it was made with a Python older than 3.12."; rm -rf $(VENV); fi
	@if [ ! -x $(BIN)/python ]; then \
	  py="$(PY)"; \
	  if [ -z "$$py" ]; then \
	    echo "error: this service needs Python 3.12 or newer, and none was found." >&2; \
	    echo "  Install one (e.g. 'apt-get install python3.12 python3.12-venv', 'pyenv install 3.12'," >&2; \
	    echo "  or from python.org), or name it: make $(MAKECMDGOALS) PYTHON=/path/to/python3.12" >&2; \
	    exit 1; \
	  fi; \
	  echo "Creating $(VENV) with $$py"; "$$py" -m venv $(VENV) || exit 1; \
	fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Embedded mode (no DATABASE_URL/REDIS_URL): SQLite + the in-process queue in one process.
# With both set: the production topology (web, worker, scheduler) from the Procfile via honcho.
# Keys this install needs and the environment doesn't give are made once in var/local.env.
run: venv
	@[ -f var/local.env ] || DEBUG=true $(BIN)/python manage.py webhooks_bootstrap --write-env var/local.env
	@while IFS='=' read -r key value; do \
	  case "$$key" in ''|\#*) continue;; esac; \
	  [ -n "$${!key+set}" ] || export "$$key=$$value"; \
	done < var/local.env; \
	export PATH="$(CURDIR)/$(BIN):$$PATH"; \
	if [ -n "$$DATABASE_URL" ] && [ -n "$$REDIS_URL" ]; then \
	  export SESSION_COOKIE_SECURE=$${SESSION_COOKIE_SECURE:-false} CSRF_COOKIE_SECURE=$${CSRF_COOKIE_SECURE:-false}; \
	  export PROMETHEUS_MULTIPROC_DIR="$(CURDIR)/var/metrics"; \
	  rm -rf "$$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$$PROMETHEUS_MULTIPROC_DIR" && \
	  python manage.py migrate --noinput && \
	  python manage.py collectstatic --noinput -v0 && \
	  python manage.py webhooks_bootstrap --check-port && \
	  python manage.py webhooks_portal_link --project $(WALKTHROUGH_PROJECT) && \
	  exec honcho start -f Procfile; \
	else \
	  export DEBUG=$${DEBUG:-true} WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS=$${WEBHOOKS_ALLOW_PRIVATE_DESTINATIONS:-true}; \
	  python manage.py migrate --noinput && \
	  python manage.py webhooks_bootstrap --check-port && \
	  python manage.py webhooks_portal_link --project $(WALKTHROUGH_PROJECT) && \
	  exec python manage.py runserver --noreload 127.0.0.1:$${PORT:-8000}; \
	fi

# The whole suite against PostgreSQL and Redis (DATABASE_URL/REDIS_URL, else 127.0.0.1 defaults).
test: venv
	@$(BIN)/python tests/preflight.py
	@$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: venv
	@$(BIN)/python tests/preflight.py
	$(BIN)/python -m pytest tests/bench -p no:cacheprovider -s -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
