# Every target sets up what it needs, so `make demo` and `make test` work from a fresh clone.
# Override any variable on the command line: make train CONFIG=configs/qwen2vl_7b_lora_sft.yaml ARGS="num_train_epochs=1"

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SETUP_STAMP := $(VENV)/.setup-complete

# A user's real runs (data, preflight, train, eval, merge) see the user's own environment: HF_HOME, HF_HUB_CACHE,
# HF_HUB_OFFLINE, HF_TOKEN decide where models come from. Only the embedded default's targets (demo, tests,
# benchmarks, building the tiny model and sample clips) run in a sandbox: offline, every cache inside the project
# (or wherever CACHE_DIR points).
CACHE_DIR ?= $(CURDIR)/.cache
SANDBOX_TARGETS := demo test test-fast bench tiny-model sample-data
$(SANDBOX_TARGETS): export HF_HOME := $(CACHE_DIR)/huggingface
$(SANDBOX_TARGETS): export MPLCONFIGDIR := $(CACHE_DIR)/matplotlib
$(SANDBOX_TARGETS): export TORCH_EXTENSIONS_DIR := $(CACHE_DIR)/torch_extensions
$(SANDBOX_TARGETS): export TRITON_CACHE_DIR := $(CACHE_DIR)/triton
$(SANDBOX_TARGETS): export XDG_CACHE_HOME := $(CACHE_DIR)
$(SANDBOX_TARGETS): export TMPDIR := $(CACHE_DIR)/tmp
$(SANDBOX_TARGETS): export HF_HUB_OFFLINE := 1
# TMPDIR must exist (playwright, tempfile users): made here, so a moved CACHE_DIR or a deleted .cache still works.
$(SANDBOX_TARGETS): | $(CACHE_DIR)/tmp
$(SANDBOX_TARGETS): export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM ?= false
export PYTHONUNBUFFERED := 1
# torchrun (multi-process training) must be found on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

TINY_MODEL := models/tiny-qwen2vl
# Every embedded tiny model, one per architecture: folder = models/tiny-<name>, built by models/tiny_<module>.py.
TINY_MODELS := models/tiny-qwen2vl models/tiny-qwen2_5vl models/tiny-qwen3vl models/tiny-qwen3_5
TINY_MODEL_CONFIGS := $(TINY_MODELS:%=%/config.json)
# make demo MODEL=<family>: which tiny model and demo config the demo trains.
DEMO_MODELS := qwen2_vl qwen2_5_vl qwen3_vl qwen3_5
MODEL ?= qwen2_vl
DEMO_CONFIG_qwen2_vl := configs/tiny_qwen2vl_demo.yaml
DEMO_CONFIG_qwen2_5_vl := configs/tiny_qwen2_5vl_demo.yaml
DEMO_CONFIG_qwen3_vl := configs/tiny_qwen3vl_demo.yaml
DEMO_CONFIG_qwen3_5 := configs/tiny_qwen3_5_demo.yaml
DEMO_TINY_MODEL_qwen2_vl := models/tiny-qwen2vl
DEMO_TINY_MODEL_qwen2_5_vl := models/tiny-qwen2_5vl
DEMO_TINY_MODEL_qwen3_vl := models/tiny-qwen3vl
DEMO_TINY_MODEL_qwen3_5 := models/tiny-qwen3_5
ifneq ($(filter demo,$(MAKECMDGOALS)),)
ifeq ($(filter $(MODEL),$(DEMO_MODELS)),)
$(error MODEL=$(MODEL) is not a demo model; choose one of: $(DEMO_MODELS))
endif
endif
SAMPLE_DIR := data/sample
SAMPLE_CSV := $(SAMPLE_DIR)/webvid.csv

CSV ?= $(SAMPLE_CSV)
VIDEO_DIR ?= $(SAMPLE_DIR)/videos
DATA_OUT ?= data/webvid
CONFIG ?= configs/tiny_qwen2vl_demo.yaml
MERGE_CONFIG ?= configs/merge/tiny_qwen2vl_demo_merge.yaml
ARGS ?=
EVAL_ARGS ?=
PYTEST_ARGS ?=
GPUS ?= 1
GPU_MEMORY ?= 80
OUTPUT_DIR ?= saves/tiny_qwen2vl_demo

.PHONY: help setup tiny-model sample-data data preflight plan frames frames-prune train eval merge diagnose demo lint test test-fast bench clean

