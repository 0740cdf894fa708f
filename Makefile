# hwnas-lab: the commands the README names. Every target does its own setup first.
#   make lab      open the course (JupyterLab on notebooks/)
#   make test     run the whole test suite (unit tests + every notebook, smoke preset)

# PYTHON: the interpreter that creates the virtual environment (3.10 or newer)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# touched after a successful install; newer than pyproject.toml means nothing to do
STAMP := $(VENV)/.hwnas-lab-installed

.PHONY: setup venv lab test test-fast notebooks check-notebooks bench info clean

setup: $(STAMP)
venv: setup

# the kernel spec "python3" that notebooks and tests run on: this venv's interpreter
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (hwnas-lab)"
	touch $(STAMP)

# extra JupyterLab options, e.g. make lab LAB_ARGS="--no-browser --port 8889"
LAB_ARGS ?=
# JupyterLab refuses to start as root (containers, CI images) unless told it may
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: setup
	JUPYTER_PREFER_ENV_PATH=1 $(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks $(ROOT_ARGS) $(LAB_ARGS)

test: setup
	JUPYTER_PREFER_ENV_PATH=1 $(PY) -m pytest

test-fast: setup          # unit tests only, no notebook execution
	$(PY) -m pytest -m "not notebooks"

notebooks: setup          # regenerate notebooks/ from solutions/
	$(PY) -m hwnas_lab notebooks

check-notebooks: setup
	$(PY) -m hwnas_lab notebooks --check

bench: setup              # speed figures: every scripts/bench_*.py, then notebook run times
	for script in scripts/bench_*.py; do $(PY) $$script || exit 1; done
	$(PY) -m hwnas_lab notebooks --time smoke laptop

info: setup
	$(PY) -m hwnas_lab info

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
