# Two commands on a fresh machine: `make run` (site + workers + scheduler) and `make test`.
# Every install comes from the lock (requirements/*.txt, exact versions with hashes) and
# resolves nothing: the lock already lists every transitive dependency, so pip installs it
# with --no-deps (an old pip would otherwise look extras such as lxml[html_clean] up in the
# index and refuse the newest release as unpinned), then the project with --no-deps, then
# `pip check` proves the set is consistent. Works with the pip Python 3.11 bundles (23.2.1).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LOCK := requirements/lock.txt
DEV_LOCK := requirements/dev.lock.txt
COMPILE = $(VENV)/bin/uv pip compile pyproject.toml requirements/build.in --quiet \
	--python-version 3.11 --python-platform linux --generate-hashes \
	--custom-compile-command "make lock"

.PHONY: run test reliability lint lint-imports typecheck bench demo setup lock upgrade check-lock clean deploy-check

# A changed lock rebuilds the virtualenv this Makefile made from scratch, so it holds exactly
# what the lock says. A virtualenv made by hand (say, with a newer pip) is used as it is.
# pyproject.toml is not a prerequisite: a range added there reaches the venv through
# `make lock`, and until then `make test` says the two disagree (scripts/check_lock.py).
$(STAMP): $(DEV_LOCK)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed: set PYTHON=/path/to/python3.11"; exit 1; }
	if [ -f $(STAMP) ]; then rm -rf $(VENV); fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip --version
	$(PY) -m pip install --quiet --no-deps --require-hashes -r $(DEV_LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(PY) scripts/run.py

# The suite is split over XDIST pytest-xdist workers (`make test XDIST=` runs it in one
# process). Each worker has its own PostgreSQL database (pytest-django) and its own Redis
# database: REDIS_URL's, minus the worker's number (tests/xdist_redis.py).
XDIST ?= -n 3

test: $(STAMP)
	$(PY) scripts/check_lock.py
	$(PY) -m ruff check .
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

# The fault-injection and hostile-input suites (tests/reliability): minutes, not seconds, so
# `make test` leaves them out; .ci/run runs both. Figures go to RELIABILITY.md.
reliability: $(STAMP)
	$(PY) -m pytest tests/reliability -m reliability $(XDIST) $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports
	$(MAKE) typecheck

# The import contracts of ARCHITECTURE.md ([tool.importlinter] in pyproject.toml): the
# layers run one way, blog knows nothing of generation, the enqueue half loads no pipeline.
lint-imports: $(STAMP)
	$(VENV)/bin/lint-imports

# Checked types: mypy with django-stubs ([tool.mypy] in pyproject.toml) on config, blog and
# generation. The plugin imports config.settings, so DEBUG=1 spares it a
# SECRET_KEY; nothing else is read from the environment that mypy needs.
typecheck: $(STAMP)
	DEBUG=1 $(VENV)/bin/mypy

# Regenerate the locks from pyproject.toml, keeping every locked version that still fits.
lock: $(STAMP)
	$(COMPILE) -o $(LOCK)
	$(COMPILE) --extra dev -o $(DEV_LOCK)

# Move the locks to the newest releases that pyproject.toml's ranges allow.
upgrade: $(STAMP)
	$(COMPILE) --upgrade -o $(LOCK)
	$(COMPILE) --upgrade --extra dev -o $(DEV_LOCK)

check-lock: $(STAMP)
	$(PY) scripts/check_lock.py

demo: $(STAMP)
	$(PY) scripts/demo.py $(ARGS)

bench: $(STAMP)
	$(PY) bench/pipeline_bench.py
	$(PY) bench/research_bench.py
	$(PY) bench/realweb_bench.py
	$(PY) bench/queue_bench.py
	$(PY) bench/schedule_bench.py
	$(PY) bench/citation_eval.py
	$(PY) bench/throughput_bench.py
	$(PY) bench/verify_bench.py

# As root, before supervisor starts the programs: can DEPLOY_USER (www-data) run each of
# them? Standard library only, so it works even when the virtualenv does not.
DEPLOY_CONF ?= deploy/supervisor/deep-research-blog.conf
deploy-check:
	python3 scripts/deploy_check.py --config $(DEPLOY_CONF) --user $${DEPLOY_USER:-www-data}

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
