# The two commands a newcomer needs: `make demo` and `make test`.
# Both install everything they need (virtualenv, Python packages, Chromium + ChromeDriver).
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: deps browser demo test serve sandbox bench bench-curve clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

deps: $(VENV)/.installed browser

browser:
	@bash scripts/ensure_chromium.sh

demo: deps
	$(PY) scripts/demo.py

test: deps
	$(PY) -m pytest

serve: deps
	$(PY) emodal_business_api.py

sandbox: deps
	$(PY) -m emodal.sandbox --profile realistic

bench: deps
	$(PY) bench/run.py

bench-curve: deps
	$(PY) bench/curve.py

clean:
	rm -rf $(VENV) downloads .pytest_cache
