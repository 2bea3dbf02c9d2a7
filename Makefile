# The two commands of the README:
#   make run   set up on a fresh machine and serve with demo data at http://127.0.0.1:8000
#   make test  set up and run the whole test suite (SQLite by default; set DATABASE_URL for PostgreSQL)
# and the others:
#   make test-pg  the suite on the PostgreSQL already running here (PG_URL); it starts nothing
#   make lint     ruff, and import-linter's check of the apps' layers
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
MANAGE := $(BIN)/python manage.py
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PG_URL ?= postgres://postgres@127.0.0.1:5432/heyon
# One pytest-xdist worker per core, each with its own test database, live server and
# Chromium (a third worker on two cores was slower). `--dist load` hands each worker its
# tests in pytest-django's order, so the transactional tests, which flush the database,
# come after the others in every worker; `loadfile` and `worksteal` break that order.
PYTEST_WORKERS ?= auto
PYTEST := DJANGO_SETTINGS_MODULE=heyon_site.settings.test $(BIN)/pytest -n $(PYTEST_WORKERS) --dist load

.PHONY: run test test-pg setup system-packages browser-packages messages lint ci clean

run: setup
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	$(MANAGE) runserver 127.0.0.1:8000

test: setup browser-packages
	$(PYTEST) $(PYTEST_ARGS)

# pytest-django makes a test database per worker beside PG_URL's (test_heyon_gw0, ...).
test-pg: setup browser-packages
	@pg_isready -q -d "$(PG_URL)" || { echo "PostgreSQL does not answer at $(PG_URL): start it, or set PG_URL." >&2; exit 1; }
	DATABASE_URL="$(PG_URL)" $(PYTEST) $(PYTEST_ARGS)

setup: $(VENV)/.installed system-packages messages

# requirements-ocr.txt and requirements-test-images.txt go in without their declared
# dependencies (see each file for why).
$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-ocr.txt requirements-test-images.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-ocr.txt -r requirements-test-images.txt
	touch $@

# GNU gettext compiles the committed .po translations; WenQuanYi Micro Hei puts Chinese in PDFs.
system-packages:
	@{ command -v msgfmt >/dev/null && [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; } || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq gettext fonts-wqy-microhei; }

# Debian's Chromium (Playwright's own browser download cannot work here) and CJK fonts.
browser-packages:
	@{ command -v chromium >/dev/null && dpkg -s fonts-noto-cjk >/dev/null 2>&1; } || \
	  { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium fonts-noto-cjk; }

messages: $(VENV)/.installed
	$(MANAGE) compilemessages -v0 --ignore=.venv

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache --no-logo

clean:
	rm -rf $(VENV) db.sqlite3 var staticfiles
