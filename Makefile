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
.PHONY: help setup system-deps run provision preview teardown teardown-plan evidence-example test lint sanity molecule unit integration bench clean

help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt -c constraints.txt
	touch $@

$(BIN)/helm: scripts/fetch_helm.py | $(STAMP)
	$(BIN)/python scripts/fetch_helm.py $@

# NVIDIA's tritonserver (pinned wheel, files only) and the backend's own numpy-1.x environment.
TRITON := $(VENV)/triton/install.json
$(TRITON): scripts/fetch_triton.py requirements-triton.txt requirements-triton-backend.txt | $(STAMP)
	$(BIN)/python scripts/fetch_triton.py $(VENV)/triton

system-deps: ## Install the distro packages when root with apt: prometheus, and libpython3.11 for Triton's Python backend stub.
	@missing=""; command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	pylib="libpython$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')"; \
	ldconfig -p 2>/dev/null | grep -q "$$pylib.so.1.0" || missing="$$missing $$pylib"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null) \
	    || echo "WARN: could not install$$missing with apt; the preflight says what is missing"; \
	else echo "NOTE: install the packages$$missing (sudo apt-get install$$missing)"; fi

setup: $(STAMP) $(BIN)/helm $(TRITON) system-deps ## Create .venv with pinned dependencies, helm, tritonserver and prometheus.

run: setup ## Full local lifecycle: provision, deploy, load test, tear down, audit, report.
	@# Teardown runs even when site.yml failed (a failed SLO gate included); the exit status is the first failure's.
	@site=0; $(PLAYBOOK) site.yml $(ARGS) || site=$$?; \
	down=0; $(PLAYBOOK) playbooks/teardown.yml -e teardown_confirm=true $(ARGS) || down=$$?; \
	latest=$$(ls -td runs/*/latest 2>/dev/null | head -n1); \
	echo "Run directory: $$(readlink -f $$latest)"; echo "Report:        $$(readlink -f $$latest)/report.md"; \
	if [ $$site -ne 0 ]; then echo "site.yml failed (exit $$site); the teardown ran anyway (exit $$down)"; exit $$site; fi; \
	exit $$down

evidence-example: ## Regenerate the example evidence pack in docs/ (case study, post, cost audit) from a full local run.
	$(MAKE) run ARGS='-e report_write_docs=true -e cost_audit_write_docs=true $(ARGS)'

provision: setup ## Only site.yml (keep the stack up).
	$(PLAYBOOK) site.yml $(ARGS)

preview: setup ## Dry run of site.yml (check mode): creates nothing, says what each stage would create or change.
	$(PLAYBOOK) site.yml --check $(ARGS)

teardown: setup ## Only the teardown, leftover check, cost audit and report.
	$(PLAYBOOK) playbooks/teardown.yml -e teardown_confirm=true $(ARGS)

teardown-plan: setup ## Dry run of the teardown: deletes nothing, writes teardown-plan.json to the run dir.
	$(PLAYBOOK) playbooks/teardown.yml --check -e teardown_confirm=true $(ARGS)

lint: setup ## ruff, ansible-lint (production profile), yaml syntax of the playbooks, changelog fragments.
	$(BIN)/ruff check .
	$(BIN)/ansible-lint
	$(PLAYBOOK) --syntax-check site.yml playbooks/teardown.yml gpu_e2e.platform.site gpu_e2e.platform.teardown
	$(BIN)/antsibull-changelog lint

sanity: setup ## ansible-test sanity, offline, from a copy under ansible_collections/.
	$(BIN)/python scripts/ansible_test_sanity.py

molecule: setup ## One molecule scenario per role against the local profile.
	$(BIN)/molecule test --all

unit: setup ## pytest unit tests.
	$(BIN)/python -m pytest tests/unit -q

integration: setup ## pytest integration tests (local servers on loopback, the end-to-end run).
	$(BIN)/python -m pytest tests/integration -q

# make test's pytest workers (pytest-xdist): most tests wait on a playbook, a server or a load test, so
# two workers keep two cores busy. --dist loadfile: a module's tests (and its module-scoped stack) stay in
# one worker.
TEST_WORKERS ?= 2

test: setup lint sanity molecule ## Every lint and test; ends with pytest's summary line (TEST_WORKERS=2).
	$(BIN)/python -m pytest tests -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile --durations=20

bench: setup ## Serving benchmark: raw onnxruntime vs the local tritonserver; appends to docs/benchmarks.md (ARGS=--sweep: the tuning sweep).
	$(BIN)/python benchmarks/serving_bench.py --output docs/benchmarks.md $(ARGS)

clean: ## Remove the virtualenv and caches (keeps runs/).
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache .ansible
