# Two commands do all the set-up: `make demo` and `make test`.
# The venv is rebuilt only when requirements.txt changes (a stamp keyed on its hash).
# The first Python >= 3.12 found (lerobot 0.6 needs it); override with PYTHON=/path/to/python3.12.
PY_OK := import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)
PYTHON ?= $(shell for p in python3.12 python3.13 python3 $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3; do \
	$$p -c '$(PY_OK)' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
REQ_HASH := $(shell sha256sum requirements.txt | cut -c1-16)
STAMP := $(VENV)/.installed-$(REQ_HASH)
SCRIPTS := $(wildcard *.py)
export MUJOCO_GL ?= egl

.PHONY: demo test lab lab-server lab-settings sync lint setup check-system clean

setup: $(STAMP)

# The lerobot plugin that registers our sim envs with lerobot's CLIs (lerobot-eval --env.type=so101_pick_place).
PLUGIN := plugins/lerobot_env_notebook_pipeline

$(STAMP): requirements.txt $(PLUGIN)/pyproject.toml
	@$(MAKE) --no-print-directory check-system
	@test ! -x $(PY) || $(PY) -c '$(PY_OK)' || { echo "removing $(VENV): it was made with an older Python"; rm -rf $(VENV); }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e $(PLUGIN)
	@$(MAKE) --no-print-directory lab-settings
	@rm -f $(VENV)/.installed-*
	@touch $@

# Headless MuJoCo renders through EGL (Mesa); say which Debian packages bring it when it is missing.
check-system:
	@ldconfig -p | grep -q 'libEGL.so.1' || { echo "error: libEGL.so.1 not found (headless MuJoCo rendering needs it): run 'sudo apt-get install libegl1 libgl1 libegl-mesa0'"; exit 2; }
	@test -n "$(PYTHON)" || { echo "error: Python 3.12 or newer is required (lerobot 0.6): install it (pyenv install 3.12, or your distribution's python3.12 and python3.12-venv) or pass PYTHON=/path/to/python3.12"; exit 2; }

# The main job: record demonstrations, analyse, train ACT, roll out, measure (about 20-25 minutes on 2 cores).
# DEMO_ARGS passes extra flags, e.g. make demo DEMO_ARGS=--overwrite; ROBOT=so101 tells the SO-101 pick and place
demo: $(STAMP)
	$(PY) train_ultimate.py $(if $(ROBOT),--robot $(ROBOT)) $(DEMO_ARGS)

# One pytest worker per core, at most 4 (each test file stays on one worker, so its fixtures are built once).
TEST_WORKERS ?= $(shell n=$$(nproc); echo $$(( n < 4 ? n : 4 )))
test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile tests

# JupyterLab with jupytext's pairing: double-click train.py and it is the notebook paired with train.ipynb,
# running on the project's kernel. LAB_ARGS passes extra flags, e.g. make lab LAB_ARGS=--no-browser
lab: $(STAMP)
	@$(MAKE) --no-print-directory lab-server

# The server itself, with the settings lab-settings ships (tests/test_jupyter_lab.py starts this one too).
lab-server: lab-settings
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# Written into .venv, so they hold for everyone who uses it: jupytext's notebook view is the default viewer of
# Python files (not the text editor), and the notebooks' kernel, $(KERNEL), runs .venv/bin/python.
KERNEL := lerobot_notebook_pipeline
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.d/$(KERNEL).json
lab-settings:
	@mkdir -p $(dir $(LAB_OVERRIDES))
	@echo '{"@jupyterlab/docmanager-extension:plugin": {"defaultViewers": {"python": "Jupytext Notebook"}}}' > $(LAB_OVERRIDES)
	@$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "$(KERNEL) (.venv)" >/dev/null

sync: $(STAMP)
	$(VENV)/bin/jupytext --sync $(SCRIPTS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf outputs .pytest_cache
