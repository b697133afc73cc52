# Two commands matter: `make run` and `make test`. Everything else is a step of theirs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
export ANSIBLE_CONFIG := $(abspath ansible.cfg)
export PYTHONDONTWRITEBYTECODE := 1
PLAYBOOK := $(BIN)/ansible-playbook
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup system-deps run provision teardown test lint sanity molecule unit integration bench clean

help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	touch $@

$(BIN)/helm: scripts/fetch_helm.py | $(STAMP)
	$(BIN)/python scripts/fetch_helm.py $@

system-deps: ## Install the distro Prometheus when root with apt (optional: the stages say what is missing otherwise).
	@if command -v prometheus >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null) \
	    || echo "WARN: could not install prometheus with apt; server-side KPIs will be reported as missing"; \
	else echo "NOTE: install the 'prometheus' package for server-side KPIs (sudo apt-get install prometheus)"; fi

setup: $(STAMP) $(BIN)/helm system-deps ## Create .venv with pinned dependencies, helm and prometheus.

run: setup ## Full local lifecycle: provision, deploy, load test, tear down, audit, report.
	@# Teardown runs even when site.yml failed (a failed SLO gate included); the exit status is the first failure's.
	@site=0; $(PLAYBOOK) site.yml $(ARGS) || site=$$?; \
	down=0; $(PLAYBOOK) playbooks/teardown.yml -e teardown_confirm=true $(ARGS) || down=$$?; \
	latest=$$(ls -td runs/*/latest 2>/dev/null | head -n1); \
	echo "Run directory: $$(readlink -f $$latest)"; echo "Report:        $$(readlink -f $$latest)/report.md"; \
	if [ $$site -ne 0 ]; then echo "site.yml failed (exit $$site); the teardown ran anyway (exit $$down)"; exit $$site; fi; \
	exit $$down

provision: setup ## Only site.yml (keep the stack up).
	$(PLAYBOOK) site.yml $(ARGS)

teardown: setup ## Only the teardown, leftover check, cost audit and report.
	$(PLAYBOOK) playbooks/teardown.yml -e teardown_confirm=true $(ARGS)

lint: setup ## ruff, ansible-lint (production profile), yaml syntax of the playbooks.
	$(BIN)/ruff check .
	$(BIN)/ansible-lint
	$(PLAYBOOK) --syntax-check site.yml playbooks/teardown.yml

sanity: setup ## ansible-test sanity, offline, from a copy under ansible_collections/.
	$(BIN)/python scripts/ansible_test_sanity.py

molecule: setup ## One molecule scenario per role against the local profile.
	$(BIN)/molecule test --all

unit: setup ## pytest unit tests.
	$(BIN)/python -m pytest tests/unit -q

integration: setup ## pytest integration tests (local servers on loopback, the end-to-end run).
	$(BIN)/python -m pytest tests/integration -q

test: setup lint sanity molecule ## Every lint and test; ends with pytest's summary line.
	$(BIN)/python -m pytest tests -q -p no:cacheprovider

bench: setup ## Serving benchmark: raw onnxruntime vs the local runtime; appends to docs/benchmarks.md.
	$(BIN)/python benchmarks/serving_bench.py --output docs/benchmarks.md

clean: ## Remove the virtualenv and caches (keeps runs/).
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache .ansible
