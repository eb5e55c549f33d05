# The two first commands of the README. Each creates .venv when it is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The real benchmark sets, when a mirror sits beside the clone (see README).
export GLM_EVAL_DATA_DIR ?= $(wildcard ../shared/data)

.PHONY: demo test lint test-vllm bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/glm-eval demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The linter and the type check (configured in pyproject.toml), as CI runs them before the tests.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy harness

# The real-server tests: a vLLM (CPU build) in its own virtualenv, serving a tiny model built here.
# PyPI's torchvision, torchaudio and torchcodec are built for the CUDA torch and fail to load beside
# torch+cpu (transformers then cannot import its models); a text model needs none of them.
VLLM_VENV := .venv-vllm
$(VLLM_VENV)/.installed: tests/vllm/requirements.txt
	test -x $(VLLM_VENV)/bin/python || $(PY) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install --quiet -r tests/vllm/requirements.txt
	$(VLLM_VENV)/bin/python -m pip uninstall --quiet -y torchvision torchaudio torchcodec
	touch $@

test-vllm: $(STAMP) $(VLLM_VENV)/.installed
	GLM_EVAL_VLLM_PYTHON=$(VLLM_VENV)/bin/python $(BIN)/python -m pytest -q -m vllm tests/vllm

clean:
	rm -rf $(VENV) $(VLLM_VENV)
