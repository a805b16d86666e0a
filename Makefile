# The two commands of the README: `make serve` and `make test`. Every other target is a step
# they depend on; each step re-runs only when its inputs changed.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: serve test check pytest install system-deps node frontend bench bench-smoke clean sample-course docker

serve: install frontend
	$(BIN)/collab serve

test: install system-deps node frontend check pytest

# A sample course with short local videos (README, "A sample course").
sample-course: install
	$(BIN)/collab sample-course

check: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Tests wait on sockets, browsers and subprocesses more than on the CPU: three workers on two
# cores roughly halve the wall time. PYTEST_WORKERS=0 runs them in this process.
PYTEST_WORKERS ?= 3
pytest: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# Debian's Chromium for the browser tests (Playwright's own download does not work here),
# and DejaVu for the PDF exports (emoji/accents need a Unicode TrueType font).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for the browser tests"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || { \
	  echo "installing Debian's DejaVu fonts for PDF exports"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null; }
	@{ command -v espeak-ng && command -v ffmpeg; } >/dev/null 2>&1 || { \
	  echo "installing Debian espeak-ng and ffmpeg for the transcription tests and benchmark"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq espeak-ng ffmpeg >/dev/null; }

node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

frontend: frontend/dist/index.html

frontend/dist/index.html: $(shell find frontend -path frontend/node_modules -prune -o -path frontend/dist -prune -o -type f -print 2>/dev/null)
	cd frontend && npm ci --no-audit --no-fund && npm run build

# Side-by-side benchmarks with Hocuspocus and the y-websocket server (not part of `make test`,
# which runs only the smoke version). `make bench` rewrites docs/benchmarks.md (~15 min).
bench: install frontend
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-smoke: install
	$(BIN)/python bench/run.py --smoke

# The images of docker/compose.yaml, built from Debian packages (docs/deploy.md).
docker:
	docker/build.sh

clean:
	rm -rf $(VENV) node_modules frontend/node_modules frontend/dist
