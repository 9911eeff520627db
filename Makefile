# ganforge: `make demo` and `make test` are the whole quick start.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint venv clean

venv: $(STAMP)

# torch goes in first, from TORCH_SPEC, so that pip never picks a multi-GB CUDA build by itself.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

DEMO_RUN ?= runs/demo-grid25
demo: $(STAMP)
	$(BIN)/ganforge train configs/grid25.yaml --out $(DEMO_RUN) --force
	$(BIN)/ganforge eval $(DEMO_RUN)
	@echo "results: $(DEMO_RUN)/ (config.yaml, metrics.jsonl, samples/*.png, eval.json)"

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/toy_modes.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf runs/demo-grid25 .pytest_cache
