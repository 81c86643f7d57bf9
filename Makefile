# Two entry points; both create .venv and install on first use.
#   make reproduce   every paper reproduction, several seeds each -> out/, then the
#                    HTML report; ends with the path of out/index.html
#   make reproduce-extended  the same plus the costly presets (the reviewers' questions)
#   make test        the whole test suite
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: reproduce reproduce-extended test bench bench-sweep clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch==2.13.0: the CPU build on our machines' disk (pyproject.toml declares a range;
	# an unpinned torch downloads a multi-GB CUDA build). The tests need every extra.
	$(BIN)/pip install --quiet "torch==2.13.0" -e '.[test,sweep,ray]'
	touch $(STAMP)

reproduce: $(STAMP)
	$(BIN)/walkformer reproduce all --out out

reproduce-extended: $(STAMP)
	$(BIN)/walkformer reproduce extended --out out

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/bench_fast_path.py
	$(BIN)/python bench/bench_gpt.py
	$(BIN)/python bench/bench_gpt_batched.py
	$(BIN)/python bench/bench_canonical.py
	$(BIN)/python bench/bench_transformer.py
	$(BIN)/python bench/bench_ops.py

bench-sweep: $(STAMP)
	$(BIN)/python bench/bench_sweep.py

clean:
	rm -rf $(VENV) out
