# Corner: `make run` starts everything, `make test` checks everything.
SHELL := /bin/bash
UV ?= uv
APT_PACKAGES := postgresql-15 postgresql-15-postgis-3 redis-server fonts-noto-cjk chromium
PYTEST_WORKERS ?= auto

.PHONY: bootstrap run test lint typecheck pytest format services-up services-down bench clean console

bootstrap:  ## system packages (apt-get, as root) and Python packages (uv)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "missing Debian packages:$$missing (run make bootstrap as root)"; exit 1; fi; \
	fi
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync --frozen

run: bootstrap  ## embedded PostGIS + Redis, migrations, demo data, API on 127.0.0.1:8000
	$(UV) run corner dev

test: bootstrap lint typecheck pytest  ## everything CI checks

lint:  ## style, and the import contract (layers, see docs/architecture.md)
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports --no-cache

typecheck:
	$(UV) run mypy .

pytest:
	$(UV) run pytest -n $(PYTEST_WORKERS) -p no:cacheprovider

format:
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

console:  ## rebuild the merchant console bundle (api/console/static, committed) from console/
	cd console && npm ci --no-audit --no-fund && npm run build

services-up:
	$(UV) run corner services up

services-down:
	$(UV) run corner services down

clean:
	-$(UV) run corner services down
	rm -rf .corner
