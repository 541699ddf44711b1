# Set-up is part of every target: a fresh machine needs only python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: report test lab bench sample clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

## report: run the default batch of reports on the bundled sample (reports/latest/index.html)
report: $(STAMP)
	$(BIN)/cxkit run

## test: the whole suite, notebooks included
test: $(STAMP)
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

clean:
	rm -rf $(VENV) reports build *.egg-info
