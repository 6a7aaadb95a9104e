# The two commands of the README: `make demo` and `make test`.

VENV     := target/venv
PYTHON   := $(VENV)/bin/python
SERVER   := target/debug/oss-local-server

.PHONY: test demo build venv lint rust-test interop bench-server

build:
	cargo build --workspace

# A venv under target/ with the pinned official SDKs (the server's referees).
venv: $(VENV)/.installed
$(VENV)/.installed: tests/interop/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
	touch $@

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

rust-test:
	cargo test --workspace

interop: build venv
	OSS_LOCAL_SERVER=$(SERVER) $(PYTHON) -m pytest -q tests/interop

test: lint rust-test interop

demo: venv
	cargo build --release -p oss-local-server
	$(PYTHON) tests/interop/demo.py target/release/oss-local-server

# Ingest throughput of the server in --discard mode, from curl over loopback.
bench-server:
	cargo build --release -p oss-local-server
	benches/server_ingest.sh target/release/oss-local-server
