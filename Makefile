# Outreach — see README.md. Every target runs from a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
COMPOSE := $(shell if docker compose version >/dev/null 2>&1; then echo "docker compose"; elif command -v docker-compose >/dev/null 2>&1; then echo docker-compose; fi)

.PHONY: help install up down run admin test test-unit test-integration test-faults test-browser test-content compose-test compose-check migrate lint bench lock clean
AXE := tests/browser/node_modules/axe-core/axe.min.js

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 20

install: $(STAMP) ## create .venv from the lock file

$(STAMP): requirements-dev.lock pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

up: ## the whole stack in Docker Compose (falls back to `make run` without a Docker engine)
	@if [ -n "$(COMPOSE)" ] && docker info >/dev/null 2>&1; then \
		$(COMPOSE) up --build; \
	else \
		echo "make up: no Docker engine answers here; running the services as local processes (make run)."; \
		$(MAKE) --no-print-directory run; \
	fi

down: ## stop the Compose stack
	$(COMPOSE) down

run: $(STAMP) ## every service as local processes against DATABASE_URL / AMQP_URL
	$(BIN)/python infra/run_local.py

migrate: $(STAMP) ## create the database if missing and apply migrations
	$(BIN)/python -m ops migrate

admin: $(STAMP) ## create an admin for /admin: make admin EMAIL=you@example.com (asks for the password)
	@test -n "$(EMAIL)" || { echo "usage: make admin EMAIL=you@example.com"; exit 2; }
	$(BIN)/python -m ops create-admin "$(EMAIL)"

test: $(STAMP) ## the whole suite against real PostgreSQL, RabbitMQ and the SES emulator
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP)
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

test-faults: $(STAMP) ## the fault suite: `make run` here (or E2E_* URLs), kills and restarts, then audits; restarts PostgreSQL and RabbitMQ
	$(BIN)/python -m pytest -m faults tests/e2e -s $(PYTEST_ARGS)

test-browser: $(STAMP) $(AXE) ## headless Chromium (Debian's /usr/bin/chromium) through Playwright, axe-core
	@test -x /usr/bin/chromium || { echo "test-browser needs Chromium: apt-get install -y chromium"; exit 1; }
	$(BIN)/python -m pytest -m browser tests/browser $(PYTEST_ARGS)

test-content: $(STAMP) ## typical messages scored by SpamAssassin (Debian's package), local tests only
	@command -v spamassassin >/dev/null || { echo "test-content needs SpamAssassin: apt-get install -y spamassassin"; exit 1; }
	$(BIN)/python -m pytest -m content_filter tests/content -s $(PYTEST_ARGS)

$(AXE): tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --silent
	touch $(AXE)

compose-check: ## validate the Compose files with docker-compose (offline); the production one with placeholder values
	docker-compose -f docker-compose.yml config -q
	docker-compose -f docker-compose.yml -f docker-compose.ports.yml config -q
	@! docker-compose -f docker-compose.prod.yml config -q 2>/dev/null || { echo "docker-compose.prod.yml must refuse unset secrets"; exit 1; }
	POSTGRES_PASSWORD=check RABBITMQ_PASSWORD=check AWS_REGION=us-east-1 SES_CONFIGURATION_SET=check \
	SES_FROM_EMAIL=check@example.com PUBLIC_BASE_URL=https://check.example.com PUBLIC_HOSTNAME=check.example.com \
	SENDER_POSTAL_ADDRESS=check \
	PROXY_SHARED_SECRET=check \
	ADMIN_JWT_SECRET=check SUPPRESSION_HASH_KEY=check SES_WEBHOOK_SECRET=check \
	$(foreach role,GATEWAY INGEST UNSUBSCRIBE SENDER PROJECTOR,OUTREACH_$(role)_DB_PASSWORD=check) \
	docker-compose -f docker-compose.prod.yml config -q

COMPOSE_TEST := $(COMPOSE) -f docker-compose.yml -f docker-compose.ports.yml
COMPOSE_CA := var/compose-test/caddy-root.crt

compose-test: $(STAMP) ## the Compose stack built and started, the e2e and fault suites against its containers (through the front door), torn down
	SEND_RATE_PER_SECOND=200 SEND_MAX_IN_FLIGHT=1 $(COMPOSE_TEST) up --build -d --wait
	mkdir -p $(dir $(COMPOSE_CA))
	for _ in $$(seq 1 60); do \
		$(COMPOSE_TEST) exec -T caddy cat /data/caddy/pki/authorities/local/root.crt > $(COMPOSE_CA) 2>/dev/null && break; \
		sleep 1; \
	done
	E2E_PUBLIC_URL=https://localhost:8443 E2E_CA_FILE=$(COMPOSE_CA) \
	E2E_GATEWAY_URL=http://127.0.0.1:8080 E2E_INGEST_URL=http://127.0.0.1:8081 \
	E2E_UNSUBSCRIBE_URL=http://127.0.0.1:8082 E2E_SENDER_URL=http://127.0.0.1:8083 \
	E2E_PROJECTOR_URL=http://127.0.0.1:8084 E2E_SES_URL=http://127.0.0.1:4566 \
	DATABASE_URL=postgresql://postgres:postgres@127.0.0.1:5432/outreach \
	TEST_DATABASE_URL=postgresql://postgres:postgres@127.0.0.1:5432/postgres \
	TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ \
	ADMIN_JWT_SECRET=dev-admin-jwt-secret-change-me-please SES_WEBHOOK_SECRET=dev-webhook-secret-change-me \
	E2E_KILL_COMMAND="$(COMPOSE_TEST) kill -s KILL {service}" \
	E2E_RESTART_RABBITMQ="$(COMPOSE_TEST) restart rabbitmq" E2E_RESTART_POSTGRES="$(COMPOSE_TEST) restart postgres" \
	$(BIN)/python -m pytest -m "faults and not run_local" tests/e2e -s $(PYTEST_ARGS); status=$$?; \
	$(COMPOSE_TEST) down -v; exit $$status

lint: $(STAMP) ## ruff + mypy + cfn-lint (the AWS templates) + deploy/k8s rendered and validated + both Caddyfiles
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared ops services bench infra
	$(BIN)/cfn-lint infra/aws/*.yaml
	$(BIN)/python infra/k8s_check.py deploy/k8s/base deploy/k8s/overlays/production
	@for caddyfile in deploy/caddy/Caddyfile deploy/caddy/Caddyfile.local; do \
		XDG_DATA_HOME=$$(mktemp -d) $(BIN)/caddy validate --adapter caddyfile --config $$caddyfile >/dev/null 2>&1 \
			|| { $(BIN)/caddy validate --adapter caddyfile --config $$caddyfile; exit 1; }; \
		echo "$$caddyfile: valid"; \
	done

bench: $(STAMP) ## the benchmarks in bench/ (they print their figures)
	$(BIN)/python -m bench.eligible
	$(BIN)/python -m bench.audience
	$(BIN)/python -m bench.import
	$(BIN)/python -m bench.sender
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.inbound
	$(BIN)/python -m bench.unsubscribe

lock: ## re-resolve the locks from pyproject.toml: development (everything), then the image's runtime set within it
	uv pip compile pyproject.toml --extra dev -o requirements-dev.lock --python-version 3.11
	uv pip compile pyproject.toml -c requirements-dev.lock -o requirements.lock --python-version 3.11

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
