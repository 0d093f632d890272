# The two commands a newcomer needs: `make demo` and `make test`.
# Both install everything they need (virtualenv, Python packages, Chromium + ChromeDriver);
# `make test` also installs the cluster pieces its cluster tests start (redis-server, Java, the
# Selenium Grid jar into .cluster/). `make cluster` starts that layout locally (docs/DEPLOYMENT.md).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: deps browser cluster-deps cluster demo test serve sandbox bench bench-cluster bench-curve clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

deps: $(VENV)/.installed browser

browser:
	@bash scripts/ensure_chromium.sh

cluster-deps:
	@bash scripts/ensure_cluster_deps.sh

cluster: deps cluster-deps
	$(PY) scripts/cluster.py --sandbox

demo: deps
	$(PY) scripts/demo.py

test: deps cluster-deps
	$(PY) -m pytest

serve: deps
	$(PY) emodal_business_api.py

sandbox: deps
	$(PY) -m emodal.sandbox --profile realistic

bench: deps
	$(PY) bench/run.py

bench-cluster: deps cluster-deps
	$(PY) bench/cluster.py

bench-curve: deps
	$(PY) bench/curve.py

clean:
	rm -rf $(VENV) downloads .pytest_cache .cluster
