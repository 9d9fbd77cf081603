# Omnichannel Academy: the README's commands. Works on a fresh Debian machine as root or with sudo.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := wsgi
STUDIO_BUNDLE := static/vendor/studio-editor.js

# System commands the project needs, and the Debian package that provides each (command:package).
RUN_DEPS := python3:python3
AUDIO_DEPS := espeak-ng:espeak-ng
PDF_DEPS := pango-view:pango1.0-tools pango-view:libharfbuzz-subset0 pango-view:fonts-dejavu-core pango-view:fonts-dejavu-extra
TEST_DEPS := chromium:chromium pdftotext:poppler-utils zbarimg:zbar-tools redis-server:redis-server nginx:nginx
NODE_DEPS := node:nodejs npm:npm
BENCH_DEPS := wrk:wrk
CLUSTER_DEPS := nginx:nginx redis-server:redis-server

.PHONY: run dev preview reload load cluster test test-fast lint format bench check translations messages sysdeps-run sysdeps-test sysdeps-node clean

# Production server (gunicorn, deploy/gunicorn.conf.py: workers sized to the cores, access and
# error logs on stderr) on loopback over plain http, so cookies cannot be Secure there.
run: export ACADEMY_SECURE_COOKIES ?= 0
run: export ACADEMY_BASE_URL ?= http://$(HOST):$(PORT)/
run: sysdeps-run $(VENV)/.installed translations static/vendor/.installed instance/secret_key $(STUDIO_BUNDLE)
	export ACADEMY_SECRET_KEY="$${ACADEMY_SECRET_KEY:-$$(cat instance/secret_key)}"; \
	$(BIN)/flask db upgrade && \
	{ $(BIN)/flask content check || echo "Modules with errors are hidden until fixed (see above)."; } && \
	{ $(BIN)/flask content build || echo "Some audio or PDF files failed (see above); serving anyway."; } && \
	exec $(BIN)/gunicorn --config deploy/gunicorn.conf.py wsgi:app

# Development: Flask's server with the reloader and the debugger, on loopback.
dev: export ACADEMY_DEBUG ?= 1
dev: export ACADEMY_SECURE_COOKIES ?= 0
dev: export ACADEMY_BASE_URL ?= http://$(HOST):$(PORT)/
dev: sysdeps-run $(VENV)/.installed translations
	$(BIN)/flask db upgrade && \
	{ $(BIN)/flask content check || echo "Modules with errors are hidden until fixed (see above)."; } && \
	exec $(BIN)/flask run --debug --reload --host $(HOST) --port $(PORT)

# For trainers who edit the files in their own editor: open pages reload on every save
# (Server-Sent Events) and show the checker's errors at file:line; audio and PDFs follow.
preview: export ACADEMY_SECURE_COOKIES ?= 0
preview: export ACADEMY_BASE_URL ?= http://$(HOST):$(PORT)/
preview: sysdeps-run $(VENV)/.installed translations instance/secret_key
	export ACADEMY_SECRET_KEY="$${ACADEMY_SECRET_KEY:-$$(cat instance/secret_key)}"; \
	$(BIN)/flask db upgrade && exec $(BIN)/flask content serve --watch --host $(HOST) --port $(PORT)

# Graceful reload of the server `make run` started: new code and settings, no request dropped.
reload:
	kill -HUP "$$(cat instance/gunicorn.pid)"

# Bytecode caches for test runs, even where the environment sets PYTHONDONTWRITEBYTECODE:
# without them every run compiles app/ again in each process and pytest rewrites the asserts
# of every test module again (3 s of CPU per worker). They go to __pycache__/, which git ignores.
test test-fast: export PYTHONDONTWRITEBYTECODE :=

# The whole suite on SQLite, then the database tests again on a throwaway PostgreSQL.
# pytest exits 5 when it collected no test: that is a failure too, and make stops on it.
# Two workers (pytest-xdist); the coverage of app/ is printed at the end (TOTAL is the figure).
test: sysdeps-test $(VENV)/.installed node_modules/.installed static/vendor/.installed $(STUDIO_BUNDLE) translations lint
	$(BIN)/python -m pytest -n 2 --cov --cov-report=term; \
	  rc=$$?; [ $$rc -ne 5 ] || echo "pytest ran no test: failing"; exit $$rc
	scripts/test-postgres.sh $(BIN)/python -m pytest -m db -p no:cacheprovider; \
	  rc=$$?; [ $$rc -ne 5 ] || echo "pytest ran no database test: failing"; exit $$rc

