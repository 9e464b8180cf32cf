# Both `make demo` and `make test` build .venv from nothing (CPU torch first, everything else under constraints).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIP := $(BIN)/pip install --disable-pip-version-check -q -c constraints.txt

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export MUJOCO_GL ?= egl

.PHONY: venv demo test lint model planner clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q torch==2.13.0
	$(PIP) -e ".[ray,train,agent,sam,dev]"
	bash scripts/install_system.sh
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m spatial_agent.demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The shipped tool: seed 1 answers, seed 0 pools its length estimates (two CPU runs of about an hour each).
model: $(STAMP)
	$(BIN)/python -m spatialvlm_core.make_model --seed 1
	$(BIN)/python -m spatialvlm_core.make_model --seed 0 --member-of spatialvlm_core/assets/default_model
	$(BIN)/python -m spatialvlm_core.make_model --eval-only

# The embedded planner's LoRA adapter (spatial_agent/assets/planner): dump the corpus's train split, fine-tune at
# seed 0 (CUDA in bf16 when present: ~2 min on one H200; on a CPU, hours), held-out eval written beside it.
planner: $(STAMP)
	$(BIN)/python -m spatial_agent.train_planner all --out spatial_agent/assets/planner

clean:
	rm -rf $(VENV) build *.egg-info
