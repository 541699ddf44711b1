# Set-up is part of every target: a fresh machine needs only python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: report test lab bench sample lint lock check-install clean

# Installs the versions pinned in constraints.txt (the lock; `make lock` refreshes it).
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,postgres,spark]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

## report: run the default batch of reports on the bundled sample (reports/latest/index.html)
report: $(STAMP)
	$(BIN)/cxkit run

## test: lint, then the whole suite, notebooks included
test: $(STAMP)
	$(BIN)/ruff check cxkit tests benchmarks
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pytest -q --nbval-lax -p no:cacheprovider notebooks/

## lab: open JupyterLab on the notebooks
lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

## bench: the benchmarks (minutes; figures go to benchmarks/README.md)
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## sample: regenerate the bundled sample data (deterministic)
sample: $(STAMP)
	$(BIN)/cxkit sample --out data/sample --customers 3000 --seed 7

## lint: ruff (rules and line length in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check cxkit tests benchmarks

## lock: refresh constraints.txt with the newest releases, resolved in a fresh environment
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet -e ".[dev,postgres,spark]"
	{ echo "# The lock: every dependency of cxkit[dev] at the version make installs."; \
	  echo "# Made by 'make lock' (newest releases, fresh environment, pip freeze)."; \
	  .lock-venv/bin/python -m pip freeze --exclude-editable; } > constraints.txt
	rm -rf .lock-venv

## check-install: the newest releases without the lock, the built wheel without dev extras,
## then validate, init and run in an empty folder (what CI checks after the suite)
check-install:
	bash .ci/check-install

clean:
	rm -rf $(VENV) .lock-venv reports build *.egg-info
