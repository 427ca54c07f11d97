# One-command entry points. `make demo` and `make test` create .venv on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU wheel of torch lies on this machine kind's disk; pinning it keeps CI off multi-GB CUDA builds.
TORCH_PIN ?= torch==2.13.0
# The extras CI installs: the library models (lens, hf) and data (datasets, tokenizers) are tested
# end to end (specs/adapters/*.pat), the language server (lsp) over JSON-RPC, Results tables (pandas);
# `make setup EXTRAS=dev` gives the core alone.
EXTRAS ?= dev,lens,hf,data,lsp,pandas
export OMP_NUM_THREADS ?= 1

.PHONY: setup demo test test-fast bench clean

$(BIN)/patc: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_PIN)"
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	@touch $(BIN)/patc

setup: $(BIN)/patc

demo: setup
	$(BIN)/patc run specs/quickstart.pat --out runs/quickstart

test: setup
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

bench: setup
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) runs .pytest_cache
