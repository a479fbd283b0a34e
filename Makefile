# The Theme API suite. `make run` installs everything and starts the three servers under pm2;
# `make test` installs what the tests need and runs them. See README.md.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PM2    := node_modules/.bin/pm2
MODEL  ?= models/theme-t5
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run stop status logs test models models-check themes ct2 bench soak fuzz-long audit clean

install: $(VENV)/.installed $(PM2)

# torch==2.13.0 is pinned: pip takes the CPU build that lies on this machine's disk.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

# pm2 is installed locally from package-lock.json, never globally.
$(PM2): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Rebuilds the shipped model from ../shared/data (about an hour on 2 CPU cores); resumable: run again
# to continue from build/theme-t5/checkpoint. The model card and theme_model.json are written too.
models: $(VENV)/.installed
	$(PY) -m theme_models.train --output_dir build/theme-t5 --export_dir $(MODEL) --max_minutes 55 --threads 2

models-check: $(VENV)/.installed
	@test -f $(MODEL)/config.json || { echo "no model at $(MODEL): building it (make models)"; $(MAKE) models; }

run: install models-check
	$(PM2) start ecosystem.config.js
	@echo "theme_classification :$${THEME_CLASSIFICATION_PORT:-8001}  theme_generation :$${THEME_GENERATION_PORT:-8002}  file_server :$${FILE_SERVER_PORT:-8003}"
	@echo "logs: $(PM2) logs    stop: make stop"

stop:
	-$(PM2) delete ecosystem.config.js

status:
	$(PM2) status

logs:
	$(PM2) logs --nostream --lines 100

test: install models-check
	$(PY) -m pytest

themes: $(VENV)/.installed
	$(PY) -m theme_models.themelist --data-dir ../shared/data --out data/themes.csv

# The optional CTranslate2 backend (BACKEND=ctranslate2) reads a converted copy of the model.
CT2_MODEL ?= $(MODEL)-ct2
ct2: $(CT2_MODEL)/model.bin

$(CT2_MODEL)/model.bin: $(MODEL)/model.safetensors $(wildcard $(MODEL)/theme_model.json $(MODEL)/related_words.npz) | $(VENV)/.installed
	$(PY) -m shared.ct2 $(MODEL) $(CT2_MODEL)

# Benchmarks are not tests: they load the machine for minutes and print ratio tables.
bench: install models-check ct2
	$(PY) bench/bench_serving.py --clustering

soak: install models-check
	$(PY) bench/soak.py --server all --minutes 10 --concurrency 64 --json var/soak.json

fuzz-long: install models-check
	THEME_FUZZ_EXAMPLES=1000 THEME_FUZZ_RANDOM=1 THEME_FUZZ_REPORT=var/fuzz.json $(PY) -m pytest tests/robustness/test_fuzz.py

audit: install
	$(PY) -m pip_audit -r requirements.txt --disable-pip --no-deps

clean:
	rm -rf $(VENV) node_modules var
