# Two commands do all the set-up: `make demo` and `make test`.
# The venv is rebuilt only when requirements.txt changes (a stamp keyed on its hash).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
REQ_HASH := $(shell sha256sum requirements.txt | cut -c1-16)
STAMP := $(VENV)/.installed-$(REQ_HASH)
SCRIPTS := $(wildcard *.py)
export MUJOCO_GL ?= egl

.PHONY: demo test sync lint setup check-system clean

setup: $(STAMP)

$(STAMP): requirements.txt
	@$(MAKE) --no-print-directory check-system
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@rm -f $(VENV)/.installed-*
	@touch $@

# Headless MuJoCo renders through EGL (Mesa); say which Debian packages bring it when it is missing.
check-system:
	@ldconfig -p | grep -q 'libEGL.so.1' || { echo "error: libEGL.so.1 not found (headless MuJoCo rendering needs it): run 'sudo apt-get install libegl1 libgl1 libegl-mesa0'"; exit 2; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || { echo "error: Python 3.11 is required (lerobot 0.4.4): set PYTHON=python3.11"; exit 2; }

# The main job: record demonstrations, analyse, train ACT, roll out, measure (about 30 minutes on 2 cores).
# DEMO_ARGS passes extra flags, e.g. make demo DEMO_ARGS=--overwrite
demo: $(STAMP)
	$(PY) train_ultimate.py $(DEMO_ARGS)

test: $(STAMP)
	$(PY) -m pytest -q tests

sync: $(STAMP)
	$(VENV)/bin/jupytext --sync $(SCRIPTS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf outputs .pytest_cache
