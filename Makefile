# Everyday commands. `make run` and `make test` each work alone on a fresh clone (they install first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install install-run run lint test download train retrain bench up clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Serving needs only requirements.txt; tests and training need the rest (TensorFlow, pytest, linters).
$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-train.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.installed-run

install-run: $(VENV)/.installed-run
install: $(VENV)/.installed-dev

run: install-run
	HOST=$(HOST) PORT=$(PORT) $(BIN)/gunicorn -c app/gunicorn_conf.py

# Style and correctness checks (rules in pyproject.toml); `make test` runs them first.
lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest

download: install-run
	$(BIN)/python -m downloadData.downloadData --ticker MSFT --ticker ^GSPC --start 2015-01-01 --out downloadData/data

# Training adds a version to the model store (app/models); it never replaces the serving champion.
train: install
	rm -rf instance/trained-model
	$(BIN)/python -m modelTraining.train_lstm --csv downloadData/data/GSPC_data.csv --out instance/trained-model
	$(BIN)/flask --app app models add instance/trained-model --csv downloadData/data/GSPC_data.csv

# A challenger trained on the last ten years, compared with the champion (docs/models.md).
retrain: install
	$(BIN)/flask --app app models retrain

bench: install
	$(BIN)/python bench/bench_inference.py
	$(BIN)/python bench/bench_api.py
	$(BIN)/python bench/bench_request_parts.py
	$(BIN)/python bench/bench_metrics.py
	$(BIN)/python bench/bench_registry.py
	$(BIN)/python bench/bench_shadow.py
	$(BIN)/python bench/bench_monitoring_scale.py --rows 1000000

up:
	docker compose -f Docker/docker-compose.yml up --build

clean:
	rm -rf $(VENV) .pytest_cache
