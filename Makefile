# ganforge: `make demo` and `make test` are the whole quick start.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint venv clean chromium datasets fonts lab

venv: $(STAMP)

# torch goes in first, from TORCH_SPEC, so that pip never picks a multi-GB CUDA build by itself.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check $(TORCH_SPEC)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

DEMO_RUN ?= runs/demo-grid25
demo: $(STAMP)
	$(BIN)/ganforge train configs/grid25.yaml --out $(DEMO_RUN) --force
	$(BIN)/ganforge eval $(DEMO_RUN)
	$(BIN)/ganforge report $(DEMO_RUN)
	@echo "results: $(DEMO_RUN)/ (report.html, config.yaml, metrics.jsonl, samples/*.png, eval.json)"

test: $(STAMP) chromium datasets fonts
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/python -m pytest

# Browser tests drive Debian's chromium with Playwright (never `playwright install`).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium not found: install Debian's chromium and chromium-driver for the browser tests"; fi; }

# Fashion-MNIST (70,000 images) ships as a Debian package: no download at run time.
datasets:
	@test -d /usr/share/datasets/fashion-mnist || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; \
	  else echo "dataset-fashion-mnist not installed: its tests will be skipped"; fi; }

# CJK fonts for the glyphs-cjk set (Kaiti -> Ming) are Debian packages: no download at run time.
fonts:
	@test -f /usr/share/fonts/truetype/arphic/ukai.ttc -a -f /usr/share/fonts/truetype/arphic/uming.ttc || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-arphic-ukai fonts-arphic-uming >/dev/null; \
	  else echo "fonts-arphic-ukai / fonts-arphic-uming not installed: the glyphs-cjk tests will be skipped"; fi; }

lab: $(STAMP)
	$(BIN)/ganforge lab

bench: $(STAMP)
	$(BIN)/python benchmarks/toy_modes.py
	$(BIN)/python benchmarks/throughput.py
	$(BIN)/python benchmarks/stacked_mnist.py
	$(BIN)/python benchmarks/mnist_fid.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf runs/demo-grid25 .pytest_cache
