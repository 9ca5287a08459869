# Liaison — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
# make test runs the suites that own their clusters, topics and databases beside the rest
# (tests/conftest.py names the groups); TEST_WORKERS=0 runs everything in one process.
# tests/contract runs after, in one process: schemathesis gives its cases one node id per
# test, and xdist keeps one case per node id (3 of 28 ran).
TEST_WORKERS ?= 2
# The admin token: LIAISON_ADMIN_TOKEN if set, else the one `make up` generated in .local/secrets/.

.PHONY: help install up demo down restart status docs-screenshots schemas contract bench bench-e2e bench-ingest bench-rules bench-scale bench-rebalance bench-costs bench-reporting test test-faults test-unit test-integration lint lint-infra k8s fmt clean-data db-vacuum logs

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  \033[1m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: ## Install what is missing: Python venv, Kafka jars, FerretDB, Prometheus (cached)
	@scripts/platform.sh install

up: ## Install, start Kafka, FerretDB, Prometheus and the services, seed; on an empty installation play the demo (DEMO=0 skips)
	@scripts/platform.sh up

demo: ## Play the winter of 2011-12 through the running platform (again)
	@scripts/platform.sh demo

down: ## Stop everything `make up` started (by pid file, nothing else)
	@scripts/platform.sh down

restart: ## Restart the Liaison services (after a code change); infrastructure keeps running
	@scripts/platform.sh restart

status: ## Show what runs where
	@scripts/platform.sh status

test: ## Run the whole suite against the real local services (starts them when needed)
	@scripts/platform.sh test-deps
	@DEMO=0 scripts/platform.sh up
	@export LIAISON_ADMIN_TOKEN="$$(scripts/platform.sh admin-token)"; status=0; \
	  $(PY) -m pytest -n $(TEST_WORKERS) --ignore=tests/contract || status=$$?; \
	  $(PY) -m pytest tests/contract || status=$$?; \
	  exit $$status

test-faults: ## The fault, bad-input and access suite on a cluster of its own; writes docs/reliability.md
	@scripts/platform.sh install
	@scripts/platform.sh postgres
	@$(PY) -m pytest tests/faults

test-unit: ## Pure-logic tests only (no services needed)
	@$(PY) -m pytest -m "not integration" --ignore=tests/contract

docs-screenshots: ## Copy the browser test's screenshots into docs/images (after make test)
	@$(PY) scripts/docs_screenshots.py

schemas: ## Regenerate the JSON Schemas in schemas/ from the event models
	@$(PY) -m liaison_common.schema_files schemas

contract: ## Regenerate docs/contract.md from the code (events, topics, routes, thresholds, OpenAPI, settings)
	@$(PY) scripts/build_contract.py

bench-ingest: ## Ingest throughput and latency beside a bare Kafka producer (needs make up)
	@$(PY) bench/bench_ingest.py

bench-rules: ## Rules throughput and latency beside a bare aiokafka loop (needs make up)
	@$(PY) bench/bench_rules.py

bench-e2e: ## The whole pipeline, report to stored alert, beside the bare broker (needs make up)
	@$(PY) bench/bench_e2e.py

bench-scale: ## Lived-in against empty: a simulated year, then the same figures again (needs make up; slow)
	@$(PY) bench/bench_scale.py

bench-rebalance: ## Rules workers joining and leaving mid-stream on 12 partitions: nothing lost or doubled; 1-3 workers' throughput (needs make up)
	@$(PY) bench/bench_rebalance.py

bench-costs: ## CPU, topic bytes and database bytes per report (docs/scaling.md's base; needs make up)
	@$(PY) bench/bench_costs.py

bench-reporting: ## The reporting agent's cost per report at 35, 1,000 and 10,000 reporters (no services needed)
	@$(PY) bench/bench_reporting.py

bench: bench-e2e bench-ingest bench-rules ## Every benchmark (bench-scale apart: it fills the platform)

lint: ## ruff and mypy
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy

k8s: ## Print the Kubernetes manifests of OVERLAY (dev, the default, or prod), built with the pinned kustomize
	@scripts/platform.sh kustomize build infra/k8s/overlays/$(or $(OVERLAY),dev)

lint-infra: ## promtool checks of the Prometheus configs and rules
	@promtool check config infra/prometheus/prometheus.yml
	@promtool check config infra/prometheus/prometheus.compose.yml
	@promtool check rules infra/prometheus/rules.yml

fmt: ## Format the code with ruff
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

logs: ## Follow the logs of everything `make up` started
	@tail -n 20 -F .local/logs/*.log

db-vacuum: ## After a bulk load: VACUUM (ANALYZE) of the local database under FerretDB
	@scripts/platform.sh vacuum

clean-data: down ## Stop and delete local data (Kafka log, the PostgreSQL cluster under FerretDB, Prometheus TSDB, rules tables)
	@scripts/platform.sh forget-postgres
	@rm -rf .local/kafka/data .local/kafka/sasl-ready .local/postgres .local/ferretdb .local/prometheus .local/rules
	@echo "local data deleted; the next make up starts empty"