# Everything but the browser, PDF-rendering, audio-synthesis, PostgreSQL and cluster tests.
# Three workers on two cores: the queue, server and forwarding tests spend most of their time
# waiting on the processes they start, and a third worker runs tests meanwhile (quiet, 2 cores:
# 53.6 s with 3, 60.6 s with 2, 64.7 s with 4).
test-fast: $(VENV)/.installed translations
	$(BIN)/python -m pytest -q -n 3 -p no:cacheprovider -m "not browser and not pdf and not audio and not cluster"; \
	  rc=$$?; [ $$rc -ne 5 ] || echo "pytest ran no test: failing"; exit $$rc

lint: $(VENV)/.installed
	$(BIN)/ruff check app tests wsgi.py bench deploy scripts
	$(BIN)/ruff format --check app tests wsgi.py bench deploy scripts
	$(BIN)/mypy

format: $(VENV)/.installed
	$(BIN)/ruff format app tests wsgi.py bench deploy scripts
	$(BIN)/ruff check --fix app tests wsgi.py bench deploy scripts

check: $(VENV)/.installed
	ACADEMY_DEBUG=1 $(BIN)/flask content check

# Figures, side by side in one run (pages under gunicorn + wrk, PDF, audio, quiz).
# `make bench PARTS="pages pdf"` runs only those parts.
bench: $(VENV)/.installed translations
	$(call install_missing,$(BENCH_DEPS))
	$(BIN)/python -m bench $(PARTS)

# Simulated learners (Locust, headless) against gunicorn + SQLite on loopback; figures, CSV
# and HTML report in load-report/. `make load LEARNERS=500 DURATION=2m THINK=15`.
LEARNERS ?= 5000
DURATION ?= 5m
THINK ?= 15
load: $(VENV)/.installed translations
	$(BIN)/python -m bench.load --learners $(LEARNERS) --duration $(DURATION) --think $(THINK) --out load-report

# Scale-out on loopback (scripts/cluster.py, docs/deployment.md): PostgreSQL, Redis, two app
# servers and nginx from Debian's packages; the load test through nginx, one app server killed
# after KILL_AFTER seconds (0: never). `make cluster LEARNERS=2000 DURATION=3m KILL_AFTER=90`.
KILL_AFTER ?= 0
cluster: sysdeps-run $(VENV)/.installed translations static/vendor/.installed $(STUDIO_BUNDLE)
	$(call install_missing,$(CLUSTER_DEPS))
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "Installing Debian packages: postgresql"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql; }
	$(BIN)/python scripts/cluster.py load --learners $(LEARNERS) --duration $(DURATION) \
	  --think $(THINK) --kill-one-after $(KILL_AFTER) --out cluster-report

translations: $(VENV)/.installed
	@$(BIN)/pybabel -q compile -d app/translations

# The translators' template, from the code and templates; then `pybabel update` merges it into
# each language's messages.po (tests/test_translations.py fails on any string left untranslated).
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l --no-location --omit-header \
	  --sort-output -o app/translations/messages.pot .

# Install each missing Debian package (apt-get update only when something is missing).
define install_missing
	@missing=""; for pair in $(1); do cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
endef

sysdeps-run:
	$(call install_missing,$(RUN_DEPS) $(AUDIO_DEPS) $(PDF_DEPS))
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }

sysdeps-test: sysdeps-run
	$(call install_missing,$(TEST_DEPS) $(NODE_DEPS))
	@# The PostgreSQL server's binaries are not on PATH in Debian: look for initdb where they live.
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "Installing Debian packages: postgresql"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql; }

$(VENV)/.installed: pyproject.toml
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@mkdir -p $(@D) && touch $@

# npm packages used by the tests or bundled into static/, exactly as package-lock.json pins them.
# No npm package may download a browser: the tests drive Debian's /usr/bin/chromium.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || $(MAKE) --no-print-directory sysdeps-node
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
	@mkdir -p $(@D) && touch $@

# Browser libraries the pages load, copied from node_modules (pinned by package-lock.json) into
# static/vendor/ (not in git): served from this site, so the CSP stays 'self' and no CDN is asked.
static/vendor/.installed: node_modules/.installed
	mkdir -p static/vendor/chart.js
	cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/LICENSE.md static/vendor/chart.js/
	@touch $@

# The studio's editor (CodeMirror 6 from npm, pinned in package-lock.json), bundled by esbuild
# into static/vendor/ (not in git): served by us, so the page's CSP stays 'self'.
$(STUDIO_BUNDLE): static/src/studio-editor.js node_modules/.installed
	node_modules/.bin/esbuild $< --bundle --minify --format=iife --target=es2020 --log-level=warning --outfile=$@

sysdeps-node:
	$(call install_missing,$(NODE_DEPS))

instance/secret_key:
	@mkdir -p instance
	@$(PYTHON) -c 'import secrets; print(secrets.token_hex(32))' > $@
	@chmod 600 $@

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .mypy_cache .coverage .coverage.* node_modules
