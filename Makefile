# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-dev
BENCH  := $(VENV)/.installed-bench
# The CPU recurrence kernel, compiled for this machine; where no C++ compiler is found the XLA path runs instead.
KERNEL := jaxseries/_lstm_kernel.so

.PHONY: demo test test-all bench notebooks clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,data]'
	touch $@

$(KERNEL): jaxseries/lstm_kernel.cc $(STAMP)
	-$(VENV)/bin/jaxseries kernel --build

$(BENCH): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,data,bench]'
	touch $@

demo: $(STAMP) $(KERNEL)
	$(VENV)/bin/jaxseries demo

# The suite within 10 minutes on 2 cores: cases marked slow run in test-all.
test: $(STAMP) $(KERNEL)
	$(PY) -m pytest -m "not slow"

test-all: $(STAMP) $(KERNEL)
	$(PY) -m pytest

notebooks: $(STAMP) $(KERNEL)
	$(PY) notebooks/execute_all.py

bench: $(BENCH) $(KERNEL)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info $(KERNEL)
