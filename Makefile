# babelstream — two commands: `make run` (the embedded platform on 127.0.0.1:8000) and `make test`.
# Both set up a fresh machine first: Debian packages, a virtualenv with the pinned dependencies.

VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed

.PHONY: run test setup system autobahn kafka-start kafka-stop schema-registry-start schema-registry-stop bench clean

run: setup
	$(VENV)/bin/babelstream serve

test: setup autobahn
	scripts/run-tests.sh -q

setup: system $(STAMP)

system:
	scripts/install-system.sh

# wstest (the Autobahn TestSuite, Python 2.7) for the WebSocket conformance test; only `make test` needs it.
autobahn:
	scripts/install-autobahn.sh

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

# A broker for `babelstream serve --kafka 127.0.0.1:9092` and the separate-process commands.
kafka-start: setup
	scripts/kafka.sh start

kafka-stop:
	scripts/kafka.sh stop

# A schema registry (Apicurio, Confluent API) for SCHEMA_REGISTRY_URL=$$(scripts/schema-registry.sh url).
schema-registry-start:
	scripts/schema-registry.sh start

schema-registry-stop:
	scripts/schema-registry.sh stop

bench: setup
	$(VENV)/bin/python bench/gateway_capacity.py
	$(VENV)/bin/python bench/pipeline_latency.py

clean:
	rm -rf $(VENV) .cache test-output
