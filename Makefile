# Canopy. `make test` runs every test (installing what it needs); `make pkg` builds the npm package;
# `make demo` sets up and runs the demo (app, Flask backend, relay + trace viewer) until Ctrl-C.
.PHONY: test pkg setup demo relay bench-relay bench

test:
	./scripts/test.sh

pkg:
	./scripts/pkg.sh

setup:
	./scripts/setup.sh

relay:
	cargo run -p canopy-relay

bench-relay:
	examples/relay/bench/run.sh

demo:
	./scripts/demo.sh

bench:
	bench/run.sh
