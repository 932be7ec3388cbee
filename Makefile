# certbot-like: the verbs people expect. Everything installs what it needs (run as root on
# Debian 12): `make demo` obtains a real certificate from a local Pebble CA, `make test` runs
# the whole suite against real servers.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CERTBOT_VENV ?= $(CURDIR)/.venv-certbot
# certbot with two of its DNS plugins, apart so that the benchmarks' certbot stays bare
CERTBOT_DNS_VENV ?= $(CURDIR)/.venv-certbot-dns
CERTBOT_VERSION := 5.8.0
# `make deb`: Debian's tools for the package (debian/control's Build-Depends)
DEB_BUILD_PACKAGES := debhelper dh-virtualenv dpkg-dev python3-dev python3-venv libaugeas-dev
APT_PACKAGES := pebble bind9 bind9-utils bind9-dnsutils nginx apache2 libaugeas-dev \
                pkg-config python3-venv hyperfine time systemd haproxy openssl prometheus \
                postgresql iproute2 $(DEB_BUILD_PACKAGES) man-db
APT_BINARIES := pebble pebble-challtestsrv named nginx apache2 pkg-config hyperfine systemd-analyze \
                haproxy openssl promtool initdb pg_ctl pg_dump dh_virtualenv dpkg-buildpackage man ip
# Debian keeps PostgreSQL's initdb and pg_ctl off PATH (tests/harness/postgres.py looks here)
PG_BINDIR := /usr/lib/postgresql/15/bin
DIST ?= $(CURDIR)/dist
DEB_BUILD_DIR ?= $(CURDIR)/build/deb
PYTEST_WORKERS ?= 3

.PHONY: help deps install certbot-venv demo test unit integration lint typecheck bench bench-fleet \
        bench-instructions \
        docs man dist deb clean

help:
	@echo "make demo         install everything, obtain a certificate from a local Pebble CA"
	@echo "make test         install everything, run lint, type checks and the whole test suite"
	@echo "make unit         unit tests only (no servers)"
	@echo "make integration  end-to-end tests against Pebble, nginx, apache2, BIND9"
	@echo "make lint         ruff;  make typecheck: mypy --strict"
	@echo "make bench        benchmarks side by side with certbot $(CERTBOT_VERSION)"
	@echo "make bench-fleet  fleet mode: no-op renew with --store, 4 nodes vs 1 (BENCH_QUICK=1)"
	@echo "make bench-instructions  callgrind counts against commit BASE_REV (default bddffc9)"
	@echo "make docs         regenerate docs/cli-reference.md and docs/certbot-flags.md"
	@echo "make dist         wheel and sdist in dist/ (python -m build)"
	@echo "make deb          the Debian package in dist/ (dpkg-buildpackage, dh-virtualenv)"
	@echo "make man          man pages in build/man from the click commands"

deps:
	@missing=0; for b in $(APT_BINARIES); do \
	  command -v $$b >/dev/null 2>&1 || [ -x /usr/sbin/$$b ] || [ -x $(PG_BINDIR)/$$b ] \
	    || missing=1; done; \
	if [ $$missing = 1 ]; then \
	  echo "Installing Debian packages: $(APT_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	fi

$(VENV)/.installed: setup.cfg pyproject.toml
	@$(MAKE) --no-print-directory deps
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

certbot-venv: $(CERTBOT_VENV)/bin/certbot $(CERTBOT_DNS_VENV)/.plugins

$(CERTBOT_VENV)/bin/certbot:
	$(PYTHON) -m venv $(CERTBOT_VENV)
	$(CERTBOT_VENV)/bin/pip install -q certbot==$(CERTBOT_VERSION)

# certbot's own plugins for the takeover test (tests/integration/test_takeover.py); the
# stamp makes an existing venv of the DNS plugins only get the others too.
$(CERTBOT_DNS_VENV)/.plugins:
	test -x $(CERTBOT_DNS_VENV)/bin/pip || $(PYTHON) -m venv $(CERTBOT_DNS_VENV)
	$(CERTBOT_DNS_VENV)/bin/pip install -q certbot==$(CERTBOT_VERSION) \
	  certbot-dns-dnsimple==$(CERTBOT_VERSION) certbot-dns-route53==$(CERTBOT_VERSION) \
	  certbot-dns-digitalocean==$(CERTBOT_VERSION) certbot-dns-rfc2136==$(CERTBOT_VERSION) \
	  certbot-nginx==$(CERTBOT_VERSION) certbot-apache==$(CERTBOT_VERSION)
	touch $@

demo: install
	@$(PY) -m tests.harness.demo

lint: install
	$(VENV)/bin/ruff check certbot_like plugins tests
	$(VENV)/bin/ruff format --check certbot_like plugins

typecheck: install
	$(VENV)/bin/mypy

unit: install
	$(VENV)/bin/pytest -q tests/unit

integration: install certbot-venv
	CERTBOT_BIN=$(CERTBOT_VENV)/bin/certbot CERTBOT_DNS_BIN=$(CERTBOT_DNS_VENV)/bin/certbot \
	  $(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) tests/integration

test: install certbot-venv lint typecheck
	CERTBOT_BIN=$(CERTBOT_VENV)/bin/certbot CERTBOT_DNS_BIN=$(CERTBOT_DNS_VENV)/bin/certbot \
	  $(VENV)/bin/pytest -q -n $(PYTEST_WORKERS) --durations=15 tests

# Both measure ours as users install it: they build a wheel of this tree and install it into
# .venv-bench-ours/ (kept while the wheel's content is the same; tests/bench/ours.py); the
# driver runs from .venv, whose [test] extra has pip's wheel builder and matplotlib (charts).
# A full run writes docs/ and refuses a dirty tree unless BENCH_ALLOW_DIRTY=1.
bench: install certbot-venv
	CERTBOT_BIN=$(CERTBOT_VENV)/bin/certbot $(PY) -m tests.bench.run

bench-fleet: install
	$(PY) -m tests.bench.fleet $(if $(BENCH_QUICK),--quick,)

# Instruction counts (valgrind) of this tree against another commit: the regression check
# that wall times on a shared machine are too noisy for (tests/bench/instructions.py).
BASE_REV ?= bddffc9
bench-instructions: install
	command -v valgrind >/dev/null || apt-get install -y -q valgrind
	$(PY) -m tests.bench.instructions --base-rev $(BASE_REV)

docs: install
	$(PY) -m tests.harness.gen_cli_docs > docs/cli-reference.md
	$(PY) -m tests.harness.gen_flag_docs > docs/certbot-flags.md

man: install
	$(PY) -m tests.harness.gen_man build/man

dist: install
	$(PY) -m build --outdir $(DIST) .

# Built in a copy of the tree (without .venv, build/, dist/), so the checkout stays clean.
deb:
	@$(MAKE) --no-print-directory deps
	rm -rf $(DEB_BUILD_DIR) && mkdir -p $(DEB_BUILD_DIR)/certbot-like $(DIST)
	tar -c --exclude-vcs --exclude=./.venv* --exclude=./build --exclude=./dist \
	  --exclude=./.demo --exclude=./bench-results --exclude=./.hypothesis --exclude=./.*_cache \
	  --exclude=__pycache__ --exclude=*.egg-info -f - . | tar -x -C $(DEB_BUILD_DIR)/certbot-like
	cd $(DEB_BUILD_DIR)/certbot-like && dpkg-buildpackage -us -uc -b
	cp $(DEB_BUILD_DIR)/certbot-like_*.deb $(DIST)/

clean:
	rm -rf build *.egg-info .mypy_cache .ruff_cache .pytest_cache
