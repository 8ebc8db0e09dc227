# dqhw: two commands on a fresh machine (see README):  make demo   |   make test
# The environment (.venv) is created on first use; every target is idempotent.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.dqhw-installed
DEMO   ?= runs/demo
BUILD  ?=
PYTEST_ARGS ?=
# make test's pytest-xdist workers (tests/conftest.shared_once makes each session fixture once across them)
TEST_WORKERS ?= 2

.PHONY: install demo test test-fast sim reproduce mechanism lint formal bench clean help

help:
	@echo "make demo   - install, train a 2-bit DQ model on digits, attack, evaluate, build, simulate"
	@echo "make test   - install and run the whole test suite (what CI runs)"
	@echo "make sim    - run clean + adversarial sets through the RTL of BUILD (default: newest build)"
	@echo "make reproduce CONFIG=configs/cifar10-cpu.toml - the paper's claims from one config (resumable)"
	@echo "make mechanism - the pre-registered DQ mechanism experiment (configs/dq-mechanism.toml, resumable)"
	@echo "make lint   - ruff + verilator --lint-only -Wall on rtl/"
	@echo "make formal - every SymbiYosys task of rtl/formal (proofs, covers, bounded) + the mutation check"
	@echo "make bench  - benchmarks (numbers and ratios)"

# torch==2.13.0 is pinned (a CPU build; unpinned pulls a multi-GB CUDA build). finn-plus pins
# brevitas==0.13.0, which is broken on torch 2.13, so it goes in --no-deps after everything else.
$(STAMP): requirements/base.txt requirements/finn.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements/base.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -r requirements/finn.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m dqhw.demo --out $(DEMO)

test: $(STAMP)
	@$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; exit $$rc

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not rtl" $(PYTEST_ARGS)

# make sim [BUILD=DIR] [JOBS=N] [ENGINE=auto|cocotb|cpp] [SHARD=i/n] [WAVES=1] [LIMIT=N] [FRAMES=FILE.npz]
sim: $(STAMP)
	$(BIN)/dqhw sim $(BUILD) $(if $(LIMIT),--limit $(LIMIT)) $(if $(SHARD),--shard $(SHARD)) \
		$(if $(JOBS),--jobs $(JOBS)) $(if $(ENGINE),--engine $(ENGINE)) \
		$(if $(FRAMES),--frames $(FRAMES)) \
		$(if $(filter 1,$(WAVES)),--waves)

# make reproduce CONFIG=configs/cifar10-cpu.toml [PLAN=1] [OUT=DIR]: train, attack, eval, build, sim (resumable)
CONFIG ?= configs/digits-smoke.toml
reproduce: $(STAMP)
	$(BIN)/dqhw reproduce $(CONFIG) $(if $(OUT),--out $(OUT)) $(if $(filter 1,$(PLAN)),--plan)

# make mechanism [MCONFIG=configs/dq-mechanism.toml]: the pre-registered DQ mechanism experiment (resumable)
MCONFIG ?= configs/dq-mechanism.toml
mechanism: $(STAMP)
	$(BIN)/dqhw mechanism $(MCONFIG)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m dqhw.simulate.verilator --lint rtl

# rtl/formal: k-induction proofs, covers and bounded checks of every RTL module, then the mutation
# check (every known-bad edit must fail); the results table is in rtl/README.md
formal: $(STAMP)
	$(BIN)/python rtl/formal/run.py
	$(BIN)/python rtl/formal/mutate.py

bench: $(STAMP)
	$(BIN)/python bench/bench_regularizer.py
	$(BIN)/python bench/bench_golden.py
	$(BIN)/python bench/bench_build.py
	$(BIN)/python bench/bench_sim.py

clean:
	rm -rf runs builds sim_build .pytest_cache
