# Canopy. `make test` runs every test (installing what it needs); `make pkg` builds the npm package.
.PHONY: test pkg setup

test:
	./scripts/test.sh

pkg:
	./scripts/pkg.sh

setup:
	./scripts/setup.sh
