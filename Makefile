# Canopy. `make test` runs every test (installing what it needs); `make pkg` builds the npm package.
.PHONY: test pkg setup relay bench-relay

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