help:
	@echo "make demo        set up, then run the whole pipeline on the embedded tiny model (CPU)"
	@echo "                 MODEL=qwen2_vl (default), qwen2_5_vl, qwen3_vl or qwen3_5 picks the family's tiny model + config"
	@echo "make test        set up, lint, then run every test (fast and slow)"
	@echo "make test-fast   lint, then only the fast tests"
	@echo "make lint        ruff check + ruff format --check (settings in pyproject.toml)"
	@echo "make setup       create $(VENV) with the pinned dependencies (idempotent)"
	@echo "make tiny-model  build the embedded tiny Qwen2-VL, Qwen2.5-VL, Qwen3-VL and Qwen3.5 into $(TINY_MODELS)"
	@echo "make sample-data write sample WebVid clips + CSV into $(SAMPLE_DIR)/"
	@echo "make data        convert CSV=... VIDEO_DIR=... into ShareGPT splits in DATA_OUT=... [ARGS=...]"
	@echo "                 (CSV= empty: captions from video2dataset shards in VIDEO_DIR)"
	@echo "make preflight   check every sample of CONFIG=... fits cutoff_len and its clip's frames decode"
	@echo "make plan        GPU memory per device for CONFIG=... on GPUS=N x GPU_MEMORY=GiB [ARGS='key=value ...']:"
	@echo "                 every term, the verdict, the largest batch that fits and what to change"
	@echo "make frames      decode every clip of CONFIG=... (datasets + held-out test split) once into its frame store [ARGS='key=value ... --workers K']"
	@echo "make frames-prune list CONFIG=...'s frame store directories; ARGS='--delete stale' removes unreadable old ones (asks; --yes off a terminal)"
	@echo "                 (make train fills it through the preflight's decode check; FRAME_STORE_DIR=off: none)"
	@echo "make train       train CONFIG=... [ARGS='key=value ...']"
	@echo "make eval        evaluate CONFIG's adapter as it was trained, beside the base model [ARGS='key=value ...']"
	@echo "                 EVAL_ARGS='--adapter-path ... --num-samples N' adds options to --config CONFIG --compare-base"
	@echo "make merge       export base + adapter as one model (MERGE_CONFIG=...)"
	@echo "make diagnose    a stuck run: each rank's last heartbeat, who waits on what, the clip being read (OUTPUT_DIR=...)"
	@echo "make bench       run the benchmarks in bench/"

setup: $(SETUP_STAMP)

$(SETUP_STAMP): requirements.txt constraints.txt plugins/install_autoload.py
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 is required"'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PY) -m pip check
	$(PY) -c "import llamafactory, transformers, av, pycocoevalcap"
	$(PY) -m plugins.install_autoload
	touch $@

$(CACHE_DIR)/tmp:
	mkdir -p $@

tiny-model: $(TINY_MODEL_CONFIGS)

TINY_MODEL_DEPS := models/tiny_common.py data/sample_webvid.py

models/tiny-qwen2vl/config.json: models/tiny_qwen2vl.py $(TINY_MODEL_DEPS) | $(SETUP_STAMP)
	$(PY) -m models.tiny_qwen2vl --out-dir models/tiny-qwen2vl

models/tiny-qwen2_5vl/config.json: models/tiny_qwen2_5_vl.py $(TINY_MODEL_DEPS) | $(SETUP_STAMP)
	$(PY) -m models.tiny_qwen2_5_vl --out-dir models/tiny-qwen2_5vl

models/tiny-qwen3vl/config.json: models/tiny_qwen3_vl.py $(TINY_MODEL_DEPS) | $(SETUP_STAMP)
	$(PY) -m models.tiny_qwen3_vl --out-dir models/tiny-qwen3vl

models/tiny-qwen3_5/config.json: models/tiny_qwen3_5.py models/tiny_qwen3_vl.py $(TINY_MODEL_DEPS) | $(SETUP_STAMP)
	$(PY) -m models.tiny_qwen3_5 --out-dir models/tiny-qwen3_5

sample-data: $(SAMPLE_CSV)

$(SAMPLE_CSV): data/sample_webvid.py | $(SETUP_STAMP)
	$(PY) -m data.sample_webvid --out-dir $(SAMPLE_DIR)

data: $(SETUP_STAMP) $(if $(filter $(SAMPLE_CSV),$(CSV)),$(SAMPLE_CSV))
	$(PY) -m data.convert_webvid $(if $(CSV),--csv $(CSV) )--video-dir $(VIDEO_DIR) --out-dir $(DATA_OUT) $(ARGS)

preflight: $(SETUP_STAMP)
	$(PY) -m plugins.preflight $(CONFIG) $(ARGS)

plan: $(SETUP_STAMP)
	$(PY) -m plugins.plan $(CONFIG) $(ARGS) --gpus $(GPUS) --gpu-memory $(GPU_MEMORY)

frames: $(SETUP_STAMP)
	$(PY) -m plugins.frames build $(CONFIG) $(ARGS)

frames-prune: $(SETUP_STAMP)
	$(PY) -m plugins.frames prune $(CONFIG) $(ARGS)

train: $(SETUP_STAMP)
	$(PY) -m plugins.train $(CONFIG) $(ARGS)

eval: $(SETUP_STAMP)
	$(PY) evaluate_model.py $(strip --config $(CONFIG) --compare-base $(EVAL_ARGS) $(ARGS))

merge: $(SETUP_STAMP)
	$(PY) -m plugins.export $(MERGE_CONFIG) $(ARGS)

diagnose: $(SETUP_STAMP)
	$(PY) -m plugins.diagnose $(OUTPUT_DIR)

demo: $(SETUP_STAMP) $(DEMO_TINY_MODEL_$(MODEL))/config.json $(SAMPLE_CSV)
	$(PY) demo.py --config $(DEMO_CONFIG_$(MODEL)) $(ARGS)

lint: $(SETUP_STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: lint $(TINY_MODEL_CONFIGS) $(SAMPLE_CSV)
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: lint $(TINY_MODEL_CONFIGS) $(SAMPLE_CSV)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(SETUP_STAMP) $(TINY_MODEL)/config.json $(SAMPLE_CSV)
	$(PY) -m bench.run_all

clean:
	rm -rf $(TINY_MODELS) $(SAMPLE_DIR) $(DATA_OUT) outputs saves .pytest_cache
