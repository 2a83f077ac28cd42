# BlogItEarnIt — every target bootstraps .venv from a bare Python 3.11+ when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed

.PHONY: venv run demo serve test check lint typecheck bench browser clean

venv: $(STAMP)

$(STAMP): requirements-dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip sync -q --python $(BIN)/python requirements-dev.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@touch $(STAMP)

## make run: the real thing on SQLite (public Mastodon tag feeds + any platform with credentials)
run: venv
	$(BIN)/bie db upgrade
	$(BIN)/bie serve --bootstrap-public-sources

## make demo: simulator + seeded programme + serve, moving leaderboards
demo: venv
	$(BIN)/bie demo

test: venv
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check app collectors scoring simulator tests bench

typecheck: venv
	$(BIN)/mypy app collectors scoring simulator
	$(BIN)/mypy tests

check: lint typecheck test

## make bench: every benchmark, report in docs/PERFORMANCE.md; installs wrk (apt-get) when missing,
## else the API benchmark falls back to an httpx load generator and says so
bench: venv
	@command -v wrk >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 \
		&& DEBIAN_FRONTEND=noninteractive apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } \
		|| echo "make bench: wrk could not be installed; the API benchmark uses httpx instead" >&2
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
